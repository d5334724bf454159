"""The acceptance stack: ``imagecheck SERVICE`` must be right on a real, healthy project.

``stacks/fullstack`` is a repository shaped like the public FastAPI + SQLModel + alembic
+ PostgreSQL templates (full-stack-fastapi-template): ``compose.yaml`` and ``.env`` at
the root, ``backend/`` the build context (BuildKit Dockerfile, a venv in /app/.venv,
pinned ``requirements.txt``, the project ``app`` installed editable, alembic
revisions). Services: ``db`` (the ``postgres_image`` fixture, healthy by
``pg_isready``), ``prestart`` (waits for the database, ``alembic upgrade head``, exits
0) and ``backend`` (uvicorn, healthy by ``/health``). Nothing is wrong with it, so every
finding at warning or error severity imagecheck raises on it is a false alarm.

Fixtures, for later tests that break the stack on purpose (a model column with no
migration, two alembic heads, a stale import):

- ``fullstack_factory(edits, up=True) -> Stack``: copies the stack into a fresh temporary
  folder, applies ``edits`` (``{"backend/app/models.py": text}``; ``None`` deletes a
  file), puts the pinned wheels (downloaded on the host once, into
  ``~/.cache/imagecheck-test-wheels/fullstack``) in ``backend/wheels`` for the build's
  bind mount, builds the backend with BuildKit under a unique tag, and brings the
  project up under a unique name with ``docker-compose`` (v1), waiting (bounded) until
  db and backend are healthy and prestart exited 0 (``up=False``: only built, for an
  image the stack cannot start, e.g. two alembic heads). Module scoped: everything it made
  (containers, network, volume, tags) is removed at the end of the module.
- ``fullstack``: the stack as committed.
- ``in_stack``: ``fullstack`` with the working folder at its root and the variables its
  compose file needs (``DOCKER_IMAGE_BACKEND``, ``TAG``, ``POSTGRES_IMAGE``,
  ``COMPOSE_PROJECT_NAME``) in the environment, as a developer has them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import Options, inventory
from imagecheck.cli import main

from .conftest import LABEL, STACKS, WHEEL_CACHE, download_wheels

pytestmark = pytest.mark.engine

STACK = STACKS / "fullstack"
VENV = "/app/.venv/lib/python3.11/site-packages"
HEAD = "d98dd8ec85a3"  # the last alembic revision of backend/app/alembic/versions
DOCKER = "/usr/bin/docker"  # the CLI with BuildKit (/usr/local/bin/docker has no buildx)
COMPOSE = "/usr/bin/docker-compose"
UP_TIMEOUT = 180.0
IMAGECHECK = Path(sys.executable).parent / "imagecheck"

#: Labels every container, the network and the volume, without touching the stack's own
#: compose file (imagecheck reads that one, as a developer's checkout has it).
LABELS_FILE = """\
services:
  db:
    labels: {imagecheck.test: "1"}
  prestart:
    labels: {imagecheck.test: "1"}
  backend:
    labels: {imagecheck.test: "1"}
networks:
  default:
    labels: {imagecheck.test: "1"}
volumes:
  app-db-data:
    labels: {imagecheck.test: "1"}
