"""Cold inventory with every layer verified, against the code before it and syft.

Prints figures; it is not a test. One run:

1. ``docker save``s ``--image`` (default ``imagecheck-bench/heavy:latest``, which
   ``bench_inventory.py`` builds) into ``--tmp-dir`` once, and converts it into an OCI
   layout with gzip layers (as a newer engine or a registry pull holds them);
2. times, ``--repeat`` rounds, alternating within each round: this checkout and a
   baseline checkout (``--baseline DIR``, e.g. ``git archive <commit> | tar -x -C DIR``),
   each cold (``--no-cache``) on the docker archive and on the OCI gzip layout, and
   syft on both (``--syft PATH``, else ``syft`` on PATH, else skipped and said so);
3. prints the medians, the peak RSS of each (its process and any worker), the ratios,
   and how fast gzip inflates here with ISA-L and with zlib.

With ``--engine`` the engine source (``docker:IMAGE``, its overlay2 folders read in
place, and ``--engine-read export``) is timed too, against syft ``docker:``. The CUDA
torch image (``--image imagecheck-ml/torch-cuda:latest``, 6 GB) is the issue-14 case.

Run: ``python benchmarks/bench_verified.py --baseline /tmp/base [--image REF] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def save(image: str, dest: Path) -> Path:
    archive = dest / "image.tar"
    if not archive.exists():
        log(f"docker save {image} -> {archive}")
        subprocess.run(["docker", "save", "-o", str(archive), image], check=True)
    return archive


def to_oci_gzip(archive: Path, dest: Path) -> Path:
    """An OCI layout of the archive's image, each layer gzip-compressed (ISA-L level 1)."""
    from isal import isal_zlib

    layout = dest / "oci-gzip"
    if (layout / "index.json").exists():
        return layout
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = tf.extractfile(manifest["Config"]).read()  # type: ignore[union-attr]
        layers = []
        for path in manifest["Layers"]:
            src = tf.extractfile(path)
            assert src is not None
            squeeze = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)
            digest, tmp = hashlib.sha256(), blobs / "partial"
            with tmp.open("wb") as out:
                while chunk := src.read(1 << 22):
                    for part in (squeeze.compress(chunk),):
                        digest.update(part)
                        out.write(part)
                tail = squeeze.flush()
                digest.update(tail)
                out.write(tail)
            size = tmp.stat().st_size
            tmp.rename(blobs / digest.hexdigest())
            layers.append(
                {"mediaType": GZIP_LAYER, "digest": f"sha256:{digest.hexdigest()}", "size": size}
            )
    config_digest = hashlib.sha256(config).hexdigest()
    (blobs / config_digest).write_bytes(config)
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": f"sha256:{config_digest}",
            "size": len(config),
        },
        "layers": layers,
    }
    data = json.dumps(doc).encode()
    (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": doc["mediaType"],
                "digest": f"sha256:{hashlib.sha256(data).hexdigest()}",
                "size": len(data),
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return layout


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds (user+sys) of one run, its workers
    included: on a loaded machine the wall waits for a core, the CPU does not."""
    wrapped = ["/usr/bin/time", "-f", "%M %U %S", *cmd]
    start = time.perf_counter()
    proc = subprocess.run(wrapped, capture_output=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-600:]}")
    rss_text, user, system = proc.stderr.decode().strip().splitlines()[-1].split()
    cpu = float(user) + float(system)
    log(f"  {wall:7.2f} s wall {cpu:7.2f} s cpu  {' '.join(cmd[-3:])}")
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(int(rss_text), 0) or kids, cpu


def page_in(paths: list[Path]) -> None:
    """Read the files once (untimed) so that the timed run finds them in the page cache."""
    for path in paths:
        if path.is_file():
            with path.open("rb") as fh:
                while fh.read(8 << 20):
                    pass


def inflate_rates(layout: Path) -> dict[str, float]:
    """MB/s of plain tar out, inflating the layout's biggest layer with ISA-L and zlib."""
    from isal import isal_zlib

    blob = max((layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    rates = {}
    for name, lib in (("isal", isal_zlib), ("zlib", zlib)):
        dec, out, start = lib.decompressobj(wbits=47), 0, time.perf_counter()
        with blob.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                data = dec.decompress(chunk, 1 << 20)
                out += len(data)
                while dec.unconsumed_tail:
                    out += len(dec.decompress(dec.unconsumed_tail, 1 << 20))
        rates[name] = out / (time.perf_counter() - start) / 1e6
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--image", default="imagecheck-bench/heavy:latest")
    ap.add_argument("--baseline", type=Path, required=True, help="a checkout to compare with")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--syft", help="the syft binary (default: syft on PATH)")
    ap.add_argument("--engine", action="store_true", help="time the engine source too")
    ap.add_argument("--export", action="store_true", help="and --engine-read export (slow)")
    ap.add_argument(
        "--tmp-dir", type=Path, default=Path(tempfile.gettempdir()) / "imagecheck-bench-verified"
    )
    args = ap.parse_args()
    slug = args.image.replace("/", "_").replace(":", "_")
    work = args.tmp_dir / slug
    work.mkdir(parents=True, exist_ok=True)
    archive = save(args.image, work)
    layout = to_oci_gzip(archive, work)
    syft = args.syft or shutil.which("syft")
    targets = {
        "docker archive": f"docker-archive:{archive}",
        "OCI gzip layout": f"oci-dir:{layout}",
    }
    if args.engine:
        targets["engine"] = f"docker:{args.image}"
    extra = {"engine export": ["--engine-read", "export"]} if args.engine and args.export else {}
    files = {"docker archive": [archive], "OCI gzip layout": sorted(layout.rglob("*"))}
    runs: dict[str, list[tuple[float, int, float]]] = {}
    peers = [("this", ROOT), ("baseline", args.baseline)]
    for n in range(args.repeat):
        for what, target in targets.items():
            # Each run starts from the same page cache: syft unpacks every layer to disk,
            # which evicts the input, and whoever ran next paid the disk reads. Who goes
            # first alternates between rounds.
            for who, code in peers if n % 2 == 0 else peers[::-1]:
                page_in(files.get(what, []))
                env = {**os.environ, "PYTHONPATH": str(code), "NO_COLOR": "1"}
                cmd = [
                    sys.executable,
                    "-m",
                    "imagecheck",
                    "inventory",
                    "--format",
                    "json",
                    "--no-cache",
                    target,
                ]
                runs.setdefault(f"{who} {what}", []).append(timed(cmd, env))
                if what == "engine":
                    for name, flags in extra.items():
                        runs.setdefault(f"{who} {name}", []).append(timed([*cmd, *flags], env))
            if syft:
                page_in(files.get(what, []))
                runs.setdefault(f"syft {what}", []).append(
                    timed(
                        [syft, "scan", target, "-o", "json", "-q"],
                        {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"},
                    )
                )
        log(f"round {n + 1}/{args.repeat} done")
    size = sum(p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir())
    archive_mb = archive.stat().st_size / 1e6
    print(f"{args.image}: archive {archive_mb:.0f} MB, gzip layout {size / 1e6:.0f} MB")
    medians = {k: statistics.median(w for w, _, _ in v) for k, v in runs.items()}
    for key, values in runs.items():
        peak = max(r for _, r, _ in values) / 1024
        cpu = statistics.median(c for _, _, c in values)
        print(
            f"  {key:28s} median {medians[key]:7.2f} s   cpu {cpu:7.2f} s   "
            f"peak RSS {peak:6.0f} MiB"
        )
    if "syft engine" in medians:
        for key in ("engine export",):
            if f"this {key}" in medians:
                medians[f"syft {key}"] = medians["syft engine"]
    for what in [*targets, *extra]:
        this, base = medians[f"this {what}"], medians[f"baseline {what}"]
        line = f"  {what}: this / baseline {this / base:5.2f}"
        if f"syft {what}" in medians:
            line += f", this / syft {this / medians[f'syft {what}']:5.3f}"
        print(line)
    if not syft:
        print("  syft: not installed here (--syft PATH); compared with the baseline only")
    rates = inflate_rates(layout)
    print(f"  gzip inflate: ISA-L {rates['isal']:.0f} MB/s, zlib {rates['zlib']:.0f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
