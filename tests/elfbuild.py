"""Synthetic ELF shared objects, laid out as a linker does: the ELF header and program
headers first, then ``.dynstr``, an optional gap of zeros (the code of a big library),
``.dynamic``, and the section headers last. No compiler needed."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_EHDR = "<16sHHIQQQIHHHHHH"
_PHDR = "<IIQQQQQQ"
_SHDR = "<IIQQQQIIQQ"
_DT = {"NEEDED": 1, "STRTAB": 5, "STRSZ": 10, "SONAME": 14, "RPATH": 15, "RUNPATH": 29}


@dataclass(frozen=True, slots=True)
class ElfParts:
    """The file as its head, a run of ``gap`` zero bytes, and its tail, so a test can
    write a big one sparsely."""

    head: bytes
    gap: int
    tail: bytes

    @property
    def size(self) -> int:
        return len(self.head) + self.gap + len(self.tail)

    @property
    def data(self) -> bytes:
        return self.head + bytes(self.gap) + self.tail


def elf_parts(
    *,
    soname: str | None = None,
    needed: tuple[str, ...] = (),
    runpath: str | None = None,
    rpath: str | None = None,
    py_module: str | None = None,
    gap: int = 0,
    late_strtab: bool = False,
) -> ElfParts:
    """An x86_64 ET_DYN; ``py_module`` adds the PyInit_<name> an extension module has;
    ``late_strtab`` puts ``.dynstr`` after the gap, just before ``.dynamic``, where
    patchelf moves it."""
    strtab = bytearray(b"\0")

    def string(text: str) -> int:
        offset = len(strtab)
        strtab.extend(text.encode() + b"\0")
        return offset

    dyn: list[tuple[int, int]] = [(_DT["NEEDED"], string(n)) for n in needed]
    if soname:
        dyn.append((_DT["SONAME"], string(soname)))
    if runpath is not None:
        dyn.append((_DT["RUNPATH"], string(runpath)))
    if rpath is not None:
        dyn.append((_DT["RPATH"], string(rpath)))
    if py_module:
        string(f"PyInit_{py_module}")
    string("PyObject_GetAttr")  # an undefined symbol, as any module has

    phoff, phnum = 64, 2
    head_end = phoff + phnum * struct.calcsize(_PHDR)
    strtab_off = head_end + gap if late_strtab else head_end
    gap_end = head_end + gap + (0 if late_strtab else len(strtab))
    dyn_off = -(-max(strtab_off + len(strtab), gap_end) // 8) * 8
    dyn.append((_DT["STRTAB"], strtab_off))
    dyn.append((_DT["STRSZ"], len(strtab)))
    dyn.append((0, 0))
    dynamic = b"".join(struct.pack("<qQ", t, v) for t, v in dyn)
    shstrtab = b"\0.dynstr\0.dynamic\0.shstrtab\0"
    shstr_off = dyn_off + len(dynamic)
    shoff = -(-(shstr_off + len(shstrtab)) // 8) * 8
    size = shoff + 4 * struct.calcsize(_SHDR)

    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = struct.pack(_EHDR, ident, 3, 62, 1, 0, phoff, shoff, 0, 64, 56, phnum, 64, 4, 3)
    phdrs = struct.pack(_PHDR, 1, 4, 0, 0, 0, size, size, 0x1000) + struct.pack(
        _PHDR, 2, 6, dyn_off, dyn_off, dyn_off, len(dynamic), len(dynamic), 8
    )
    shdrs = (
        bytes(struct.calcsize(_SHDR))
        + struct.pack(_SHDR, 1, 3, 2, strtab_off, strtab_off, len(strtab), 0, 0, 1, 0)
        + struct.pack(_SHDR, 9, 6, 3, dyn_off, dyn_off, len(dynamic), 1, 0, 8, 16)
        + struct.pack(_SHDR, 18, 3, 0, 0, shstr_off, len(shstrtab), 0, 0, 1, 0)
    )
    head = ehdr + phdrs + (b"" if late_strtab else bytes(strtab))
    tail = bytearray(size - len(head) - gap)
    for offset, piece in (
        (strtab_off, bytes(strtab)),
        (dyn_off, dynamic),
        (shstr_off, shstrtab),
        (shoff, shdrs),
    ):
        if offset >= len(head) + gap:
            at = offset - len(head) - gap
            tail[at : at + len(piece)] = piece
    return ElfParts(head, gap, bytes(tail))


def elf_so(**kw: object) -> bytes:
    """The whole file, for small ones."""
    return elf_parts(**kw).data  # type: ignore[arg-type]
