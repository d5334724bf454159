"""The shapes real projects' models and databases have, beyond one Base in ``public``.

Several declarative bases (``target_metadata`` a list; a base env.py leaves out, IC910),
schemas other than the default one (``include_schemas`` missing, IC911), the version
table env.py names, and a SQLite file the application's URL points to: found in the
image's environment or alembic.ini, migrated in the throwaway container's own copy, and
the file the image ships compared with the models (IC912, IC913). What the runner saw
comes back as records (``read_shape``); the run's summary is the JSON's ``migrations``.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .. import codes
from ..model import Finding, Inventory, MigrationStep, MigrationSummary

if TYPE_CHECKING:
    from .migrations import Difference, MigrationRun

#: the variables applications name their database URL by
URL_VARIABLES = (
    "DATABASE_URL",
    "SQLALCHEMY_DATABASE_URL",
    "SQLALCHEMY_DATABASE_URI",
    "DB_URL",
    "DATABASE_URI",
)


@dataclass(frozen=True, slots=True)
class OutsideModel:
    model: str
    module: str
    path: str
    table: str


@dataclass(frozen=True, slots=True)
class OutsideBase:
    """A declarative base of the application whose MetaData target_metadata leaves out."""

    base: str  # "app.audit.AuditBase"
    models: tuple[OutsideModel, ...]


@dataclass(frozen=True, slots=True)
class ShippedFile:
    """The SQLite file the application's URL names, as the image ships it."""

    path: str
    shipped: bool  # the image has it (else the application creates it at its start)
    tables: tuple[tuple[str, tuple[str, ...]], ...] = ()
    versions: tuple[str, ...] | None = None  # its version table's rows; None: no table
    upgrade: str = ""  # "ok", "failed"; "": not run
    seconds: float | None = None
    revision: str | None = None  # the revision that failed on it
    error: str = ""
    statement: str | None = None


@dataclass(frozen=True, slots=True)
class Shapes:
    metadata: int = 0  # how many MetaData objects target_metadata lists
    default_schema: str | None = None  # the connection's (public, search_path's, main)
    include_schemas: bool = False
    version_table: str | None = None
    version_table_schema: str | None = None
    outside: tuple[OutsideBase, ...] = ()
    sqlite: ShippedFile | None = None

    @property
    def version_relation(self) -> str | None:
        if self.version_table is None:
            return None
        schema = self.version_table_schema
        return f"{schema}.{self.version_table}" if schema else self.version_table


