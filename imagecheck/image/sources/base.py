"""What every source gives: the image config and a way to index the layers we lack."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol, TypeVar

from ...errors import CorruptArchive
from ...model import HistoryEntry, ImageInfo, Platform
from ..layerindex import LayerIndex

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress event: ``done`` of ``total`` units (layers or bytes) for ``stage``."""

    stage: str
    done: int
    total: int
    detail: str = ""


ProgressFn = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    return None


class Source(Protocol):
    """An opened image. Sources never extract anything onto the host's disk."""

    def image(self) -> ImageInfo: ...

    def notes(self) -> tuple[str, ...]:
        """How the image was found and read, for verbose output."""
        ...

    def index_layers(self, diff_ids: Iterable[str], progress: ProgressFn) -> Iterator[LayerIndex]:
        """Index the named layers (in image order); each is yielded once read."""
        ...

    def stamps(self) -> dict[str, str]:
        """A cheap fingerprint (a stat, no read) of where each layer's bytes lie, by
        diff_id; a layer cached under one stamp was verified as read from there. A
        missing blob is an error. Empty when the source is a store that verifies its
        own content (the engine)."""
        ...

    def file_digests(self, diff_id: str, paths: set[str]) -> dict[str, str]:
        """The sha256 of regular files (index paths) of one layer, streamed, where the
        source can read them; others are left out."""
        ...

    def read_files(
        self, diff_id: str, paths: set[str], read: Callable[[IO[bytes]], _T]
    ) -> dict[str, _T]:
        """``read`` of each regular file (index paths) of one layer, given as a stream of
        its bytes, where the source can read them; others are left out."""
        ...

    def close(self) -> None: ...


# Bounds on what an image may claim, each an error when exceeded (memory stays bounded).
MAX_DOCUMENT = 16 << 20  # an index, manifest or config (Docker's are a few KB)
MAX_LAYERS = 1000  # overlay2 stacks at most 128; the OCI spec sets no limit
MAX_HISTORY = 10_000


def load_json(data: bytes, what: str) -> Any:
    if len(data) > MAX_DOCUMENT:
        raise CorruptArchive(f"{what} is {len(data)} bytes: too big for an image document")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptArchive(f"{what} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise CorruptArchive(f"{what} nests its JSON too deep to be an image document") from None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        return (value,)
    return ()


def image_info(
    config: Any, *, ref: str, image_id: str, repo_tags: tuple[str, ...] = ()
) -> ImageInfo:
    """Turn an image config (OCI or Docker) into ``ImageInfo``, history aligned to diff_ids."""
    if not isinstance(config, dict):
        raise CorruptArchive("image config is not a JSON object")
    rootfs = config.get("rootfs") or {}
    diff_ids = _strings(rootfs.get("diff_ids") if isinstance(rootfs, dict) else None)
    if len(diff_ids) > MAX_LAYERS:
        raise CorruptArchive(
            f"the image config lists {len(diff_ids)} layers (at most {MAX_LAYERS})"
        )
    cfg = config.get("config") or config.get("container_config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    raw_history = config.get("history") or []
    if isinstance(raw_history, list) and len(raw_history) > MAX_HISTORY:
        raise CorruptArchive(
            f"the image config has {len(raw_history)} history entries (at most {MAX_HISTORY})"
        )
    history: list[HistoryEntry] = []
    remaining = list(diff_ids)
    for i, item in enumerate(raw_history if isinstance(raw_history, list) else []):
        item = item if isinstance(item, dict) else {}
        empty = bool(item.get("empty_layer", False))
        diff_id = None if empty or not remaining else remaining.pop(0)
        history.append(
            HistoryEntry(
                index=i,
                created=item.get("created"),
                created_by=str(item.get("created_by", "")),
                comment=str(item.get("comment", "")),
                empty_layer=empty or diff_id is None,
                diff_id=diff_id,
            )
        )
    # Layers the history does not describe (imported images, hand-made archives).
    for diff_id in remaining:
        history.append(HistoryEntry(len(history), None, "", "", False, diff_id))
    return ImageInfo(
        ref=ref,
        id=image_id,
        created=config.get("created"),
        platform=Platform(
            str(config.get("os", "")),
            str(config.get("architecture", "")),
            str(config.get("variant", "") or ""),
        ),
        entrypoint=_strings(cfg.get("Entrypoint")),
        cmd=_strings(cfg.get("Cmd")),
        env=_strings(cfg.get("Env")),
        working_dir=str(cfg.get("WorkingDir") or ""),
        user=str(cfg.get("User") or ""),
        history=tuple(history),
        diff_ids=diff_ids,
        repo_tags=repo_tags,
        exposed_ports=tuple(sorted(map(str, _mapping(cfg.get("ExposedPorts"))))),
        labels=tuple(sorted((str(k), str(v)) for k, v in _mapping(cfg.get("Labels")).items())),
    )


def _mapping(value: Any) -> dict[Any, Any]:
    """A config object field (ExposedPorts, Labels), or nothing when it is not one."""
    return value if isinstance(value, dict) else {}
