"""What a migration run means: findings for the models against the migrated schema, and
for the live database against both (which of the two problems a missing column is).

Pure functions of a ``MigrationRun`` (and the triage's log tail); the run itself, the
engine and the containers are ``migrations.py``'s.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from .. import codes
from ..model import Finding, TriageRun
from .shapes import difference_findings, shape_findings

if TYPE_CHECKING:  # the run's types only: its module (engine, compose) loads when it runs
    from .migrations import Difference, MigrationRun

#: PostgreSQL's and MySQL's words for a column or table the query needs and lacks
_UNDEFINED_COLUMN = re.compile(
    r"column \"?(?:(?P<table>[\w$]+)\.)?(?P<column>[\w$]+)\"? does not exist"
    r"|Unknown column '(?:(?P<mtable>[\w$]+)\.)?(?P<mcolumn>[\w$]+)'"
)
_UNDEFINED_TABLE = re.compile(
    r"relation \"(?P<table>[\w$.]+)\" does not exist"
    r"|Table '(?:\w+\.)?(?P<mtable>[\w$]+)' doesn't exist"
)
_UPGRADE = "alembic upgrade head"


def _who(diff: Difference) -> str:
    return f"the model {diff.model} ({diff.module})" if diff.model else "no mapped class"


def _revision_hint(what: str) -> str:
    return (
        f"alembic revision --autogenerate -m {shlex.quote(what)}, then review the new file "
        "(autogenerate misses renames and server defaults) and commit it"
    )


def migration_findings(run: MigrationRun) -> Iterator[Finding]:
    """The models against a fresh database migrated to head."""
    if run.status in ("failed", "timeout"):
        yield codes.IC900.finding(
            subject=run.db_image or "migrations",
            message=f"the migration check did not finish: {run.reason}",
            hint="see the reason; --db-image picks the database image, "
            "--no-migrations skips the check",
        )
    if run.failure is not None:
        fail = run.failure
        where = f"revision {fail.revision}" if fail.revision else "env.py, before any revision"
        message = f"{where} fails to apply on a fresh {run.db_image}: {fail.error}"
        if fail.statement:
            message += f"; the statement: {fail.statement[:300]}"
        yield codes.IC905.finding(
            subject=fail.revision or "env.py",
            message=message,
            hint=f"fix the revision ({fail.step or fail.revision}), then run {_UPGRADE} against "
            "a fresh database; a database where it ran partly needs the same fix by hand",
        )
    for diff in run.differences:
        explained = difference_findings(diff, run)
        yield from _difference(diff) if explained is None else explained
    yield from shape_findings(run)
    for module in run.unseen:
        if module.error:
            message = f"{module.module} defines mapped classes and fails to import: {module.error}"
        else:
            classes = ", ".join(module.classes) or "mapped classes"
            tables = ", ".join(module.tables) or "its tables"
            message = (
                f"{module.module} defines {classes} (table {tables}), but {run.env_py or 'env.py'}"
                " never imports it: autogenerate does not see these tables, and no "
                "revision it writes creates them"
            )
        yield codes.IC906.finding(
            subject=module.module,
            message=message,
            hint=f"add to {run.env_py or 'env.py'}: import {module.module}  # noqa: F401 "
            "(registers its tables), then alembic revision --autogenerate",
            location=module.path,
        )


def _difference(diff: Difference) -> Iterator[Finding]:
    if diff.op == "add_column":
        column = f"{diff.table}.{diff.column}"
        null = "NULL" if diff.nullable else "NOT NULL"
        yield codes.IC901.finding(
            subject=f"{diff.model or diff.table}.{diff.column}",
            message=f"{_who(diff)} defines {column} ({diff.type}, {null}) and no migration "
            f"creates it: a database at head lacks it (UndefinedColumn on the first query)",
            hint=_revision_hint(f"add {column}"),
        )
    elif diff.op == "add_table":
        yield codes.IC902.finding(
            subject=diff.model or diff.table,
            message=f"{_who(diff)} defines the table {diff.table} and no migration creates "
            "it: a database at head lacks it (UndefinedTable on the first query)",
            hint=_revision_hint(f"add {diff.table}"),
        )
    elif diff.op in ("remove_column", "remove_table"):
        what = f"column {diff.table}.{diff.column}" if diff.column else f"table {diff.table}"
        drop = f"drop {diff.table} {diff.column or ''}".strip()
        yield codes.IC903.finding(
            subject=f"{diff.table}.{diff.column}" if diff.column else diff.table,
            message=f"the migrations create the {what} and no model defines it",
            hint="a model removed or renamed without its migration: add the model back, "
            f"or {_revision_hint(drop)}",
        )
    elif diff.op in ("modify_type", "modify_nullable"):
        what = "type" if diff.op == "modify_type" else "nullable"
        yield codes.IC904.finding(
            subject=f"{diff.model or diff.table}.{diff.column}",
            message=f"{diff.table}.{diff.column}: {what} is {diff.db} after the migrations, "
            f"{diff.wanted} in {_who(diff)}",
            hint=_revision_hint(f"alter {diff.table}.{diff.column}"),
        )
    else:
        name = f" {diff.name}" if diff.name else ""
        yield codes.IC909.finding(
            subject=f"{diff.table or '?'}{'.' + diff.column if diff.column else ''}",
            message=f"{diff.op}{name}: the models and the migrations differ",
            hint=_revision_hint(f"{diff.op} {diff.table or ''}".strip()),
        )


def live_findings(
    run: MigrationRun,
    live: tuple[tuple[str, tuple[str, ...]], ...],
    log: str,
    service: str = "SERVICE",
) -> Iterator[Finding]:
    """The live database against the models and a fresh database at head: for each model
    column or table it lacks, whether a migration in the image creates it."""
    default = run.shapes.default_schema if run.kind == "postgresql" else None
    have = {_named(table, default): set(cols) for table, cols in live}
    made = {table: set(cols) for table, cols in run.migrated}
    quoted = _quoted_missing(log)
    for table, columns in run.models:
        owner = run.owner(table)
        model = f"the model {owner[0]} ({owner[1]})" if owner else f"table {table}"
        bare = table.rsplit(".", 1)[-1]
        missing: list[tuple[str | None, bool]]
        if table not in have:
            missing = [(None, table in made)]
        else:
            missing = [(c, c in made.get(table, set())) for c in columns if c not in have[table]]
        for column, migrated in missing:
            what = f"{table}.{column}" if column else f"the table {table}"
            seen = _log_line(quoted, bare, column)
            said = f"; the logs' {seen!r} is this" if seen else ""
            subject = f"{owner[0] if owner else table}{'.' + column if column else ''}"
            if migrated:
                yield codes.IC907.finding(
                    subject=subject,
                    message=f"the live database lacks {what} that {model} needs; a migration in "
                    f"the image creates it: the database is behind{said}",
                    hint=f"run {_UPGRADE} (docker compose run --rm {service} {_UPGRADE}), or fix "
                    "the step that should run it (a prestart service that failed)",
                )
            else:
                yield codes.IC908.finding(
                    subject=subject,
                    message=f"the live database lacks {what} that {model} needs, and no "
                    f"migration in the image creates it{said}",
                    hint="create the migration: "
                    + _revision_hint(f"add {what}")
                    + f", rebuild, then {_UPGRADE}",
                )


def _named(table: str, default: str | None) -> str:
    """A live PostgreSQL table (bare in ``public``, else ``schema.table``, as psql's read
    names it) named as the run names it: bare in the connection's default schema (the
    ``search_path``'s), else schema-qualified."""
    if default is None or default == "public":
        return table
    schema, _, name = table.rpartition(".")
    if schema == default:
        return name
    return table if schema else f"public.{name}"


