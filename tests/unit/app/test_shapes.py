"""The shapes of real projects, read statically and from the runner's records: env.py's
``context.configure`` (``imagecheck.app.envpy``), a SQLite URL, several bases (IC910), a
schema autogenerate does not compare (IC911), a shipped SQLite file (IC912, IC913), and
the report's ``migrations`` section against the shipped JSON schema."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import Options, inventory
from imagecheck.app import (
    check_schema,
    live_findings,
    migration_summary,
    read_env,
    read_records,
    revision_sql,
    sqlite_path,
    sqlite_url,
    version_table,
)
from imagecheck.model import CheckResult, Finding, Inventory, Report
from imagecheck.report.findings import report_document
from tests.builders import F, Layer, make_image
from tests.helpers import validate

ENV_PY = """\
from alembic import context
from app.models import Base
from app.audit import AuditBase

VERSION_TABLE = "schedule_versions"
target_metadata = [Base.metadata, AuditBase.metadata]


def include_object(obj, name, type_, reflected, compare_to):
    return name != "legacy"


def run_migrations_offline():
    context.configure(url="sqlite://", target_metadata=target_metadata, version_table="offline")


def run_migrations_online():
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=VERSION_TABLE,
            version_table_schema="meta",
            include_schemas=True,
            include_object=include_object,
        )
