"""The warm re-check: ``imagecheck check TARGET --no-smoke`` with everything cached.

Prints figures; it is not a test. The cache is filled once (untimed); then, ``--repeat``
rounds, alternating within each round: this checkout, a baseline checkout
(``--baseline DIR``, e.g. ``git archive <commit> | tar -x -C DIR``) and the floor every
run pays, ``python -c pass`` with the same interpreter. Wall and CPU (user+sys) seconds
of the whole process are printed as medians, with the ratios; the CPU figure is the one
to trust on a loaded machine, where the wall waits for a core.

Run: ``python benchmarks/bench_warm.py --baseline /tmp/base [--target docker:IMG]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd`` (its children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-600:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--target", default="docker:imagecheck-bench/heavy:latest")
    ap.add_argument("--baseline", type=Path, required=True, help="a checkout to compare with")
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="imagecheck-warm-") as cache:
        peers = {"this": ROOT, "baseline": args.baseline}
        # Byte code is written and read, as a user's install has it: a checkout whose
        # modules compile from source each run would measure the compiler.
        base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        envs = {
            who: {**base_env, "PYTHONPATH": str(code), "NO_COLOR": "1", "COLUMNS": "120"}
            for who, code in peers.items()
        }
        cmds = {
            who: [
                sys.executable,
                "-m",
                "imagecheck",
                "check",
                args.target,
                "--no-smoke",
                "--cache-dir",
                f"{cache}/{who}",
            ]
            for who in peers
        }
        for who in peers:  # fill each cache (untimed); a cache is per code version
            timed(cmds[who], envs[who])
        cmds["python -c pass"] = [sys.executable, "-c", "pass"]
        envs["python -c pass"] = envs["this"]
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
        for _ in range(args.repeat):
            for who, cmd in cmds.items():
                runs[who].append(timed(cmd, envs[who]))
    print(f"warm check --no-smoke {args.target}, {args.repeat} alternating rounds")
    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for k, v in runs.items()
    }
    for key, (wall, cpu) in med.items():
        print(f"  {key:16s} wall {wall:6.3f} s   cpu {cpu:6.3f} s")
    this, base = med["this"], med["baseline"]
    print(f"  this / baseline: wall {this[0] / base[0]:5.2f}, cpu {this[1] / base[1]:5.2f}")
    floor = med["python -c pass"]
    print(f"  this over the interpreter's start: wall +{this[0] - floor[0]:.3f} s")
    print(f"  target 0.2 s wall: {'met' if this[0] <= 0.2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
