"""Read the dynamic section of an ELF file: SONAME, NEEDED, RUNPATH, RPATH.

Only the ELF header, the section headers, ``.dynamic``, its string table and
(when asked) ``.rodata`` are read, so the file object may be a window into a layer
tar and a 40 MB extension module costs a few small reads. A file that can only be
read forward (a compressed layer, the engine's export stream) is read as it passes,
through the program headers, keeping a bounded head in memory however big the file
is (``libcublasLt.so`` is over 512 MiB). We parse with ``struct``
rather than pyelftools because indexing touches hundreds of modules per image and
pyelftools costs ~2 ms each (20x more); the tests check this reader against
pyelftools on real wheels.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from typing import IO

ELF_MAGIC = b"\x7fELF"

# Strings whose presence in an extension module tells which NumPy C API it was
# built against: modules compiled with NumPy 2 headers import numpy._core.
MARKERS: tuple[bytes, ...] = (
    b"numpy.core._multiarray_umath",
    b"numpy._core._multiarray_umath",
)

_MACHINES = {
    3: "x86",
    62: "x86_64",
    183: "aarch64",
    40: "arm",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390",
    243: "riscv",
}
_TYPES = {1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_SHT_DYNAMIC = 6
_PT_LOAD, _PT_DYNAMIC = 1, 2
_DT_NEEDED, _DT_STRTAB, _DT_STRSZ, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 1, 5, 10, 14, 15, 29
_MAX_SECTION = 64 << 20  # a sane bound for .dynstr/.rodata reads
# What a forward-only read keeps of a file's start: .dynstr sits before .dynamic and
# is found only once .dynamic is read, so the head is kept until then.
STREAM_HEAD = _MAX_SECTION
STREAM_BEFORE_DYNAMIC = 16 << 20
_CHUNK = 1 << 20
# Every marker ends with this: a chunk is searched for it once, and only a chunk that
# holds it (a module that uses NumPy's C API) is searched for each marker.
_MARKER_TAIL = b"._multiarray_umath"
_REACH = 64  # bytes kept of a chunk's end: more than any marker's length
# A Python extension module defines PyInit_<its name>; its .dynstr holds that name.
_PY_INIT = re.compile(rb"\0PyInit_([A-Za-z0-9_]+)(?=\0)")


@dataclass(frozen=True, slots=True)
class ElfInfo:
    soname: str | None
    needed: tuple[str, ...]
    runpath: tuple[str, ...]
    rpath: tuple[str, ...]
    machine: str
    elf_type: str  # "ET_DYN", "ET_EXEC"
    markers: tuple[str, ...] = ()
    error: str | None = None  # set when the file is ELF but could not be parsed
    py_init: tuple[str, ...] = ()  # NAME of each PyInit_NAME in .dynstr: a Python module


class _Bad(Exception):
    pass


def _read_at(stream: IO[bytes], offset: int, size: int) -> bytes:
    if size < 0 or size > _MAX_SECTION:
        raise _Bad(f"section size {size}")
    stream.seek(offset)
    data = stream.read(size)
    if len(data) != size:
        raise _Bad("truncated")
    return data


def _cstr(table: bytes, offset: int) -> str:
    end = table.find(b"\0", offset)
    return table[offset : end if end >= 0 else len(table)].decode("utf-8", "replace")


def _split_paths(value: str) -> tuple[str, ...]:
    return tuple(p for p in value.split(":") if p)


def _py_init(strtab: bytes) -> tuple[str, ...]:
    return tuple(m.decode("ascii") for m in _PY_INIT.findall(b"\0" + strtab))


def read_elf(stream: IO[bytes], *, scan_markers: bool = False) -> ElfInfo | None:
    """Parse ``stream`` (seekable); None when it is not ELF at all."""
    stream.seek(0)
    ident = stream.read(64)
    if not ident.startswith(ELF_MAGIC):
        return None
    try:
        return _parse(stream, ident, scan_markers)
    except (_Bad, struct.error, OSError, EOFError, ValueError) as exc:
        # A truncated or odd ELF must not stop a scan: record that it is ELF, nothing more.
        return ElfInfo(None, (), (), (), "unknown", "unknown", error=str(exc) or type(exc).__name__)


def _parse(stream: IO[bytes], ident: bytes, scan_markers: bool) -> ElfInfo:
    is64 = ident[4] == 2
    endian = "<" if ident[5] == 1 else ">"
    if is64:
        e_type, e_machine = struct.unpack_from(endian + "HH", ident, 16)
        (e_shoff,) = struct.unpack_from(endian + "Q", ident, 40)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from(endian + "HHH", ident, 58)
        sh_fmt, dyn_fmt = endian + "IIQQQQIIQQ", endian + "qQ"
    else:
        e_type, e_machine = struct.unpack_from(endian + "HH", ident, 16)
        (e_shoff,) = struct.unpack_from(endian + "I", ident, 32)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from(endian + "HHH", ident, 46)
        sh_fmt, dyn_fmt = endian + "IIIIIIIIII", endian + "iI"
    machine = _MACHINES.get(e_machine, f"EM_{e_machine}")
    elf_type = _TYPES.get(e_type, f"ET_{e_type}")
    if e_shoff == 0 or e_shnum == 0:
        return ElfInfo(None, (), (), (), machine, elf_type)
    sh_size = struct.calcsize(sh_fmt)
    if e_shentsize < sh_size or e_shnum > 65535:
        raise _Bad("bad section header table")
    table = _read_at(stream, e_shoff, e_shentsize * e_shnum)
    # (name, type, flags, addr, offset, size, link, info, align, entsize)
    sections = [struct.unpack_from(sh_fmt, table, i * e_shentsize) for i in range(e_shnum)]

    soname: str | None = None
    needed: list[str] = []
    runpath: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    py_init: tuple[str, ...] = ()
    for sec in sections:
        if sec[1] != _SHT_DYNAMIC:
            continue
        if not 0 <= sec[6] < len(sections):
            raise _Bad("bad .dynamic link")
        strtab_sec = sections[sec[6]]
        strtab = _read_at(stream, strtab_sec[4], strtab_sec[5])
        dyn = _read_at(stream, sec[4], sec[5])
        soname, needed, runpath, rpath = _dynamic(_entries(dyn, dyn_fmt), strtab)
        py_init = _py_init(strtab)
        break

    markers: tuple[str, ...] = ()
    if scan_markers and 0 <= e_shstrndx < len(sections):
        shstr = sections[e_shstrndx]
        names = _read_at(stream, shstr[4], shstr[5])
        for sec in sections:
            if _cstr(names, sec[0]) == ".rodata":
                data = _read_at(stream, sec[4], sec[5])
                markers = tuple(m.decode() for m in MARKERS if m in data)
                break
    return ElfInfo(
        soname, tuple(needed), runpath, rpath, machine, elf_type, markers, py_init=py_init
    )


def _entries(dyn: bytes, dyn_fmt: str) -> list[tuple[int, int]]:
    out = []
    whole = len(dyn) - len(dyn) % struct.calcsize(dyn_fmt)
    for tag, val in struct.iter_unpack(dyn_fmt, dyn[:whole]):
        if tag == 0:
            break
        out.append((tag, val))
    return out


def _dynamic(
    entries: list[tuple[int, int]], strtab: bytes
) -> tuple[str | None, list[str], tuple[str, ...], tuple[str, ...]]:
    soname: str | None = None
    needed: list[str] = []
    runpath: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    for tag, val in entries:
        if tag == _DT_NEEDED:
            needed.append(_cstr(strtab, val))
        elif tag == _DT_SONAME:
            soname = _cstr(strtab, val)
        elif tag == _DT_RUNPATH:
            runpath = _split_paths(_cstr(strtab, val))
        elif tag == _DT_RPATH:
            rpath = _split_paths(_cstr(strtab, val))
    return soname, needed, runpath, rpath


class _Forward:
    """The next ``size`` bytes of a stream read once, front to back, looking for the
    NumPy markers in all of them as they pass."""

    def __init__(self, stream: IO[bytes], size: int, scan_markers: bool) -> None:
        self._stream = stream
        self.size = size
        self.pos = 0
        self._scan = scan_markers
        self._tail = b""
        self.found: set[bytes] = set()

    def _next(self, n: int) -> bytes:
        part = self._stream.read(min(n, _CHUNK))
        if not part:
            raise _Bad("truncated")
        if self._scan:
            tail = self._tail
            if _MARKER_TAIL in part or _MARKER_TAIL in tail + part[:_REACH]:
                window = tail + part
                self.found.update(m for m in MARKERS if m in window)
            self._tail = part[-_REACH:]
        self.pos += len(part)
        return part

    def read(self, n: int) -> bytearray:
        n = max(0, min(n, self.size - self.pos))
        parts = bytearray()  # grown in place: a list joined at the end held it twice
        while n:
            part = self._next(n)
            parts += part
            n -= len(part)
        return parts

    def skip_to(self, offset: int) -> None:
        """Pass over the bytes up to ``offset`` (scanned, never kept)."""
        end = min(offset, self.size)
        while self.pos < end:
            self._next(end - self.pos)


def read_elf_stream(stream: IO[bytes], size: int, *, scan_markers: bool = False) -> ElfInfo | None:
    """Parse the next ``size`` bytes of a forward-only ``stream``; None when not ELF.

    A file that fits the bounded head is parsed like a seekable one. A bigger one is
    parsed through its program headers (PT_DYNAMIC, DT_STRTAB mapped through PT_LOAD),
    which is what the dynamic loader reads too; the section headers at its end are
    never needed. All ``size`` bytes are consumed only when markers are scanned."""
    fwd = _Forward(stream, size, scan_markers)
    head: bytes | bytearray
    try:
        head = fwd.read(STREAM_HEAD)
    except _Bad:
        head = b""
    if not head.startswith(ELF_MAGIC):
        return None
    if len(head) == size:
        return read_elf(io.BytesIO(head), scan_markers=scan_markers)
    try:
        info = _parse_stream(fwd, head)
        if scan_markers:
            fwd.skip_to(size)
    except (_Bad, struct.error, OSError, EOFError, ValueError) as exc:
        return ElfInfo(None, (), (), (), "unknown", "unknown", error=str(exc) or type(exc).__name__)
    markers = tuple(m.decode() for m in MARKERS if m in fwd.found)
    return ElfInfo(
        info.soname,
        info.needed,
        info.runpath,
        info.rpath,
        info.machine,
        info.elf_type,
        markers,
        py_init=info.py_init,
    )


def _parse_stream(fwd: _Forward, head: bytes | bytearray) -> ElfInfo:
    is64 = head[4] == 2
    endian = "<" if head[5] == 1 else ">"
    e_type, e_machine = struct.unpack_from(endian + "HH", head, 16)
    if is64:
        (e_phoff,) = struct.unpack_from(endian + "Q", head, 32)
        e_phentsize, e_phnum = struct.unpack_from(endian + "HH", head, 54)
        # (type, flags, offset, vaddr, paddr, filesz, memsz, align)
        ph_fmt, dyn_fmt, order = endian + "IIQQQQQQ", endian + "qQ", (0, 2, 3, 5)
    else:
        (e_phoff,) = struct.unpack_from(endian + "I", head, 28)
        e_phentsize, e_phnum = struct.unpack_from(endian + "HH", head, 42)
        # (type, offset, vaddr, paddr, filesz, memsz, flags, align)
        ph_fmt, dyn_fmt, order = endian + "IIIIIIII", endian + "iI", (0, 1, 2, 4)
    machine = _MACHINES.get(e_machine, f"EM_{e_machine}")
    elf_type = _TYPES.get(e_type, f"ET_{e_type}")
    if e_phentsize < struct.calcsize(ph_fmt) or e_phoff + e_phentsize * e_phnum > len(head):
        raise _Bad("program headers outside the file's head")
    loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
    dynamic: tuple[int, int] | None = None
    for i in range(e_phnum):
        fields = struct.unpack_from(ph_fmt, head, e_phoff + i * e_phentsize)
        p_type, p_offset, p_vaddr, p_filesz = (fields[j] for j in order)
        if p_type == _PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == _PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return ElfInfo(None, (), (), (), machine, elf_type)
    # patchelf (auditwheel's tool) moves .dynstr into a segment of its own just before
    # .dynamic, far past the head: the bytes leading up to .dynamic are kept as well.
    dyn_off, dyn_size = dynamic
    if dyn_size < 0 or dyn_size > _MAX_SECTION:
        raise _Bad(f"section size {dyn_size}")
    kept: list[tuple[int, bytes | bytearray]] = [(0, head)]
    if dyn_off + dyn_size > len(head):
        start = max(fwd.pos, dyn_off - STREAM_BEFORE_DYNAMIC)
        if dyn_off < start:
            raise _Bad("the dynamic section overlaps the head")
        fwd.skip_to(start)
        kept.append((start, fwd.read(dyn_off + dyn_size - start)))
    dyn = _stream_range(fwd, kept, dyn_off, dyn_size)
    entries = _entries(dyn, dyn_fmt)
    values = dict(entries)
    if _DT_STRTAB not in values or _DT_STRSZ not in values:
        raise _Bad("no DT_STRTAB")
    addr, strsz = values[_DT_STRTAB], values[_DT_STRSZ]
    for vaddr, offset, filesz in loads:
        if vaddr <= addr < vaddr + filesz:
            strtab = _stream_range(fwd, kept, addr - vaddr + offset, strsz)
            break
    else:
        raise _Bad("DT_STRTAB outside every PT_LOAD")
    soname, needed, runpath, rpath = _dynamic(entries, strtab)
    return ElfInfo(
        soname, tuple(needed), runpath, rpath, machine, elf_type, py_init=_py_init(strtab)
    )


def _stream_range(
    fwd: _Forward, kept: list[tuple[int, bytes | bytearray]], offset: int, size: int
) -> bytes:
    """Bytes ``offset``..``offset+size`` of the file: from what was kept, or read ahead."""
    if size < 0 or size > _MAX_SECTION:
        raise _Bad(f"section size {size}")
    for start, data in kept:
        if start <= offset and offset + size <= start + len(data):
            return bytes(data[offset - start : offset - start + size])
    if offset < fwd.pos:
        raise _Bad(f"data at offset {offset} was passed and not kept")
    fwd.skip_to(offset)
    data = fwd.read(size)
    if len(data) != size:
        raise _Bad("truncated")
    return bytes(data)