"""

Edits = Mapping[str, str | None]
Factory = Callable[..., "Stack"]  # (edits, *, up=True) -> Stack


@dataclass(frozen=True, slots=True)
class Stack:
    """A running copy of the stack: compose project name, its root folder, its tags."""

    project: str
    root: Path
    backend_image: str  # repository:tag of the backend (and prestart) image
    env: tuple[tuple[str, str], ...]  # what its compose file interpolates

    def container(self, service: str) -> str:
        """compose v1's name of the service's one container."""
        return f"{self.project}_{service}_1"


def copy_stack(root: Path, edits: Mapping[str, str | None], wheels: Path) -> None:
    """The fullstack fixture copied to ``root`` with ``edits`` (a path's new text, or None
    to delete it) and the pinned wheels in ``backend/wheels``."""
    shutil.copytree(STACK, root)
    for rel, text in edits.items():
        path = root / rel
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    (root / "backend" / "wheels").mkdir()
    for wheel in wheels.glob("*.whl"):
        shutil.copy(wheel, root / "backend" / "wheels")


def build_backend_image(root: Path, tag: str) -> None:
    """``backend/`` of a copied stack built with BuildKit, as users build it, and labelled."""
    labels = [f"--label={k}={v}" for k, v in LABEL.items()]
    built = subprocess.run(
        [DOCKER, "build", *labels, "-t", tag, "backend"],
        cwd=root,
        env={**_clean_env(), "DOCKER_BUILDKIT": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"the backend did not build:\n{built.stderr[-3000:]}")


def _wheels() -> Path:
    """The pinned wheels of backend/requirements.txt, downloaded on the host once."""
    folder = WHEEL_CACHE / "fullstack"
    requirements = (STACK / "backend" / "requirements.txt").read_text()
    stamp = folder / "requirements.txt"
    if not stamp.is_file() or stamp.read_text() != requirements:
        download_wheels(folder, "-r", str(STACK / "backend" / "requirements.txt"))
        stamp.write_text(requirements)
    return folder


def _compose(stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """docker-compose on the stack (and the labels file), from its root."""
    return subprocess.run(
        [COMPOSE, "-p", stack.project, "-f", "compose.yaml", "-f", "../labels.yaml", *args],
        cwd=stack.root,
        env={**_clean_env(), **dict(stack.env)},
        capture_output=True,
        text=True,
        check=check,
    )


def _clean_env() -> dict[str, str]:
    """The environment without compose settings that would pick other files or names."""
    drop = {"COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "DOCKER_IMAGE_BACKEND", "TAG"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _state(client: Any, name: str) -> dict[str, Any]:
    state: dict[str, Any] = client.api.inspect_container(name)["State"]
    return state


def _wait_until_up(client: Any, stack: Stack) -> None:
    """Bounded: db and backend healthy, prestart exited 0; else fail with the logs."""
    deadline = time.monotonic() + UP_TIMEOUT
    seen = ""
    while time.monotonic() < deadline:
        try:
            db = _state(client, stack.container("db"))
            prestart = _state(client, stack.container("prestart"))
            backend = _state(client, stack.container("backend"))
        except Exception as exc:  # noqa: BLE001 (a container not created yet)
            seen = str(exc)
        else:
            if prestart["Status"] == "exited" and prestart["ExitCode"] != 0:
                break
            healthy = [s.get("Health", {}).get("Status") for s in (db, backend)]
            seen = f"db {healthy[0]}, prestart {prestart['Status']}, backend {healthy[1]}"
            if healthy == ["healthy", "healthy"] and prestart["Status"] == "exited":
                return
        time.sleep(1)
    logs = _compose(stack, "logs", "--no-color", "--tail", "60", check=False).stdout
    pytest.fail(f"the stack did not come up in {UP_TIMEOUT:.0f} s ({seen}):\n{logs}")


@pytest.fixture(scope="module")
def fullstack_factory(
    client: Any, postgres_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Factory]:
    """``fullstack_factory(edits, up=True) -> Stack``: a copy of the stack, edited, built
    and (``up``) up."""
    started: list[Stack] = []
    wheels = _wheels()

    def _make(edits: Edits, *, up: bool = True) -> Stack:
        base = tmp_path_factory.mktemp("fullstack")
        root = base / "stack"
        copy_stack(root, edits, wheels)
        (base / "labels.yaml").write_text(LABELS_FILE)
        key = uuid.uuid4().hex[:8]
        repository = "imagecheck-test/fullstack-backend"
        stack = Stack(
            project=f"icfullstack{key}",
            root=root,
            backend_image=f"{repository}:{key}",
            env=(
                ("DOCKER_IMAGE_BACKEND", repository),
                ("TAG", key),
                ("POSTGRES_IMAGE", postgres_image),
                ("COMPOSE_PROJECT_NAME", f"icfullstack{key}"),
            ),
        )
        build_backend_image(root, stack.backend_image)
        started.append(stack)
        if not up:
            return stack
        ran = _compose(stack, "up", "-d", "--no-build", check=False)
        if ran.returncode != 0:
            logs = _compose(stack, "logs", "--no-color", "--tail", "60", check=False).stdout
            pytest.fail(f"docker-compose up failed:\n{ran.stderr[-2000:]}\n{logs}")
        _wait_until_up(client, stack)
        return stack

    yield _make
    for stack in reversed(started):
        _compose(stack, "down", "-v", "--remove-orphans", check=False)
        subprocess.run([DOCKER, "rmi", stack.backend_image], capture_output=True, check=False)


@pytest.fixture(scope="module")
def fullstack(fullstack_factory: Factory) -> Stack:
    """The stack as committed, up and healthy."""
    return fullstack_factory({})


@pytest.fixture
def in_stack(
    fullstack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Stack:
    """``fullstack``, the working folder at its root, its variables in the environment."""
    for name in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in fullstack.env:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IMAGECHECK_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "iccache"))
    monkeypatch.chdir(fullstack.root)
    return fullstack


def _exec(client: Any, stack: Stack, service: str, command: list[str]) -> str:
    """Run ``command`` in the service's running container; its stdout (fails on exit != 0)."""
    code, (out, err) = client.containers.get(stack.container(service)).exec_run(command, demux=True)
    assert code == 0, (err or b"").decode()
    return (out or b"").decode()


