"""Benchmark the podman: and containerd: sources against the engine source (issue 16).

Prints figures; it is not a test. The image (default the example backend) is put into
a podman store and a containerd of this script's own under /tmp (``docker save |
podman load``, ``ctr images import``), then a cold inventory (no layer cache) is timed
from each source in interleaved rounds: ``docker:`` (overlay2 folders in place),
``podman:`` (containers-storage's overlay folders in place) and ``containerd:`` (the
content store's layer blobs in place, through the OCI reader).

Target: podman and containerd within 1.5x the engine source on the same image.
Run: ``python benchmarks/bench_stores.py [--image NAME] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from imagecheck.api import Options, inventory


def _pipe(save: list[str], load: list[str], env: dict[str, str]) -> None:
    with subprocess.Popen(save, stdout=subprocess.PIPE) as producer:
        subprocess.run(load, stdin=producer.stdout, check=True, env=env, capture_output=True)


def _containerd(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    sock = folder / "ctd.sock"
    (folder / "config.toml").write_text(
        f'version = 2\nroot = "{folder}/root"\nstate = "{folder}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n'
    )
    daemon = subprocess.Popen(
        ["containerd", "--config", str(folder / "config.toml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.1)
    return daemon, str(sock)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="imagecheck-example/backend:latest")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="stores-bench-"))
    conf = folder / "storage.conf"
    conf.write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{folder}/podman"\n'
        f'runroot = "{folder}/podman-run"\n'
    )
    os.environ["CONTAINERS_STORAGE_CONF"] = str(conf)
    daemon, sock = _containerd(folder)
    os.environ["CONTAINERD_ADDRESS"] = sock
    try:
        env = dict(os.environ)
        started = time.perf_counter()
        _pipe(["docker", "save", args.image], ["podman", "load"], env)
        _pipe(["docker", "save", args.image], ["ctr", "-n", "bench", "images", "import", "-"], env)
        print(f"setup (podman load, ctr import): {time.perf_counter() - started:.1f} s")
        targets = {
            "docker": f"docker:{args.image}",
            "podman": f"podman:{args.image}",
            "containerd": f"containerd:bench/{args.image}",
        }
        times: dict[str, list[float]] = {k: [] for k in targets}
        for _ in range(args.repeat):
            for name, target in targets.items():
                started = time.perf_counter()
                inv = inventory(target, Options(use_cache=False))
                times[name].append(time.perf_counter() - started)
                assert inv.python, target
        engine = statistics.median(times["docker"])
        for name, runs in times.items():
            median = statistics.median(runs)
            spread = ", ".join(f"{t:.2f}" for t in runs)
            print(
                f"{name:>10}: median {median:.2f} s ({spread}); {median / engine:.2f}x the engine"
            )
        for name in ("podman", "containerd"):
            ratio = statistics.median(times[name]) / engine
            print(f"target {name} <= 1.5x the engine: {'met' if ratio <= 1.5 else 'MISSED'}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
