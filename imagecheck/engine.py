"""The only module that imports ``docker``: a small engine client with our errors.

Every call translates docker-py's and urllib3's exceptions into ``ImageNotFound``
(exit 2) or ``EngineUnavailable`` (exit 3), so no caller ever sees a docker type, and
every answer is a frozen dataclass: the engine's JSON keys are read here and nowhere else.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .errors import BadInput, EngineUnavailable, EnvironmentProblem, ImageNotFound
from .model import ContainerState

_TIMEOUT = 60
# How long the export stream may stay silent. ``docker save`` of a big image writes its
# layers out before the first byte and pauses between layers: a 6 GB image took over
# the 60 s of every other call on a loaded host. Long, never endless.
EXPORT_STALL = 900.0
_DF_PATIENCE = 60.0  # seconds to wait for another disk usage query to finish
_EXEC_OUTPUT = 1 << 20  # bytes kept of each stream of an exec


# --- what the engine answers ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """``docker info``: the little we use of it."""

    server_version: str
    root_dir: str  # DockerRootDir: where the image store lies on the engine's host


@dataclass(frozen=True, slots=True)
class EngineImage:
    """``docker image inspect``: the image as the engine stores it."""

    id: str
    repo_tags: tuple[str, ...]
    created: str
    size: int
    diff_ids: tuple[str, ...]  # RootFS layers, bottom to top
    env: tuple[str, ...]
    cmd: tuple[str, ...]
    entrypoint: tuple[str, ...]
    user: str
    working_dir: str
    labels: tuple[tuple[str, str], ...]
    build_cmd: tuple[str, ...]  # ContainerConfig.Cmd: the build step that made the image
    graph_driver: str  # "overlay2", ...
    #: the graph driver's data (for overlay2: LowerDir, UpperDir, MergedDir, WorkDir)
    graph_data: tuple[tuple[str, str], ...]

    @property
    def layer_dirs(self) -> tuple[str, ...]:
        """overlay2's diff folders bottom to top; empty for another driver."""
        data = dict(self.graph_data)
        upper = data.get("UpperDir")
        if self.graph_driver != "overlay2" or not upper:
            return ()
        lower = [d for d in data.get("LowerDir", "").split(":") if d]
        return (*reversed(lower), upper)


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One row of ``docker images -a``."""

    id: str
    repo_tags: tuple[str, ...]  # without the "<none>:<none>" of untagged images
    parent_id: str
    created: int  # Unix seconds
    size: int


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """A container's ``Config``: what it was created with."""

    id: str
    name: str
    image: str  # Config.Image: the reference it was created from
    env: tuple[str, ...]  # KEY=VALUE, as the container's processes get them
    running: bool