"""


def test_env_py_settings_are_read_with_ast() -> None:
    """The online configure wins; a module-level name is followed to its literal."""
    env = read_env(ENV_PY, "/app/alembic/env.py")
    assert env.version_table == "schedule_versions"
    assert env.version_table_schema == "meta"
    assert env.version_relation == "meta.schedule_versions"
    assert env.include_schemas is True
    assert env.target_metadata == ("Base.metadata", "AuditBase.metadata")
    assert env.hooks == ("include_object",)


def test_env_py_defaults_when_nothing_is_literal() -> None:
    text = (
        "from alembic import context\nimport settings\n"
        "context.configure(connection=c, target_metadata=SQLModel.metadata,"
        " version_table=settings.TABLE, include_schemas=flag())\n"
    )
    env = read_env(text, "env.py")
    assert (env.version_table, env.version_table_schema) == ("alembic_version", None)
    assert env.include_schemas is False
    assert env.target_metadata == ("SQLModel.metadata",)
    broken = read_env("def (:\n", "env.py", "sqlite:///x.db")
    assert (broken.version_table, broken.url) == ("alembic_version", "sqlite:///x.db")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////app/data/app.db", "/app/data/app.db"),
        ("sqlite:///./app.db", "./app.db"),
        ("sqlite+pysqlite:///app.db?timeout=5", "app.db"),
        ("sqlite+aiosqlite:////srv/x.sqlite3", "/srv/x.sqlite3"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://u:p@db/app", None),
        ("", None),
    ],
)
def test_the_file_a_sqlite_url_names(url: str, path: str | None) -> None:
    assert sqlite_path(url) == path


INI = "[alembic]\nscript_location = migrations\nsqlalchemy.url = {url}\n"


def _image(tmp_path: Path, url: str, env: list[str] | None = None) -> Any:
    files = [
        F("app/alembic.ini", INI.format(url=url).encode()),
        F("app/migrations/env.py", ENV_PY.encode()),
        F("app/migrations/versions/a1.py", b'"""a1"""\nrevision = "a1"\ndown_revision = None\n'),
    ]
    config = {"Env": env} if env is not None else None
    built = make_image(tmp_path, [Layer(files, "COPY app /app")], config=config)
    return inventory(str(built.path), Options(cache_dir=tmp_path / "cache"))


def test_the_image_s_env_py_and_url_are_read_from_its_layers(tmp_path: Path) -> None:
    """env.py is captured by the layer index beside alembic.ini, and read statically."""
    inv = _image(tmp_path, "sqlite:////app/data/notes.db")
    [scripts] = inv.alembic
    assert scripts.env is not None
    assert scripts.env.path == "/app/migrations/env.py"
    assert scripts.env.url == "sqlite:////app/data/notes.db"
    assert version_table(inv) == "meta.schedule_versions"
    assert sqlite_url(inv, ()) == (
        "sqlite:////app/data/notes.db",
        "sqlalchemy.url in /app/alembic.ini",
    )
    assert sqlite_url(inv, (), ini=False) is None  # a database service in compose: its server
    assert revision_sql(version_table(inv)) == "SELECT version_num FROM meta.schedule_versions"


def test_the_sqlite_url_comes_from_the_environment_first(tmp_path: Path) -> None:
    inv = _image(tmp_path, "driver://user:pass@localhost/dbname", ["DATABASE_URL=sqlite:///img.db"])
    assert inv.alembic[0].env is not None
    assert inv.alembic[0].env.url is None  # alembic init's template is no database
    assert sqlite_url(inv, ()) == ("sqlite:///img.db", "DATABASE_URL in the image's environment")
    compose = sqlite_url(inv, ("DATABASE_URL=sqlite:////data/c.db",))
    assert compose == ("sqlite:////data/c.db", "DATABASE_URL in the compose service's environment")
    assert sqlite_url(inv, ("DATABASE_URL=postgresql://db/x",)) is None  # compose's URL wins


def test_a_version_table_that_is_not_an_identifier_is_not_queried() -> None:
    assert revision_sql("x; DROP TABLE users") == "SELECT version_num FROM alembic_version"


# --- the runner's records -------------------------------------------------------------------

START: list[dict[str, Any]] = [
    {"kind": "start", "python": "3.11.2", "alembic": "1.20.1", "sqlalchemy": "2.1.9"},
    {"kind": "config", "ini": "/app/alembic.ini", "script": "/app/migrations", "heads": ["n2"]},
    {"kind": "upgrade", "status": "ok", "seconds": 0.2, "applied": ["n1", "n2"]},
]


def _compare(diffs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "compare",
        "seconds": 0.05,
        "diffs": diffs,
        "owners": {"billing.invoice": {"model": "Invoice", "module": "billing.models"}},
        "metadata": 2,
        "default_schema": "public",
        "include_schemas": False,
        "version_table": "schema_versions",
        "version_table_schema": "meta",
    } | extra


class _Ctx:
    def __init__(self, run: Any) -> None:
        self.migrations = run
        self.triage = None


def _findings(records: list[dict[str, Any]]) -> list[Finding]:
    run = read_records([*START, *records, {"kind": "end"}], "postgres:15")
    return list(check_schema(_Ctx(run)))


OUTSIDE = {
    "kind": "outside",
    "base": "billing.models.BillingBase",
    "models": [
        {
            "model": "Invoice",
            "module": "billing.models",
            "path": "/app/billing/models.py",
            "table": "billing.invoice",
        }
    ],
}


def test_a_base_target_metadata_leaves_out_is_ic910_not_ic903() -> None:
    removed = {"op": "remove_table", "table": "billing.invoice", "columns": []}
    found = _findings([_compare([removed]), OUTSIDE])
    assert [(f.code, f.subject) for f in found] == [("IC910", "billing.models.BillingBase")]
    assert "Invoice (billing.models)" in found[0].message
    assert "target_metadata = [..., BillingBase.metadata]" in found[0].hint
    assert found[0].location == "/app/billing/models.py"


def test_a_migrated_table_autogenerate_does_not_compare_is_ic911() -> None:
    diff = {"op": "schema_not_compared", "table": "billing.invoice", "schema": "billing"}
    found = _findings([_compare([diff])])
    assert [(f.code, f.subject) for f in found] == [("IC911", "Invoice")]


def _shipped(versions: list[str] | None, tables: dict[str, list[str]], upgrade: Any) -> list[Any]:
    return [
        {"kind": "sqlite", "path": "/app/data/notes.db", "shipped": True, "tables": tables},
        _compare(
            [], default_schema="main", version_table="alembic_version", version_table_schema=None
        ),
        {
            "kind": "schema",
            "migrated": {"notes": ["id", "title", "body"]},
            "models": {"notes": ["id", "title", "body"]},
        },
        {"kind": "sqlite_versions", "versions": versions},
        {"kind": "shipped_upgrade", "seconds": 0.1} | upgrade,
    ]


def test_a_shipped_sqlite_file_at_head_is_no_finding() -> None:
    ok = {"status": "ok"}
    assert _findings(_shipped(["n2"], {"notes": ["id", "title", "body"]}, ok)) == []


def test_a_shipped_sqlite_file_behind_and_failing_to_upgrade() -> None:
    failed = {"status": "failed", "revision": "n2", "error": "UNIQUE constraint failed: t.title"}
    found = _findings(_shipped(["n1"], {"notes": ["id", "title"]}, failed))
    assert [f.code for f in found] == ["IC913", "IC912"]
    assert "at revision n2" in found[0].message
    assert "UNIQUE constraint failed" in found[0].message
    assert "is at n1, the image's head is n2; it lacks notes.body" in found[1].message


def _report(run: Any) -> Report:
    inv = Inventory.placeholder("test/image:latest", "not read")
    checks = (CheckResult("IC9", "models against migrations", "passed", ""),)
    return Report(inv, (), checks, migrations=migration_summary(run))


def test_the_migrations_section_follows_the_report_schema() -> None:
    """Per step: the database's start, the upgrade, the comparison, the shipped file."""
    records = [*START, *_shipped(["n2"], {"notes": ["id"]}, {"status": "ok"}), {"kind": "end"}]
    run = read_records(records, "sqlite (/app/data/notes.db)")
    doc = report_document(_report(run), "error")
    validate(doc, "report")
    section = doc["migrations"]
    assert section["sqlite"] == "/app/data/notes.db"
    assert section["default_schema"] == "main"
    assert section["version_table"] == "alembic_version"
    assert [(s["name"], s["status"]) for s in section["steps"]] == [
        ("db_start", "not run"),
        ("upgrade", "ok"),
        ("compare", "ok"),
        ("shipped_upgrade", "ok"),
    ]
    timed = [s["seconds"] for s in section["steps"] if s["status"] == "ok"]
    assert timed == [0.2, 0.05, 0.1]


