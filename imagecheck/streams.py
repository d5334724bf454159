"""Layer blobs come plain, gzip or zstd: sniff the magic bytes and decompress as a stream.

Media types are checked by the sources; the bytes decide how to decompress, because
``docker save`` archives name no media type for their layers.
"""

from __future__ import annotations

import io
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
