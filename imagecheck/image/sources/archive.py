"""``docker save`` archives, of both eras.

Docker 20.10 writes ``manifest.json`` with ``<id>.json`` configs and
``<layer>/layer.tar`` layers. Docker 25+ (and the containerd image store) writes an
OCI layout (``index.json``, ``blobs/sha256/``) and still adds ``manifest.json``
pointing into the blobs, with compressed layers. ``manifest.json`` is read when
present because it names the image by tag in both eras; a bare OCI layout in a tar
is handed to the OCI resolver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import BadInput, CorruptArchive, ImageNotFound
from ...model import Platform, short
from .base import image_info, load_json
from .oci import (
    LAYER_TYPES,
    MAX_MANIFESTS,
    LayerBlob,
    Resolved,
    StoreSource,
    TarStore,
    malformed_documents,
    read_verified,
    resolve_oci,
)


def _pick(entries: list[dict[str, Any]], ref: str | None, name: str) -> dict[str, Any]:
    """The image tagged ``ref``, or the only one."""
    if ref is None:
        if len(entries) > 1:
            tags = ", ".join(t for e in entries for t in e.get("RepoTags") or []) or "untagged"
            raise BadInput(f"{name} holds {len(entries)} images ({tags}); name one: PATH@TAG")
        return entries[0]
    wanted = {ref, f"{ref}:latest"}
    for entry in entries:
        if wanted & set(entry.get("RepoTags") or []):
            return entry
    tags = ", ".join(t for e in entries for t in e.get("RepoTags") or []) or "untagged"
    raise ImageNotFound(f"{name} has no image tagged {ref!r} (it has: {tags})")


def resolve_manifest_json(store: TarStore, *, ref: str, tag: str | None) -> Resolved:
    """Resolve a ``docker save`` archive through its ``manifest.json``."""
    doc = load_json(store.read("manifest.json", "manifest.json"), f"manifest.json in {store.name}")
    if not isinstance(doc, list) or not doc or not all(isinstance(e, dict) for e in doc):
        raise CorruptArchive(f"manifest.json in {store.name} is not a list of images")
    if len(doc) > MAX_MANIFESTS:
        raise CorruptArchive(f"manifest.json in {store.name} lists over {MAX_MANIFESTS} images")
    entry = _pick(doc, tag, store.name)
    config_path = entry.get("Config")
    layer_paths = entry.get("Layers")
    if not isinstance(config_path, str) or not isinstance(layer_paths, list):
        raise CorruptArchive(f"manifest.json in {store.name} lacks Config or Layers")
    hexpart = Path(config_path).name.removesuffix(".json")
    config_bytes = read_verified(store, f"sha256:{hexpart}", "image config", config_path)
    config = load_json(config_bytes, "image config")
    tags = tuple(str(t) for t in entry.get("RepoTags") or [])
    info = image_info(config, ref=ref, image_id=f"sha256:{hexpart}", repo_tags=tags)
    if len(layer_paths) != len(info.diff_ids):
        raise CorruptArchive(
            f"manifest.json in {store.name} lists {len(layer_paths)} layers "
            f"but the image config has {len(info.diff_ids)}"
        )
    sources = entry.get("LayerSources") or {}
    layers = []
    for diff_id, path in zip(info.diff_ids, layer_paths, strict=True):
        source = sources.get(diff_id) if isinstance(sources, dict) else None
        media = str(source.get("mediaType", "")) if isinstance(source, dict) else None
        if media is not None and media not in LAYER_TYPES:
            raise CorruptArchive(f"layer {short(diff_id)} has an unknown media type {media!r}")
        if not store.exists(str(path)):
            raise CorruptArchive(f"layer {short(diff_id)} is missing from {store.name} ({path})")
        # A Docker 25+ archive's layers are OCI blobs, named by their digest.
        algo, _, hexpart = str(path).removeprefix("blobs/").partition("/")
        named = str(path).startswith("blobs/") and hexpart and "/" not in hexpart
        digest = f"{algo}:{hexpart}" if named else None
        layers.append(LayerBlob(diff_id, str(path), media, store.size(str(path)), digest))
    return Resolved(info, tuple(layers), ())


def open_docker_archive(
    path: Path, *, ref: str, tag: str | None, platform: Platform | None
) -> StoreSource:
    store = TarStore(path)
    try:
        with malformed_documents(str(path)):
            if store.exists("manifest.json"):
                resolved = resolve_manifest_json(store, ref=ref, tag=tag)
                era = (
                    "docker save archive (OCI layout)"
                    if store.exists("index.json")
                    else ("docker save archive")
                )
            elif store.exists("index.json"):
                resolved = resolve_oci(store, ref=ref, platform=platform)
                era = "OCI archive"
            else:
                raise CorruptArchive(
                    f"{path} is not an image archive (no manifest.json or index.json)"
                )
    except BaseException:
        store.close()
        raise
    return StoreSource(store, resolved, era)
