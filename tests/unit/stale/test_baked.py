"""Build-time values baked into an image (IC930-IC932), on archives built in tmp_path: a
Next.js build output of the real shape (``.next/BUILD_ID``, ``required-server-files.json``,
``static/chunks``, ``server``), written by a RUN that recorded its build args, and a
compose v1 file whose ``environment:`` and ``build.args`` say otherwise."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from imagecheck.api import BuildRequest, Options, check, inventory
from imagecheck.checks.context import Context
from imagecheck.image import ImageReader, search_stream
from imagecheck.model import HistoryEntry
from imagecheck.stale import baked_facts, check_baked, rebuild_for
from imagecheck.stale.baked import redact, shown, used_args
from imagecheck.suite import run_checks
from imagecheck.target import parse_target
from imagecheck.triage import load_project, service_baked
from tests.builders import Empty, F, Layer, make_image

V1 = "https://api-v1.example.com"
V2 = "https://api-v2.example.com"
TOKEN = "ghp_" + "a1B2" * 9  # a token-shaped build arg
BUILD = (
    f"|3 BUILD_TOKEN={TOKEN} NEXT_PUBLIC_API_URL={V1} NEXT_PUBLIC_SHORT=ab /bin/sh -c npm run build"
)


def _chunk(value: str, pad: int = 0) -> bytes:
    """A minified chunk: the value inlined as a string literal, ``pad`` bytes in."""
    return (
        b"x" * pad
        + b'(self.webpackChunk=[]).push([[1],{9:function(e){e.exports="'
        + (value.encode() + b'"}}]);')
    )


def _next_image(tmp_path: Path, *, built: str = V1, kit: bool = False) -> Path:
    run = f"RUN {BUILD.replace(V1, built)} # buildkit" if kit else BUILD.replace(V1, built)
    server_files = {"version": 1, "config": {"env": {}, "distDir": ".next"}, "appDir": "/app"}
    history: list[Layer | Empty] = [
        Layer([F("app/", kind="dir")]),
        Empty(
            "ARG NEXT_PUBLIC_API_URL=https://default.example.com"
            if kit
            else "/bin/sh -c #(nop)  ARG NEXT_PUBLIC_API_URL=https://default.example.com"
        ),
        Layer(
            [
                F("app/package.json", b'{"name": "web"}'),
                F("app/.env.production", b"NEXT_PUBLIC_FROM_DOTENV=dotenv-value\n"),
            ],
            "/bin/sh -c #(nop) COPY dir:abc in /app ",
        ),
        Layer(
            [
                F("app/.next/", kind="dir"),
                F("app/.next/BUILD_ID", b"b1d2c3\n"),
                F("app/.next/required-server-files.json", json.dumps(server_files).encode()),
                # the value across the search's 1 MiB read boundary
                F("app/.next/static/chunks/app/page-4f2a.js", _chunk(built, (1 << 20) - 20)),
                F("app/.next/static/chunks/main-77aa.js", _chunk("dotenv-value")),
                F("app/.next/server/app/page.js", _chunk(built)),
                F("app/.next/server/app/index.html", b"<html>" + built.encode() + b"</html>"),
                F("app/.next/cache/webpack/x.pack", built.encode()),  # not build output
            ],
            run,
        ),
    ]
    config = {"WorkingDir": "/app", "Cmd": ["node", "server.js"]}
    return make_image(tmp_path, history, layout="docker-oci", config=config).path


def test_search_finds_a_value_across_read_boundaries_and_stops_at_its_limit() -> None:
    data = b"x" * ((1 << 20) - 3) + b"needle" + b"y" * 10
    assert search_stream(io.BytesIO(data), frozenset({b"needle", b"absent"})) == {b"needle"}
    assert search_stream(io.BytesIO(data), frozenset({b"needle"}), limit=1 << 20) == set()


def test_build_args_are_read_from_both_builders_histories() -> None:
    def entry(index: int, created_by: str) -> HistoryEntry:
        return HistoryEntry(index, None, created_by, "", True, None)

    history = (
        entry(0, "ARG MODE=default"),  # BuildKit: the Dockerfile's default
        entry(1, "RUN |2 MODE=prod TAG=7 /bin/sh -c make # buildkit"),  # the values used
        entry(2, "/bin/sh -c #(nop)  ARG ONLY=dflt"),  # legacy, never used by a RUN
        entry(3, "|1 TAG=8 /bin/sh -c make"),  # legacy: newer wins
    )
    got = {a.name: (a.value, a.layer.index if a.layer else None) for a in used_args(history)}
    assert got == {"MODE": ("prod", 1), "TAG": ("8", 3), "ONLY": ("dflt", 2)}


def test_secrets_are_never_shown_in_full() -> None:
    assert shown("NEXT_PUBLIC_API_URL", V1) == repr(V1)
    hidden = shown("BUILD_TOKEN", TOKEN)
    assert TOKEN not in hidden
    assert "40 characters" in hidden
    assert TOKEN not in shown("HARMLESS", TOKEN)  # a value shaped like a token
    assert shown("BUILD_TOKEN", "x") != shown("BUILD_TOKEN", "y")  # two values tell apart
    # a history entry quoted whole (IC601) hides it too
    quoted = redact(f"the image has '{BUILD}'", [("BUILD_TOKEN", TOKEN), ("MODE", "prod")])
    assert TOKEN not in quoted
    assert V1 in quoted
    assert hidden in quoted


@pytest.mark.parametrize("kit", [False, True], ids=["legacy", "buildkit"])
def test_a_compose_v1_service_that_sets_another_next_public_value(
    tmp_path: Path, kit: bool
) -> None:
    image = _next_image(tmp_path, kit=kit)
    project = tmp_path / "project"
    project.mkdir()
    (project / "web.env").write_text(f"NEXT_PUBLIC_API_URL={V2}\n")
    (project / "docker-compose.yml").write_text(
        'version: "2.4"\nservices:\n  web:\n    build:\n      context: .\n      args:\n'
        f"        NEXT_PUBLIC_API_URL: {V2}\n        BUILD_TOKEN: ghp_newtoken\n"
        "    env_file: web.env\n    environment:\n      NEXT_PUBLIC_FROM_DOTENV: dotenv-value\n"
        "      NEXT_PUBLIC_SHORT: cd\n      NEXT_PUBLIC_MISSING: never-built-in\n"
    )
    svc = load_project(project).service("web")
    target = parse_target(str(image))
    inv = inventory(target, Options(use_cache=False))
    with ImageReader(target, Options(use_cache=False)) as reader:
        facts = service_baked(reader, inv, svc)
    assert facts.next_root == "/app/.next"
    assert facts.searched == 4  # two chunks, the server's page and its HTML; not the cache
    found = {(f.code, f.subject): f for f in check_baked(Context(inv, baked=facts))}
    assert sorted(found) == [
        ("IC930", "NEXT_PUBLIC_API_URL"),
        ("IC930", "NEXT_PUBLIC_SHORT"),
        ("IC931", "NEXT_PUBLIC_MISSING"),
        ("IC932", "BUILD_TOKEN"),
        ("IC932", "NEXT_PUBLIC_API_URL"),
    ]
    api = found["IC930", "NEXT_PUBLIC_API_URL"]
    assert api.severity == "error"
    assert repr(V1) in api.message
    assert repr(V2) in api.message
    assert "/app/.next/static/chunks/app/page-4f2a.js" in api.message
    assert "compose service 'web' environment:/env_file:" in api.message
    assert api.layer is not None
    assert api.layer.index == 3
    # passed to the build by build.args: the rebuild alone bakes it in
    assert api.hint == (
        "rebuild, so the build inlines it: docker compose build web && docker compose up -d web"
    )
    short = found["IC930", "NEXT_PUBLIC_SHORT"]  # too short to search: the history decides
    assert "too short to search" in short.message
    assert "services.web.build.args (NEXT_PUBLIC_SHORT: cd" in short.hint
    assert "is in none of the 4 files" in found["IC931", "NEXT_PUBLIC_MISSING"].message
    token = found["IC932", "BUILD_TOKEN"]
    assert TOKEN not in token.message
    assert "ghp_newtoken" not in token.message
    assert "hidden" in token.message
    assert found["IC932", "NEXT_PUBLIC_API_URL"].hint == (
        "rebuild: docker compose build web && docker compose up -d web"
    )


def test_the_same_values_as_the_build_are_no_finding(tmp_path: Path) -> None:
    image = _next_image(tmp_path, built=V2)
    target = parse_target(str(image))
    inv = inventory(target, Options(use_cache=False))
    with ImageReader(target, Options(use_cache=False)) as reader:
        facts = baked_facts(
            reader,
            inv,
            rebuild=rebuild_for("web", inv, {}),
            service="web",
            environment=(("NEXT_PUBLIC_API_URL", V2), ("NEXT_PUBLIC_FROM_DOTENV", "dotenv-value")),
            environment_how="compose service 'web' environment:",
            build_args=(("NEXT_PUBLIC_API_URL", V2),),
            build_args_how="compose service 'web' build.args",
        )
    assert facts.files_with(V2) == (
        "/app/.next/server/app/index.html",
        "/app/.next/server/app/page.js",
        "/app/.next/static/chunks/app/page-4f2a.js",
    )
    assert list(check_baked(Context(inv, baked=facts))) == []
    # a value the .env.production file gave the build is the built value
    assert [b.where for b in facts.built if b.name == "NEXT_PUBLIC_FROM_DOTENV"] == [
        "/app/.env.production in the image"
    ]


def test_check_build_arg_against_the_history_and_the_skip_without_it(tmp_path: Path) -> None:
    image = _next_image(tmp_path)
    req = BuildRequest(args=(("NEXT_PUBLIC_API_URL", V2),), engine=False)
    report = check(str(image), Options(use_cache=False), build=req)
    (arg,) = [f for f in report.findings if f.code.startswith("IC93")]
    assert arg.code == "IC932"
    assert (
        arg.hint
        == f"rebuild: docker build --build-arg NEXT_PUBLIC_API_URL={V2} -t test/image:latest ."
    )
    _, results = run_checks(Context(inventory(str(image), Options(use_cache=False))), ("IC93",))
    assert [(r.status, r.reason) for r in results if r.code.startswith("IC93")] == [
        ("skipped", "no configuration to compare the build with (imagecheck SERVICE, --build-arg)")
    ]
