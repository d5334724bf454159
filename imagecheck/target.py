"""What the user typed, turned into a ``Target``: which kind of source, and where.

Prefixes are spelled as syft spells them. Without one, an existing path is sniffed
(a folder with ``index.json`` and ``oci-layout`` is an OCI layout; a tar with
``manifest.json`` a ``docker save`` archive, with only ``index.json`` an OCI archive)
and anything else is an engine reference. A bare word naming a folder that is no image
layout (``backend``, a build context beside compose.yaml) is an engine reference too:
only a path spelled as one (``./backend``, ``/x/backend``) must be an image.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput, CorruptArchive

ENGINE, DOCKER_ARCHIVE, OCI_DIR, OCI_ARCHIVE = "docker", "docker-archive", "oci-dir", "oci-archive"
REGISTRY = "registry"  # HOST/REPO[:TAG|@DIGEST], read over HTTP(S) with no engine
CONTAINERD, PODMAN = "containerd", "podman"  # image stores, named as in the store
PREFIXES = (ENGINE, DOCKER_ARCHIVE, OCI_DIR, OCI_ARCHIVE, REGISTRY, CONTAINERD, PODMAN)


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # one of PREFIXES
    location: str  # engine or registry reference, or filesystem path
    tag: str | None = None  # for archives holding several images: which one
    text: str = ""  # as the user typed it

    @property
    def is_engine(self) -> bool:
        return self.kind == ENGINE


def _split_tag(kind: str, rest: str, text: str) -> Target:
    if (
        kind not in (ENGINE, REGISTRY, CONTAINERD, PODMAN)
        and not Path(rest).exists()
        and "@" in rest
    ):
        path, _, tag = rest.rpartition("@")
        return Target(kind, path, tag, text)
    return Target(kind, rest, None, text)


def _sniff_tar(path: Path) -> str:
    try:
        with tarfile.open(path, "r:*") as tf:
            names = {m.name.removeprefix("./") for m in tf.getmembers()[:64]}
            if "manifest.json" not in names and "index.json" not in names:
                names = set(tf.getnames())
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CorruptArchive(f"{path} is not a readable image archive: {exc}") from exc
    names = {n.removeprefix("./") for n in names}
    if "manifest.json" in names:
        return DOCKER_ARCHIVE
    if "index.json" in names:
        return OCI_ARCHIVE
    raise CorruptArchive(
        f"{path} is a tar but not an image archive (no manifest.json or index.json)"
    )


def parse_target(text: str) -> Target:
    if not text.strip():
        raise BadInput("no image given")
    prefix, sep, rest = text.partition(":")
    if sep and prefix in PREFIXES:
        if not rest:
            raise BadInput(f"{text!r} names no image after {prefix}:")
        return _split_tag(prefix, rest, text)
    path = Path(text)
    if path.is_dir():
        if is_layout(path):
            return Target(OCI_DIR, text, None, text)
        if spelled_as_path(text):
            raise BadInput(
                f"{text} is a folder but not an OCI image layout (no index.json and oci-layout)"
            )
        return Target(ENGINE, text, None, text)  # ``backend``: a build context, not an image
    if path.is_file():
        return Target(_sniff_tar(path), text, None, text)
    if text.endswith((".tar", ".tar.gz", ".tgz")) or ("/" in text and text.startswith((".", "/"))):
        raise BadInput(f"no such file: {text}")
    return Target(ENGINE, text, None, text)


def is_layout(folder: Path) -> bool:
    """An OCI image layout has both files the spec requires; a folder with only one of
    them (a project's ``index.json``) is not one."""
    return (folder / "index.json").is_file() and (folder / "oci-layout").is_file()


def spelled_as_path(text: str) -> bool:
    """Whether the user wrote a path (``./x``, ``x/``, ``/x``, ``x.tar``), not a bare name
    that may be a compose service or an engine image."""
    return "/" in text or text.startswith(".") or text.endswith((".tar", ".tar.gz", ".tgz"))


def image_at(text: str) -> str | None:
    """The prefix that reads the image at path ``text`` (``oci-dir``, ``docker-archive``,
    ``oci-archive``), or None when no image is there."""
    path = Path(text)
    if path.is_dir():
        return OCI_DIR if is_layout(path) else None
    if path.is_file():
        try:
            return _sniff_tar(path)
        except CorruptArchive:
            return None
    return None
