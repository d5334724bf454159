"""Benchmark ``imagecheck diff OLD NEW`` beside two warm ``imagecheck inventory`` runs.

Prints figures; it is not a test. Both images are read once first (their layer indexes
and catalogs cached), then in interleaved rounds one round times, each as a user runs
it (its own process, output to a pipe):

- ``imagecheck inventory OLD`` and ``imagecheck inventory NEW`` (their sum is the peer);
- ``imagecheck diff OLD NEW``, which reads both catalogs, both images' layer indexes
  from the cache for the application's files, and digests in place only the files
  an index cannot tell apart.

The same two again in this process (``api.inventory`` twice against ``api.diff``), so
that one interpreter start against two does not flatter the ratio.

Target (issue 13): diffing two cached images costs little more than two warm
inventories. Defaults: the base image and the shipped example (``scripts/setup.sh``).
Run: ``python benchmarks/bench_diff.py [OLD NEW] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imagecheck.api import Options, diff, inventory


def timed(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "imagecheck", *args],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("old", nargs="?", default="docker:imagecheck-test/base:bookworm")
    parser.add_argument("new", nargs="?", default="docker:imagecheck-example/backend:latest")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as folder:
        cache = ("--cache-dir", str(Path(folder) / "cache"))
        cold = timed("diff", args.old, args.new, *cache, "--format", "json")  # fills the cache
        inv_old: list[float] = []
        inv_new: list[float] = []
        diffs: list[float] = []
        for _ in range(args.repeat):
            inv_old.append(timed("inventory", args.old, *cache, "--format", "json"))
            inv_new.append(timed("inventory", args.new, *cache, "--format", "json"))
            diffs.append(timed("diff", args.old, args.new, *cache, "--format", "json"))
        options = Options(cache_dir=Path(folder) / "cache")
        in_peer: list[float] = []
        in_diff: list[float] = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            inventory(args.old, options)
            inventory(args.new, options)
            in_peer.append(time.perf_counter() - started)
            started = time.perf_counter()
            diff(args.old, args.new, options)
            in_diff.append(time.perf_counter() - started)
    peer = statistics.median(a + b for a, b in zip(inv_old, inv_new, strict=True))
    warm = statistics.median(diffs)
    print(f"OLD {args.old}  NEW {args.new}  ({args.repeat} rounds, medians)")
    print(f"cold diff (fills the cache)     {cold:7.3f} s")
    print(f"warm inventory OLD              {statistics.median(inv_old):7.3f} s")
    print(f"warm inventory NEW              {statistics.median(inv_new):7.3f} s")
    print(f"two warm inventories (peer)     {peer:7.3f} s")
    print(f"warm diff                       {warm:7.3f} s  ratio {warm / peer:.2f}")
    inner, inner_peer = statistics.median(in_diff), statistics.median(in_peer)
    print(f"in process: two inventories     {inner_peer:7.3f} s")
    print(f"in process: diff                {inner:7.3f} s  ratio {inner / inner_peer:.2f}")


if __name__ == "__main__":
    main()
