"""Staleness on real images built by this engine's legacy builder (issue 5).

A fresh image against its own Dockerfile and context must be fresh (a false alarm
is a bug); the same image after its Dockerfile, requirements and code changed
without a rebuild must be stale with the first difference quoted; a rebuild that
reused its apt layer from the cache must say the layer is old.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagecheck.api import BuildRequest, Options, check, stale
from imagecheck.cli import main
from imagecheck.smoke.run import SmokeOptions
from imagecheck.stale.facts import builder_of
from tests.helpers import validate

from .conftest import WHEELS, _wheel

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM BASE
RUN apt-get update && apt-get install -y --no-install-recommends libexpat1 \\
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY wheels /wheels
COPY requirements.txt .
RUN pip install --no-index --find-links /wheels --break-system-packages -r requirements.txt
COPY app.py ./
ENV MODE=prod
CMD ["python3", "app.py"]
"""

Context = Callable[[], Path]


@pytest.fixture
def make_context(base_image: str, tmp_path: Path) -> Context:
    def _make() -> Path:
        ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
        (ctx / "wheels").mkdir(parents=True)
        shutil.copy(_wheel(WHEELS["six"]), ctx / "wheels")
        (ctx / "Dockerfile").write_text(DOCKERFILE.replace("BASE", base_image))
        (ctx / "requirements.txt").write_text("six==1.16.0\n")
        (ctx / "app.py").write_text("import six\nprint(six.__version__)\n")
        return ctx

    return _make


def _codes(report: Any) -> set[str]:
    return {f.code for f in report.findings}


def test_fresh_image_is_fresh_and_then_stale_after_edits(
    make_context: Context, any_builder: Callable[[Path, str], str], tmp_path: Path
) -> None:
    ctx = make_context()
    tag = any_builder(ctx, "stale-fresh")
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx)
    report = stale(f"docker:{tag}", Options(cache_dir=tmp_path / "cache"), req)
    assert report.stale is not None
    assert report.stale.status == "fresh", report.findings
    assert [f for f in report.findings if f.severity != "info"] == []
    # ./Dockerfile and . are taken when the history matches them.
    auto = stale(f"docker:{tag}", Options(cache_dir=tmp_path / "cache"), BuildRequest(cwd=ctx))
    assert auto.stale is not None
    assert auto.stale.status == "fresh"
    assert "steps match the image's history" in auto.stale.how

    # Now the Dockerfile gains libmagic1, the pins and the code change: no rebuild.
    text = (ctx / "Dockerfile").read_text()
    (ctx / "Dockerfile").write_text(text.replace("libexpat1 ", "libexpat1 libmagic1 "))
    (ctx / "requirements.txt").write_text("six==1.15.0\n")
    (ctx / "app.py").write_text("import six\nprint('changed', six.__version__)\n")
    after = stale(f"docker:{tag}", Options(cache_dir=tmp_path / "cache"), req)
    assert after.stale is not None
    assert after.stale.status == "stale"
    assert {"IC601", "IC602", "IC603", "IC604"} <= _codes(after)
    (first,) = [f for f in after.findings if f.code == "IC601"]
    assert "libmagic1" in first.message  # the Dockerfile's side, quoted
    assert "/bin/sh -c apt-get update" in first.message  # and the image's
    assert first.location == f"{ctx / 'Dockerfile'}:2"
    (missing,) = [f for f in after.findings if f.code == "IC603"]
    assert missing.subject == "libmagic1"
    changed = {f.subject for f in after.findings if f.code == "IC602"}
    assert changed == {"requirements.txt", "app.py"}
    (pin,) = [f for f in after.findings if f.code == "IC604"]
    assert "six==1.15.0" in pin.message
    assert "1.16.0" in pin.message
    assert after.stale.commands[-1].startswith("docker build --no-cache -f ")