@dataclass(frozen=True, slots=True)
class ExecResult:
    """A command run in a running container (``docker exec``)."""

    exit_code: int | None  # None: it did not finish in time
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """A BuildKit build cache record (``/system/df`` BuildCache)."""

    id: str
    type: str
    description: str
    created_at: str
    last_used_at: str | None
    usage_count: int
    shared: bool
    in_use: bool
    size: int
    #: The record this one's snapshot is stacked on: ``Parent`` (API 1.41, Docker 20.10)
    #: or ``Parents`` (1.42 and later); empty for a chain's first record.
    parents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune removed."""

    deleted: int  # cache records, or images
    space: int  # bytes reclaimed


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strs(value: object) -> tuple[str, ...]:
    """A JSON list of strings (or one string, or null) as a tuple."""
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _image(data: dict[str, Any]) -> EngineImage:
    config = _dict(data.get("Config"))
    driver = _dict(data.get("GraphDriver"))
    return EngineImage(
        id=str(data.get("Id", "")),
        repo_tags=_strs(data.get("RepoTags")),
        created=str(data.get("Created") or ""),
        size=int(data.get("Size") or 0),
        diff_ids=_strs(_dict(data.get("RootFS")).get("Layers")),
        env=_strs(config.get("Env")),
        cmd=_strs(config.get("Cmd")),
        entrypoint=_strs(config.get("Entrypoint")),
        user=str(config.get("User") or ""),
        working_dir=str(config.get("WorkingDir") or ""),
        labels=tuple(sorted((str(k), str(v)) for k, v in _dict(config.get("Labels")).items())),
        build_cmd=_strs(_dict(data.get("ContainerConfig")).get("Cmd")),
        graph_driver=str(driver.get("Name") or ""),
        graph_data=tuple(
            sorted((str(k), str(v)) for k, v in _dict(driver.get("Data")).items() if v is not None)
        ),
    )


def _image_row(data: dict[str, Any]) -> ImageRow:
    return ImageRow(
        id=str(data.get("Id", "")),
        repo_tags=tuple(t for t in _strs(data.get("RepoTags")) if t != "<none>:<none>"),
        parent_id=str(data.get("ParentId") or ""),
        created=int(data.get("Created") or 0),
        size=int(data.get("Size") or 0),
    )


def cache_records(df: dict[str, Any]) -> tuple[CacheRecord, ...]:
    """The BuildCache records of a ``/system/df`` answer."""
    raw = df.get("BuildCache")
    return tuple(
        CacheRecord(
            id=str(item.get("ID", "")),
            type=str(item.get("Type", "")),
            description=str(item.get("Description", "")),
            created_at=str(item.get("CreatedAt", "")),
            last_used_at=str(item["LastUsedAt"]) if item.get("LastUsedAt") else None,
            usage_count=int(item.get("UsageCount") or 0),
            shared=bool(item.get("Shared")),
            in_use=bool(item.get("InUse")),
            size=int(item.get("Size") or 0),
            parents=tuple(p for p in _strs(item.get("Parents") or item.get("Parent")) if p),
        )
        for item in (raw if isinstance(raw, list) else [])
        if isinstance(item, dict)
    )


def container_state(info: dict[str, Any]) -> ContainerState:
    """The fields of ``docker inspect`` that say whether and how a container fails."""
    state = _dict(info.get("State"))
    health = _dict(state.get("Health"))
    return ContainerState(
        id=str(info.get("Id", "")),
        name=str(info.get("Name", "")).lstrip("/"),
        status=str(state.get("Status", "")),
        restarting=bool(state.get("Restarting")),
        restart_count=int(info.get("RestartCount") or 0),
        exit_code=int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        health=str(health["Status"]) if health.get("Status") else None,
        started_at=_timestamp(state.get("StartedAt")),
        finished_at=_timestamp(state.get("FinishedAt")),
        image_id=str(info.get("Image", "")),
        health_log=_last_check(health),
        failing_streak=int(health.get("FailingStreak") or 0),
        restart_policy=str(
            _dict(_dict(info.get("HostConfig")).get("RestartPolicy")).get("Name") or ""
        ),
    )


def _last_check(health: dict[str, Any]) -> str | None:
    """What the newest health check printed, one line: why the engine calls it unhealthy."""
    log = health.get("Log") or []
    if not log or not isinstance(log[-1], dict):
        return None
    output = " ".join(str(log[-1].get("Output") or "").split())
    return (
        f"exit {log[-1].get('ExitCode')}: {output[:300]}"
        if output
        else f"exit {log[-1].get('ExitCode')}"
    )


def _timestamp(value: Any) -> str | None:
    """The engine writes year 1 for "never"."""
    if not value or str(value).startswith("0001-"):
        return None
    return str(value)


def _pruned(data: dict[str, Any], key: str) -> PruneResult:
    deleted = data.get(key) or []
    if key == "ImagesDeleted":  # untagging a name is no image removed
        deleted = [d for d in deleted if isinstance(d, dict) and d.get("Deleted")]
    return PruneResult(len(deleted), int(data.get("SpaceReclaimed") or 0))


def _unreachable(exc: BaseException) -> EngineUnavailable:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if len(detail) > 160:
        detail = detail[:157] + "..."
    return EngineUnavailable(
        f"cannot reach the Docker engine ({detail}); start it or set DOCKER_HOST"
    )


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks (the export stream)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
            except Exception as exc:
                raise _unreachable(exc) from exc
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class _SocketExport(io.RawIOBase):
    """``GET /images/ID/get`` on a connection of its own, with its own read timeout."""

    def __init__(self, path: str, image_id: str, stall: float) -> None:
        self._what = image_id
        self._stall = stall
        self._conn = _UnixConnection(path, stall)
        url = f"/images/{urllib.parse.quote(image_id, safe=':')}/get"
        try:
            self._conn.request("GET", url)
            self._resp = self._conn.getresponse()
        except TimeoutError as exc:
            self._conn.close()
            raise self._stalled() from exc
        except (OSError, http.client.HTTPException) as exc:
            self._conn.close()
            raise _unreachable(exc) from exc
        if self._resp.status != 200:
            body = self._resp.read(4096)
            self._conn.close()
            if self._resp.status == 404:
                raise ImageNotFound(f"the engine has no image {image_id}")
            message = body.decode("utf-8", "replace").strip() or str(self._resp.status)
            raise EnvironmentProblem(f"the Docker engine refused to export {image_id}: {message}")

    def _stalled(self) -> EngineUnavailable:
        return EngineUnavailable(
            f"the Docker engine sent nothing for {self._stall:g} s while exporting "
            f"{self._what}; it may be overloaded: try again, or read the image another way"
        )

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            return self._resp.readinto(b)
        except TimeoutError as exc:
            raise self._stalled() from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _unreachable(exc) from exc

    def close(self) -> None:
        self._conn.close()
        super().close()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class _SocketClient:
    """JSON GETs over the local unix socket with the standard library.

    Importing docker-py costs ~0.25 s, half of the warm-path budget, and a scan whose
    layers are all cached needs only ``inspect``; docker-py is loaded for exports.
    """

    def __init__(self, path: str, timeout: float | None) -> None:
        self.path = path
        self._conn = _UnixConnection(path, timeout)

    def get(self, url: str) -> tuple[int, Any]:
        return self.request("GET", url)

    def raw(self, method: str, url: str, body: Any = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            try:
                self._conn.request(method, url, body=payload, headers=headers)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected) as exc:
                # The engine closes a keep-alive connection left idle (a long step between
                # two calls): the request never reached it, so one fresh connection retries.
                self._conn.close()
                self._conn = _UnixConnection(self.path, self._conn.timeout)
                if attempt == 2:
                    raise _unreachable(exc) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise _unreachable(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def request(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        status, data = self.raw(method, url, body)
        try:
            return status, (json.loads(data) if data else None)
        except ValueError:
            return status, None

    def close(self) -> None:
        self._conn.close()


def _local_socket() -> str | None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://") or os.environ.get("DOCKER_TLS_VERIFY"):
        return None
    return host[len("unix://") :]


class Engine:
    """A connected engine. Create with ``connect()``."""

    def __init__(self, client: Any = None, sock: _SocketClient | None = None) -> None:
        self._sdk = client
        self._sock = sock
        self._info: EngineInfo | None = None

    @property
    def _client(self) -> Any:
        if self._sdk is None:
            self._sdk = _sdk_client(_TIMEOUT)
        return self._sdk

    def _get(self, url: str, what: str) -> dict[str, Any]:
        assert self._sock is not None  # noqa: S101 - only called when the socket is set
        status, data = self._sock.get(url)
        if status == 404:
            raise ImageNotFound(f"the engine has no image {what}")
        if status == 400:
            raise BadInput(f"{what} is not a valid image reference")
        if status != 200 or not isinstance(data, dict):
            message = data.get("message") if isinstance(data, dict) else None
            raise EnvironmentProblem(f"the Docker engine refused {what}: {message or status}")
        return data

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import docker.errors
        import requests.exceptions

        try:
            return fn(*args, **kwargs)
        except docker.errors.ImageNotFound as exc:
            raise ImageNotFound(f"the engine has no image {what}") from exc
        except docker.errors.NotFound as exc:
            raise ImageNotFound(f"the engine has no {what}") from exc
        except docker.errors.APIError as exc:
            if exc.status_code == 400 and "invalid reference" in str(exc).lower():
                raise BadInput(f"{what} is not a valid image reference") from exc
            raise EnvironmentProblem(
                f"the Docker engine refused {what}: {exc.explanation}"
            ) from exc
        except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
            raise _unreachable(exc) from exc

    def info(self) -> EngineInfo:
        if self._info is None:
            if self._sock is not None:
                data = self._get("/info", "info")
            else:
                data = _dict(self._call("info", self._client.api.info))
            self._info = EngineInfo(
                str(data.get("ServerVersion") or ""),
                str(data.get("DockerRootDir") or "/var/lib/docker"),
            )
        return self._info

    def inspect_image(self, ref: str) -> EngineImage:
        if self._sock is not None:
            return _image(self._get(f"/images/{urllib.parse.quote(ref, safe='')}/json", repr(ref)))
        return _image(_dict(self._call(repr(ref), self._client.api.inspect_image, ref)))

    def raw_image(self, ref: str) -> dict[str, Any]:
        """``docker image inspect`` as the engine answers it, for a bug-report bundle: an
        opaque mapping, written as it is (its keys are read here only)."""
        if self._sock is not None:
            return self._get(f"/images/{urllib.parse.quote(ref, safe='')}/json", repr(ref))
        return _dict(self._call(repr(ref), self._client.api.inspect_image, ref))

    def _api(self, method: str, url: str, what: str) -> Any:
        """One engine API call returning JSON, over the socket or docker-py's session."""
        if self._sock is None:  # a TCP engine: docker-py's session and error types
            api = self._client.api

            def call() -> Any:
                send = api._get if method == "GET" else api._post
                return api._result(send(api._url(url)), json=True)

            return self._call(what, call)
        status, data = self._sock.request(method, url)
        if status == 404:
            raise ImageNotFound(f"the engine has no {what}")
        if status >= 300:
            message = data.get("message") if isinstance(data, dict) else None
            raise EnvironmentProblem(f"the Docker engine refused {what}: {message or status}")
        return data

    def build_cache(self) -> tuple[CacheRecord, ...]:
        """BuildKit's build cache records, as ``docker system df -v`` lists them."""
        # The engine runs one disk usage query at a time and refuses the others while it
        # does (409, "a disk usage operation is already running"): another imagecheck or
        # `docker system df` at the same moment is no reason to fail, so wait for it.
        delay, waited = 0.05, 0.0
        while True:
            try:
                data = self._api("GET", "/system/df", "the disk usage query")
            except EnvironmentProblem as exc:
                if "already running" not in str(exc) or waited >= _DF_PATIENCE:
                    raise
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, 1.0)
                continue
            return cache_records(_dict(data))

    def list_images(self, filters: dict[str, list[str]]) -> tuple[ImageRow, ...]:
        query = urllib.parse.quote(json.dumps(filters))
        data = self._api("GET", f"/images/json?all=1&filters={query}", "the image list")
        return (
            tuple(_image_row(row) for row in data if isinstance(row, dict))
            if isinstance(data, list)
            else ()
        )

    def prune_build_cache(self, filters: dict[str, list[str]], everything: bool) -> PruneResult:
        """``docker builder prune`` (``-a`` with ``everything``): BuildKit's cache."""
        query = urllib.parse.quote(json.dumps(filters))
        url = f"/build/prune?all={int(everything)}&filters={query}"
        return _pruned(_dict(self._api("POST", url, "the build cache prune")), "CachesDeleted")

    def prune_dangling_images(self) -> PruneResult:
        """``docker image prune``: the legacy builder's cache is its dangling images."""
        query = urllib.parse.quote(json.dumps({"dangling": ["true"]}))
        data = self._api("POST", f"/images/prune?filters={query}", "the image prune")
        return _pruned(_dict(data), "ImagesDeleted")

    def container_ids(self, labels: list[str]) -> tuple[str, ...]:
        """All containers (running or not) carrying every one of ``labels``."""
        query = urllib.parse.quote(json.dumps({"label": labels}))
        data = self._api("GET", f"/containers/json?all=1&filters={query}", "the container list")
        rows = data if isinstance(data, list) else []
        return tuple(str(row["Id"]) for row in rows if isinstance(row, dict))

    def _inspect_container(self, cid: str) -> dict[str, Any]:
        return _dict(self._api("GET", f"/containers/{cid}/json", f"container {cid[:12]}"))

    def raw_container(self, cid: str) -> dict[str, Any]:
        """``docker inspect`` of a container as the engine answers it (see ``raw_image``)."""
        return self._inspect_container(cid)

    def inspect_container(self, cid: str) -> ContainerState:
        return container_state(self._inspect_container(cid))

    def container_config(self, cid: str) -> ContainerConfig:
        info = self._inspect_container(cid)
        config = _dict(info.get("Config"))
        return ContainerConfig(
            id=str(info.get("Id", "")),
            name=str(info.get("Name", "")).lstrip("/"),
            image=str(config.get("Image") or ""),
            env=_strs(config.get("Env")),
            running=bool(_dict(info.get("State")).get("Running")),
        )

    def exec_run(
        self, cid: str, command: tuple[str, ...], env: tuple[str, ...] = (), timeout: float = 30
    ) -> ExecResult:
        """``docker exec`` of ``command`` in the running container ``cid``, as its own user,
        with ``env`` added; its exit code and output (each stream bounded)."""
        body = {
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": False,
            "Cmd": list(command),
            "Env": list(env),
        }
        what = f"an exec in container {cid[:12]}"
        if self._sock is None:
            api = self._client.api
            created = self._call(what, api.exec_create, cid, list(command), environment=list(env))
            out, err = self._call(what, api.exec_start, created["Id"], demux=True)
            code = self._call(what, api.exec_inspect, created["Id"]).get("ExitCode")
            text = [(b or b"").decode("utf-8", "replace") for b in (out, err)]
            return ExecResult(code, text[0], text[1])
        status, data = self._sock.request("POST", f"/containers/{cid}/exec", body)
        if status == 404:
            raise ImageNotFound(f"the engine has no container {cid[:12]}")
        if status != 201 or not isinstance(data, dict):
            message = data.get("message") if isinstance(data, dict) else status
            raise EnvironmentProblem(f"the Docker engine refused {what}: {message}")
        exec_id = str(data["Id"])
        stream = _UnixConnection(self._sock.path, timeout)
        out, err = bytearray(), bytearray()
        try:
            payload = json.dumps({"Detach": False, "Tty": False}).encode()
            headers = {"Content-Type": "application/json"}
            stream.request("POST", f"/exec/{exec_id}/start", body=payload, headers=headers)
            response = stream.getresponse()
            while True:  # frames: stream type, three zero bytes, size (big-endian), data
                header = response.read(8)
                if len(header) < 8:
                    break
                chunk = response.read(int.from_bytes(header[4:8], "big"))
                target = out if header[0] == 1 else err
                if len(target) < _EXEC_OUTPUT:
                    target += chunk[: _EXEC_OUTPUT - len(target)]
        except TimeoutError:
            out_text, err_text = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
            return ExecResult(None, out_text, err_text, timed_out=True)
        except (OSError, http.client.HTTPException) as exc:
            raise _unreachable(exc) from exc
        finally:
            stream.close()
        _, state = self._sock.request("GET", f"/exec/{exec_id}/json")
        code = state.get("ExitCode") if isinstance(state, dict) else None
        return ExecResult(
            int(code) if isinstance(code, int) else None,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
        )

    def container_logs(self, cid: str, tail: int) -> str:
        """The last ``tail`` lines of stdout and stderr, interleaved as written."""
        # Without a TTY the engine frames each write with its stream; with one, it cannot.
        tty = bool(_dict(self._inspect_container(cid).get("Config")).get("Tty"))
        url = f"/containers/{cid}/logs?stdout=1&stderr=1&timestamps=0&tail={tail}"
        if self._sock is not None:
            status, data = self._sock.raw("GET", url)
            if status == 404:
                raise ImageNotFound(f"the engine has no container {cid[:12]}")
        else:
            data = self._call(cid, self._client.api.logs, cid, tail=tail)
        if tty:
            return data.decode("utf-8", "replace")
        out, pos = bytearray(), 0
        while pos + 8 <= len(data):  # frames: stream, 3 zero bytes, size, payload
            size = int.from_bytes(data[pos + 4 : pos + 8], "big")
            out += data[pos + 8 : pos + 8 + size]
            pos += 8 + size
        return out.decode("utf-8", "replace")

    def export_image(self, image_id: str, stall: float = EXPORT_STALL) -> IO[bytes]:
        """``docker save`` of one image, as a stream (never written to disk); the engine
        may stay silent ``stall`` seconds at a time, not the 60 s of other calls."""
        if self._sock is not None:
            return io.BufferedReader(_SocketExport(self._sock.path, image_id, stall), 1 << 20)
        api = self._client.api
        before = api.timeout
        api.timeout = stall  # docker-py sets the read timeout when the request is sent
        try:
            chunks = self._call(image_id, api.get_image, image_id, chunk_size=1 << 20)
        finally:
            api.timeout = before
        return io.BufferedReader(_ChunkReader(iter(chunks)), 1 << 20)

    def run_throwaway(self, spec: Throwaway, on_line: Callable[[str], None]) -> ThrowawayResult:
        """Run ``spec`` and hand each stdout line to ``on_line`` as it comes.

        The container is removed whatever happens: success, failure, the timeout,
        Ctrl-C (KeyboardInterrupt) or an engine error.
        """
        if self._sock is not None:
            return _run_on_socket(self._sock.path, spec, on_line)
        return self._run_with_sdk(spec, on_line)

    def _run_with_sdk(self, spec: Throwaway, on_line: Callable[[str], None]) -> ThrowawayResult:
        """Engines reached over TCP/TLS: docker-py does the talking."""
        client = self._client
        kwargs: dict[str, Any] = {
            "entrypoint": list(spec.entrypoint),
            "command": list(spec.command),
            "network_mode": spec.network or "none",
            "environment": list(spec.environment),
            "security_opt": ["no-new-privileges"],
            "cap_drop": ["ALL"],
            "mem_limit": spec.mem_limit,
            "pids_limit": spec.pids_limit,
            "labels": dict(spec.labels),
            "detach": True,
        }
        if spec.user is not None:
            kwargs["user"] = spec.user
        container = self._call(spec.image, client.containers.create, spec.image, **kwargs)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            _remove_quietly(container)

        timer = threading.Timer(spec.timeout, kill)
        try:
            self._call(spec.image, container.start)
            timer.start()
            pending = b""
            logs = self._call(spec.image, container.logs, stream=True, follow=True, stderr=False)
            for chunk in logs:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    on_line(line.decode("utf-8", "replace"))
            if killed.is_set():
                return ThrowawayResult(None, True, False, "")
            status = self._call(spec.image, container.wait, timeout=30)
            state = self._call(spec.image, client.api.inspect_container, container.id)["State"]
            tail = self._call(spec.image, container.logs, stdout=False, stderr=True, tail=40)
            return ThrowawayResult(
                int(status.get("StatusCode", -1)),
                False,
                bool(state.get("OOMKilled")),
                tail.decode("utf-8", "replace"),
            )
        except EnvironmentProblem:
            if killed.is_set():
                return ThrowawayResult(None, True, False, "")
            raise
        finally:
            timer.cancel()
            if timer.is_alive():
                timer.join()  # a removal it started must finish before ours
            _remove_quietly(container)

    # --- throwaway services: a private network, a detached container, exec in it ----------

    def _send(self, method: str, url: str, what: str, body: Any = None) -> Any:
        """One call with a JSON body (POST) or none (DELETE), over either transport."""
        if self._sock is None:
            api = self._client.api

            def call() -> Any:
                if method == "DELETE":
                    response = api._delete(api._url(url))
                else:
                    response = api._post_json(api._url(url), data=body or {})
                api._raise_for_status(response)
                return response.json() if response.content else None

            return self._call(what, call)
        status, data = self._sock.request(method, url, body)
        if status == 404:
            raise ImageNotFound(f"the engine has no {what}")
        if status >= 300:
            message = data.get("message") if isinstance(data, dict) else None
            raise EnvironmentProblem(f"the Docker engine refused {what}: {message or status}")
        return data

    def create_network(self, name: str, labels: dict[str, str]) -> str:
        """An internal bridge network (no route out of it); its id."""
        body = {"Name": name, "Internal": True, "Labels": labels, "CheckDuplicate": True}
        data = _dict(self._send("POST", "/networks/create", f"the network {name}", body))
        return str(data.get("Id") or name)

    def remove_network(self, network: str) -> None:
        with contextlib.suppress(ImageNotFound):
            self._send("DELETE", f"/networks/{network}", f"the network {network[:12]}")

    def start_service(self, spec: Service) -> str:
        """Create and start a detached container of ``spec``; its id."""
        config: dict[str, Any] = {
            "Image": spec.image,
            "Env": list(spec.environment),
            "Labels": dict(spec.labels),
            "HostConfig": {
                "NetworkMode": spec.network,
                "Memory": memory_bytes(spec.mem_limit),
                "Tmpfs": dict.fromkeys(spec.tmpfs, ""),
            },
            "NetworkingConfig": {
                "EndpointsConfig": {spec.network: {"Aliases": list(spec.aliases)}}
            },
        }
        if spec.command:
            config["Cmd"] = list(spec.command)
        data = _dict(self._send("POST", "/containers/create", f"image {spec.image}", config))
        cid = str(data.get("Id"))
        try:
            self._send("POST", f"/containers/{cid}/start", f"container {cid[:12]}")
        except BaseException:
            self.remove_container(cid)
            raise
        return cid

    def remove_container(self, cid: str) -> None:
        """Force-remove a container and its anonymous volumes; gone already is fine."""
        with contextlib.suppress(ImageNotFound):
            self._send("DELETE", f"/containers/{cid}?force=1&v=1", f"container {cid[:12]}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        if self._sdk is not None:
            self._sdk.close()


@dataclass(frozen=True, slots=True)
class Throwaway:
    """A container run once and removed: locked down, no network, labelled."""

    image: str
    entrypoint: tuple[str, ...]
    command: tuple[str, ...]
    timeout: float  # the whole run; the container is killed after it
    mem_limit: str = "2g"
    pids_limit: int = 512
    labels: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # None: the image's USER
    network: str | None = None  # None: no network at all; else this (internal) network's name
    environment: tuple[str, ...] = ()  # "NAME=value"


@dataclass(frozen=True, slots=True)
class Service:
    """A detached container on a network (a throwaway database): removed by the caller."""

    image: str
    network: str
    aliases: tuple[str, ...] = ()  # names the other containers of the network reach it by
    environment: tuple[str, ...] = ()  # "NAME=value"
    command: tuple[str, ...] = ()  # empty: the image's CMD
    labels: dict[str, str] = field(default_factory=dict)
    mem_limit: str = "1g"
    tmpfs: tuple[str, ...] = ()  # folders kept in memory (a database's data: nothing on disk)


@dataclass(frozen=True, slots=True)
class ThrowawayResult:
    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    stderr_tail: str


def _remove_quietly(container: Any) -> None:
    """Remove in every case; an engine gone away by now cannot be helped."""
    import docker.errors
    import requests.exceptions

    with contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException):
        container.remove(force=True)


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def memory_bytes(text: str) -> int:
    """``2g``, ``512m``, ``1073741824``: docker's memory spelling, in bytes."""
    value = text.strip().lower()
    unit = value[-1] if value and value[-1] in "bkmg" else ""
    try:
        number = float(value[: len(value) - len(unit)])
    except ValueError:
        raise BadInput(f"{text!r} is not a memory size (like 2g or 512m)") from None
    return int(number * _UNITS[unit])


