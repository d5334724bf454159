"""The layer indexer's own tar reader against the standard library's, on every header
format a layer can come in, read both by seeking and as a forward-only stream."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import IO

import pytest

from imagecheck.errors import CorruptArchive
from imagecheck.image.layerindex import DIR, FILE, HARDLINK, OTHER, SYMLINK, index_tar, normalize
from tests.elfbuild import ElfParts, elf_parts

LONG_DIR = "usr/lib/python3/dist-packages/" + "a_very_long_package_name_segment/" * 6
METADATA = b"Metadata-Version: 2.1\nName: longpkg\nVersion: 1.0\n"


class ForwardOnly(io.RawIOBase):
    """A stream that cannot seek, as a decompressor or the engine's export stream."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._buf.read(len(b))
        b[: len(data)] = data
        return len(data)


def _add(tf: tarfile.TarFile, name: str, kind: bytes, data: bytes = b"", link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.linkname = link
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    else:
        tf.addfile(info)


def sample_tar(fmt: int, *, pax_global: bool = False) -> bytes:
    buf = io.BytesIO()
    headers = {"comment": "made by the test"} if pax_global else {}
    with tarfile.open(fileobj=buf, mode="w", format=fmt, pax_headers=headers) as tf:
        _add(tf, "./usr/", tarfile.DIRTYPE)
        _add(tf, "./usr/bin/", tarfile.DIRTYPE)
        _add(tf, "./usr/bin/tool", tarfile.REGTYPE, b"#!/usr/bin/python3\nprint()\n")
        _add(tf, "./usr/bin/tool-link", tarfile.LNKTYPE, link="./usr/bin/tool")
        _add(tf, "./usr/bin/sym", tarfile.SYMTYPE, link="tool")
        _add(tf, "./usr/share/empty", tarfile.REGTYPE, b"")
        _add(tf, "./usr/share/odd-512", tarfile.REGTYPE, b"x" * 512)
        _add(tf, "./usr/share/odd-513", tarfile.REGTYPE, b"y" * 513)
        _add(tf, "./dev/fifo", tarfile.FIFOTYPE)
        # Longer than ustar's 100-byte name: GNU long names, PAX paths or the ustar prefix.
        _add(tf, f"./{LONG_DIR}longpkg-1.0.dist-info/METADATA", tarfile.REGTYPE, METADATA)
        _add(tf, "./usr/lib/x", tarfile.SYMTYPE, link="/" + LONG_DIR[:-1] + "/target")
        _add(tf, "./usr/share/doc/héllo-wörld.txt", tarfile.REGTYPE, "ünïcode".encode())
        _add(tf, "./.wh..wh..opq", tarfile.REGTYPE)
        _add(tf, "./usr/share/.wh.gone", tarfile.REGTYPE)
    return buf.getvalue()


def reference(data: bytes) -> dict[str, tuple[str, int, str]]:
    """What tarfile sees, in the index's terms (whiteouts left out)."""
    kinds = {tarfile.DIRTYPE: DIR, tarfile.SYMTYPE: SYMLINK, tarfile.LNKTYPE: HARDLINK}
    seen: dict[str, tuple[str, int, str]] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf:
            path = normalize(m.name)
            if path.rpartition("/")[2].startswith(".wh."):
                continue
            kind = FILE if m.isreg() else kinds.get(m.type, OTHER)
            link = normalize(m.linkname) if m.islnk() else m.linkname
            seen[path] = (kind, m.size if m.isreg() else 0, link)
    return seen


FORMATS = {"gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}


def _stream(data: bytes, seekable: bool) -> IO[bytes]:
    return io.BytesIO(data) if seekable else io.BufferedReader(ForwardOnly(data), 4096)


@pytest.mark.parametrize("seekable", [True, False], ids=["seek", "stream"])
@pytest.mark.parametrize("fmt", ["gnu", "pax", "pax-global"])
def test_same_entries_as_tarfile(fmt: str, seekable: bool) -> None:
    data = sample_tar(FORMATS[fmt.partition("-")[0]], pax_global=fmt == "pax-global")
    index = index_tar(_stream(data, seekable), "sha256:" + "0" * 64, seekable=seekable)
    got = {p: (e.kind, e.size if e.kind == FILE else 0, e.link) for p, e in index.entries.items()}
    want = reference(data)
    # A hard link takes its target's size in the index; tarfile gives it none.
    assert got.pop("usr/bin/tool-link") == (HARDLINK, 0, "usr/bin/tool")
    assert index.entries["usr/bin/tool-link"].size == index.entries["usr/bin/tool"].size == 27
    want.pop("usr/bin/tool-link")
    assert got == want
    assert index.contents[f"{LONG_DIR}longpkg-1.0.dist-info/METADATA"] == METADATA
    assert index.shebangs["usr/bin/tool"] == "/usr/bin/python3"
    assert index.shebangs["usr/bin/tool-link"] == "/usr/bin/python3"
    assert index.opaque == frozenset({""})
    assert index.whiteouts == frozenset({"usr/share/gone"})
    assert index.entries["usr/share/doc/héllo-wörld.txt"].size == len("ünïcode".encode())


def test_ustar_prefix_names() -> None:
    """ustar splits a long path into prefix and name; both halves make the path."""
    buf = io.BytesIO()
    name = "usr/lib/python3/dist-packages/" + "segment/" * 12 + "longpkg-1.0.dist-info/METADATA"
    assert 100 < len(name) < 255
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        _add(tf, name, tarfile.REGTYPE, METADATA)
    data = buf.getvalue()
    assert data[345] != 0  # the prefix field is in use
    index = index_tar(io.BytesIO(data), "sha256:" + "1" * 64, seekable=True)
    assert index.contents == {name: METADATA}


def test_truncated_data_is_corrupt() -> None:
    data = sample_tar(tarfile.GNU_FORMAT)
    cut = data[: data.index(b"y" * 513) + 100]
    for seekable in (True, False):
        with pytest.raises(CorruptArchive, match="cannot be read"):
            index_tar(_stream(cut, seekable), "sha256:" + "2" * 64, seekable=seekable)


def test_bad_checksum_is_corrupt() -> None:
    data = bytearray(sample_tar(tarfile.PAX_FORMAT))
    data[0] ^= 0x20  # the first header's name, without fixing its checksum
    with pytest.raises(CorruptArchive, match="bad checksum"):
        index_tar(io.BytesIO(bytes(data)), "sha256:" + "3" * 64, seekable=True)


def test_half_a_header_is_corrupt() -> None:
    data = sample_tar(tarfile.GNU_FORMAT)
    header = data.index(b"./usr/share/odd-512")
    assert header % 512 == 0
    for seekable in (True, False):
        with pytest.raises(CorruptArchive, match="truncated header"):
            index_tar(
                _stream(data[: header + 100], seekable), "sha256:" + "4" * 64, seekable=seekable
            )


class FileForwardOnly(io.RawIOBase):
    """A file on disk read as a stream that cannot seek."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        return self._fh.readinto(b)  # type: ignore[attr-defined, no-any-return]


def _sparse_layer(dest: Path, members: list[tuple[str, ElfParts]]) -> None:
    """A layer tar whose big files are holes on disk: the test costs no 600 MB write."""
    with dest.open("wb") as out:
        for name, parts in members:
            info = tarfile.TarInfo(name)
            info.size = parts.size
            out.write(info.tobuf(format=tarfile.PAX_FORMAT))
            out.write(parts.head)
            out.seek(parts.gap, io.SEEK_CUR)
            out.write(parts.tail)
            out.write(bytes(-parts.size % 512))
        out.write(bytes(1024))


SITE_LIB = "opt/venv/lib/python3.11/site-packages/nvidia/cu13/lib"


@pytest.mark.parametrize("seekable", [True, False], ids=["seek", "stream"])
def test_a_big_library_is_read_whatever_its_size(tmp_path: Path, seekable: bool) -> None:
    """libcublasLt.so.13 is 541 MB: read as a stream (the engine's export, a compressed
    layer) its dynamic section, past the first 512 MiB, is read as it passes."""
    big = elf_parts(
        soname="libcublasLt.so.13", needed=("libc.so.6",), rpath="$ORIGIN", gap=600 << 20
    )
    small = elf_parts(soname="libcublas.so.13", needed=("libcublasLt.so.13",), runpath="$ORIGIN")
    # patchelf moved .dynstr past the head, next to .dynamic (libcusparseLt.so.0, 234 MB)
    patched = elf_parts(
        soname="libcusparseLt.so.0", needed=("libm.so.6",), gap=100 << 20, late_strtab=True
    )
    layer = tmp_path / "layer.tar"
    _sparse_layer(
        layer,
        [
            (f"{SITE_LIB}/libcublasLt.so.13", big),
            (f"{SITE_LIB}/libcublas.so.13", small),
            (f"{SITE_LIB}/libcusparseLt.so.0", patched),
        ],
    )
    with layer.open("rb") as fh:
        stream: IO[bytes] = fh if seekable else io.BufferedReader(FileForwardOnly(fh), 1 << 16)
        index = index_tar(stream, "sha256:" + "5" * 64, seekable=seekable)
    info = index.elf[f"{SITE_LIB}/libcublasLt.so.13"]
    assert info.error is None
    assert (info.soname, info.needed, info.rpath) == (
        "libcublasLt.so.13",
        ("libc.so.6",),
        ("$ORIGIN",),
    )
    assert index.elf[f"{SITE_LIB}/libcublas.so.13"].needed == ("libcublasLt.so.13",)
    assert index.entries[f"{SITE_LIB}/libcublasLt.so.13"].size == big.size
    assert index.elf[f"{SITE_LIB}/libcusparseLt.so.0"].needed == ("libm.so.6",)
