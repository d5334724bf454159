"""The export stream's own read timeout, on a unix socket that answers as the engine does
(``/_ping``, then ``/images/ID/get``) but waits as long as each test says before it
sends the archive, and can stall forever mid-stream.

The real engine cannot be made to stall on demand; these servers can, and each test is
bounded by the timeouts it sets (seconds), so none can hang.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import socketserver
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagecheck import engine
from imagecheck.errors import EngineUnavailable, ImageNotFound

PAYLOAD = b"x" * (3 << 20)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    delay = 0.0  # before the first byte
    stall_after: int | None = None  # bytes sent before the stream stops for good
    release = threading.Event()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/_ping":
            self._reply(200, b"OK")
            return
        if not self.path.startswith("/images/sha256:feed/get"):
            self._reply(404, b'{"message": "no such image"}')
            return
        time.sleep(self.server.delay)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        cut = self.server.stall_after
        self.wfile.write(PAYLOAD[:cut] if cut is not None else PAYLOAD)
        self.wfile.flush()
        if cut is not None:
            self.server.release.wait(30)  # never more than the test's own bounds

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def _engine(delay: float = 0.0, stall_after: int | None = None) -> Iterator[engine.Engine]:
    folder = Path(tempfile.mkdtemp(prefix="ic-eng-", dir="/tmp"))  # a socket path is short
    path = folder / "docker.sock"
    server = _Server(str(path), _Handler)
    server.delay, server.stall_after, server.release = delay, stall_after, threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    old = os.environ.get("DOCKER_HOST"), engine._TIMEOUT
    os.environ["DOCKER_HOST"] = f"unix://{path}"
    engine._TIMEOUT = 1  # every other call: 1 s (docker-py's client too)
    try:
        yield engine.connect(timeout=1)
    finally:
        engine._TIMEOUT = old[1]
        server.release.set()
        server.shutdown()
        server.server_close()
        if old[0] is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = old[0]
        path.unlink(missing_ok=True)
        folder.rmdir()


def test_an_export_slower_to_start_than_the_client_timeout_is_read_whole() -> None:
    """The engine is silent for 2.5 s (more than the 1 s of every other call) before
    the archive: the export waits, and every byte arrives."""
    with _engine(delay=2.5) as eng:
        stream = eng.export_image("sha256:feed", stall=10)
        with stream:
            assert stream.read() == PAYLOAD


def test_an_export_that_stalls_mid_stream_ends_with_one_clear_error() -> None:
    with _engine(stall_after=1 << 20) as eng:
        start = time.monotonic()
        stream = eng.export_image("sha256:feed", stall=1.5)
        assert stream.read(1 << 20) == PAYLOAD[: 1 << 20]
        with pytest.raises(EngineUnavailable, match=r"sent nothing for 1.5 s while exporting"):
            stream.read(1 << 16)
        stream.close()
        assert time.monotonic() - start < 10


def test_an_export_whose_first_byte_never_comes_times_out() -> None:
    with _engine(delay=20) as eng:
        start = time.monotonic()
        with pytest.raises(EngineUnavailable, match="sent nothing for 1 s"):
            eng.export_image("sha256:feed", stall=1)
        assert time.monotonic() - start < 10


def test_an_export_of_an_unknown_image_says_so() -> None:
    with _engine() as eng, pytest.raises(ImageNotFound, match="sha256:gone"):
        eng.export_image("sha256:gone", stall=5)


def test_the_default_stall_is_longer_than_every_other_call() -> None:
    assert engine.EXPORT_STALL > 10 * engine._TIMEOUT
