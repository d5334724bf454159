"""One layer read once, as a stream or a folder walk, turned into a small index.

The index holds every entry (path, kind, size, mode, link target), the layer's
whiteouts and opaque folders, and the bytes of the few files catalogers read
(dist-info metadata, dpkg status, pyvenv.cfg, ...), plus parsed ELF dynamic
sections and shebang lines. It depends only on the layer's content, so it is cached
by diff_id (see ``cache.py``) and nothing is ever extracted onto the host.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar, cast

from ..errors import CorruptArchive
from ..model import short
from .elf import ElfInfo, read_elf, read_elf_stream
from .streams import READ_ERRORS, Window

_T = TypeVar("_T")

# Bump when what an index records changes: old cache entries are then never read.
INDEX_FORMAT = 7  # 5 was taken by two branches at once (.next files; filtered big files); 7: env.py

FILE, DIR, SYMLINK, HARDLINK, OTHER = "f", "d", "l", "h", "o"

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
MAX_CAPTURE = 8 << 20  # bytes of one captured file
# A bigger catalog file is streamed through a filter keeping only what its cataloger
# reads (dpkg stanzas without their description lines, core metadata without its body);
# what is still over MAX_CAPTURE is left unread and recorded (finding IC210).
_CONDENSED_STATUS = ("var/lib/dpkg/status", "var/lib/dpkg/status.d/")
_CONDENSED_METADATA = ("/METADATA", "/PKG-INFO", ".egg-info")
# A layer's index is held in memory (~250 bytes an entry): a hostile tar of millions of
# empty files compresses to almost nothing, so the count is bounded, with a clear error.
MAX_ENTRIES = 500_000
MAX_EXTENDED = 1 << 20  # one PAX or GNU long-name header (a path is at most 4 KiB on Linux)

_DIST_INFO_FILES = frozenset(
    {"METADATA", "RECORD", "top_level.txt", "INSTALLER", "direct_url.json", "WHEEL", "REQUESTED"}
)
_EGG_INFO_FILES = frozenset({"PKG-INFO", "top_level.txt", "requires.txt", "installed-files.txt"})
_EXACT = frozenset(
    {
        "var/lib/dpkg/status",
        "lib/apk/db/installed",
        "etc/ld.so.conf",
        "etc/os-release",
        "usr/lib/os-release",
        "etc/debian_version",
    }
)
_REQUIREMENTS = re.compile(
    r"(requirements[^/]*\.(txt|in)|constraints[^/]*\.txt|pyproject\.toml|Pipfile\.lock|"
    r"poetry\.lock|uv\.lock|pylock[^/]*\.toml)$"
)
_SO = re.compile(r"\.so(\.[0-9]+)*$")

_SYSTEM_DIRS = ("usr/share/", "usr/lib/", "lib/", "usr/libexec/", "etc/", "usr/include/", "var/")
MAX_SCRIPT = 256 << 10  # a shell script in a bin folder kept whole (docker-entrypoint)
_SHELLS = (b"sh", b"bash", b"dash", b"ash")

# What to keep of a regular file, decided from its path alone.
KEEP_NONE, KEEP_BYTES, KEEP_SHEBANG, KEEP_ELF = 0, 1, 2, 3


def _in_site_dir(path: str) -> bool:
    return "/site-packages/" in path or "/dist-packages/" in path


def keep_rule(path: str) -> int:
    """Which part of the file at ``path`` (normalised, no leading slash) the index keeps."""
    parent, _, base = path.rpartition("/")
    if path in _EXACT:
        return KEEP_BYTES
    if parent.endswith(".dist-info"):
        return KEEP_BYTES if base in _DIST_INFO_FILES else KEEP_NONE
    if parent.endswith(".egg-info"):
        return KEEP_BYTES if base in _EGG_INFO_FILES else KEEP_NONE
    if base.endswith(".egg-info") or base == "pyvenv.cfg":
        return KEEP_BYTES
    if parent in ("var/lib/dpkg/status.d", "etc/ld.so.conf.d"):
        return KEEP_BYTES if not base.endswith(".md5sums") else KEEP_NONE
    if _SO.search(base):
        return KEEP_ELF
    if base.endswith(".pth") and _in_site_dir(path):
        return KEEP_BYTES
    if base.startswith(("__editable__", "_editable_impl_")) and base.endswith(".py"):
        return KEEP_BYTES if _in_site_dir(path) else KEEP_NONE  # an editable's finder
    if parent.endswith(("/bin", "/sbin")) or parent == "bin":
        return KEEP_SHEBANG
    if base.endswith(".sh") and not path.startswith(_SYSTEM_DIRS) and not _in_site_dir(path):
        return KEEP_BYTES  # the application's scripts (entrypoint.sh): what CMD runs
    if _REQUIREMENTS.search(base) and not _in_site_dir(path) and not path.startswith("usr/share/"):
        return KEEP_BYTES
    if _alembic_file(path, parent, base):
        return KEEP_BYTES
    if _build_output_file(path, parent, base):
        return KEEP_BYTES
    return KEEP_NONE


_NEXT_FILES = frozenset({"BUILD_ID", "required-server-files.json"})
_DOT_ENV = re.compile(r"\.env(\.(production|local|production\.local))?$")


def _build_output_file(path: str, parent: str, base: str) -> bool:
    """A Next.js build's marker files (``.next/BUILD_ID``, ``required-server-files.json``)
    and the ``.env`` files beside an application: read by ``stale.baked``."""
    if path.startswith(_SYSTEM_DIRS) or _in_site_dir(path) or "/node_modules/" in path:
        return False
    if base in _NEXT_FILES:
        return parent == ".next" or parent.endswith("/.next")
    return _DOT_ENV.fullmatch(base) is not None


def _alembic_file(path: str, parent: str, base: str) -> bool:
    """An application's alembic.ini, its env.py and its revision scripts
    (``.../versions/*.py``), read statically by ``app.alembic``; never a library's."""
    if _in_site_dir(path) or path.startswith(("usr/share/", "usr/lib/python")):
        return False
    if base in ("alembic.ini", "env.py"):
        return True
    return base.endswith(".py") and (parent == "versions" or parent.endswith("/versions"))


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str  # FILE, DIR, SYMLINK, HARDLINK, OTHER
    size: int
    mode: int
    link: str = ""  # symlink target as written, or hard link target path


@dataclass(frozen=True)
class LayerIndex:
    """What one layer contains. Treat the mappings as read-only."""

    diff_id: str
    entries: dict[str, Entry]
    whiteouts: frozenset[str] = frozenset()
    opaque: frozenset[str] = frozenset()
    contents: dict[str, bytes] = field(default_factory=dict)
    elf: dict[str, ElfInfo] = field(default_factory=dict)
    shebangs: dict[str, str] = field(default_factory=dict)
    unread: dict[str, int] = field(default_factory=dict)  # catalog files over the bound: size

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries.values() if e.kind == FILE)

    def to_data(self) -> dict[str, Any]:
        """Plain data for marshal: only builtins, so the cache needs no pickle."""
        return {
            "diff_id": self.diff_id,
            "entries": [(p, e.kind, e.size, e.mode, e.link) for p, e in self.entries.items()],
            "whiteouts": sorted(self.whiteouts),
            "opaque": sorted(self.opaque),
            "contents": self.contents,
            "elf": {
                p: (
                    i.soname,
                    i.needed,
                    i.runpath,
                    i.rpath,
                    i.machine,
                    i.elf_type,
                    i.markers,
                    i.error,
                    i.py_init,
                )
                for p, i in self.elf.items()
            },
            "shebangs": self.shebangs,
            "unread": self.unread,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LayerIndex:
        return cls(
            diff_id=data["diff_id"],
            entries={p: Entry(k, s, m, lk) for p, k, s, m, lk in data["entries"]},
            whiteouts=frozenset(data["whiteouts"]),
            opaque=frozenset(data["opaque"]),
            contents=data["contents"],
            elf={p: ElfInfo(*v) for p, v in data["elf"].items()},
            shebangs=data["shebangs"],
            unread=data["unread"],
        )


def normalize(name: str) -> str:
    """Tar member names come as ``./usr/bin/``, ``usr/bin`` or ``/usr/bin``; keep ``usr/bin``."""
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


class _Builder:
    def __init__(self, diff_id: str, *, seekable: bool) -> None:
        self.diff_id = diff_id
        self.seekable = seekable
        self.entries: dict[str, Entry] = {}
        self.whiteouts: set[str] = set()
        self.opaque: set[str] = set()
        self.contents: dict[str, bytes] = {}
        self.elf: dict[str, ElfInfo] = {}
        self.shebangs: dict[str, str] = {}
        self.unread: dict[str, int] = {}

    def whiteout(self, path: str) -> bool:
        """Record ``path`` if it is an AUFS-style whiteout marker; True when it was one."""
        parent, _, base = path.rpartition("/")
        if not base.startswith(WHITEOUT_PREFIX):
            return False
        if base == OPAQUE_MARKER:
            self.opaque.add(parent)
        elif not base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):  # .wh..wh.plnk etc.
            target = base[len(WHITEOUT_PREFIX) :]
            self.whiteouts.add(f"{parent}/{target}" if parent else target)
        return True

    def keep(self, path: str, size: int, opener: Callable[[], IO[bytes]]) -> None:
        rule = keep_rule(path)
        if rule == KEEP_NONE or size == 0:
            return
        if rule == KEEP_BYTES:
            with opener() as fh:
                if size <= MAX_CAPTURE:
                    self.contents[path] = fh.read(size)
                elif (data := condensed(path, fh, size)) is not None:
                    self.contents[path] = data
                else:
                    self.unread[path] = size
        elif rule == KEEP_SHEBANG:
            with opener() as fh:
                head = fh.read(256)
                if not head.startswith(b"#!"):
                    return
                line = head[2:].split(b"\n", 1)[0]
                self.shebangs[path] = line.decode("utf-8", "replace").strip()
                shell = any(w.rsplit(b"/", 1)[-1] in _SHELLS for w in line.split())
                if shell and size <= MAX_SCRIPT:  # read on: a stream is read only once
                    self.contents[path] = head + fh.read(size - len(head))
        elif rule == KEEP_ELF and size >= 64:
            with opener() as fh:
                scan = _in_site_dir(path)
                info = (
                    read_elf(fh, scan_markers=scan)
                    if self.seekable
                    else read_elf_stream(fh, size, scan_markers=scan)
                )
            if info is not None:
                self.elf[path] = info

    def build(self) -> LayerIndex:
        return LayerIndex(
            diff_id=self.diff_id,
            entries=self.entries,
            whiteouts=frozenset(self.whiteouts),
            opaque=frozenset(self.opaque),
            contents=self.contents,
            elf=self.elf,
            shebangs=self.shebangs,
            unread=self.unread,
        )


def _lines(fh: IO[bytes], size: int) -> Iterator[bytes]:
    """The ``size`` bytes of ``fh`` as lines (ends kept), read a chunk at a time; a line
    longer than MAX_CAPTURE is cut into pieces (the filter then gives up on the file)."""
    left, tail = size, b""
    while left > 0:
        chunk = fh.read(min(left, 1 << 20))
        if not chunk:
            break
        left -= len(chunk)
        parts = (tail + chunk).split(b"\n")
        tail = parts.pop()
        for part in parts:
            yield part + b"\n"
        if len(tail) > MAX_CAPTURE:
            yield tail
            tail = b""
    if tail:
        yield tail


def condensed(path: str, fh: IO[bytes], size: int) -> bytes | None:
    """What the catalogers read of a catalog file too big to keep whole, streamed in
    bounded memory; None when there is no such filter for it or even that is too big.

    dpkg's status keeps every field line and drops continuation lines (descriptions,
    conffiles: ``catalog.dpkg`` skips them); core metadata keeps its headers, up to the
    blank line before the description body (``catalog.python`` stops there too)."""
    status = path.startswith(_CONDENSED_STATUS)
    if not status and not path.endswith(_CONDENSED_METADATA):
        return None
    out = bytearray()
    for line in _lines(fh, size):
        if status and line[:1] in (b" ", b"\t"):
            continue
        if not status and not line.strip():
            break  # the end of the headers: the rest is the description
        out += line
        if len(out) > MAX_CAPTURE:
            return None
    return bytes(out)


class _MemberData(Window):
    """One member's data: a window into a seekable tar, or the next ``size`` bytes of
    a stream (then it can only be read forward, and only once)."""

    def __init__(self, stream: IO[bytes], start: int, size: int, seekable: bool) -> None:
        super().__init__(start, size)
        self._stream = stream
        self._seekable = seekable

    def seekable(self) -> bool:
        return self._seekable

    def read(self, n: int | None = -1) -> bytes:
        left = self.size - self.pos
        if n is None or n < 0 or n > left:
            n = left
        if self._seekable:
            self._stream.seek(self.start + self.pos)
        data = self._stream.read(n)
        if len(data) < n:
            raise EOFError("the tar ends inside a file's data")
        self.pos += n
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_USTAR = b"ustar\x0000"
_KINDS = {b"0": FILE, b"\0": FILE, b"7": FILE, b"1": HARDLINK, b"2": SYMLINK, b"5": DIR}
_NO_DATA = frozenset({b"1", b"2", b"3", b"4", b"5", b"6"})  # tar types whose size means nothing


class _BadTar(Exception):
    pass


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    """Octal digits, or GNU base-256 when the first byte has its top bit set."""
    try:
        return int(field.rstrip(b"\0 ") or b"0", 8)  # the common case, "0000644\0"
    except ValueError:
        pass
    if field[:1] == b"\x80":
        return int.from_bytes(field[1:], "big")
    if field[:1] == b"\xff":
        return int.from_bytes(field, "big", signed=True)
    digits = field.split(b"\0", 1)[0].strip()
    try:
        return int(digits or b"0", 8)
    except ValueError:
        raise _BadTar(f"invalid number field {field!r} in a tar header") from None


def _checksum_ok(block: bytes) -> bool:
    want = _number(block[148:156])
    unsigned = sum(block) - sum(block[148:156]) + 256
    if want == unsigned:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 256
    return want == signed


def _pax_records(data: bytes) -> dict[str, str]:
    """``"%d %s=%s\\n"`` records; the length counts the whole record."""
    records: dict[str, str] = {}
    i = 0
    while i < len(data) and data[i : i + 1] not in (b"\0", b""):
        space = data.find(b" ", i)
        if space < 0:
            raise _BadTar("a PAX header record has no length")
        try:
            length = int(data[i:space])
        except ValueError:
            raise _BadTar("a PAX header record has a bad length") from None
        if length <= 0:
            raise _BadTar("a PAX header record has a bad length")
        key, sep, value = data[space + 1 : i + length - 1].partition(b"=")
        if not sep:
            raise _BadTar("a PAX header record has no '='")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        i += length
    return records


def _walk_tar(
    stream: IO[bytes], seekable: bool
) -> Iterator[tuple[str, str, int, int, str, _MemberData | None]]:
    """Yield ``(name, kind, size, mode, link, data)`` for each member of a tar.

    The standard library's tarfile spends most of a big layer's read building TarInfo
    objects; this reads the 512-byte headers directly (ustar, GNU long names and
    base-256 numbers, PAX) and skips file data by seeking when the stream allows it.
    ``data`` is only valid until the next item is requested.
    """
    pos = stream.tell() if seekable else 0
    sink = None if seekable else memoryview(bytearray(1 << 20))  # data passed over lands here
    pax_global: dict[str, str] = {}
    pax: dict[str, str] = {}
    long_name: str | None = None
    long_link: str | None = None

    def payload(size: int) -> bytes:
        if size > MAX_EXTENDED:
            raise _BadTar(f"an extended header of {size} bytes")
        data = stream.read(size)
        if len(data) < size:
            raise EOFError("the tar ends inside an extended header")
        rest = -size % _BLOCK
        if rest and len(stream.read(rest)) < rest:
            raise EOFError("the tar ends inside an extended header")
        return data

    while True:
        if seekable:
            stream.seek(pos)
        block = stream.read(_BLOCK)
        if len(block) < _BLOCK:
            if not block:
                if seekable and pos:
                    # We seeked past data we never read: make sure it was there.
                    stream.seek(pos - 1)
                    if not stream.read(1):
                        raise EOFError("the tar ends inside a file's data")
                return  # tolerated, as tarfile does: no end-of-archive blocks
            raise _BadTar("truncated header")
        if block == _ZERO_BLOCK:
            return
        if not _checksum_ok(block):
            raise _BadTar("bad checksum in a tar header")
        kind_flag = block[156:157]
        size = _number(block[124:136])
        pos += _BLOCK
        if kind_flag in (b"L", b"K", b"x", b"g"):
            data = payload(size)
            pos += size + (-size % _BLOCK)
            if kind_flag == b"L":
                long_name = _text(data)
            elif kind_flag == b"K":
                long_link = _text(data)
            elif kind_flag == b"x":
                pax.update(_pax_records(data))
            else:
                pax_global.update(_pax_records(data))
            continue
        name = _text(block[0:100])
        if block[257:265] == _USTAR and block[345]:
            name = _text(block[345:500]) + "/" + name
        link = _text(block[157:257])
        if long_name is not None:
            name, long_name = long_name, None
        if long_link is not None:
            link, long_link = long_link, None
        if pax_global or pax:
            ext = {**pax_global, **pax}
            name = ext.get("path", name)
            link = ext.get("linkpath", link)
            if "size" in ext:
                try:
                    size = int(ext["size"])
                except ValueError:
                    raise _BadTar("a PAX size is not a number") from None
            pax = {}
        if kind_flag in _NO_DATA:
            size = 0
        kind = _KINDS.get(kind_flag, OTHER)
        if kind == FILE and kind_flag != b"7" and name.endswith("/"):
            kind = DIR  # pre-POSIX tars mark folders by a trailing slash only
        data_obj = _MemberData(stream, pos, size, seekable) if kind == FILE else None
        yield name, kind, size if kind == FILE else 0, _number(block[100:108]), link, data_obj
        padded = size + (-size % _BLOCK)
        if not seekable:
            done = data_obj.pos if data_obj is not None else 0
            left = padded - done
            while left > 0 and sink is not None:
                got = stream.readinto(sink[: min(left, len(sink))])  # type: ignore[attr-defined]
                if not got:
                    raise EOFError("the tar ends inside a file's data")
                left -= got
        pos += padded


def index_tar(stream: IO[bytes], diff_id: str, *, seekable: bool = False) -> LayerIndex:
    """Index an uncompressed layer tar read from ``stream``.

    With ``seekable`` the data of files we do not keep is skipped by seeking, which is
    what makes an uncompressed ``docker save`` archive fast to read.
    """
    builder = _Builder(diff_id, seekable=seekable)
    hardlinks: list[tuple[str, str]] = []
    try:
        for count, (name, kind, size, mode, link, data) in enumerate(_walk_tar(stream, seekable)):
            if count >= MAX_ENTRIES:
                raise _BadTar(f"more than {MAX_ENTRIES} entries, more than imagecheck reads")
            path = normalize(name)
            if not path or builder.whiteout(path):
                continue
            if kind == FILE:
                builder.entries[path] = Entry(FILE, size, mode)
                if data is not None:
                    builder.keep(path, size, functools.partial(_rewound, data))
            elif kind == SYMLINK:
                builder.entries[path] = Entry(SYMLINK, 0, mode, link)
            elif kind == HARDLINK:
                target = normalize(link)
                hardlinks.append((path, target))
                builder.entries[path] = Entry(HARDLINK, 0, mode, target)
            else:
                builder.entries[path] = Entry(kind, 0, mode)
    except _BadTar as exc:
        raise CorruptArchive(f"layer {short(diff_id)} is not a readable tar: {exc}") from exc
    except READ_ERRORS as exc:
        raise CorruptArchive(f"layer {short(diff_id)} cannot be read: {exc}") from exc
    except Exception as exc:
        if type(exc).__name__ == "ZstdError":
            raise CorruptArchive(f"layer {short(diff_id)} is not valid zstd: {exc}") from exc
        raise
    # A hard link shares its target's data: give it the size and kept bytes of the target.
    for path, target in hardlinks:
        tgt = builder.entries.get(target)
        if tgt is not None and tgt.kind == FILE:
            builder.entries[path] = Entry(HARDLINK, tgt.size, builder.entries[path].mode, target)
        if keep_rule(path) != KEEP_NONE:
            if target in builder.contents:
                builder.contents[path] = builder.contents[target]
            if target in builder.elf:
                builder.elf[path] = builder.elf[target]
            if target in builder.shebangs:
                builder.shebangs[path] = builder.shebangs[target]
            if target in builder.unread:
                builder.unread[path] = builder.unread[target]
    return builder.build()


def sha256_of(fh: IO[bytes], chunk: int = 1 << 20) -> str:
    """The sha256 of a stream, read a chunk at a time (a file of any size, in little memory)."""
    digest = hashlib.sha256()
    while block := fh.read(chunk):
        digest.update(block)
    return digest.hexdigest()


def read_members(
    stream: IO[bytes],
    diff_id: str,
    wanted: set[str],
    read: Callable[[IO[bytes]], _T],
    *,
    seekable: bool = False,
) -> dict[str, _T]:
    """``read`` of each regular file ``wanted`` (index paths) of one layer tar, the file
    given as a stream of its bytes (a digest, a bounded search: a file of any size, never
    held whole nor written to disk); the tar is read once, up to the last file wanted."""
    found: dict[str, _T] = {}
    try:
        for name, kind, _, _, _, data in _walk_tar(stream, seekable):
            path = normalize(name)
            if kind == FILE and path in wanted and data is not None:
                found[path] = read(_rewound(data))
                if len(found) == len(wanted):
                    break
    except _BadTar as exc:
        raise CorruptArchive(f"layer {short(diff_id)} cannot be read: {exc}") from exc
    except READ_ERRORS as exc:
        raise CorruptArchive(f"layer {short(diff_id)} cannot be read: {exc}") from exc
    return found


def read_folder(folder: str, wanted: set[str], read: Callable[[IO[bytes]], _T]) -> dict[str, _T]:
    """``read_members`` for a layer's diff folder, read in place (symlinks left out)."""
    found: dict[str, _T] = {}
    for path in wanted:
        full = os.path.join(folder, path)
        if os.path.isfile(full) and not os.path.islink(full):
            with contextlib.suppress(OSError), open(full, "rb") as fh:
                found[path] = read(fh)
    return found


MAX_SEARCH = 16 << 20  # bytes of one file searched for values (a big chunk is ~2 MB)


def search_stream(fh: IO[bytes], needles: frozenset[bytes], limit: int = MAX_SEARCH) -> set[bytes]:
    """The ``needles`` found in the first ``limit`` bytes of ``fh``, read a chunk at a
    time (a needle across two chunks is found too): never the whole file in memory."""
    if not needles:
        return set()
    overlap = max(len(n) for n in needles) - 1
    found: set[bytes] = set()
    tail, done = b"", 0
    while done < limit and len(found) < len(needles):
        chunk = fh.read(min(1 << 20, limit - done))
        if not chunk:
            break
        done += len(chunk)
        window = tail + chunk
        found.update(n for n in needles if n not in found and n in window)
        tail = window[-overlap:] if overlap else b""
    return found


def _rewound(data: _MemberData) -> IO[bytes]:
    """The member's data from its start; a stream's data can be opened only once."""
    if data.seekable():
        data.seek(0)
    return cast(IO[bytes], data)


def _is_opaque(path: str) -> bool:
    for attr in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _open_binary(path: str) -> IO[bytes]:
    return open(path, "rb")


def index_directory(root: str, diff_id: str) -> LayerIndex:
    """Index an overlay2 ``diff`` folder in place: whiteouts are 0/0 character devices,
    opaque folders carry the ``trusted.overlay.opaque`` xattr."""
    builder = _Builder(diff_id, seekable=True)
    first_link: dict[tuple[int, int], str] = {}  # hard links: (dev, inode) -> first path seen
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        abs_dir = os.path.join(root, rel_dir) if rel_dir else root
        try:
            with os.scandir(abs_dir) as it:
                items = list(it)
        except OSError as exc:
            raise CorruptArchive(f"cannot read layer folder {abs_dir}: {exc}") from exc
        for item in items:
            path = f"{rel_dir}/{item.name}" if rel_dir else item.name
            st = item.stat(follow_symlinks=False)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                builder.entries[path] = Entry(DIR, 0, mode)
                if _is_opaque(item.path):
                    builder.opaque.add(path)
                stack.append(path)
            elif stat.S_ISREG(st.st_mode):
                if st.st_nlink > 1:
                    # As in a tar: the first name holds the data, the others link to it.
                    first = first_link.setdefault((st.st_dev, st.st_ino), path)
                    if first != path:
                        builder.entries[path] = Entry(HARDLINK, st.st_size, mode, first)
                        if keep_rule(path) != KEEP_NONE:
                            builder.keep(
                                path, st.st_size, functools.partial(_open_binary, item.path)
                            )
                        continue
                builder.entries[path] = Entry(FILE, st.st_size, mode)
                builder.keep(path, st.st_size, functools.partial(_open_binary, item.path))
            elif stat.S_ISLNK(st.st_mode):
                builder.entries[path] = Entry(SYMLINK, 0, mode, os.readlink(item.path))
            elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                builder.whiteouts.add(path)
            else:
                builder.entries[path] = Entry(OTHER, 0, mode)
    return builder.build()
