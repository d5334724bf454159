"""Layer blobs come plain, gzip or zstd: sniff the magic bytes and decompress as a stream.

Media types are checked by the sources; the bytes decide how to decompress, because
``docker save`` archives name no media type for their layers.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from typing import IO, Any, cast

from ..errors import CorruptArchive
from ..model import short


def _inflate_module() -> tuple[Any, str, tuple[type[Exception], ...]]:
    """ISA-L inflates gzip about twice as fast as zlib; zlib is the fallback."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal is a dependency; kept for odd platforms
        return zlib, "zlib", (zlib.error,)
    return isal_zlib, "isal", (zlib.error, cast(type[Exception], isal_zlib.error))


_inflate_lib, INFLATE, DECOMPRESS_ERRORS = _inflate_module()
# What reading a damaged or cut-short layer stream raises.
READ_ERRORS: tuple[type[Exception], ...] = (EOFError, OSError, *DECOMPRESS_ERRORS)


def _new_inflater() -> Any:
    return _inflate_lib.decompressobj(wbits=47)  # gzip or zlib header, detected


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
    """gzip with 1 MiB reads (the stdlib reader works in 8 KiB steps); multi-member aware.

    Each inflate call yields at most 1 MiB: a megabyte of compressed zeros expands to a
    gigabyte, which must never be held at once."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._dec = _new_inflater()
        self._fed = False  # whether the current inflater has been given any input
        self._buf = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf and not self._eof:
            if self._dec.eof:  # a member ended: what follows is the next member
                data = self._dec.unused_data
                self._dec, self._fed = _new_inflater(), False
            else:
                data = self._dec.unconsumed_tail
            if not data:
                data = self._raw.read(CHUNK)
                if not data:
                    if self._fed and not self._dec.eof:
                        raise EOFError("compressed data ended before the end-of-stream marker")
                    self._eof = True
                    break
            self._fed = True
            self._buf = self._dec.decompress(data, CHUNK)
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

        reader = zstandard.ZstdDecompressor().stream_reader(
            buffered, read_size=CHUNK, read_across_frames=True
        )
        return io.BufferedReader(reader, CHUNK), kind
    return buffered, kind


class Digesting(io.RawIOBase):
    """Pass bytes through while hashing and counting them."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.sha.update(data)
        self.count += n
        return n

    def digest(self) -> str:
        return f"sha256:{self.sha.hexdigest()}"

    def drain(self) -> None:
        """Read (and hash) whatever is left."""
        buf = bytearray(CHUNK)
        while self.readinto(buf):
            pass


class VerifiedLayer:
    """A layer blob read once and checked as it streams: the compressed bytes against
    the descriptor's digest and size (when the manifest names them), the tar they
    inflate to against the config's diff_id. Nothing read from it may be trusted
    before ``finish()`` returned."""

    def __init__(
        self, raw: IO[bytes], diff_id: str, *, digest: str | None = None, size: int | None = None
    ) -> None:
        self.diff_id = diff_id
        self._want_digest = digest
        self._want_size = size
        self._outer = Digesting(raw)
        plain, self.compression = decompressed(cast(IO[bytes], self._outer))
        if self.compression == "none":
            self._inner = self._outer  # the blob is the tar: one digest for both
            self.stream: IO[bytes] = plain  # holds the bytes sniffed already
        else:
            self._inner = Digesting(plain)
            self.stream = io.BufferedReader(self._inner, CHUNK)

    def _blob_error(self) -> CorruptArchive | None:
        """The blob, all read, against its descriptor's size and digest."""
        name = f"layer {short(self.diff_id)}"
        if self._want_size is not None and self._outer.count != self._want_size:
            return CorruptArchive(
                f"{name}: its blob is {self._outer.count} bytes, not the {self._want_size} "
                "its manifest names (changed, damaged or cut short)"
            )
        got = self._outer.digest()
        if self._want_digest is not None and got != self._want_digest:
            return CorruptArchive(
                f"{name}: its blob hashes to {short(got)}, not to the digest "
                f"{short(self._want_digest)} its manifest names (changed or damaged)"
            )
        return None

    def blob_mismatch(self) -> CorruptArchive | None:
        """After a failed read: the error to report when the blob is not the one its
        manifest names (a changed or damaged file says so, not "bad tar")."""
        if self._want_digest is None:
            return None
        try:
            self._outer.drain()
        except OSError:
            return None
        return self._blob_error()

    def finish(self) -> None:
        """Read what the indexer left (end-of-archive padding), then compare digests."""
        name = f"layer {short(self.diff_id)}"
        try:
            while self.stream.read(CHUNK):
                pass
            self._outer.drain()
        except READ_ERRORS as exc:
            raise self.blob_mismatch() or CorruptArchive(f"{name} cannot be read: {exc}") from exc
        except Exception as exc:
            if type(exc).__name__ == "ZstdError":
                bad = CorruptArchive(f"{name} is not valid zstd: {exc}")
                raise self.blob_mismatch() or bad from exc
            raise
        blob_error = self._blob_error()
        if blob_error is not None:
            raise blob_error
        got = self._inner.digest()
        if got != self.diff_id:
            raise CorruptArchive(
                f"{name} does not match its diff_id in the image config: its content hashes to "
                f"{short(got)}"
            )