def _json_run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """``imagecheck ARGS --format json`` in-process: its exit code and document."""
    code = main([*args, "--format", "json"])
    out, err = capsys.readouterr()
    assert out, f"exit {code}, no report; stderr: {err.strip()}"
    doc: dict[str, Any] = json.loads(out)
    return code, doc


def _alarms(doc: dict[str, Any]) -> list[str]:
    """Findings at warning or error severity, one line each (code, subject, message)."""
    return [
        f"{f['code']} {f['severity']} {f['subject']}: {f['message']}"
        for f in doc["findings"]
        if f["severity"] in {"warning", "error"}
    ]


def test_the_stack_is_really_healthy(in_stack: Stack, client: Any) -> None:
    """The baseline every other test relies on: the app answers and the schema is at head."""
    probe = "import urllib.request as u; r = u.urlopen('http://localhost:8000/health'); "
    probe += "print(r.status, r.read().decode())"
    assert _exec(client, in_stack, "backend", ["python", "-c", probe]).strip() == (
        '200 {"status":"ok"}'
    )
    assert f"{HEAD} (head)" in _exec(client, in_stack, "backend", ["alembic", "current"])
    # The revisions create exactly the models' tables: autogenerate finds nothing to add.
    _exec(client, in_stack, "backend", ["alembic", "check"])
    prestart = _state(client, in_stack.container("prestart"))
    assert (prestart["Status"], prestart["ExitCode"]) == ("exited", 0)


def test_the_inventory_is_exact(in_stack: Stack, client: Any, tmp_path: Path) -> None:
    """What imagecheck reads from the layers is what pip and dpkg say in the container."""
    inv = inventory(f"docker:{in_stack.backend_image}", Options(cache_dir=tmp_path))
    venv = {(d.name, d.version) for d in inv.python if d.environment == VENV and d.live}
    listed = json.loads(_exec(client, in_stack, "backend", ["pip", "list", "--format", "json"]))
    assert venv == {(d["name"], d["version"]) for d in listed}
    assert ("app", "0.1.0") in venv
    query = ["dpkg-query", "-W", "-f", "${db:Status-Status}\t${Package}\t${Version}\n"]
    rows = [line.split("\t") for line in _exec(client, in_stack, "backend", query).splitlines()]
    assert {(p.name, p.version) for p in inv.debian} == {
        (name, version) for status, name, version in rows if status == "installed"
    }


@pytest.mark.parametrize("service", ["backend", "prestart", "db"])
def test_each_service_is_clean(
    in_stack: Stack, service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``imagecheck triage SERVICE`` on a healthy stack: exit 0, no warning or error."""
    code, doc = _json_run(["triage", service], capsys)
    assert (doc["triage"]["project"], doc["triage"]["service"]) == (in_stack.project, service)
    assert _alarms(doc) == []
    assert code == 0
    if service != "db":  # the container runs what its tag names: the report says the tag
        assert doc["triage"]["image_ref"] == in_stack.backend_image
        assert doc["triage"]["image_source"] == "container"
        # the application was imported with the service's own env_file: and environment:
        assert doc["smoke"]["environment_from"] == [f"compose service {service!r}"]


@pytest.mark.parametrize("service", ["backend", "prestart", "db"])
def test_the_bare_service_name_is_the_compose_service(
    in_stack: Stack, service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``imagecheck backend`` at the root, beside the ``backend/`` build context: the
    service is triaged (the folder is not read as an image), and it is clean."""
    assert (in_stack.root / "backend").is_dir()  # the build context, beside compose.yaml
    code, doc = _json_run([service], capsys)
    assert "triage" in doc, "not triaged as a compose service"
    assert (doc["triage"]["project"], doc["triage"]["service"]) == (in_stack.project, service)
    assert _alarms(doc) == []
    assert code == 0


def test_imagecheck_backend_as_a_developer_runs_it(in_stack: Stack) -> None:
    """The installed command, in a subprocess, from the stack's root."""
    run = subprocess.run(
        [str(IMAGECHECK), "backend", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr.strip()}\n{run.stdout}"
    assert _alarms(json.loads(run.stdout)) == []


def test_the_editable_project_is_no_unpinned_dependency(
    in_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against the pinned requirements, the project itself (``pip install -e .``) is not
    an IC103, and the smoke test imports its package ``app``."""
    code, doc = _json_run(["triage", "backend", "-c", "backend/requirements.txt"], capsys)
    pins = next(c for c in doc["checks"] if c["name"] == "pins")
    assert pins["status"] != "skipped", pins["reason"]
    unpinned = [f["subject"] for f in doc["findings"] if f["code"] == "IC103"]
    assert "app" not in unpinned
    imported = {
        r["name"]: (r["distribution"], r["status"])
        for r in doc["smoke"]["results"]
        if r["kind"] == "import"
    }
    assert imported.get("app") == ("app", "ok"), doc["smoke"]
    assert _alarms(doc) == []
    assert code == 0
