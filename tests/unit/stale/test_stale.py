"""Staleness from files alone: a BuildKit-built OCI archive, a Dockerfile and context in
tmp_path, and BuildKit build cache records as ``/system/df`` writes them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import BuildRequest, Options, check, inventory, stale
from imagecheck.checks.context import Context
from imagecheck.dockerfile import parse
from imagecheck.engine import cache_records
from imagecheck.image import ImageReader
from imagecheck.stale import stale_facts
from imagecheck.stale.buildcache import cache_chain
from imagecheck.stale.check import check_stale
from imagecheck.stale.facts import (
    BuildState,
    _ignore_patterns,
    _ignored,
    declared_packages,
    legacy_hash,
    stale_verdict,
)
from imagecheck.target import parse_target
from tests.builders import Empty, F, Layer, make_image

DOCKERFILE = """\
FROM debian:bookworm
RUN apt-get update \\
    && apt-get install -y --no-install-recommends libmagic1
WORKDIR /app
COPY requirements.txt .
COPY app ./app
CMD ["python3", "-m", "app"]
"""
REQS = b"six==1.16.0\n"
STATUS = b"Package: libc6\nStatus: install ok installed\nVersion: 2.36\nArchitecture: amd64\n\n"
OLD, NEW = "2024-01-01T10:00:00Z", "2024-03-01T10:00:00Z"


def _image(
    tmp_path: Path, run_date: str = OLD, compression: str = "none", package: str = "libmagic1"
) -> Path:
    """A BuildKit image whose apt layer lacks libmagic1 (an old cached layer)."""
    history: list[Layer | Empty] = [
        Layer([F("var/lib/dpkg/status", STATUS)], "/bin/sh -c #(nop) ADD file:abc in / ", OLD),
        Empty('/bin/sh -c #(nop)  CMD ["bash"]', OLD),
        Layer(
            [F("var/lib/apt/lists/x", b"x")],
            "RUN /bin/sh -c apt-get update     && apt-get install -y --no-install-recommends "
            f"{package} # buildkit",
            run_date,
        ),
        Empty("WORKDIR /app", NEW),
        Layer([F("app/requirements.txt", REQS)], "COPY requirements.txt . # buildkit", NEW),
        Layer([F("app/app/__init__.py", b"print(1)\n")], "COPY app ./app # buildkit", NEW),
        Empty('CMD ["python3" "-m" "app"]', NEW),
    ]
    out = tmp_path / "image"
    out.mkdir()
    return make_image(out, history, layout="oci-archive", compression=compression).path


def _context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "app").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "requirements.txt").write_bytes(REQS)
    (ctx / "app" / "__init__.py").write_text("print(1)\n")
    (ctx / "app" / "cache.pyc").write_bytes(b"ignored")
    (ctx / ".dockerignore").write_text("**/*.pyc\n")
    return ctx


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_buildkit_history_matches_and_the_old_apt_layer_is_found(
    tmp_path: Path, compression: str
) -> None:
    """As Docker 25+ and the containerd store save it: OCI layout, compressed layers."""
    image, ctx = _image(tmp_path, compression=compression), _context(tmp_path)
    (ctx / "app" / "__init__.py").write_text("print(3)\n")  # read from the compressed layer
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, engine=False)
    report = stale(str(image), Options(use_cache=False), req)
    codes = sorted(f.code for f in report.findings)
    assert codes == ["IC602", "IC603", "IC605"]  # the history matches; the apt layer is old
    (apt,) = [f for f in report.findings if f.code == "IC603"]
    assert apt.subject == "libmagic1"
    assert apt.location == f"{ctx / 'Dockerfile'}:2"
    (old,) = [f for f in report.findings if f.code == "IC605"]
    assert "60 day(s)" in old.message
    assert report.stale is not None
    assert report.stale.status == "stale"
    dockerfile = ctx / "Dockerfile"
    assert report.stale.commands == (
        f"docker build --no-cache -f {dockerfile} -t docker.io/test/image:latest {ctx}",
    )


def test_fresh_when_the_layer_is_new_and_has_the_package(tmp_path: Path) -> None:
    image, ctx = _image(tmp_path, run_date=NEW), _context(tmp_path)
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace(" libmagic1", " libc6"))
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, engine=False)
    report = stale(str(image), Options(use_cache=False), req)
    # The layer is new and libc6 installed: no IC603 (package missing), no IC605 (old
    # layer). Only the RUN line differs (libc6 for libmagic1): quoted on both sides.
    (diff,) = report.findings
    assert diff.code == "IC601"
    assert "libc6" in diff.message
    assert "libmagic1 # buildkit" in diff.message


def test_context_file_changed_since_the_build(tmp_path: Path) -> None:
    image, ctx = _image(tmp_path), _context(tmp_path)
    (ctx / "requirements.txt").write_bytes(b"six==1.17.0\n")
    (ctx / "app" / "__init__.py").write_text("print(2)\n")  # same size: the layer is read
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, engine=False)
    report = stale(str(image), Options(use_cache=False), req)
    changed = [f for f in report.findings if f.code == "IC602"]
    assert [f.subject for f in changed] == ["app/__init__.py", "requirements.txt"]
    assert [f.location for f in changed] == [
        f"{ctx / 'Dockerfile'}:6",
        f"{ctx / 'Dockerfile'}:5",
    ]


def test_build_cache_records_that_hold_the_old_run(tmp_path: Path) -> None:
    image, ctx = _image(tmp_path), _context(tmp_path)
    target = parse_target(str(image))
    inv = inventory(target, Options(use_cache=False))
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, engine=False)
    with ImageReader(target, Options(use_cache=False)) as reader:
        facts, _ = stale_facts(reader, inv, req)
    assert facts is not None

    def rec(rid: str, parent: str, created: str, what: str = "fileop target") -> dict[str, Any]:
        return {
            "ID": rid,
            "Parent": parent,
            "Type": "regular",
            "Description": what,
            "InUse": False,
            "Shared": False,
            "Size": 41943040,
            "CreatedAt": created,
            "LastUsedAt": "2024-03-01T10:00:00.5Z",
            "UsageCount": 4,
        }

    apt = (
        "mount / from exec /bin/sh -c apt-get update     && apt-get "
        "install -y --no-install-recommends libmagic1"
    )
    system_df = {  # as GET /system/df answers on a BuildKit engine (API 1.41: "Parent")
        "BuildCache": [
            rec("base0", "", "2023-12-01T00:00:00Z", "from local"),
            rec("k0xq1frlmx3u", "base0", OLD, apt),  # this image's apt layer
            rec("req1", "k0xq1frlmx3u", NEW),  # its COPY requirements.txt
            rec("app1", "req1", NEW),  # its COPY app
            rec("xother", "k0xq1frlmx3u", NEW),  # another image's COPY, on the same apt layer
            # Another image's record of the very same RUN line, made at the same moment
            # on another base: it can never serve this image's build.
            rec("zzother", "base9", OLD, apt),
            rec("zzz", "", OLD, "mount / from exec /bin/sh -c echo unrelated"),
        ]
    }
    records = cache_records(system_df)
    chain = cache_chain(records, inv.image.history, facts.match.base_entries)
    assert [s.record.id for s in chain.steps] == ["k0xq1frlmx3u", "req1", "app1"]
    assert [r.id for r in chain.base] == ["base0"]
    state = BuildState("debian:bookworm", None, (), "", "buildkit", records, chain=chain)
    kit_facts = dataclasses.replace(facts, state=state)
    ctx_ = Context(inv, stale=kit_facts)
    found = [f for f in check_stale(ctx_) if f.code == "IC607"]
    assert [f.subject for f in found] == ["build cache k0xq1frlmx3u"]
    assert found[0].severity == "warning"  # the image is stale (IC603, IC605)
    assert "used 4 time(s)" in found[0].message
    assert "line 2, layer #2" in found[0].message
    prune = " && ".join(
        f"docker builder prune -af --filter id={rid}"
        for rid in ("app1", "req1", "xother", "k0xq1frlmx3u")
    )
    assert found[0].hint.startswith(f"{prune} (this record and the 3 stacked on it only), then ")
    # The verdict runs that prune first; IC603's hint prunes the same record.
    findings = tuple(check_stale(ctx_))
    verdict = stale_verdict(kit_facts, "", findings, inv)
    assert verdict.commands[0] == prune
    assert "docker builder prune -af &&" not in "".join(f.hint for f in findings)
    (missing,) = [f for f in findings if f.code == "IC603"]
    assert missing.hint.startswith(prune + " && docker build --no-cache")
    # Built by the legacy builder: BuildKit's records are nobody's business.
    legacy = BuildState("debian:bookworm", None, (), "", "legacy")
    legacy_facts = dataclasses.replace(facts, state=legacy)
    findings = tuple(check_stale(Context(inv, stale=legacy_facts)))
    commands = stale_verdict(legacy_facts, "", findings, inv).commands
    assert "builder prune" not in " ".join([*commands, *(f.hint for f in findings)])


def test_dockerignore_and_declared_packages(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("# comment\n**/*.pyc\ntests\n!tests/keep.txt\n")
    patterns = _ignore_patterns(tmp_path)
    assert _ignored("a/b/c.pyc", patterns)
    assert _ignored("c.pyc", patterns)
    assert _ignored("tests/x.py", patterns)
    assert not _ignored("tests/keep.txt", patterns)
    assert not _ignored("app/main.py", patterns)
    stage = parse(
        "FROM x\n"
        "RUN apt-get update && apt-get install -y -o Dpkg::Options::=--force-confold "
        "build-essential libmagic1=1:5.44-3 curl\n"
        "RUN apk add --no-cache musl-dev\n"
        "RUN apt-get purge -y build-essential\n"
    ).stage()
    declared = [(d.manager, d.name, d.line) for d in declared_packages(stage)]
    assert declared == [("apt", "libmagic1", 2), ("apt", "curl", 2), ("apk", "musl-dev", 3)]


def test_check_joins_the_staleness_checks_and_skips_an_unrelated_dockerfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image, ctx = _image(tmp_path), _context(tmp_path)
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, engine=False)
    report = check(str(image), Options(use_cache=False), build=req)
    assert report.stale is not None
    assert report.stale.status == "stale"
    assert {"IC603", "IC605"} <= {f.code for f in report.findings}
    # ./Dockerfile of an unrelated project: never judged, said why.
    other = tmp_path / "other"
    other.mkdir()
    (other / "Dockerfile").write_text('FROM alpine\nRUN apk add curl\nCMD ["sh"]\n')
    monkeypatch.chdir(other)
    auto = check(str(image), Options(use_cache=False), build=BuildRequest(cwd=other))
    assert auto.stale is not None
    assert auto.stale.status == "skipped"
    assert "./Dockerfile matches 0 of its 2 steps" in auto.stale.reason
    assert not [f for f in auto.findings if f.code.startswith("IC60")]


@pytest.mark.parametrize(
    ("dockerfile", "extra", "message"),
    [
        ("# nothing here\n", [], "has no FROM"),
        (DOCKERFILE, ["--build-target", "nope"], "no stage named 'nope'"),
        (None, [], "no such Dockerfile"),
        (DOCKERFILE, ["--context", "missing-folder"], "is not a folder"),
    ],
)
def test_bad_build_input_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    dockerfile: str | None,
    extra: list[str],
    message: str,
) -> None:
    from imagecheck.cli import main

    image, ctx = _image(tmp_path), _context(tmp_path)
    if dockerfile is None:
        (ctx / "Dockerfile").unlink()
    else:
        (ctx / "Dockerfile").write_text(dockerfile)
    argv = ["stale", str(image), "--dockerfile", str(ctx / "Dockerfile"), "--no-cache"]
    if "--context" not in extra:
        argv += ["--context", str(ctx)]
    assert main([*argv, *[str(tmp_path / e) if e == "missing-folder" else e for e in extra]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


def test_stale_exits_1_exactly_when_the_verdict_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from imagecheck.cli import main

    image, ctx = _image(tmp_path, run_date=NEW), _context(tmp_path)
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace(" libmagic1", ""))
    argv = ["stale", str(image), "--context", str(ctx), "--no-cache", "--format", "json"]
    # The history differs (the RUN line): an error, stale, exit 1.
    assert main(argv) == 1
    assert json.loads(capsys.readouterr().out)["stale"]["status"] == "stale"
    # Only a warning (an old apt layer, IC605): still stale, still exit 1.
    old = tmp_path / "old"
    old.mkdir()
    image2, ctx2 = _image(old, package="libc6"), _context(old)
    (ctx2 / "Dockerfile").write_text(DOCKERFILE.replace(" libmagic1", " libc6"))
    code = main(["stale", str(image2), "--context", str(ctx2), "--no-cache", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("IC605", "warning")]
    assert doc["stale"]["status"] == "stale"
    assert code == 1
    # --fail-on error: the same warning no longer fails the run.
    assert (
        main(["stale", str(image2), "--context", str(ctx2), "--no-cache", "--fail-on", "error"])
        == 0
    )


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def test_legacy_hashes_match_what_docker_20_10_recorded(tmp_path: Path) -> None:
    """The expected values are COPY hashes docker 20.10's legacy builder wrote into
    history for exactly these files (modes included)."""
    _write(tmp_path / "requirements.txt", "six==1.16.0\n")
    _write(tmp_path / "sub" / "run.sh", "#!/bin/sh\necho hi\n", 0o755)
    (tmp_path / "sub").chmod(0o755)
    assert legacy_hash(tmp_path, ["requirements.txt"]) == (
        "file:1a66706b08005a149b0089a17b311414d39071a804461fa53d98e188e9630217"
    )
    assert legacy_hash(tmp_path, ["sub/run.sh"]) == (
        "file:2198927986252506b2da7c14e3110ab515592953b291b7652996db9ac8422694"
    )
    assert legacy_hash(tmp_path, ["sub"]) == (
        "dir:872660fdb70761a9055e0cbf027055dec9a0e4d2f935bd8ee9cf318290f9167d"
    )
    whole = tmp_path / "whole"
    _write(whole / "a.txt", "a\n")
    _write(whole / "sub" / "b.txt", "b\n")
    (whole / "sub").chmod(0o755)
    _write(whole / ".dockerignore", "Dockerfile\n")
    _write(whole / "Dockerfile", "FROM x\nCOPY . /app/\n")
    assert legacy_hash(whole, ["."]) == (
        "dir:b84a94482d8aec92614dbe4628664a379717211623abfc28b12edf9cbdc255a3"
    )
    # A mode change alone changes the hash; a symlink is never guessed at.
    (tmp_path / "sub" / "run.sh").chmod(0o644)
    assert legacy_hash(tmp_path, ["sub/run.sh"]) != (
        "file:2198927986252506b2da7c14e3110ab515592953b291b7652996db9ac8422694"
    )
    (tmp_path / "sub" / "link").symlink_to("run.sh")
    assert legacy_hash(tmp_path, ["sub"]) is None
    assert legacy_hash(tmp_path, ["sub/link"]) is None
    # Several sources, and globs: multi: over each match's hash, in order.
    many = tmp_path / "many"
    _write(many / "a.txt", "a\n")
    _write(many / "b.txt", "b\n")
    _write(many / "sub" / "c.txt", "c\n")
    (many / "sub").chmod(0o755)
    assert legacy_hash(many, ["b.txt", "sub/", "a.txt"]) == (
        "multi:b198ac92e65792be7762a35e1d021ff7904879f6777f56b105b663adca3ba4d8"
    )
    assert legacy_hash(many, ["*.txt"]) == (
        "multi:59e3963f5e7d6137120d6afcd1a6ca6a02dfe35f6ed41d7b8cbee2bf80896577"
    )
    assert legacy_hash(many, ["nothing-*.txt"]) is None


def test_a_big_context_file_is_compared_byte_for_byte_in_little_memory(tmp_path: Path) -> None:
    """An 18 MB wheel with one byte changed (same size) was "18 context files match":
    files over 4 MiB were never compared, and nothing said so."""
    import tracemalloc

    big = bytes(range(256)) * (18 * 4096)  # 18 MiB
    history: list[Layer | Empty] = [
        Layer([F("etc/os-release", b"ID=debian\n")], "/bin/sh -c #(nop) ADD file:abc in / "),
        Layer([F("wheels/big.whl", big)], "COPY big.whl /wheels/ # buildkit"),
    ]
    (tmp_path / "image").mkdir()
    image = make_image(tmp_path / "image", history, layout="oci-archive").path
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM debian:bookworm\nCOPY big.whl /wheels/\n")
    (ctx / "big.whl").write_bytes(big)
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, engine=False)
    fresh = stale(str(image), Options(use_cache=False), req)
    assert fresh.stale is not None
    assert fresh.stale.status == "fresh"
    assert "1 context file(s) match" in fresh.stale.reason
    with (ctx / "big.whl").open("r+b") as fh:
        fh.seek(9 << 20)
        fh.write(b"\xff")
    tracemalloc.start()
    try:
        report = stale(str(image), Options(use_cache=False), req)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    changed = [f for f in report.findings if f.code == "IC602"]
    assert [f.subject for f in changed] == ["big.whl"]
    assert "(18874368 bytes in the context)" in changed[0].message
    assert peak < 8 << 20  # neither copy was held whole


def test_copy_into_a_quoted_workdir_finds_its_copy(tmp_path: Path) -> None:
    """``WORKDIR "/srv/my app/"`` is /srv/my app/ to the builder: the COPY's file is
    there, not under a folder named with quotes (a false IC602 'not in the layer')."""
    history: list[Layer | Empty] = [
        Layer([F("etc/os-release", b"ID=debian\n")], "/bin/sh -c #(nop) ADD file:abc in / "),
        Empty("WORKDIR /srv/my app/"),
        Layer([F("srv/my app/a.txt", b"a\n")], "COPY a.txt . # buildkit"),
    ]
    (tmp_path / "image").mkdir()
    image = make_image(tmp_path / "image", history, layout="oci-archive").path
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM debian:bookworm\nWORKDIR "/srv/my app/"\nCOPY a.txt .\n')
    (ctx / "a.txt").write_text("a\n")
    req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, engine=False)
    report = stale(str(image), Options(use_cache=False), req)
    assert report.findings == ()
    assert report.stale is not None
    assert "1 context file(s) match" in report.stale.reason