def _quoted_missing(log: str) -> list[tuple[str | None, str | None, str]]:
    """(table, column, line) of each UndefinedColumn / UndefinedTable the log quotes."""
    found: list[tuple[str | None, str | None, str]] = []
    for line in log.splitlines():
        match = _UNDEFINED_COLUMN.search(line)
        if match:
            table = match.group("table") or match.group("mtable")
            column = match.group("column") or match.group("mcolumn")
            found.append((table, column, line.strip()))
            continue
        match = _UNDEFINED_TABLE.search(line)
        if match:
            table = (match.group("table") or match.group("mtable") or "").rsplit(".", 1)[-1]
            found.append((table, None, line.strip()))
    return found


def _log_line(
    quoted: list[tuple[str | None, str | None, str]], table: str, column: str | None
) -> str | None:
    for q_table, q_column, line in quoted:
        if column is None and q_column is None and q_table == table:
            return line[-200:]
        if column is not None and q_column == column and q_table in (None, table):
            return line[-200:]
    return None


class _Context(Protocol):
    @property
    def migrations(self) -> MigrationRun | None: ...
    @property
    def triage(self) -> TriageRun | None: ...


def schema_detail(ctx: _Context) -> str:
    """The check's result: what the run did, and whether the live database was compared
    (a live read that failed is said here, where ``-v`` and the JSON show it)."""
    run = ctx.migrations
    if run is None:
        return ""
    if run.live is not None:
        return f"{run.reason}; the live database: {len(run.live)} table(s) read"
    if run.live_reason:
        return f"{run.reason}; the live database not compared: {run.live_reason}"
    return run.reason


def check_schema(ctx: _Context) -> Iterator[Finding]:
    """The check: the fresh database's findings, then the live one's when it was read."""
    run = ctx.migrations
    if run is None:
        return
    yield from migration_findings(run)
    if run.live is not None and run.failure is None:
        triage = ctx.triage
        log, service = (triage.log_tail, triage.service) if triage else ("", "SERVICE")
        yield from live_findings(run, run.live, log, service)