def test_a_failed_upgrade_in_the_migrations_section() -> None:
    failed = {
        "kind": "upgrade",
        "status": "failed",
        "seconds": 0.3,
        "revision": "b2",
        "error": 'relation "x" does not exist',
    }
    run = read_records([*START[:2], failed, {"kind": "end"}], "postgres:15")
    doc = report_document(_report(run), "error")
    validate(doc, "report")
    upgrade = next(s for s in doc["migrations"]["steps"] if s["name"] == "upgrade")
    assert upgrade["status"] == "failed"
    assert upgrade["detail"].startswith('failed at b2: relation "x" does not exist')
    assert doc["migrations"]["steps"][-1] == {
        "name": "compare",
        "status": "not run",
        "seconds": None,
        "detail": "",
    }


def test_the_live_read_is_named_as_the_search_path_names_it() -> None:
    """With ``search_path=app`` the runner names app's tables bare; the live read (psql,
    without the application's search_path) names them ``app.users``: the same table."""
    schema = {"kind": "schema", "migrated": {"users": ["id", "email"]}}
    schema["models"] = {"users": ["id", "email"], "public.audit": ["id"]}
    records = [_compare([], default_schema="app"), schema]
    run = replace(
        read_records([*START, *records, {"kind": "end"}], "postgres:15"), kind="postgresql"
    )
    live = (("app.users", ("id", "email")), ("audit", ("id",)))
    assert list(live_findings(run, live, "")) == []
    behind = list(live_findings(run, (("app.users", ("id",)), ("audit", ("id",))), ""))
    assert [(f.code, f.subject) for f in behind] == [("IC907", "users.email")]


def test_a_shipped_file_the_container_cannot_move_aside_is_said_so() -> None:
    error = {
        "kind": "error",
        "stage": "sqlite",
        "path": "/app/data/notes.db",
        "error": "PermissionError: [Errno 13] Permission denied: '/app/data/notes.db'",
    }
    found = _findings([error])
    assert [f.code for f in found] == ["IC900"]
    assert "the SQLite file /app/data/notes.db cannot be read and moved aside" in found[0].message
    assert "Permission denied" in found[0].message
