"""Benchmark ``imagecheck inventory registry:...`` against syft's ``registry:`` source.

Prints figures; it is not a test. One run:

1. builds ``imagecheck-bench/heavy:latest`` as ``bench_inventory.py`` does (unless it
   exists), starts Debian's ``docker-registry`` on 127.0.0.1:5109 in a temporary
   folder and ``docker push``es the image to it (the tag made for the push is removed);
2. pushes a second tag, ``:second``: the same layers plus one small new layer (a new
   config and manifest made here, uploaded over the distribution API);
3. times, ``--repeat`` times each, interleaved: syft ``registry:`` cold, imagecheck
   cold (a fresh empty cache every round), and imagecheck on ``:second`` with a cache
   filled by ``:latest`` only, counting from the registry's access log what that run
   fetched;
4. prints the medians, the ratios and whether the targets hold (cold <= 0.10x syft;
   the second tag fetches only its new layer and takes <= 0.2x the cold run).

Run: ``python benchmarks/bench_registry.py [--repeat 3] [--json-out F]``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_inventory as bench

from tests.registries import Registry, run_registry

PORT = 5109
REPO = "bench/heavy"


def _http(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, data=body or None, method=method, headers=headers or {})  # noqa: S310
    return urllib.request.urlopen(req)  # noqa: S310 - loopback only


def _upload(base: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with _http("POST", f"{base}/v2/{REPO}/blobs/uploads/") as resp:
        location = resp.headers["Location"]
    sep = "&" if "?" in location else "?"
    url = location if location.startswith("http") else base + location
    _http("PUT", f"{url}{sep}digest={digest}", data, {"Content-Type": "application/octet-stream"})
    return digest


def push_second_tag(reg: Registry) -> int:
    """``:second`` = ``:latest`` plus one small layer; returns that layer's blob size."""
    base = f"http://{reg.host}"
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    with _http("GET", f"{base}/v2/{REPO}/manifests/latest", headers={"Accept": accept}) as r:
        manifest = json.loads(r.read())
    with _http("GET", f"{base}/v2/{REPO}/blobs/{manifest['config']['digest']}") as r:
        config = json.loads(r.read())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        data = b"second tag\n" * 1000
        info = tarfile.TarInfo("app/second.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    tar = raw.getvalue()
    blob = gzip.compress(tar, mtime=0)
    layer_digest = _upload(base, blob)
    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(tar).hexdigest())
    config["history"].append({"created": "2024-01-01T00:00:00Z", "created_by": "COPY second"})
    config_bytes = json.dumps(config).encode()
    manifest["config"] = {
        "mediaType": manifest["config"]["mediaType"],
        "digest": _upload(base, config_bytes),
        "size": len(config_bytes),
    }
    manifest["layers"].append(
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "digest": layer_digest,
            "size": len(blob),
        }
    )
    _http(
        "PUT",
        f"{base}/v2/{REPO}/manifests/second",
        json.dumps(manifest).encode(),
        {"Content-Type": accept},
    )
    return len(blob)


def _run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **env})
    return time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--port", type=int, default=PORT, help=f"the registry's ({PORT})")
    args = parser.parse_args(argv)
    bench.build_image(False)
    syft = bench.syft_binary()
    imagecheck = bench.imagecheck_binary()
    size = bench.image_size(bench.IMAGE)
    with (
        tempfile.TemporaryDirectory(prefix="imagecheck-bench-registry-") as tmp,
        run_registry(Path(tmp) / "registry", args.port) as reg,
    ):
        tag = f"{reg.host}/{REPO}:latest"
        bench.log(f"docker push {bench.IMAGE} ({bench.mb(size)}) to {tag} ...")
        subprocess.run(["docker", "tag", bench.IMAGE, tag], check=True)
        try:
            t0 = time.perf_counter()
            subprocess.run(["docker", "push", "-q", tag], check=True, stdout=subprocess.DEVNULL)
            bench.log(f"pushed in {time.perf_counter() - t0:.1f} s")
        finally:
            subprocess.run(["docker", "rmi", tag], check=True, stdout=subprocess.DEVNULL)
        new_layer = push_second_tag(reg)
        latest, second = f"registry:{tag}", f"registry:{reg.host}/{REPO}:second"
        times: dict[str, list[float]] = {"syft": [], "cold": [], "second": []}
        fetched: list[tuple[int, int]] = []
        for n in range(args.repeat):
            bench.log(f"round {n + 1}/{args.repeat}")
            times["syft"].append(
                _run(
                    [syft, latest, "-o", "json", "-q"],
                    {
                        "SYFT_REGISTRY_INSECURE_USE_HTTP": "true",
                        "SYFT_CHECK_FOR_APP_UPDATE": "false",
                    },
                )
            )
            cache = {"IMAGECHECK_CACHE_DIR": str(Path(tmp) / f"cache-{n}")}
            times["cold"].append(
                _run([*imagecheck, "inventory", latest, "--format", "json"], cache)
            )
            reg.mark()
            times["second"].append(
                _run([*imagecheck, "inventory", second, "--format", "json"], cache)
            )
            gets = reg.blob_gets()
            fetched.append((len(gets), sum(a.size for a in gets)))
    med = {k: statistics.median(v) for k, v in times.items()}
    cold_ratio = med["cold"] / med["syft"]
    second_ratio = med["second"] / med["cold"]
    only_new = all(count == 2 for count, _ in fetched)  # the new config and the new layer
    print(f"image {bench.IMAGE}: {bench.mb(size)}, {args.repeat} rounds, medians")
    print(f"  syft registry: cold           {med['syft']:7.2f} s")
    print(f"  imagecheck registry: cold     {med['cold']:7.2f} s  ratio {cold_ratio:.3f} (<= 0.10)")
    print(
        f"  imagecheck :second, warm base {med['second']:7.2f} s  ratio {second_ratio:.3f} (<= 0.2)"
    )
    count, nbytes = fetched[0]
    verdict = "yes" if only_new else "NO"
    print(f"  :second fetched {count} blobs, {nbytes} bytes (its new layer: {new_layer} bytes)")
    print(f"  only the new config and layer fetched in every round: {verdict}")
    if args.json_out:
        args.json_out.write_text(
            json.dumps({"times": times, "medians": med, "fetched": fetched, "new_layer": new_layer})
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
