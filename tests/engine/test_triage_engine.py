"""``imagecheck SERVICE`` against the real engine: a container that really crashloops on a
known failure (passlib with bcrypt 5), a service with only ``build:`` and no container, and
a typo. Every container and tag made here is removed by the fixtures' finalisers."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import Options, triage
from imagecheck.cli import main
from imagecheck.engine import connect
from imagecheck.host import compose_command
from imagecheck.smoke.run import SmokeOptions
from tests.helpers import validate

from .conftest import LABEL, WHEELS, Builder, _wheel
from .test_broken_images import HARMLESS

pytestmark = pytest.mark.engine

#: test_broken_images' passlib image, with bcrypt 5 and an app that hashes at start.
CRASH = HARMLESS.replace("bcrypt==4.3.0", "bcrypt==5.0.0").replace(
    'CMD ["python3"]', 'COPY app.py /app/app.py\nCMD ["python3", "/app/app.py"]'
)
APP = """\
from passlib.context import CryptContext

print("seeding the admin user", flush=True)
CryptContext(schemes=["bcrypt"]).hash("s3cret")
"""


@pytest.fixture(scope="module")
def crash_image(build: Builder) -> str:
    """passlib 1.7.4 with bcrypt 5: every hash fails with the 72-bytes ValueError."""
    return build("triage-crash", CRASH, ["passlib", "bcrypt5"], files={"app.py": APP})


@pytest.fixture
def compose_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A fresh project name and its folder, the working folder for the test."""
    name = f"ictriage{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    monkeypatch.chdir(tmp_path)
    return name, tmp_path


def _one_service(compose_project: tuple[str, Path], service: str, image: str) -> str:
    """compose.yaml naming one service of ``image``; the project's name."""
    project, folder = compose_project
    (folder / "compose.yaml").write_text(
        f"name: {project}\nservices:\n  {service}:\n    image: {image}\n"
    )
    return project


def _service_container(
    client: Any, image: str, project: str, service: str = "backend", **kwargs: Any
) -> Any:
    """A container of ``image`` labelled as compose labels service ``service``'s."""
    return client.containers.run(
        image,
        detach=True,
        labels={
            **LABEL,
            "com.docker.compose.project": project,
            "com.docker.compose.service": service,
        },
        network_disabled=True,
        **kwargs,
    )