def test_rebuild_that_reused_the_apt_layer_says_it_is_old(
    make_context: Context, any_builder: Callable[[Path, str], str], tmp_path: Path
) -> None:
    ctx = make_context()
    any_builder(ctx, "stale-first")
    time.sleep(4)
    (ctx / "app.py").write_text("print('second build')\n")
    tag = any_builder(ctx, "stale-second")  # the apt and pip layers come from the cache
    options = Options(cache_dir=tmp_path / "cache")
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx)
    assert stale(f"docker:{tag}", options, req).stale.status == "fresh"  # type: ignore[union-attr]
    old = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, cache_age_days=3 / 86400)
    report = stale(f"docker:{tag}", options, old)
    cached = [f for f in report.findings if f.code == "IC605"]
    assert [f.location for f in cached] == [f"{ctx / 'Dockerfile'}:2", f"{ctx / 'Dockerfile'}:7"]
    assert "reused a cached layer" in cached[0].message
    assert report.stale is not None
    assert report.stale.status == "stale"


def test_cli_json_and_exit_codes(
    make_context: Context,
    any_builder: Callable[[Path, str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctx = make_context()
    tag = any_builder(ctx, "stale-cli")
    cache = str(tmp_path / "cache")
    argv = [
        "stale",
        f"docker:{tag}",
        "--context",
        str(ctx),
        "--cache-dir",
        cache,
        "--format",
        "json",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stale"]["status"] == "fresh"
    # The same number of bytes: only the layer's copy, read in place, tells.
    (ctx / "app.py").write_text((ctx / "app.py").read_text().replace("import six", "import sux"))
    assert main(argv) == 1
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "report")
    assert doc["stale"]["status"] == "stale"
    assert {f["code"] for f in doc["findings"]} == {"IC602"}
    assert set(doc["findings"][0]) >= {"code", "severity", "subject", "message", "hint", "layer"}
    # No Dockerfile anywhere: bad input, one line, exit 2.
    empty = tmp_path / "empty"
    empty.mkdir()
    os.chdir(empty)
    assert main(["stale", f"docker:{tag}", "--cache-dir", cache]) == 2
    assert "no Dockerfile given" in capsys.readouterr().err


def test_prune_asks_first_and_says_what_it_freed(
    make_context: Context,
    build_dir: Callable[[Path, str], str],
    client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctx = make_context()
    (ctx / "app.py").write_text(f"print('{uuid.uuid4().hex}')\n")  # an image no other tag holds
    tag = build_dir(ctx, "stale-prune")
    old_id = client.images.get(tag).id
    (ctx / "app.py").write_text("print('rebuilt')\n")
    client.images.build(path=str(ctx), tag=tag, rm=True, forcerm=True)  # the old one dangles
    assert client.images.get(tag).id != old_id
    argv = ["stale", f"docker:{tag}", "--context", str(ctx), "--cache-dir", str(tmp_path)]
    # Not a terminal and no --yes: nothing is removed, and it says how to prune.
    assert main([*argv, "--prune"]) == 0
    assert "not pruned" in capsys.readouterr().err
    assert client.images.get(old_id).id == old_id
    assert main([*argv, "--prune", "--yes"]) == 0
    err = capsys.readouterr().err
    assert "dangling image(s)" in err
    assert "MB freed" in err, err
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(old_id)


def test_base_image_moved_since_the_build(
    client: Any,
    base_image: str,
    any_builder: Callable[[Path, str], str],
    build_dir: Callable[[Path, str], str],
    tmp_path: Path,
) -> None:
    """FROM a tag that now names another image: the next build starts elsewhere."""
    base_tag = f"imagecheck-test/stale-base:{uuid.uuid4().hex[:8]}"
    repo, _, version = base_tag.rpartition(":")
    client.images.get(base_image).tag(repo, version)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base_tag}\nCOPY a.txt /a.txt\n")
    (ctx / "a.txt").write_text("a\n")
    try:
        tag = any_builder(ctx, "stale-base-user")
        req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx)
        fresh = stale(f"docker:{tag}", Options(cache_dir=tmp_path / "c"), req)
        assert [f.code for f in fresh.findings] == []
        # The base tag moves to a newer image (one more layer).
        newer = ctx / "newer"
        newer.mkdir()
        (newer / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo new > /new\n")
        moved = build_dir(newer, "stale-base-new")
        client.images.get(moved).tag(repo, version)
        after = stale(f"docker:{tag}", Options(cache_dir=tmp_path / "c"), req)
        (drift,) = [f for f in after.findings if f.code == "IC606"]
        assert drift.subject == base_tag
        assert "a rebuild would start from another base" in drift.message
        assert after.stale is not None
        assert after.stale.status == "stale"
    finally:
        client.images.remove(base_tag)


def test_a_file_removed_from_a_copied_folder(
    base_image: str, build_dir: Callable[[Path, str], str], tmp_path: Path
) -> None:
    """No single file differs, but the folder the COPY took lost one: only the legacy
    builder's dir: hash, recomputed from the context, can tell."""
    ctx = tmp_path / "ctx"
    (ctx / "conf").mkdir(parents=True)
    (ctx / "conf" / "a.ini").write_text("a = 1\n")
    (ctx / "conf" / "b.ini").write_text("b = 2\n")
    (ctx / "run.sh").write_text("#!/bin/sh\n")
    (ctx / "run.sh").chmod(0o755)
    (ctx / "Dockerfile").write_text(
        f"FROM {base_image}\nCOPY conf /etc/app/\nCOPY run.sh /usr/local/bin/\n"
    )
    tag = build_dir(ctx, "stale-dirhash")
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx)
    options = Options(cache_dir=tmp_path / "c")
    assert stale(f"docker:{tag}", options, req).findings == ()
    (ctx / "conf" / "b.ini").unlink()
    (ctx / "run.sh").chmod(0o644)  # a mode change, same bytes
    report = stale(f"docker:{tag}", options, req)
    found = sorted((f.code, f.subject) for f in report.findings)
    assert found == [("IC602", "line 2"), ("IC602", "line 3")]
    assert "a file added, removed or its mode changed" in report.findings[0].message


def test_copy_of_the_whole_context_is_fresh_then_a_file_goes(
    base_image: str, any_builder: Callable[[Path, str], str], tmp_path: Path
) -> None:
    """``COPY . /app/`` with a .dockerignore: the context root's own entry is not in the
    legacy dir: hash, the ignored Dockerfile is not either (a false alarm otherwise)."""
    ctx = tmp_path / "whole"
    (ctx / "pkg").mkdir(parents=True)
    (ctx / "pkg" / "mod.py").write_text("x = 1\n")
    (ctx / "main.py").write_text("import pkg.mod\n")
    (ctx / "notes.txt").write_text("kept\n")
    (ctx / ".dockerignore").write_text("Dockerfile\n*.log\n")
    (ctx / "build.log").write_text("ignored\n")
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nCOPY . /app/\n")
    tag = any_builder(ctx, "stale-whole")
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx)
    options = Options(cache_dir=tmp_path / "c")
    fresh = stale(f"docker:{tag}", options, req)
    assert fresh.findings == ()
    assert fresh.stale is not None
    assert fresh.stale.status == "fresh"
    (ctx / "build.log").write_text("ignored, and changed\n")  # still ignored: still fresh
    (ctx / "pkg" / "__pycache__").mkdir()  # the tests ran here since the build
    (ctx / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\x00" * 64)
    assert stale(f"docker:{tag}", options, req).findings == ()
    if builder_of(fresh.inventory.image.history) == "buildkit":
        return  # BuildKit records no dir: hash: a file gone from the context is not seen
    (ctx / "notes.txt").unlink()
    gone = stale(f"docker:{tag}", options, req)
    assert [(f.code, f.subject) for f in gone.findings] == [("IC602", "line 2")]


def test_workdir_with_a_trailing_slash_is_fresh_with_either_builder(
    base_image: str, any_builder: Callable[[Path, str], str], tmp_path: Path
) -> None:
    """The user report: right after the build, 'WORKDIR /app/' was an IC601 quoting the
    same text on both sides."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.txt").write_text("a\n")
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nWORKDIR /app/\nCOPY a.txt .\n")
    tag = any_builder(ctx, "stale-workdir")
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx)
    options = Options(cache_dir=tmp_path / "c")
    fresh = stale(f"docker:{tag}", options, req)
    assert [f.code for f in fresh.findings] == []
    assert fresh.stale is not None
    assert fresh.stale.status == "fresh"
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nWORKDIR /srv/\nCOPY a.txt .\n")
    (changed,) = [f for f in stale(f"docker:{tag}", options, req).findings if f.code == "IC601"]
    assert "'/srv/' where the image has '/app/'" in changed.message


def test_a_byte_changed_in_an_18_mb_file_is_found_with_either_builder(
    base_image: str, any_builder: Callable[[Path, str], str], tmp_path: Path
) -> None:
    """Same size, one byte: the copy in the layer is streamed through a digest, read in
    place; from the export stream alone the verdict names the file it could not read."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "big.whl").write_bytes(os.urandom(18 << 20))
    (ctx / "small.txt").write_text("small\n")
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nCOPY big.whl small.txt /wheels/\n")
    tag = any_builder(ctx, "stale-big")
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx)
    options = Options(cache_dir=tmp_path / "c")
    fresh = stale(f"docker:{tag}", options, req)
    assert fresh.stale is not None
    assert fresh.stale.status == "fresh", fresh.findings
    assert "2 context file(s) match" in fresh.stale.reason
    with (ctx / "big.whl").open("r+b") as fh:
        fh.seek(11 << 20)
        old = fh.read(1)
        fh.seek(11 << 20)
        fh.write(bytes([old[0] ^ 1]))
    report = stale(f"docker:{tag}", options, req)
    assert [(f.code, f.subject) for f in report.findings] == [("IC602", "big.whl")]
    exported = stale(f"docker:{tag}", dataclasses.replace(options, engine_read="export"), req)
    assert exported.stale is not None
    assert "2 compared by size only" in exported.stale.reason
    assert "big.whl, small.txt" in exported.stale.reason


# ------------------------------------------------ Dockerfiles from a grammar, built for real

_NAMES = st.sampled_from(["A", "B", "C"])
_SEGMENT = st.sampled_from(["app", "srv", "x", "data", ".", "..", "${A:-d}", "x$B"])
_PLAIN = st.sampled_from(["v", "1.2", "/opt/bin", "a:b", "x=y", ""])


@st.composite
def _value(draw: st.DrawFn) -> str:
    """A word as the Dockerfile writes it: plain, quoted, escaped, or a variable."""
    return draw(
        st.one_of(
            _PLAIN,
            st.sampled_from(['"two words"', "'$A single'", "a\\ b", '"q\\"uote"', "${A}"]),
            st.builds(lambda n: f"${{{n}:-d}}", _NAMES),
            st.builds(lambda n: f'"${{{n}:+e f}}"', _NAMES),
            st.builds(lambda n: f"pre-${n}", _NAMES),
        )
    )


@st.composite
def _workdir(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_SEGMENT, min_size=1, max_size=3))
    path = "/".join(parts)
    if draw(st.booleans()):
        path = "/" + path
    if draw(st.booleans()):
        path += "/"
    if draw(st.booleans()):
        path = f'"{path}"'
    return f"WORKDIR {path}"


