"""A bug-report bundle: one gzip tar of what a bug report needs, its secrets redacted,
written atomically.

Pure: members come in as data (``Member``), already gathered (``triage.evidence``); each
is scrubbed by the ``Redactor`` that has learnt every member's secrets, bounded (a log's
last lines and bytes, after the scrub so that no cut leaves half a secret), serialised and
listed in ``MANIFEST.json`` with its size and what was redacted from it (counts and keys,
never values). The tarball goes to a temporary file beside the destination, then is
linked (never over an existing file) or, with ``force``, renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from .. import __version__
from ..errors import BadInput
from .redact import (
    DESCRIBING_WORDS,
    MARK,
    PUBLIC_KEYS,
    SECRET_SUFFIXES,
    SECRET_WORDS,
    Redactions,
    Redactor,
)

MANIFEST = "MANIFEST.json"
SCHEMA_VERSION = 1
#: A container's log in the bundle: its last lines, and at most this many bytes of them.
LOG_LINES = 1000
LOG_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Member:
    """One file of the bundle, before redaction. ``content`` is text (``format`` "text"),
    or a JSON-able value written as JSON or YAML; ``limit`` (lines, bytes) bounds a text."""

    name: str
    what: str  # one line for the manifest
    content: Any
    format: str = "text"  # "text", "json" or "yaml"
    limit: tuple[int, int] | None = None
    #: set when the text was fetched longer than ``limit`` allows (a log of more lines)
    longer: bool = False
    redacted: Redactions = field(default_factory=Redactions)  # redacted before it got here


@dataclass(frozen=True, slots=True)
class BundleResult:
    path: Path
    members: tuple[tuple[str, int], ...]  # (name, bytes), MANIFEST.json first
    redacted: int  # values redacted over all members


def destination(path: Path, force: bool) -> Path:
    """``path`` checked before any work: one line (exit 2) when the bundle cannot go there."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        raise BadInput(f"--bundle {path} is a folder; name the file to write")
    if path.exists() and not force:
        raise BadInput(f"--bundle {path} exists; remove it or pass --force to replace it")
    if not path.parent.is_dir():
        raise BadInput(f"cannot write bundle {path}: no folder {path.parent}")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise BadInput(f"cannot write bundle {path}: {path.parent} is not writable")
    return path


def bounded(text: str, lines: int, max_bytes: int) -> tuple[str, tuple[str, ...]]:
    """The end of ``text``: its last ``lines`` lines, of them at most ``max_bytes`` bytes
    (starting at a line), and what was cut."""
    cut: list[str] = []
    rows = text.splitlines(keepends=True)
    if len(rows) > lines:
        rows = rows[-lines:]
        cut.append(f"the last {lines} lines")
    data = "".join(rows).encode("utf-8", "replace")
    if len(data) > max_bytes:
        data = data[-max_bytes:]
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1:
            data = data[newline + 1 :]
        cut.append(f"the last {len(data)} bytes (at most {max_bytes})")
    return data.decode("utf-8", "ignore"), tuple(cut)


def _serialised(member: Member, content: Any) -> str:
    if member.format == "json":
        return json.dumps(content, indent=2, sort_keys=True, default=str) + "\n"
    if member.format == "yaml":
        return str(yaml.safe_dump(content, sort_keys=False, default_flow_style=False))
    return str(content)


def _entry(member: Member, redactor: Redactor) -> tuple[bytes, dict[str, Any], Redactions]:
    """One member scrubbed, bounded and serialised; its manifest entry."""
    content = redactor.scrub(member.content)
    cut: tuple[str, ...] = ()
    if member.limit is not None:
        content, cut = bounded(str(content), *member.limit)
        if member.longer and not cut:
            cut = (f"the last {member.limit[0]} lines",)
    text = redactor.known_values(_serialised(member, content))  # what serialising spelt anew
    found = member.redacted + redactor.take()
    data = text.encode("utf-8", "replace")
    entry: dict[str, Any] = {
        "name": member.name,
        "what": member.what,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "cut": " and ".join(cut) or None,
        "redacted": {"count": found.count, "kinds": dict(found.kinds), "keys": list(found.keys)},
    }
    return data, entry, found


def manifest(
    entries: list[dict[str, Any]], total: Redactions, redactor: Redactor, notes: Sequence[str]
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "imagecheck": __version__,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "members": entries,
        "redaction": {
            "marker": MARK,
            "count": total.count,
            "kinds": dict(total.kinds),
            "keys": list(total.keys),
            "values_known": redactor.known,
            "key_words": sorted(SECRET_WORDS),
            "key_suffixes": list(SECRET_SUFFIXES),
            "describing_words": sorted(DESCRIBING_WORDS),
            "public_keys": sorted(PUBLIC_KEYS),
        },
        "notes": list(notes),
    }


def write_bundle(
    path: Path,
    members: Sequence[Member],
    redactor: Redactor,
    *,
    force: bool = False,
    notes: Sequence[str] = (),
) -> BundleResult:
    """Scrub, bound and write ``members`` (which ``redactor`` has learnt) to ``path``."""
    path = destination(path, force)
    for member in members:  # every secret known before any member is written
        redactor.learn(member.content)
    blobs: list[tuple[str, bytes]] = []
    entries: list[dict[str, Any]] = []
    total = Redactions()
    for member in members:
        data, entry, found = _entry(member, redactor)
        blobs.append((member.name, data))
        entries.append(entry)
        total += found
    doc = manifest(entries, total, redactor, [redactor.known_values(n) for n in notes])
    head = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    blobs.insert(0, (MANIFEST, redactor.known_values(head).encode()))
    _write_atomically(path, blobs, force)
    return BundleResult(path, tuple((n, len(b)) for n, b in blobs), total.count)


def _tarball(handle: Any, blobs: list[tuple[str, bytes]]) -> None:
    now = time.time()
    with tarfile.open(fileobj=handle, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in blobs:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), now, 0o644
            tar.addfile(info, io.BytesIO(data))


def _write_atomically(path: Path, blobs: list[tuple[str, bytes]], force: bool) -> None:
    """A temporary file beside ``path`` (0600, like the bundle), then into place in one
    step: a reader never sees half a bundle, a failed run leaves nothing behind."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise BadInput(f"cannot write bundle {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            _tarball(handle, blobs)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails, never replaces, when the path appeared meanwhile
            except FileExistsError:
                raise BadInput(
                    f"--bundle {path} exists; remove it or pass --force to replace it"
                ) from None
            except OSError:  # a filesystem without hard links
                if path.exists():
                    raise BadInput(
                        f"--bundle {path} exists; remove it or pass --force to replace it"
                    ) from None
                os.replace(tmp, path)
    except OSError as exc:
        raise BadInput(f"cannot write bundle {path}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


__all__ = [
    "LOG_BYTES",
    "LOG_LINES",
    "MANIFEST",
    "BundleResult",
    "Member",
    "bounded",
    "destination",
    "write_bundle",
]