def _split_lines(pending: bytes, on_line: Callable[[str], None]) -> bytes:
    *lines, rest = pending.split(b"\n")
    for line in lines:
        on_line(line.decode("utf-8", "replace"))
    return rest


def _run_on_socket(path: str, spec: Throwaway, on_line: Callable[[str], None]) -> ThrowawayResult:
    """The engine API over the local socket with the standard library: no docker-py
    import (~0.25 s) and one round trip per step, which a smoke run feels."""
    api = _SocketClient(path, _TIMEOUT)
    config: dict[str, Any] = {
        "Image": spec.image,
        "Entrypoint": list(spec.entrypoint),
        "Cmd": list(spec.command),
        "Labels": dict(spec.labels),
        "Env": list(spec.environment),
        "NetworkDisabled": spec.network is None,
        "HostConfig": {
            "NetworkMode": spec.network or "none",
            "SecurityOpt": ["no-new-privileges"],
            "CapDrop": ["ALL"],
            "Memory": memory_bytes(spec.mem_limit),
            "PidsLimit": spec.pids_limit,
        },
    }
    if spec.user is not None:
        config["User"] = spec.user
    status, data = api.request("POST", "/containers/create", config)
    if status == 404:
        api.close()
        raise ImageNotFound(f"the engine has no image {spec.image}")
    if status != 201 or not isinstance(data, dict):
        api.close()
        message = data.get("message") if isinstance(data, dict) else status
        raise EnvironmentProblem(f"the Docker engine refused to create a container: {message}")
    cid = str(data["Id"])
    killed = threading.Event()

    def remove() -> None:
        with contextlib.suppress(EnvironmentProblem):
            _SocketClient(path, _TIMEOUT).request("DELETE", f"/containers/{cid}?force=1")

    def kill() -> None:
        killed.set()
        remove()

    timer = threading.Timer(spec.timeout, kill)
    stream = _UnixConnection(path, None)
    try:
        status, data = api.request("POST", f"/containers/{cid}/start")
        if status not in (204, 304):
            message = data.get("message") if isinstance(data, dict) else status
            raise EnvironmentProblem(f"the container did not start: {message}")
        timer.start()
        stream.request("GET", f"/containers/{cid}/logs?follow=1&stdout=1&stderr=1")
        response = stream.getresponse()
        exited = _close_after_exit(path, cid, stream)
        pending, stderr = b"", bytearray()
        while True:  # frames: stream type, three zero bytes, size (big-endian), data
            try:
                header = response.read(8)
                if len(header) < 8:
                    break
                chunk = response.read(int.from_bytes(header[4:8], "big"))
            except (OSError, http.client.HTTPException):
                if exited.is_set():
                    break  # the watcher ended a follow the engine kept open
                raise
            if header[0] == 1:
                pending = _split_lines(pending + chunk, on_line)
            else:
                stderr += chunk
                del stderr[: max(0, len(stderr) - 16384)]
        if killed.is_set():
            return ThrowawayResult(None, True, False, "")
        _, waited = api.request("POST", f"/containers/{cid}/wait")
        code = int(waited.get("StatusCode", -1)) if isinstance(waited, dict) else -1
        oom = False
        if code != 0:
            _, info = api.request("GET", f"/containers/{cid}/json")
            oom = bool(isinstance(info, dict) and info.get("State", {}).get("OOMKilled"))
        return ThrowawayResult(code, False, oom, stderr.decode("utf-8", "replace"))
    except (OSError, http.client.HTTPException, EnvironmentProblem) as exc:
        if killed.is_set():
            return ThrowawayResult(None, True, False, "")
        if isinstance(exc, EnvironmentProblem):
            raise
        raise _unreachable(exc) from exc
    finally:
        timer.cancel()
        if timer.is_alive():
            timer.join()  # a removal it started must finish before ours
        stream.close()
        remove()
        api.close()