@st.composite
def _env(draw: st.DrawFn, keyword: str) -> str:
    if draw(st.booleans()):  # the old form: the rest of the line is the value
        words = draw(st.lists(st.sampled_from(["one", "two", "$A", '"q q"']), min_size=1))
        return f"{keyword} {draw(_NAMES)} {'  '.join(words)}"
    pairs = draw(st.lists(st.tuples(_NAMES, _value()), min_size=1, max_size=3))
    joiner = draw(st.sampled_from([" ", " \\\n    "]))
    return keyword + " " + joiner.join(f"{k}={v}" for k, v in pairs)


@st.composite
def _arg(draw: st.DrawFn) -> str:
    name = draw(_NAMES)
    default = draw(st.one_of(st.none(), _value()))
    return f"ARG {name}" if default is None else f"ARG {name}={default}"


_PORT = st.sampled_from(["80", "8000/tcp", "53/udp", "9000-9002", '"7000"', "8080/TCP"])
_ARGV = st.lists(st.sampled_from(["python3", "-c", "print(1)", "a b", 'say "hi"']), max_size=3)
_COPY_FLAGS = ["", "--chown=1000:1000 ", "--chmod=644 ", "--chown=0 --chmod=755 "]
_COMMAND = st.sampled_from(["echo hi", 'echo "a  b"', "true &&   true"])


