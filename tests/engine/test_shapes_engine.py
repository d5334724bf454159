"""The migration check on the shapes real projects have, against real PostgreSQL and SQLite.

``stacks/shapes/pg``: three declarative bases in three packages (``DeclarativeBase``,
``declarative_base()``, SQLModel) listed in ``target_metadata``, a table in the ``billing``
schema with ``include_schemas=True``, the version table ``meta.schema_versions``, and a
mapped view env.py's ``include_object`` leaves out. ``stacks/shapes/sqlite``: alembic.ini's
URL names a SQLite file the image ships. Each shape has its healthy twin (no finding) and
one planted mismatch; the images are built with BuildKit from the real SQLAlchemy 2,
SQLModel and alembic wheels, and each run leaves nothing in the engine.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import inventory
from imagecheck.app import read_database, version_table
from imagecheck.engine import connect

from ..helpers import validate
from .conftest import LABEL, STACKS, Leftovers
from .test_fullstack_engine import COMPOSE, _clean_env, _json_run, _wheels

pytestmark = pytest.mark.engine

SHAPES = STACKS / "shapes"
Build = Callable[[str, Mapping[str, str]], str]
Run = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture(scope="module")
def build(build_kit: Callable[[Path, str], str], tmp_path_factory: pytest.TempPathFactory) -> Build:
    """``build(shape, edits) -> tag``: ``stacks/shapes/SHAPE`` with ``edits`` (a path under
    its ``app/`` and the file's new text), built with the pinned wheels bind-mounted."""
    wheels = _wheels()

    def _build(shape: str, edits: Mapping[str, str]) -> str:
        root = tmp_path_factory.mktemp(shape) / "context"
        shutil.copytree(SHAPES / shape, root)
        for rel, text in edits.items():
            (root / "app" / rel).write_text(text)
        (root / "wheels").mkdir()
        for wheel in wheels.glob("*.whl"):
            shutil.copy(wheel, root / "wheels")
        return build_kit(root, f"shapes-{shape}")

    return _build


@pytest.fixture
def check(
    postgres_image: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    migration_leftovers: Leftovers,
    tmp_path: Path,
) -> Run:
    """``check(image, postgres=True)``: ``imagecheck check IMAGE --migrations`` from a folder
    with no compose project (``--db-image`` the real PostgreSQL; none for SQLite): exit, the
    JSON (validated against the shipped schema); nothing of the run is left in the engine."""
    monkeypatch.setenv("IMAGECHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)

    def _check(image: str, *, postgres: bool = True) -> tuple[int, dict[str, Any]]:
        args = ["check", f"docker:{image}", "--migrations", "--no-smoke", "--select", "IC9"]
        db = ["--db-image", postgres_image] if postgres else []
        code, doc = _json_run([*args, *db], capsys)
        validate(doc, "report")
        assert migration_leftovers((image, postgres_image)) == ([], [])
        return code, doc

    return _check


def _found(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["code"], f["subject"]) for f in doc["findings"])


def _steps(doc: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in doc["migrations"]["steps"]}


# --- several bases, schemas, the version table, include_object -----------------------------

PG_ENV = (SHAPES / "pg" / "app" / "migrations" / "env.py").read_text()
INVOICE = (SHAPES / "pg" / "app" / "billing" / "models.py").read_text()


def test_the_healthy_app_of_three_bases_and_two_schemas(build: Build, check: Run) -> None:
    """No finding: the three MetaData are the models, billing.invoice is compared in its
    schema, meta.schema_versions is left out, and include_object keeps legacy_report out."""
    code, doc = check(build("pg", {}))
    assert (_found(doc), code) == ([], 0)
    run = doc["migrations"]
    assert run["status"] == "ran"
    assert (run["database"], run["metadata"], run["include_schemas"]) == ("postgresql", 3, True)
    assert (run["default_schema"], run["version_table"]) == ("public", "meta.schema_versions")
    assert run["applied"] == ["a1", "b2"]
    assert _steps(doc) == {"db_start": "ok", "upgrade": "ok", "compare": "ok"}
    assert all(s["seconds"] > 0 for s in run["steps"])


def test_a_column_no_migration_creates_in_another_schema(build: Build, check: Run) -> None:
    models = INVOICE + "    paid_at = Column(Integer, nullable=True)\n"
    code, doc = check(build("pg", {"billing/models.py": models}))
    assert _found(doc) == [("IC901", "Invoice.paid_at")]
    assert "billing.invoice.paid_at" in doc["findings"][0]["message"]
    assert "billing.models" in doc["findings"][0]["message"]
    assert code == 1


def test_a_base_target_metadata_leaves_out(build: Build, check: Run) -> None:
    """BillingBase's models are imported, but its metadata is not in the list: IC910 (and
    not the IC903 "no model defines billing.invoice" autogenerate's own diff would say)."""
    env = PG_ENV.replace(
        "[Base.metadata, BillingBase.metadata, SQLModel.metadata]",
        "[Base.metadata, SQLModel.metadata]",
    )
    code, doc = check(build("pg", {"migrations/env.py": env}))
    assert _found(doc) == [("IC910", "billing.models.BillingBase")]
    finding = doc["findings"][0]
    assert "Invoice (billing.models)" in finding["message"]
    assert "billing.invoice" in finding["message"]
    assert "BillingBase.metadata" in finding["hint"]
    assert doc["migrations"]["metadata"] == 2
    assert code == 1


def test_a_schema_autogenerate_does_not_compare(build: Build, check: Run) -> None:
    """Without include_schemas, autogenerate calls the migrated billing.invoice missing:
    the finding is env.py's setting (IC911), not a table no migration creates (IC902)."""
    env = PG_ENV.replace("            include_schemas=True,\n", "")
    _, doc = check(build("pg", {"migrations/env.py": env}))
    assert _found(doc) == [("IC911", "Invoice")]
    assert "include_schemas=True" in doc["findings"][0]["hint"]
    assert doc["migrations"]["include_schemas"] is False


def test_without_include_object_the_mapped_view_is_a_table_no_migration_creates(
    build: Build, check: Run
) -> None:
    """The healthy twin's hook is what keeps legacy_report out: without it, IC902."""
    env = PG_ENV.replace("            include_object=include_object,\n", "")
    code, doc = check(build("pg", {"migrations/env.py": env}))
    assert _found(doc) == [("IC902", "LegacyReport")]
    assert code == 1


def test_the_version_table_env_py_names_is_read_statically_and_live(
    build: Build,
    postgres_image: str,
    client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """env.py's version_table/version_table_schema, read with ast from the image, is the
    table the live read asks (a real PostgreSQL holding meta.schema_versions)."""
    monkeypatch.setenv("IMAGECHECK_CACHE_DIR", str(tmp_path / "cache"))
    inv = inventory(f"docker:{build('pg', {})}")
    assert version_table(inv) == "meta.schema_versions"
    env = inv.alembic[0].env
    assert env is not None
    assert (env.include_schemas, env.hooks) == (True, ("include_name", "include_object"))
    assert env.target_metadata == ("Base.metadata", "BillingBase.metadata", "SQLModel.metadata")
    db = client.containers.run(
        postgres_image,
        detach=True,
        environment={"POSTGRES_PASSWORD": "imagecheck"},
        labels=LABEL,
        network_mode="none",
    )
    try:
        sql = (
            "CREATE SCHEMA meta; CREATE TABLE meta.schema_versions (version_num varchar(32));"
            " INSERT INTO meta.schema_versions VALUES ('b2');"
        )
        _until_ready(db)
        code, out = db.exec_run(["psql", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql])
        assert code == 0, out
        with contextlib.closing(connect()) as engine:
            read = read_database(engine, [("db", db.id)], version_table(inv))
            default = read_database(engine, [("db", db.id)])
        assert read is not None
        assert (read.status, read.revisions) == ("read", ("b2",))
        assert default is not None
        assert default.status == "no-table"  # alembic_version: not where this app keeps it
    finally:
        db.remove(force=True, v=True)


def _until_ready(container: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if container.exec_run(["pg_isready", "-q"]).exit_code == 0:
            return
        time.sleep(0.3)
    pytest.fail("the PostgreSQL container did not accept connections")


# --- SQLite: the file the image ships ------------------------------------------------------

SHIP = (SHAPES / "sqlite" / "app" / "ship.sh").read_text()
NOTE = (SHAPES / "sqlite" / "app" / "notes" / "models.py").read_text()


@pytest.fixture(scope="module")
def sqlite_images(build: Build) -> dict[str, str]:
    """The SQLite app, its file shipped at head (healthy), one revision behind, behind with
    rows the next revision cannot take, and with a model column no migration creates."""
    behind = SHIP.replace("alembic upgrade head", "alembic upgrade n1")
    return {
        "healthy": build("sqlite", {}),
        "behind": build("sqlite", {"ship.sh": behind}),
        "rows": build("sqlite", {"ship.sh": behind.replace("('second',)", "('first',)")}),
        "column": build(
            "sqlite",
            {"notes/models.py": NOTE + "    pinned: Mapped[int | None] = mapped_column()\n"},
        ),
    }


def test_the_healthy_sqlite_app(sqlite_images: dict[str, str], check: Run) -> None:
    """alembic.ini's sqlite:////app/data/notes.db: no database image, the throwaway
    container migrates a fresh file, then its copy of the shipped one: no finding."""
    code, doc = check(sqlite_images["healthy"], postgres=False)
    assert (_found(doc), code) == ([], 0)
    run = doc["migrations"]
    assert (run["database"], run["sqlite"], run["default_schema"]) == (
        "sqlite",
        "/app/data/notes.db",
        "main",
    )
    assert _steps(doc) == {"upgrade": "ok", "compare": "ok", "shipped_upgrade": "ok"}


def test_a_shipped_sqlite_file_behind_the_migrations(
    sqlite_images: dict[str, str], check: Run
) -> None:
    _, doc = check(sqlite_images["behind"], postgres=False)
    assert _found(doc) == [("IC912", "/app/data/notes.db")]
    message = doc["findings"][0]["message"]
    assert "is at n1, the image's head is n2; it lacks notes.body" in message
    assert _steps(doc)["shipped_upgrade"] == "ok"


def test_a_shipped_sqlite_file_that_fails_to_upgrade(
    sqlite_images: dict[str, str], check: Run
) -> None:
    """Two notes titled alike: n2's unique constraint applies to a fresh file, not to it."""
    code, doc = check(sqlite_images["rows"], postgres=False)
    assert _found(doc) == [("IC912", "/app/data/notes.db"), ("IC913", "/app/data/notes.db")]
    failed = next(f for f in doc["findings"] if f["code"] == "IC913")
    assert "at revision n2" in failed["message"]
    assert "UNIQUE constraint failed" in failed["message"]
    assert _steps(doc)["shipped_upgrade"] == "failed"
    assert code == 1


def test_a_sqlite_model_column_no_migration_creates(
    sqlite_images: dict[str, str], check: Run
) -> None:
    code, doc = check(sqlite_images["column"], postgres=False)
    assert _found(doc) == [("IC901", "Note.pinned")]
    assert code == 1


# --- the live stack: its version table and its schemas -------------------------------------

STACK = """\
services:
  db:
    image: "${POSTGRES_IMAGE}"
    labels: {imagecheck.test: "1"}
    environment:
      - POSTGRES_PASSWORD=imagecheck
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
      interval: 1s
      retries: 90
  backend:
    image: "${BACKEND_IMAGE}"
    labels: {imagecheck.test: "1"}
    depends_on:
      db:
        condition: service_healthy
    command: ["sh", "-c", "alembic upgrade a1 && touch /tmp/migrated && exec sleep infinity"]
    environment:
      - DATABASE_URL=postgresql+psycopg://postgres:imagecheck@db/postgres
networks:
  default:
    labels: {imagecheck.test: "1"}
"""


def test_the_live_stack_behind_in_meta_s_version_table_and_billing_s_schema(  # noqa: PLR0917
    build: Build,
    postgres_image: str,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    migration_leftovers: Leftovers,
) -> None:
    """``imagecheck backend`` on a running stack whose database was migrated to a1 only:
    its revision is read from meta.schema_versions (IC855, not "no alembic_version
    table"), and of the live tables billing.invoice is there (no finding) and product,
    which b2 creates, is not (IC907)."""
    image = build("pg", {})
    project = f"icshapes{uuid.uuid4().hex[:8]}"
    root = tmp_path / "stack"
    root.mkdir()
    (root / "compose.yaml").write_text(STACK)
    env = {**_clean_env(), "POSTGRES_IMAGE": postgres_image, "BACKEND_IMAGE": image}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        command = [COMPOSE, "-p", project, *args]
        return subprocess.run(
            command, cwd=root, env=env, capture_output=True, text=True, check=False
        )

    try:
        up = compose("up", "-d")
        assert up.returncode == 0, up.stderr[-2000:]
        backend = f"{project}_backend_1"
        deadline = time.monotonic() + 120
        while client.containers.get(backend).exec_run(["test", "-f", "/tmp/migrated"])[0]:
            if time.monotonic() > deadline:
                pytest.fail(compose("logs", "--no-color", "--tail", "40").stdout)
            time.sleep(1)
        for name, value in (("POSTGRES_IMAGE", postgres_image), ("BACKEND_IMAGE", image)):
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("COMPOSE_PROJECT_NAME", project)
        monkeypatch.setenv("IMAGECHECK_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.chdir(root)
        _, doc = _json_run(["backend", "--no-smoke", "--select", "IC85", "--select", "IC9"], capsys)
        validate(doc, "report")
        alarms = {(f["code"], f["subject"]) for f in doc["findings"] if f["severity"] != "info"}
        assert alarms == {("IC855", "db"), ("IC907", "Product")}
        behind = next(f for f in doc["findings"] if f["code"] == "IC855")
        assert "database at a1" in behind["message"]
        assert doc["triage"]["database"]["revisions"] == ["a1"]
        steps = {s["name"]: s for s in doc["migrations"]["steps"]}
        assert steps["live_read"]["status"] == "ok"
        assert migration_leftovers((image, postgres_image)) == ([], [])
    finally:
        compose("down", "-v", "--remove-orphans")