_LOG_GRACE = 2.0  # seconds the log stream has to end by itself once the container exited


def _close_after_exit(path: str, cid: str, stream: _UnixConnection) -> threading.Event:
    """Watch the container exit (``/wait``), then, after a grace period, shut the log
    stream: dockerd 20.10 can keep a ``follow`` stream open after its container exited
    (seen with containers on a user network), and the read would wait for the timeout."""
    exited = threading.Event()

    def watch() -> None:
        with contextlib.suppress(EnvironmentProblem, OSError):
            _SocketClient(path, None).request("POST", f"/containers/{cid}/wait")
        time.sleep(_LOG_GRACE)
        exited.set()
        sock = stream.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    threading.Thread(target=watch, name=f"wait-{cid[:12]}", daemon=True).start()
    return exited


def connect(timeout: int = _TIMEOUT) -> Engine:
    """Connect to the engine named by ``DOCKER_HOST`` (or the default socket) and ping it."""
    path = _local_socket()
    if path is not None:
        sock = _SocketClient(path, timeout)
        status, _ = sock.get("/_ping")
        if status != 200:
            raise EngineUnavailable(f"the Docker engine at {path} answered {status} to a ping")
        return Engine(sock=sock)
    return Engine(_sdk_client(timeout))


def _sdk_client(timeout: int) -> Any:
    try:
        import docker
        import docker.errors
        import requests.exceptions
    except ImportError as exc:  # pragma: no cover - docker is a hard dependency
        raise EnvironmentProblem(f"the docker package is not installed: {exc}") from exc
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise _unreachable(exc) from exc
    return client