@st.composite
def _instruction(draw: st.DrawFn) -> str:
    kind = draw(
        st.sampled_from(
            [
                *("WORKDIR", "ENV", "LABEL", "ARG", "USER", "EXPOSE", "CMD", "ENTRYPOINT"),
                *("RUN", "COPY", "VOLUME", "STOPSIGNAL"),
            ]
        )
    )
    if kind == "VOLUME":
        volumes = ["VOLUME /data", 'VOLUME ["/v1", "/v 2"]', "VOLUME /a /b${B}c"]
        return draw(st.sampled_from(volumes))
    if kind == "STOPSIGNAL":
        return draw(st.sampled_from(["STOPSIGNAL SIGTERM", "STOPSIGNAL 9", 'STOPSIGNAL "SIGINT"']))
    if kind == "WORKDIR":
        return draw(_workdir())
    if kind in ("ENV", "LABEL"):
        return draw(_env(kind))
    if kind == "ARG":
        return draw(_arg())
    if kind == "USER":
        return "USER " + draw(st.sampled_from(["root", "1000", "1000:1000", '"0"', "nobody"]))
    if kind == "EXPOSE":
        return "EXPOSE " + " ".join(draw(st.lists(_PORT, min_size=1, max_size=3)))
    if kind in ("CMD", "ENTRYPOINT"):
        if draw(st.booleans()):
            return f"{kind} {json.dumps(draw(_ARGV))}"
        return f"{kind} {draw(_COMMAND)}"
    if kind == "RUN":
        return draw(
            st.sampled_from(
                [
                    "RUN true",
                    'RUN ["true"]',
                    "RUN true \\\n    && echo   two   spaces \\\n\t&& true",
                    'RUN echo "$A" > /dev/null',
                    "RUN true ; \\\n  # a comment\n    true",
                ]
            )
        )
    flag = draw(st.sampled_from(_COPY_FLAGS))
    return f"COPY {flag}{draw(st.sampled_from(['a.txt /dst/', 'a.txt b.txt /dst/', 'a.txt .']))}"


