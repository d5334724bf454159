"""Layer blobs come plain, gzip or zstd: sniff the magic bytes and decompress as a stream.

Media types are checked by the sources; the bytes decide how to decompress, because
``docker save`` archives name no media type for their layers.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
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
        got = os.preadv(self._fd, [memoryview(b)[:n]], self.start + self.pos)
        self.pos += got
        return got


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

    def read(self, n: int | None = -1) -> bytes:
        """The bytes as read, hashed on the way: no copy into a caller's buffer."""
        data = self._raw.read(CHUNK if n is None or n < 0 else n)
        self.sha.update(data)
        self.count += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b)
        n = self._raw.readinto(view)  # type: ignore[attr-defined]
        if n:
            self.sha.update(view[:n])
            self.count += n
        return n or 0

    def digest(self) -> str:
        return f"sha256:{self.sha.hexdigest()}"

    def drain(self) -> None:
        """Read (and hash) whatever is left."""
        buf = bytearray(CHUNK)
        while self.readinto(buf):
            pass


PREFETCH_DEPTH = 8  # chunks read ahead: at most this many MiB in flight


class Prefetch(io.RawIOBase):
    """``raw`` read on a thread of its own, a chunk at a time, into a bounded queue.

    What ``raw`` does per chunk (reading the file or socket, hashing the blob, inflating
    it, hashing the tar) then runs beside the tar walk and ELF reads of the caller, on
    a second core: zlib, ISA-L, hashlib and file reads release the GIL. An error of
    ``raw`` is raised to the reader, in order. ``stop()`` ends the thread early."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(PREFETCH_DEPTH)
        self._stopping = threading.Event()
        self._buf = memoryview(b"")
        self._ended = False
        self.error: BaseException | None = None  # what ``raw`` raised, raised here too
        self._thread = threading.Thread(
            target=self._run, args=(raw,), name="imagecheck-prefetch", daemon=True
        )
        self._thread.start()

    def readable(self) -> bool:
        return True

    def _run(self, raw: IO[bytes]) -> None:
        try:
            while not self._stopping.is_set():
                data = raw.read(CHUNK)
                self._put(data)
                if not data:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.2)
            except queue.Full:
                continue
            return

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            if self._ended:
                return 0
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._ended = True
                self._thread.join()
                self.error = item
                raise item
            if not item:
                self._ended = True
                self._thread.join()
                return 0
            self._buf = memoryview(item)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def stop(self) -> None:
        """End the reading thread (what it read ahead is dropped) and wait for it."""
        self._stopping.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
        self._thread.join()
        self._ended = True


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
        # Reading the blob, hashing it and inflating it run on a thread of their own
        # (see Prefetch); hashing the tar stays with the tar walk, which balances the two.
        self._prefetch = Prefetch(plain)
        ahead = cast(IO[bytes], self._prefetch)
        if self.compression == "none":
            self._inner = self._outer  # the blob is the tar: one digest for both
            self.stream: IO[bytes] = io.BufferedReader(self._prefetch, CHUNK)
        else:
            self._inner = Digesting(ahead)
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
        manifest names (a changed or damaged file says so, not "bad tar"). A store that
        checks its own blobs (a registry) has said so already: its error stands."""
        self._prefetch.stop()
        if self._want_digest is None or isinstance(self._prefetch.error, CorruptArchive):
            return None
        try:
            self._outer.drain()
        except OSError:
            return None
        return self._blob_error()

    def close(self) -> None:
        """Stop reading ahead (after an error; ``finish`` ends the thread itself)."""
        self._prefetch.stop()

    def finish(self) -> None:
        """Read what the indexer left (end-of-archive padding), then compare digests."""
        name = f"layer {short(self.diff_id)}"
        try:
            while self.stream.read(CHUNK):
                pass
            self._prefetch.stop()
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
