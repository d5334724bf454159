"""Bounded memory and no recursion on input-controlled depth, on files built in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.builders import big_tar_chunks, oci_layout_of_tar_chunks
from tests.elfbuild import elf_parts
from tests.helpers import ROOT

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