def _columns(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple((str(t), tuple(str(c) for c in cols)) for t, cols in sorted(value.items()))


def read_shape(shapes: Shapes, record: dict[str, Any]) -> Shapes:
    """One runner record folded in (compare, outside, sqlite, shipped_upgrade)."""
    kind = record.get("kind")
    if kind == "compare":
        schema = record.get("version_table_schema")
        return replace(
            shapes,
            metadata=int(record.get("metadata") or 0),
            default_schema=record.get("default_schema"),
            include_schemas=bool(record.get("include_schemas")),
            version_table=str(record.get("version_table") or "alembic_version"),
            version_table_schema=str(schema) if schema else None,
        )
    if kind == "outside":
        models = tuple(
            OutsideModel(
                str(m.get("model")), str(m.get("module")), str(m.get("path")), str(m.get("table"))
            )
            for m in record.get("models") or ()
            if isinstance(m, dict)
        )
        found = OutsideBase(str(record.get("base")), models)
        return replace(shapes, outside=(*shapes.outside, found))
    if kind == "sqlite":
        shipped = ShippedFile(
            str(record.get("path")),
            bool(record.get("shipped")),
            _columns(record.get("tables")),
            error=str(record.get("error") or ""),
        )
        return replace(shapes, sqlite=shipped)
    if shapes.sqlite is not None and kind == "sqlite_versions":
        rows = record.get("versions")
        versions = None if rows is None else tuple(str(r) for r in rows)
        return replace(shapes, sqlite=replace(shapes.sqlite, versions=versions))
    if shapes.sqlite is not None and kind == "shipped_upgrade":
        done = replace(
            shapes.sqlite,
            upgrade="ok" if record.get("status") == "ok" else "failed",
            seconds=float(record.get("seconds") or 0.0),
            revision=record.get("revision"),
            error=str(record.get("error") or ""),
            statement=record.get("statement"),
        )
        return replace(shapes, sqlite=done)
    return shapes


# --- SQLite: which file the application uses -----------------------------------------------


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite[+driver]:///path`` URL (relative: to where alembic runs);
    None for an in-memory database or another database's URL."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.split("+", 1)[0].lower() != "sqlite":
        return None
    path = rest.split("?", 1)[0]
    if not path.startswith("/"):
        return None  # sqlite://host/...: not a file URL
    path = path[1:]
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    return posixpath.normpath(path) if path.startswith("/") else path


def sqlite_url(
    inv: Inventory, app_environment: Iterable[str], *, ini: bool = True
) -> tuple[str, str] | None:
    """(URL, where it was found) of a SQLite database the application names: its compose
    service's environment, the image's, then (with ``ini``: no database service to
    prefer) alembic.ini's ``sqlalchemy.url``; None when the first URL found is another
    database's. An ini's URL is often a leftover that env.py overrides."""
    sources = (
        ("the compose service's environment", tuple(app_environment)),
        ("the image's environment", inv.image.env),
    )
    for where, env in sources:  # the first URL set is the one the application uses
        values = dict(item.partition("=")[::2] for item in env)
        for name in URL_VARIABLES:
            value = values.get(name, "")
            if value:
                return (value, f"{name} in {where}") if sqlite_path(value) is not None else None
    for scripts in inv.alembic if ini else ():
        url = scripts.env.url if scripts.env else None
        if url and sqlite_path(url) is not None:
            return url, f"sqlalchemy.url in {scripts.config}"
    return None


# --- findings ------------------------------------------------------------------------------


def _revision_hint(what: str) -> str:
    return (
        f"alembic revision --autogenerate -m {shlex.quote(what)}, then review the new file "
        "and commit it"
    )


def difference_findings(diff: Difference, run: MigrationRun) -> tuple[Finding, ...] | None:
    """A difference the shapes explain: its findings (none: IC910 says it already), or
    None when it is not one of theirs."""
    outside = {m.table for base in run.shapes.outside for m in base.models}
    if diff.op in ("remove_table", "remove_column") and diff.table in outside:
        return ()  # a model's table that target_metadata leaves out: IC910, not IC903
    if diff.op != "schema_not_compared":
        return None
    where = run.env_py or "env.py"
    finding = codes.IC911.finding(
        subject=diff.model or diff.table,
        message=f"the table {diff.table} is outside the default schema and the migrations "
        f"create it, but {where} does not pass include_schemas=True to context.configure: "
        "autogenerate never compares it and writes its create_table again in every revision",
        hint=f"in {where}: context.configure(..., include_schemas=True), with an include_name "
        "hook that keeps only the application's schemas",
    )
    return (finding,)


def shape_findings(run: MigrationRun) -> Iterator[Finding]:
    """IC910 (a base env.py leaves out), IC912/IC913 (the shipped SQLite file)."""
    where = run.env_py or "env.py"
    for outside in run.shapes.outside:
        tables = ", ".join(m.table for m in outside.models)
        models = ", ".join(f"{m.model} ({m.module})" for m in outside.models)
        metadata = f"{outside.base.rsplit('.', 1)[-1]}.metadata"
        yield codes.IC910.finding(
            subject=outside.base,
            message=f"{models} map tables ({tables}) on {metadata}, which {where}'s "
            "target_metadata does not list: autogenerate compares none of them, and no "
            "revision it writes creates or alters them",
            hint=f"in {where}: from {outside.base.rsplit('.', 1)[0]} import "
            f"{outside.base.rsplit('.', 1)[-1]}; target_metadata = [..., {metadata}]",
            location=outside.models[0].path if outside.models else None,
        )
    shipped = run.shapes.sqlite
    if shipped is None or not shipped.shipped or run.failure is not None:
        return
    if shipped.upgrade == "failed":
        what = f"revision {shipped.revision}" if shipped.revision else "env.py"
        message = (
            f"the SQLite file {shipped.path} the image ships fails to upgrade to head at "
            f"{what} (a fresh database upgrades): {shipped.error}"
        )
        if shipped.statement:
            message += f"; the statement: {shipped.statement[:300]}"
        yield codes.IC913.finding(
            subject=shipped.path,
            message=message,
            hint="the revision assumes an empty table (a NOT NULL column without a default, "
            "a table create_all() made before alembic): add a server_default or a data step, "
            "or ship the file upgraded",
        )
    yield from _shipped_behind(run, shipped)


def _shipped_behind(run: MigrationRun, shipped: ShippedFile) -> Iterator[Finding]:
    have = dict(shipped.tables)
    made = {table: set(cols) for table, cols in run.migrated}
    missing: list[str] = []
    for table, columns in run.models:
        if table not in made:
            continue  # no migration creates it: IC902 says so
        if table not in have:
            missing.append(f"the table {table}")
            continue
        missing += [f"{table}.{c}" for c in columns if c in made[table] and c not in have[table]]
    at = ", ".join(shipped.versions) if shipped.versions else "no revision"
    behind = shipped.versions is not None and set(shipped.versions) != set(run.heads)
    if not missing and not behind:
        return
    lacks = f"; it lacks {', '.join(missing[:8])}" if missing else ""
    yield codes.IC912.finding(
        subject=shipped.path,
        message=f"the SQLite file {shipped.path} the image ships is at {at}, the image's "
        f"head is {', '.join(run.heads) or '?'}{lacks}: the application's queries fail on it "
        "unless `alembic upgrade head` runs at its start",
        hint="run `alembic upgrade head` in the image's start script, or upgrade the file "
        "before it is copied into the image",
    )


# --- the report's migrations section -------------------------------------------------------


def _steps(run: MigrationRun) -> tuple[MigrationStep, ...]:
    timings = dict(run.timings)
    timed_out = run.status == "timeout"
    steps: list[MigrationStep] = []
    if run.kind != "sqlite":
        started = "db_start" in timings
        failed_db = run.status == "failed" and "upgrade" not in timings and started
        status = "failed" if failed_db else "ok" if started else "not run"
        steps.append(MigrationStep("db_start", status, timings.get("db_start"), run.db_image or ""))
    if "upgrade" in timings:
        failed = run.failure is not None
        detail = f"{len(run.applied)} revision(s) applied"
        if run.failure is not None:
            detail = f"failed at {run.failure.revision or 'env.py'}: {run.failure.error}"[:300]
        steps.append(
            MigrationStep("upgrade", "failed" if failed else "ok", timings["upgrade"], detail)
        )
    else:
        steps.append(MigrationStep("upgrade", "timeout" if timed_out else "not run", None))
    if "compare" in timings:
        steps.append(
            MigrationStep(
                "compare", "ok", timings["compare"], f"{len(run.differences)} difference(s)"
            )
        )
    else:
        status = "timeout" if timed_out and "upgrade" in timings else "not run"
        steps.append(MigrationStep("compare", status, None))
    shipped = run.shapes.sqlite
    if shipped is not None and shipped.shipped:
        status = shipped.upgrade or "not run"
        steps.append(MigrationStep("shipped_upgrade", status, shipped.seconds, shipped.path))
    if run.live is not None:
        steps.append(MigrationStep("live_read", "ok", None, f"{len(run.live)} table(s)"))
    elif run.live_reason:
        steps.append(MigrationStep("live_read", "not run", None, run.live_reason))
    return tuple(steps)


def migration_summary(run: MigrationRun) -> MigrationSummary:
    """The run as the report's ``migrations`` section: per step, its time and outcome."""
    shapes = run.shapes
    return MigrationSummary(
        status=run.status,
        reason=run.reason,
        database=run.kind,
        db_image=run.db_image,
        env_py=run.env_py,
        heads=run.heads,
        revisions=run.revisions,
        applied=run.applied,
        steps=_steps(run),
        metadata=shapes.metadata,
        default_schema=shapes.default_schema,
        include_schemas=shapes.include_schemas,
        version_table=shapes.version_relation,
        differences=len(run.differences),
        sqlite=shapes.sqlite.path if shapes.sqlite else None,
    )
