"""Benchmark the application step of the smoke run: with it, without it, and its floor.

Prints figures; it is not a test. On an image with an application (default: the
shipped example, ``imagecheck-example/backend:latest`` from ``scripts/setup.sh``), in
interleaved rounds, one run times:

- ``imagecheck smoke`` with the application step off (``--no-app``);
- ``imagecheck smoke`` with it (the entry, every module of its package, the mappers);
- the floor: the application's own import, ``python -c 'import MODULE'`` in one plain
  ``docker run`` (the container's start and the interpreter's included, so the floor
  is the container's cost plus the import: the step should cost at most the import).

Target (issue 13): with - without <= 1.1 x the application's own import time, which
the runner measures too (the entry item's seconds: everything the app imports that
the distributions had not). Run: ``python benchmarks/bench_app.py [IMAGE] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imagecheck.api import Options, inventory, smoke
from imagecheck.smoke import SmokeOptions, app_entry

LABEL = "imagecheck.test=1"


def timed_smoke(image: str, cache: Path, *, app: bool) -> tuple[float, float, int]:
    """Seconds of one smoke run; the app's own import seconds and its item count."""
    started = time.perf_counter()
    report = smoke(image, Options(cache_dir=cache), SmokeOptions(probes=False, app_step=app))
    seconds = time.perf_counter() - started
    run = report.smoke
    assert run is not None, "no smoke run"
    if run.status != "ran":
        sys.exit(f"the smoke run did not run: {run.reason}")
    mine = [r for r in run.results if r.kind in ("app", "mappers")]
    return seconds, sum(r.seconds for r in mine), len(mine)


def floor(ref: str, python: str, module: str) -> float:
    """One plain ``docker run`` importing the entry module (and nothing else)."""
    started = time.perf_counter()
    subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--label",
            LABEL,
            "--entrypoint",
            python,
            ref,
            "-c",
            f"import {module}",
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default="docker:imagecheck-example/backend:latest")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        inv = inventory(args.image, Options(cache_dir=cache))  # warm: the runs time the smoke
        entry = app_entry(inv, SmokeOptions())
        if entry is None or entry.module is None:
            sys.exit(f"no application module found in {args.image}: {entry and entry.how}")
        python = inv.interpreter.path if inv.interpreter else "python3"
        ref = args.image.removeprefix("docker:")
        print(f"image {args.image}: application {entry.spec} ({entry.how})")
        without: list[float] = []
        with_app: list[float] = []
        own: list[float] = []
        floors: list[float] = []
        items = 0
        for n in range(args.repeat):
            seconds, _, _ = timed_smoke(args.image, cache, app=False)
            without.append(seconds)
            seconds, app_seconds, items = timed_smoke(args.image, cache, app=True)
            with_app.append(seconds)
            own.append(app_seconds)
            floors.append(floor(ref, python, entry.module))
            print(
                f"  round {n + 1}: without {without[-1]:.2f} s, with {with_app[-1]:.2f} s "
                f"(app items {app_seconds:.2f} s), plain import {floors[-1]:.2f} s",
                file=sys.stderr,
            )
    m_without, m_with = statistics.median(without), statistics.median(with_app)
    m_own, m_floor = statistics.median(own), statistics.median(floors)
    cost = m_with - m_without
    print(f"smoke without the application step: median {m_without:.2f} s")
    print(f"smoke with it ({items} items):        median {m_with:.2f} s")
    print(f"the step costs:                      {cost:.2f} s")
    print(
        f"the application's own import:       {m_own:.2f} s (runner), "
        f"plain docker run + import {m_floor:.2f} s"
    )
    ratio = cost / m_own if m_own > 0 else float("inf")
    verdict = "ok" if cost <= 1.1 * m_own + 0.05 else "OVER"
    print(f"cost / own import: {ratio:.2f} (target <= 1.10): {verdict}")


if __name__ == "__main__":
    main()