def _run_as_service(client: Any, image: str, project: str, last_words: bytes) -> Any:
    """Run ``image`` as compose runs service ``backend`` with ``restart: always``, and
    return once it has crashed, logged ``last_words`` and restarted at least once."""
    container = _service_container(
        client, image, project, name=f"{project}-backend-1", restart_policy={"Name": "always"}
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        container.reload()
        # Restarted, and the whole of the first run's output is in the log (the log is
        # copied asynchronously: a traceback can be read half written).
        if container.attrs["RestartCount"] >= 1 and last_words in container.logs():
            return container
        time.sleep(0.3)
    container.remove(force=True)
    pytest.fail("the container never restarted")


@pytest.fixture
def crashlooping(
    client: Any, crash_image: str, compose_project: tuple[str, Path]
) -> Iterator[tuple[str, Path]]:
    """The crash image run as compose would run service ``backend``, restarting always;
    returned once it has crashed and restarted at least once."""
    project, folder = compose_project
    (folder / "compose.yaml").write_text(
        f"name: {project}\nservices:\n  backend:\n    image: {crash_image}\n    build: .\n"
        "  redis:\n    image: redis:7\n"
    )
    container = _run_as_service(client, crash_image, project, b"truncate manually if necessary")
    try:
        yield project, folder
    finally:
        container.remove(force=True)


@pytest.fixture
def tag_base(client: Any, base_image: str) -> Iterator[Callable[[str], str]]:
    """``tag_base(repository) -> "repository:latest"``: the base image under another name
    (an image compose would have built or pulled), untagged at the end."""
    tags: list[str] = []

    def _tag(repository: str) -> str:
        client.images.get(base_image).tag(repository, "latest")
        tags.append(f"{repository}:latest")
        return tags[-1]

    yield _tag
    for tag in tags:
        client.images.remove(tag)


def test_a_crashlooping_service_is_diagnosed(
    crashlooping: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project, _ = crashlooping
    code = main(["backend", "--format", "json", "--no-smoke", "--no-cache"])
    out, err = capsys.readouterr()
    assert code == 1, err
    doc = json.loads(out)
    validate(doc, "report")
    triage = doc["triage"]
    assert (triage["project"], triage["service"], triage["status"]) == (
        project,
        "backend",
        "crashlooping",
    )
    assert triage["image_source"] == "container"
    assert triage["containers"][0]["restart_count"] >= 1
    diagnosis = triage["diagnosis"]
    assert diagnosis["failure_id"] == "bcrypt-72-bytes", triage["log_tail"]  # not the __about__
    assert diagnosis["evidence"].startswith("ValueError: password cannot be longer than 72 bytes")
    assert "(trapped) error reading bcrypt version" in triage["log_tail"]
    codes = {f["code"] for f in doc["findings"]}
    assert {"IC701", "IC302"} <= codes  # the crash and the static check agree
    assert doc["image"]["id"] == triage["containers"][0]["image_id"]
    assert triage["commands"] == [
        "docker compose build --no-cache backend",
        "docker compose up -d --force-recreate backend",
    ]


def test_the_verdict_comes_first_with_smoke_tests(
    crashlooping: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backend", "--no-cache"])
    out, _ = capsys.readouterr()
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("CRASHLOOPING backend")
    assert "bcrypt 5 breaks passlib's bcrypt hashing" in out
    assert "logs: ValueError: password cannot be longer than 72 bytes" in out
    assert "IC302" in out.split("run:")[0]  # the static finding is evidence in the verdict
    assert "IC505" in out  # and the smoke probe fails the same way
    assert f"{compose_command()} build --no-cache backend" in out  # as this host spells it


def test_a_triage_connects_to_the_engine_once(
    crashlooping: tuple[str, Path], engine_connections: list[Any]
) -> None:
    """gather, the inventory, the staleness checks and the smoke run share one engine
    connection: each connect is a ping, and a pipeline once made four."""
    report = triage("backend", Options(use_cache=False), smoke=SmokeOptions(probes=False))
    assert report.triage is not None
    assert report.triage.status == "crashlooping"
    assert report.smoke is not None
    assert report.smoke.status == "ran"
    assert len(engine_connections) == 1


@pytest.mark.parametrize(
    "naming", [("-", "compose v2 name"), ("_", "compose v1 name")], ids=["v2", "v1"]
)
def test_a_build_only_service_without_container(
    tag_base: Callable[[str], str],
    compose_project: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    naming: tuple[str, str],
) -> None:
    """No container and no image: the default name compose gave the build is checked."""
    separator, source = naming
    _, folder = compose_project
    (folder / "compose.yaml").write_text("services:\n  backend:\n    build: .\n")
    repository = f"{folder.name.lower()}{separator}backend"
    tag_base(repository)
    code = main(["backend", "--format", "json", "--no-smoke", "--no-cache"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    validate(doc, "report")
    triage = doc["triage"]
    assert (triage["status"], triage["image_source"]) == ("no-container", source)
    assert triage["image_ref"] == f"{repository}:latest"
    assert triage["build_context"] == str(folder)
    assert [f["code"] for f in doc["findings"] if f["code"].startswith("IC7")] == ["IC706"]
    assert code == 0, err


def test_a_typo_lists_the_services(
    crashlooping: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backnd"]) == 2
    err = capsys.readouterr().err
    assert "no service 'backnd' in compose.yaml (services: backend, redis)" in err


def test_an_oom_killed_service(
    client: Any,
    base_image: str,
    compose_project: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The kernel's kill is in the state, not the logs: IC703."""
    project = _one_service(compose_project, "worker", base_image)
    container = _service_container(
        client,
        base_image,
        project,
        "worker",
        command=["python3", "-c", "b = bytearray(400_000_000)"],
        mem_limit="32m",
        memswap_limit="32m",
    )
    try:
        container.wait(timeout=60)
        code = main(["worker", "--format", "json", "--no-smoke", "--no-cache"])
    finally:
        container.remove(force=True)
    doc = json.loads(capsys.readouterr().out)
    triage = doc["triage"]
    assert triage["status"] == "exited"
    assert triage["containers"][0]["oom_killed"] is True
    assert (triage["diagnosis"]["failure_id"], triage["diagnosis"]["source"]) == (
        "oom-killed",
        "state",
    )
    assert [f["code"] for f in doc["findings"] if f["code"].startswith("IC7")] == ["IC703"]
    assert code == 1


def test_a_container_older_than_its_tag(
    tag_base: Callable[[str], str],
    crashlooping: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The tag was rebuilt (here: points to the base image) but the container not recreated;
    the report says what changed between the two."""
    project, folder = crashlooping
    tag = tag_base(f"{project}-backend")
    (folder / "compose.yaml").write_text(
        f"name: {project}\nservices:\n  backend:\n    image: {tag}\n    build: .\n"
    )
    main(["backend", "--format", "json", "--no-smoke", "--no-cache"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["triage"]["newer_image"] == tag
    assert doc["triage"]["image_source"] == "container"  # what crashes is what is checked
    # what changed from what runs to what the tag names: passlib and bcrypt gone
    validate(doc, "report")
    changes = doc["triage"]["changes"]
    assert tag in doc["triage"]["changes_why"]
    assert changes["new"]["ref"] == tag
    assert {(c["name"], c["change"]) for c in changes["python"]} == {
        ("bcrypt", "removed"),
        ("passlib", "removed"),
    }
    assert "IC709" in {f["code"] for f in doc["findings"]}
    assert "docker compose up -d --force-recreate backend" in doc["triage"]["commands"]


STORY = """\
FROM BASE
RUN apt-get update && apt-get install -y --no-install-recommends libexpat1 \\
    && rm -rf /var/lib/apt/lists/*
COPY wheels /wheels
RUN pip install --no-index --find-links /wheels --break-system-packages python-magic
COPY app.py /app/app.py
CMD ["python3", "/app/app.py"]
"""


def _cache_records() -> tuple[Any, ...]:
    engine = connect()
    try:
        return engine.build_cache()
    finally:
        engine.close()


STORY_APP = 'import magic\n\nprint(magic.from_buffer(b"%PDF-1.4"))\n'


def test_the_founding_crashloop_libmagic_and_a_stale_apt_layer(
    client: Any,
    base_image: str,
    any_builder: Callable[[Path, str], str],
    compose_project: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The Dockerfile lists libmagic1, the image lacks it (built before the line changed,
    as a stale cached layer leaves it): the logs say why it crashes, the staleness
    checks say why the image is like that, and the commands rebuild, the way the image's
    own builder wants it: a legacy image only without the cache (a BuildKit prune does
    nothing for it), a BuildKit image after the exact prune of its own apt record, with
    DOCKER_BUILDKIT=1 (this engine's default builder is the legacy one)."""
    project, folder = compose_project
    (folder / "wheels").mkdir()
    shutil.copy(_wheel(WHEELS["magic"]), folder / "wheels")
    (folder / "app.py").write_text(STORY_APP)
    (folder / "Dockerfile").write_text(STORY.replace("BASE", base_image))
    tag = any_builder(folder, "triage-story")
    builder = "buildkit" if "-kit:" in tag else "legacy"
    dockerfile = (folder / "Dockerfile").read_text()
    (folder / "Dockerfile").write_text(dockerfile.replace("libexpat1 ", "libexpat1 libmagic1 "))
    (folder / "compose.yaml").write_text(
        f"name: {project}\nservices:\n  backend:\n    image: {tag}\n    build: .\n"
    )
    container = _run_as_service(client, tag, project, b"failed to find libmagic")
    try:
        code = main(["backend", "--format", "json", "--no-smoke"])
        out, err = capsys.readouterr()
        main(["backend", "--no-smoke"])  # the terminal: the commands as this host runs them
        terminal = " ".join(capsys.readouterr().out.split())
    finally:
        container.remove(force=True)
    assert code == 1, err
    doc = json.loads(out)
    validate(doc, "report")
    assert doc["triage"]["status"] == "crashlooping"
    assert doc["triage"]["diagnosis"]["failure_id"] == "libmagic"
    assert "failed to find libmagic" in doc["triage"]["diagnosis"]["evidence"]
    codes = {f["code"]: f for f in doc["findings"]}
    assert codes["IC603"]["subject"] == "libmagic1"
    assert "libmagic1" in codes["IC601"]["message"]
    assert doc["stale"]["status"] == "stale"
    assert doc["stale"]["how"].startswith("compose service 'backend'")
    rebuild = "docker compose build --no-cache backend"  # JSON: every host's spelling
    assert doc["stale"]["commands"][-1] == rebuild
    commands = doc["triage"]["commands"]
    here = f"{compose_command()} build --no-cache backend"
    if builder == "legacy":
        assert commands[0] == rebuild
        assert "builder prune" not in " ".join(commands)
        assert f"$ {here}" in terminal
        assert "DOCKER_BUILDKIT" not in terminal
        return
    prune = commands[0]
    assert prune.startswith("docker builder prune -af --filter id=")
    assert commands.index(prune) < commands.index(rebuild)
    assert prune in codes["IC603"]["hint"]
    # the id is of the record that holds this image's apt layer, and no other's
    apt = next(r for r in _cache_records() if r.id == prune.rpartition("id=")[2].split()[0])
    assert "libexpat1" in apt.description
    # this engine (20.10) builds with the legacy builder by default: the rebuild says BuildKit
    assert f"$ DOCKER_BUILDKIT=1 {here}" in terminal


def test_a_running_but_unhealthy_service(
    client: Any,
    base_image: str,
    compose_project: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _one_service(compose_project, "backend", base_image)
    container = _service_container(
        client,
        base_image,
        project,
        command=["sleep", "60"],
        name=f"{project}-backend-1",
        healthcheck={
            "test": ["CMD-SHELL", "echo 'connection refused on :8000'; exit 1"],
            "interval": 300_000_000,
            "retries": 1,
        },
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            container.reload()
            if container.attrs["State"].get("Health", {}).get("Status") == "unhealthy":
                break
            time.sleep(0.2)
        code = main(["backend", "--format", "json", "--no-smoke"])
        out, _ = capsys.readouterr()
    finally:
        container.remove(force=True)
    doc = json.loads(out)
    validate(doc, "report")
    assert code == 1
    (unhealthy,) = [f for f in doc["findings"] if f["code"] == "IC710"]
    assert "connection refused on :8000" in unhealthy["message"]
    assert doc["triage"]["containers"][0]["health"] == "unhealthy"
    assert doc["triage"]["containers"][0]["failing_streak"] >= 1


# --- a healthy FastAPI + alembic + PostgreSQL stack, run by docker-compose v1 ---------------

STACK = """\
version: "3.9"
services:
  db:
    image: {postgres}
    labels: {{imagecheck.test: "1"}}
    environment: {{POSTGRES_USER: app, POSTGRES_PASSWORD: secret, POSTGRES_DB: app}}
    healthcheck:
      # over TCP: the entrypoint's first, socket-only server must not count as ready
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "app", "-d", "app"]
      interval: 1s
      retries: 60
  prestart:
    image: {app}
    labels: {{imagecheck.test: "1"}}
    command: ["python3", "/app/prestart.py"]
    environment: {{DATABASE_URL: "postgresql://app:secret@db/app"}}
    depends_on:
      db: {{condition: service_healthy}}
  backend:
    image: {app}
    labels: {{imagecheck.test: "1"}}
    restart: always
    environment: {{DATABASE_URL: "postgresql://app:secret@db/app", BAD_QUERY: "{bad_query}"}}
    depends_on:
      db: {{condition: service_healthy}}
      prestart: {{condition: service_completed_successfully}}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
"""
COMPOSE_V1 = "/usr/bin/docker-compose"


@pytest.fixture(scope="module")
def app_image(
    build_dir: Callable[[Path, str], str], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """stacks/fastapi: psycopg2, an app logging as uvicorn does, a prestart 'migration'."""
    context = tmp_path_factory.mktemp("fastapi")
    shutil.copytree(Path(__file__).parent / "stacks" / "fastapi", context, dirs_exist_ok=True)
    (context / "wheels").mkdir()
    shutil.copy(_wheel("psycopg2-binary==2.9.10"), context / "wheels")
    return build_dir(context, "triage-fastapi")


def _compose(project: str, folder: Path, *args: str) -> None:
    subprocess.run([COMPOSE_V1, "-p", project, *args], cwd=folder, check=True, capture_output=True)


def _up_until(
    client: Any, project: str, folder: Path, ready: Callable[[Any], bool], seconds: float
) -> None:
    """``up -d`` the stack; return once ``ready(backend container)``, else fail."""
    _compose(project, folder, "up", "-d")
    backend = client.containers.get(f"{project}_backend_1")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        backend.reload()
        if ready(backend):
            return
        time.sleep(0.3)
    pytest.fail(f"backend never got ready: {backend.status} {backend.logs()!r}")


def _stack(
    client: Any,
    compose_project: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    *,
    images: tuple[str, str],
    bad_query: str,
) -> Iterator[tuple[str, Path]]:
    """``up -d`` the stack; yield once backend is healthy (and, with a bad query, has
    logged it); ``down -v`` at the end."""
    project, folder = compose_project
    (folder / "docker-compose.yml").write_text(
        STACK.format(postgres=images[0], app=images[1], bad_query=bad_query)
    )
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", project)

    def ready(backend: Any) -> bool:
        healthy = backend.attrs["State"].get("Health", {}).get("Status") == "healthy"
        return healthy and (not bad_query or b"LINE 1:" in backend.logs())

    try:
        _up_until(client, project, folder, ready, 90)
        yield project, folder
    finally:
        _compose(project, folder, "down", "-v")


@pytest.fixture
def healthy_stack(
    client: Any,
    compose_project: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    postgres_image: str,
    app_image: str,
) -> Iterator[tuple[str, Path]]:
    yield from _stack(
        client, compose_project, monkeypatch, images=(postgres_image, app_image), bad_query=""
    )


@pytest.fixture
def bad_query_stack(
    client: Any,
    compose_project: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    postgres_image: str,
    app_image: str,
) -> Iterator[tuple[str, Path]]:
    """The backend queries a column the migrations never made (and goes on serving)."""
    yield from _stack(
        client, compose_project, monkeypatch, images=(postgres_image, app_image), bad_query="1"
    )


def _triage(service: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main([service, "--format", "json", "--no-smoke", "--no-cache"])
    out, _ = capsys.readouterr()
    doc: dict[str, Any] = json.loads(out)
    validate(doc, "report")
    return code, doc


def test_a_healthy_stack_exits_0(
    healthy_stack: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Logs at INFO through the logger ``uvicorn.error``, a one-shot ``prestart`` that exited
    0, a healthy database: no finding of the triage, no command, exit code 0."""
    statuses = {}
    for service in ("backend", "db", "prestart"):
        code, doc = _triage(service, capsys)
        triage = doc["triage"]
        statuses[service] = triage["status"]
        assert triage["diagnosis"] is None, triage["log_tail"]
        assert [f for f in doc["findings"] if f["code"].startswith("IC7")] == []
        assert triage["commands"] == []
        assert code == 0, (service, doc["findings"])
    assert statuses == {"backend": "running", "db": "running", "prestart": "completed"}


def test_a_bad_query_is_the_clients_failure_not_the_databases(
    bad_query_stack: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL logs the backend's query of a missing column: the database, healthy,
    has no error; the backend's diagnosis quotes what the database logged."""
    code, doc = _triage("db", capsys)
    assert 'ERROR:  column "priority" does not exist' in doc["triage"]["log_tail"]
    assert doc["triage"]["diagnosis"] is None
    assert [f for f in doc["findings"] if f["code"].startswith("IC7")] == []
    assert doc["triage"]["commands"] == []
    assert code == 0
    code, doc = _triage("backend", capsys)
    diagnosis = doc["triage"]["diagnosis"]
    assert diagnosis["failure_id"] == "db-behind-models"
    assert (
        diagnosis["evidence"] == 'psycopg2.errors.UndefinedColumn: column "priority" does not exist'
    )
    assert diagnosis["related"] == [
        (
            'db logged: ERROR:  column "priority" does not exist at character 19 '
            "(STATEMENT:  SELECT id, title, priority FROM item)"
        )
    ]
    (warning,) = [f for f in doc["findings"] if f["code"].startswith("IC7")]
    assert warning["code"] == "IC704"
    assert 'db logged: ERROR:  column "priority" does not exist' in warning["message"]
    assert code == 0  # a warning: the service serves


def test_the_header_says_which_run_it_describes(
    client: Any,
    base_image: str,
    compose_project: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run 1 exits 3, run 2 serves: the engine's ExitCode is now 0 (the running run's),
    which says nothing about run 1."""
    project = _one_service(compose_project, "backend", base_image)
    script = "if [ -e /ran ]; then exec sleep 300; fi; touch /ran; echo boom >&2; exit 3"
    container = _service_container(
        client,
        base_image,
        project,
        command=["sh", "-c", script],
        name=f"{project}-backend-1",
        restart_policy={"Name": "always"},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            container.reload()
            if container.attrs["RestartCount"] >= 1 and container.status == "running":
                break
            time.sleep(0.2)
        code, doc = _triage("backend", capsys)
    finally:
        container.remove(force=True)
    triage = doc["triage"]
    assert triage["status"] == "crashlooping"
    assert "exit code 0" not in triage["reason"]
    assert ": run 2 since " in triage["reason"], triage["reason"]
    assert ", after 1 restart(s); run 1 ended at " in triage["reason"]
    assert code == 1


# --- `fastapi run`: typer's rich traceback box, the exception line wrapped at 80 columns ---

FASTAPI_WHEELS = (
    "fastapi==0.115.6",
    "fastapi-cli==0.0.7",
    "typer==0.15.1",
    "click==8.1.8",
    "uvicorn==0.34.0",
    "starlette==0.41.3",
    "pydantic==2.10.4",
    "pydantic-core==2.27.2",
    "anyio==4.8.0",
    "sniffio==1.3.1",
    "idna==3.7",
    "h11==0.14.0",
    "annotated-types==0.7.0",
    "shellingham==1.5.4",
    "rich-toolkit==0.12.0",
    "rich==13.9.4",
    "markdown-it-py==3.0.0",
    "mdurl==0.1.2",
    "pygments==2.18.0",
    "sqlalchemy==2.0.36",
    "typing-extensions==4.12.2",
    "greenlet==3.1.1",
)
FASTAPI_RUN = """\
FROM BASE
LABEL imagecheck.test=1
COPY wheels /wheels
RUN pip install --no-index --no-deps --break-system-packages /wheels/*.whl && rm -rf /wheels
COPY app /app/app
WORKDIR /app
CMD ["fastapi", "run", "app/main.py"]
"""
METADATA_APP = """\
from fastapi import FastAPI
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
    metadata: Mapped[str]


app = FastAPI()
"""


@pytest.fixture(scope="module")
def fastapi_run_image(
    base_image: str,
    build_dir: Callable[[Path, str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """``fastapi run`` of an app whose model defines ``metadata``: it crashes at import."""
    context = tmp_path_factory.mktemp("fastapi-run")
    (context / "wheels").mkdir()
    for spec in FASTAPI_WHEELS:
        shutil.copy(_wheel(spec), context / "wheels")
    (context / "app").mkdir()
    (context / "app" / "main.py").write_text(METADATA_APP)
    (context / "Dockerfile").write_text(FASTAPI_RUN.replace("BASE", base_image))
    return build_dir(context, "triage-fastapi-run")


def test_fastapi_runs_rich_traceback_is_quoted_whole(
    client: Any,
    fastapi_run_image: str,
    compose_project: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``fastapi run`` prints typer's rich box; rich wraps the exception line under it at
    the width of the box: the evidence is the whole line, not "...when using the"."""
    project = _one_service(compose_project, "backend", fastapi_run_image)
    container = _run_as_service(client, fastapi_run_image, project, b"Declarative API.")
    try:
        code, doc = _triage("backend", capsys)
    finally:
        container.remove(force=True)
    diagnosis = doc["triage"]["diagnosis"]
    assert diagnosis["failure_id"] == "sqlalchemy-metadata-reserved"
    assert diagnosis["evidence"] == (
        "InvalidRequestError: Attribute name 'metadata' is reserved when using the Declarative API."
    )
    assert "│ ╰─" in doc["triage"]["log_tail"]  # the box, as rich drew it
    (crash,) = [f for f in doc["findings"] if f["code"].startswith("IC7")]
    assert crash["code"] == "IC701"
    assert crash["message"].endswith("reserved when using the Declarative API.")
    assert code == 1


def test_what_changed_since_the_image_that_worked(
    build: Builder,
    crashlooping: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--since`` the passlib image with bcrypt 4.3 (which worked): bcrypt went to 5, CMD
    and the app's file came; the triage report's data carries it, the text says it."""
    worked = build("triage-worked", HARMLESS, ["passlib", "bcrypt43"])
    args = ["backend", "--since", f"docker:{worked}", "--no-smoke", "--no-cache"]
    main([*args, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "report")
    triage_doc = doc["triage"]
    assert triage_doc["changes_why"] == f"--since docker:{worked}"
    changes = triage_doc["changes"]
    validate({"schema_version": 1, "tool": doc["tool"]} | changes, "diff")
    assert [(c["name"], c["change"], c["new_version"]) for c in changes["python"]] == [
        ("bcrypt", "upgraded", "5.0.0"),
    ]
    assert changes["config"][0]["field"] == "cmd"
    assert [f["path"] for f in changes["files"]] == ["/app/app.py"]
    main(args)
    text = capsys.readouterr().out
    assert f"changed: --since docker:{worked}" in text
    assert "Python: bcrypt 4.3.0 → 5.0.0" in text
    assert main(["backend", "--since", "docker:imagecheck-test/none:gone", "--no-smoke"]) == 2
