"""Layer blobs come plain, gzip or zstd: sniff the magic bytes and decompress as a stream.

Media types are checked by the sources; the bytes decide how to decompress, because
``docker save`` archives name no media type for their layers.
"""

from __future__ import annotations

import io
import os
import zlib
from typing import IO, Any, cast

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20


def sniff(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class _GzipReader(io.RawIOBase):
    """gzip with 1 MiB reads (the stdlib reader works in 8 KiB steps); multi-member aware."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._dec = zlib.decompressobj(wbits=47)
        self._buf = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf and not self._eof:
            chunk = self._raw.read(CHUNK)
            if not chunk:
                if not self._dec.eof:
                    raise EOFError("compressed data ended before the end-of-stream marker")
                self._eof = True
                break
            self._buf = self._dec.decompress(chunk)
            while self._dec.eof and self._dec.unused_data:
                rest = self._dec.unused_data
                self._dec = zlib.decompressobj(wbits=47)
                self._buf += self._dec.decompress(rest)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class Window(io.RawIOBase):
    """``size`` bytes from ``start`` of something bigger, seen as a file of their own."""

    def __init__(self, start: int, size: int) -> None:
        self.start = start
        self.size = size
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self.seekable():
            raise io.UnsupportedOperation("seek")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, min(self.size, base + offset))
        return self.pos

    def tell(self) -> int:
        return self.pos


class FileWindow(Window):
    """A member of an uncompressed archive, read with ``pread``: no seek on a shared
    handle, so forked workers can read members of one open file at once."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        super().__init__(start, size)
        self._fd = fd

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self.size - self.pos)
        if n <= 0:
            return 0
        data = os.pread(self._fd, n, self.start + self.pos)
        b[: len(data)] = data
        self.pos += len(data)
        return len(data)


def decompressed(raw: IO[bytes]) -> tuple[IO[bytes], str]:
    """Wrap ``raw`` (positioned at the blob's start) so that it reads the plain tar.

    Returns the stream and the compression found. A plain, seekable ``raw`` is
    returned as is, so the indexer can skip file data by seeking.
    """
    buffered: Any = raw if hasattr(raw, "peek") else io.BufferedReader(cast(Any, raw), CHUNK)
    head = buffered.peek(4)[:4]
    kind = sniff(head)
    if kind == "gzip":
        return io.BufferedReader(_GzipReader(buffered), CHUNK), kind
    if kind == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(buffered, read_size=CHUNK)
        return io.BufferedReader(reader, CHUNK), kind
    return buffered, kind