# --- a pipeline's one connection -------------------------------------------------------------


class Shared:
    """The one engine connection of a pipeline, dialled by the first step that needs it
    (each connect is a ping: a triage made four) and closed when the pipeline ends. A
    connection that failed is not dialled again: over TCP each try can wait for a timeout."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._failed: EngineUnavailable | None = None

    def get(self) -> Engine:
        if self._failed is not None:
            raise self._failed
        if self._engine is None:
            try:
                self._engine = connect()
            except EngineUnavailable as exc:
                self._failed = exc
                raise
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


@contextlib.contextmanager
def shared(given: Shared | None) -> Iterator[Shared]:
    """``given`` (a pipeline's, left open), else a connection of the caller's own, closed after."""
    if given is not None:
        yield given
        return
    own = Shared()
    try:
        yield own
    finally:
        own.close()


def prune_cache(record_ids: tuple[str, ...] | None) -> tuple[PruneResult, PruneResult]:
    """The build cache's and the images' results of a prune; callers ask first.
    ``record_ids``: BuildKit's records, ``docker builder prune -af --filter id=`` each,
    in order (a BuildKit image's stale chain, leaf first: the engine takes one id per
    prune); None: the legacy builder's cache, ``docker image prune -f``."""
    engine = connect()
    try:
        if record_ids is None:
            return PruneResult(0, 0), engine.prune_dangling_images()
        deleted = space = 0
        for rid in record_ids:
            one = engine.prune_build_cache({"id": [rid]}, everything=True)
            deleted, space = deleted + one.deleted, space + one.space
        return PruneResult(deleted, space), PruneResult(0, 0)
    finally:
        engine.close()


def has_image(ref: str) -> bool:
    """Whether an engine answers and knows ``ref`` (a bare word may be a service or an image)."""
    try:
        engine = connect()
    except EngineUnavailable:
        return False
    try:
        engine.inspect_image(ref)
    except (ImageNotFound, BadInput):
        return False
    finally:
        engine.close()
    return True