def _root_again(lines: list[str]) -> list[str]:
    """RUN and COPY need the user to exist and a folder to work in: "nobody" cannot
    write the WORKDIR a RUN starts in, so a RUN after a USER runs as root again."""
    out: list[str] = []
    for line in lines:
        if line.startswith("RUN") and any(x.startswith("USER") for x in out):
            out.append("USER root")
        out.append(line)
    return out


@pytest.fixture(params=["legacy", "buildkit"])
def named_builder(
    request: pytest.FixtureRequest,
    build_dir: Callable[[Path, str], str],
    build_kit: Callable[[Path, str], str],
) -> tuple[str, Callable[[Path, str], str]]:
    return request.param, build_dir if request.param == "legacy" else build_kit


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(_instruction(), min_size=1, max_size=8))
def test_a_dockerfile_the_builder_accepts_is_fresh_right_after_its_build(
    lines: list[str],
    base_image: str,
    named_builder: tuple[str, Callable[[Path, str], str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Heredocs (``RUN <<EOF``) are left out: this engine's built-in Dockerfile frontend
    predates them, and ``# syntax=docker/dockerfile:1.4`` needs the network."""
    builder, build = named_builder
    body = _root_again(lines)
    if builder == "legacy":  # --chmod is BuildKit's alone: the legacy builder refuses it
        body = [re.sub(r"--chmod=\d+ ", "", line) for line in body]
    ctx = tmp_path_factory.mktemp("grammar")
    (ctx / "a.txt").write_text("a\n")
    (ctx / "b.txt").write_text("b\n")
    # A label of its own: no step is served from another example's cache, which another
    # test may be removing meanwhile.
    unique = f"LABEL imagecheck.example={uuid.uuid4().hex}"
    text = "\n".join([f"FROM {base_image}", unique, *body, ""])
    (ctx / "Dockerfile").write_text(text)
    tag = build(ctx, "stale-grammar")
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, engine=False)
    report = stale(f"docker:{tag}", Options(use_cache=False), req)
    assert report.stale is not None
    assert report.stale.status == "fresh", (text, report.findings)


def test_a_check_connects_to_the_engine_once(
    make_context: Context,
    build_dir: Callable[[Path, str], str],
    engine_connections: list[Any],
) -> None:
    """The inventory, the copied files' digests, the build cache and the smoke run share
    one engine connection: each connect is a ping, and this pipeline once made four."""
    ctx = make_context()
    tag = build_dir(ctx, "stale-once")
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx)
    report = check(
        f"docker:{tag}", Options(use_cache=False), build=req, smoke=SmokeOptions(probes=False)
    )
    assert report.stale is not None
    assert report.stale.status == "fresh", report.findings
    assert report.smoke is not None
    assert report.smoke.status == "ran"
    assert len(engine_connections) == 1
