"""What a migration run's records mean: the runner's JSON lines read back, and the live
database against the models and a fresh database at head (behind vs no migration)."""

from __future__ import annotations

from typing import Any

from imagecheck.app import live_findings, migration_findings, read_records

OWNERS = {"user": {"model": "User", "module": "app.models"}}
RECORDS: list[dict[str, Any]] = [
    {"kind": "start", "python": "3.11.2"},
    {"kind": "config", "script": "app/alembic", "heads": ["d98dd8ec85a3"], "revisions": 3},
    {"kind": "upgrade", "status": "ok", "seconds": 0.3, "applied": ["e2412789c190"]},
    {
        "kind": "compare",
        "seconds": 0.07,
        "owners": OWNERS,
        "diffs": [
            {
                "op": "add_column",
                "table": "user",
                "column": "score",
                "type": "INTEGER",
                "nullable": True,
            },
            {
                "op": "modify_nullable",
                "table": "user",
                "column": "email",
                "db": "True",
                "model": "False",
            },
        ],
    },
    {
        "kind": "schema",
        "migrated": {"user": ["email", "id", "full_name"]},
        "models": {"user": ["email", "id", "full_name", "score"]},
    },
    {"kind": "end"},
]


def test_records_become_findings_naming_the_model() -> None:
    run = read_records(RECORDS, "postgres:16")
    assert (run.status, run.heads, run.env_py) == ("ran", ("d98dd8ec85a3",), "app/alembic/env.py")
    assert dict(run.timings) == {"upgrade": 0.3, "compare": 0.07}
    found = [(f.code, f.subject) for f in migration_findings(run)]
    assert found == [("IC901", "User.score"), ("IC904", "User.email")]


def test_a_failed_revision_names_the_revision_and_the_statement() -> None:
    failed = {
        "kind": "upgrade",
        "status": "failed",
        "revision": "0badc0ffee00",
        "step": "upgrade d98dd8ec85a3 -> 0badc0ffee00",
        "statement": "ALTER TABLE item ADD COLUMN rank INTEGER DEFAULT 'high'",
        "error": 'invalid input syntax for type integer: "high"',
        "exc_type": "sqlalchemy.exc.DataError",
    }
    run = read_records([RECORDS[0], RECORDS[1], failed, {"kind": "end"}], "postgres:16")
    (finding,) = migration_findings(run)
    assert (finding.code, finding.subject) == ("IC905", "0badc0ffee00")
    assert "DEFAULT 'high'" in finding.message


def test_no_alembic_in_the_image_is_a_skip_not_a_finding() -> None:
    run = read_records(
        [{"kind": "error", "stage": "import", "error": "No module named 'alembic'"}], None
    )
    assert run.status == "skipped"
    assert list(migration_findings(run)) == []


def test_the_live_database_behind_or_lacking_a_migration_and_the_quoted_log() -> None:
    run = read_records(RECORDS, "postgres:16")
    live = (("user", ("email", "id")),)
    log = "psycopg.errors.UndefinedColumn: column user.score does not exist\nLINE 1: ..."
    found = {f.code: f for f in live_findings(run, live, log, "backend")}
    assert set(found) == {"IC907", "IC908"}
    assert found["IC907"].subject == "User.full_name"  # a migration creates it: behind
    assert "docker compose run --rm backend alembic upgrade head" in found["IC907"].hint
    assert found["IC908"].subject == "User.score"  # none does: create the migration
    assert "column user.score does not exist" in found["IC908"].message
    assert "column user.score" not in found["IC907"].message


def test_a_missing_table_matches_undefined_table() -> None:
    run = read_records(RECORDS, "postgres:16")
    log = '(psycopg.errors.UndefinedTable) relation "user" does not exist'
    (finding,) = live_findings(run, (), log)
    assert (finding.code, finding.subject) == ("IC907", "User")
    assert 'relation "user" does not exist' in finding.message
