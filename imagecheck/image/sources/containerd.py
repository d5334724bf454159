"""``containerd:[NAMESPACE/]NAME``: an image in containerd's content store, read in place.

containerd keeps every blob (index, manifest, config, layer) under its content store's
``blobs/sha256/<hex>``, the very layout of an OCI image layout folder: the image is read
there through the OCI reader (``oci.py``), layers streamed from their blobs, nothing
copied. What containerd keeps in its metadata database (bolt) is asked of the daemon
through ``ctr``: where its content store is (the content plugin's ``root``), and which
manifest or index an image name points at in a namespace (``default``; ``moby`` for
Docker's containerd image store; ``k8s.io`` on Kubernetes nodes). The daemon is found at
``$CONTAINERD_ADDRESS`` (else ``/run/containerd/containerd.sock``), as ``ctr`` finds it.

"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path

from ...errors import BadInput, EnvironmentProblem, ImageNotFound
from ...model import Platform
from .oci import DirStore, StoreSource, resolve_oci

DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
KNOWN_NAMESPACES = ("default", "moby", "k8s.io")
_TIMEOUT = 30


class _Ctr:
    """``ctr`` against one containerd: the only way to containerd's metadata we use."""

    def __init__(self, address: str) -> None:
        binary = shutil.which("ctr")
        if binary is None:
            raise EnvironmentProblem("containerd: no ctr command on PATH (containerd's client)")
        if not Path(address).exists():
            raise EnvironmentProblem(
                f"containerd: no containerd at {address} (set CONTAINERD_ADDRESS to its socket)"
            )
        self.binary, self.address = binary, address

    def run(self, *args: str) -> str:
        command = [self.binary, "--address", self.address, *args]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=_TIMEOUT
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise EnvironmentProblem(f"containerd: ctr {' '.join(args)} failed: {exc}") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise EnvironmentProblem(f"containerd at {self.address}: ctr {args[-1]}: {last}")
        return done.stdout


def content_root(ctr: _Ctr) -> Path:
    """The content store's folder, as the daemon's content plugin exports it."""
    text = ctr.run("plugins", "ls", "--detailed")
    in_content = False
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["Type:"]:
            in_content = words[1:2] == ["io.containerd.content.v1"]
        elif in_content and words[:1] == ["root"] and len(words) == 2:
            return Path(words[1])
    raise EnvironmentProblem(f"containerd at {ctr.address} names no content store root")


def split_reference(text: str, namespaces: tuple[str, ...]) -> tuple[str, str]:
    """``[NAMESPACE/]NAME`` as (namespace, name): the first path segment is a namespace
    when containerd has one of that name (else ``$CONTAINERD_NAMESPACE`` or ``default``)."""
    first, sep, rest = text.partition("/")
    if sep and rest and first in namespaces:
        return first, rest
    return os.environ.get("CONTAINERD_NAMESPACE") or "default", text


def _candidates(name: str) -> list[str]:
    """``name`` as typed, and as containerd stores Docker's short names
    (``backend`` is ``docker.io/library/backend:latest``)."""
    out = [name]
    base, at, digest = name.partition("@")
    last = base.rsplit("/", 1)[-1]
    tagged = base if ":" in last or at else base + ":latest"
    first = tagged.split("/", 1)[0]
    if "/" not in tagged:
        full = "docker.io/library/" + tagged
    elif "." in first or ":" in first or first == "localhost":
        full = tagged
    else:
        full = "docker.io/" + tagged
    out.append(full + (at + digest if at else ""))
    return list(dict.fromkeys(out))


def image_target(ctr: _Ctr, namespace: str, name: str) -> tuple[str, str, str]:
    """(stored name, media type, digest) of the image ``name`` in ``namespace``."""
    rows: dict[str, tuple[str, str]] = {}
    for line in ctr.run("--namespace", namespace, "images", "ls").splitlines()[1:]:
        words = line.split()
        if len(words) >= 3:
            rows[words[0]] = (words[1], words[2])
    for candidate in _candidates(name):
        if candidate in rows:
            media, digest = rows[candidate]
            return candidate, media, digest
    have = ", ".join(sorted(rows)[:5]) or "none"
    raise ImageNotFound(
        f"containerd namespace {namespace!r} has no image {name!r} (it has: {have})"
    )


class ContainerdStore(DirStore):
    """The content store's folder as an OCI layout whose ``index.json`` is the one image."""

    def __init__(self, root: Path, name: str, media_type: str, digest: str) -> None:
        super().__init__(root)
        self.name = f"content store {root}"
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": media_type,
                    "digest": digest,
                    "annotations": {"io.containerd.image.name": name},
                }
            ],
        }
        self._index = json.dumps(index).encode()

    def read(self, path: str, what: str) -> bytes:
        return self._index if path == "index.json" else super().read(path, what)

    def exists(self, path: str) -> bool:
        return path == "index.json" or super().exists(path)


def open_containerd(text: str, *, ref: str, platform: Platform | None) -> StoreSource:
    if not text:
        raise BadInput("containerd: names no image")
    ctr = _Ctr(os.environ.get("CONTAINERD_ADDRESS") or DEFAULT_ADDRESS)
    namespaces = tuple(ctr.run("namespaces", "ls", "--quiet").split()) or KNOWN_NAMESPACES
    namespace, name = split_reference(text, namespaces)
    root = content_root(ctr)
    if not os.access(root / "blobs", os.R_OK | os.X_OK):
        raise EnvironmentProblem(f"containerd's content store {root} is missing or unreadable")
    stored, media, digest = image_target(ctr, namespace, name)
    store = ContainerdStore(root, stored, media, digest)
    try:
        resolved = resolve_oci(store, ref=ref, platform=platform)
    except BaseException:
        store.close()
        raise
    note = f"image {stored} ({digest[:19]}) in namespace {namespace} of containerd at {ctr.address}"
    resolved = dataclasses.replace(resolved, notes=(note, *resolved.notes))
    return StoreSource(store, resolved, "containerd")
