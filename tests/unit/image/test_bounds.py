"""Bounded memory and no recursion on input-controlled depth, on files built in tmp_path."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import Options, inventory
from imagecheck.errors import CorruptArchive
from imagecheck.image.layerindex import index_tar
from tests.builders import (
    SITE,
    F,
    Layer,
    big_tar_chunks,
    make_image,
    metadata,
    oci_layout_of_tar_chunks,
    rewrite_manifest,
)
from tests.elfbuild import elf_parts, elf_so
from tests.helpers import ROOT, run_cli

# Runs the CLI as a user does and reports the peak RSS of it and of any forked worker.
_MEASURED = """
import resource, runpy, sys
sys.argv = ["imagecheck", *sys.argv[1:]]
try:
    runpy.run_module("imagecheck", run_name="__main__")
finally:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"maxrss-kib {max(own, kids)}", file=sys.stderr)
"""
LIMIT_KIB = 256 << 10


def _measured(*args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={"PYTHONPATH": str(ROOT), "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("maxrss-kib "), proc.stderr
    return proc, int(last.split()[1])


def test_a_2gib_file_in_a_gzip_layer_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """One 2 GiB library (zeros between its head and its .dynamic) in a gzip layer that
    compresses to a few MB: a megabyte of it inflates to a gigabyte, and none of it may be
    held at once. Its NEEDED is read as the stream passes, and the layer is verified."""
    big = elf_parts(soname="libbig.so.1", needed=("libc.so.6",), gap=2 << 30)
    member = ("usr/lib/libbig.so.1", big.head, big.gap, big.tail)
    layout = oci_layout_of_tar_chunks(tmp_path / "layout", [big_tar_chunks([member])])
    proc, rss = _measured("inventory", "--format", "json", "--no-cache", f"oci-dir:{layout}")
    assert proc.returncode == 0, proc.stderr
    libs = {lib["path"]: lib for lib in json.loads(proc.stdout)["libraries"]}
    assert libs["/usr/lib/libbig.so.1"]["needed"] == ["libc.so.6"]
    print(f"peak RSS {rss >> 10} MiB")
    assert rss < LIMIT_KIB, f"peak RSS {rss >> 10} MiB"


DEEP = "/".join(["d"] * 3000)


def test_a_path_3000_folders_deep_and_hostile_links_are_read(tmp_path: Path) -> None:
    """Depth is walked, never recursed; symlink loops, long chains and ``..`` escapes
    resolve inside the image or not at all."""
    layer = Layer(
        [
            F(f"{DEEP}/libdeep.so.1", elf_so(soname="libdeep.so.1", needed=("libc.so.6",))),
            F(f"{SITE}/{DEEP}/x.py", b"x = 1\n"),
            F(f"{SITE}/a-1.dist-info/METADATA", metadata("a", "1")),
            F(f"{SITE}/a-1.dist-info/RECORD", f"{DEEP}/x.py,,\n".encode()),
            F("loop/a", kind="symlink", link="b"),
            F("loop/b", kind="symlink", link="a"),
            F("usr/lib/libself.so.1", kind="symlink", link="libself.so.1"),
            F("usr/lib/libout.so.1", kind="symlink", link="../../../../../../../etc/passwd"),
            *(F(f"chain/{i}", kind="symlink", link=f"/chain/{i + 1}") for i in range(300)),
        ]
    )
    built = make_image(tmp_path, [layer], layout="oci-dir", compression="gzip")
    for command in ("inventory", "check", "layers"):
        proc = run_cli(command, "--format", "json", "--no-cache", f"oci-dir:{built.path}")
        assert proc.returncode in (0, 1), proc.stderr
        assert "Traceback" not in proc.stderr
    inv = inventory(str(built.path), Options(use_cache=False))
    assert [d.name for d in inv.python] == ["a"]
    assert any(lib.path.endswith("libdeep.so.1") for lib in inv.libraries)


def _config_edit(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """An OCI layout whose config ``change`` edited, re-digested and re-linked."""
    built = make_image(tmp_path, [Layer([F("a", b"x")])], layout="oci-dir")
    config = dict(built.config)
    change(config)
    data = json.dumps(config).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (built.path / "blobs" / "sha256" / digest[7:]).write_bytes(data)

    def relink(manifest: dict[str, Any]) -> None:
        manifest["config"] |= {"digest": digest, "size": len(data)}

    rewrite_manifest(built.path, relink)
    return built.path


def test_json_nested_too_deep_is_one_line_and_exit_2(tmp_path: Path) -> None:
    layout = _config_edit(tmp_path, lambda c: c.update(Labels=json.loads("[" * 50 + "]" * 50)))
    # Deeper than any decoder recurses: written by hand, not by json.dumps.
    config = next(p for p in (layout / "blobs" / "sha256").iterdir() if b"Labels" in p.read_bytes())
    data = config.read_bytes().replace(b"[" * 50 + b"]" * 50, b"[" * 100_000 + b"]" * 100_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest[7:]).write_bytes(data)

    def relink(manifest: dict[str, Any]) -> None:
        manifest["config"] |= {"digest": digest, "size": len(data)}

    rewrite_manifest(layout, relink)
    proc = run_cli("inventory", "--no-cache", f"oci-dir:{layout}")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "nests its JSON too deep" in proc.stderr


def test_absurd_counts_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    many = _config_edit(
        tmp_path, lambda c: c["rootfs"].update(diff_ids=["sha256:" + "0" * 64] * 1001)
    )
    with pytest.raises(CorruptArchive, match="lists 1001 layers"):
        inventory(str(many), Options(use_cache=False))
    (tmp_path / "h").mkdir()
    history = _config_edit(tmp_path / "h", lambda c: c.update(history=[{}] * 10_001))
    with pytest.raises(CorruptArchive, match="10001 history entries"):
        inventory(str(history), Options(use_cache=False))
    (tmp_path / "m").mkdir()
    built = make_image(tmp_path / "m", [Layer([F("a", b"x")])], layout="oci-dir")
    index = json.loads((built.path / "index.json").read_text())
    index["manifests"] *= 5000
    (built.path / "index.json").write_text(json.dumps(index))
    with pytest.raises(CorruptArchive, match="lists over 4096 manifests"):
        inventory(str(built.path), Options(use_cache=False))
    (tmp_path / "e").mkdir()
    monkeypatch.setattr("imagecheck.image.layerindex.MAX_ENTRIES", 50)
    files = make_image(
        tmp_path / "e", [Layer([F(f"f{i}", b"") for i in range(60)])], layout="oci-dir"
    )
    with pytest.raises(CorruptArchive, match="more than 50 entries"):
        inventory(str(files.path), Options(use_cache=False))


def test_an_absurd_extended_header_is_refused_before_it_is_read() -> None:
    head = tarfile.TarInfo("././@PaxHeader")
    head.type, head.size = tarfile.XHDTYPE, 3 << 30  # 3 GiB of PAX records, claimed
    tar = head.tobuf(format=tarfile.USTAR_FORMAT)
    with pytest.raises(CorruptArchive, match="an extended header of 3221225472 bytes"):
        index_tar(io.BytesIO(tar), "sha256:" + "7" * 64)
