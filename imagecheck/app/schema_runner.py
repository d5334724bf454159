"""Apply the image's alembic revisions, then compare its models with the schema they made.

Run as ``python -c <this file> <json>`` inside a throwaway container of the image, on a
private network beside a throwaway database. The JSON holds ``ini`` (alembic.ini's
path, or null: the working folder's, else the first found under it) and ``upgrade``
(false: only compare, e.g. against a database that is already migrated).

What it does, with the image's own alembic and SQLAlchemy:

1. ``alembic upgrade heads`` (``command.upgrade``): env.py connects as it does in
   production. A revision that fails is named (alembic logs each step before it runs
   it), with the statement and the database's error.
2. ``alembic.autogenerate.compare_metadata`` against env.py's ``target_metadata``, run
   through env.py itself (so its ``include_object``, ``compare_type`` and URL apply), as
   ``alembic check`` does; each difference names the mapped class of its table.
3. The application's model modules (a class with ``table=True`` or ``__tablename__``,
   found by reading the sources under the project folder) that env.py never imported:
   each is imported and the tables it registers are reported.

Results are JSON lines on the original stdout; everything else (alembic's log, prints of
env.py) goes to stderr. Standard library plus the image's packages; Python 3.8 and later.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

SKIP_DIRS = {".venv", "venv", "site-packages", "node_modules", "__pycache__", ".git", "tests"}
MAX_FILES = 3000
MAX_BYTES = 1 << 20
TAIL_LINES = 12


class Emitter:
    """The result channel: the original stdout; fd 1 then points at stderr."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self.out = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)

    def __call__(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record, default=str) + "\n")
        self.out.flush()


def failure(exc: BaseException) -> dict[str, Any]:
    """The exception's type, its last line and the tail of its traceback."""
    last = traceback.format_exception_only(type(exc), exc)
    lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    return {
        "exc_type": type(exc).__module__ + "." + type(exc).__name__,
        "error": last[-1].strip() if last else type(exc).__name__,
        "traceback_tail": "\n".join(lines.split("\n")[-TAIL_LINES:]),
    }


def find_ini(given: Any) -> str | None:
    if given:
        return str(given) if os.path.isfile(str(given)) else None
    if os.path.isfile("alembic.ini"):
        return os.path.abspath("alembic.ini")
    for folder, dirs, files in os.walk("."):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if folder.count(os.sep) > 3:
            dirs[:] = []
        if "alembic.ini" in files:
            return os.path.abspath(os.path.join(folder, "alembic.ini"))
    return None


class StepLog:
    """Stands in for ``alembic.runtime.migration.log``: remembers the step it announces
    ("Running upgrade A -> B") before running it, so a failure names its revision.
    (env.py's ``fileConfig`` rewires logging handlers; this object it cannot touch.)"""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.step: Any = None
        self.applied: list[str] = []

    def info(self, message: Any, *args: Any, **kwargs: Any) -> None:
        if args and hasattr(args[0], "migration_fn"):
            if self.step is not None:
                self.applied.append(revision_of(self.step))
            self.step = args[0]
        self.real.info(message, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def revision_of(step: Any) -> str:
    script = getattr(step, "revision", None)
    rev = getattr(script, "revision", None)
    if rev:
        return str(rev)
    text = str(step)
    return text.split("->", 1)[-1].split(",", 1)[0].strip() if "->" in text else text


def upgrade(config: Any, emit: Any, kind: str = "upgrade") -> bool:
    from alembic import command
    from alembic.runtime import migration

    steps = StepLog(migration.log)
    migration.log = steps
    started = time.perf_counter()
    try:
        command.upgrade(config, "heads")
    except Exception as exc:  # noqa: BLE001 - any failure of a revision or env.py is the finding
        record: dict[str, Any] = {"kind": kind, "status": "failed"}
        record.update(failure(exc))
        orig = getattr(exc, "orig", None)
        if orig is not None:
            record["error"] = str(orig).strip()
        statement = getattr(exc, "statement", None)
        if statement:
            record["statement"] = " ".join(str(statement).split())
        if steps.step is not None:
            record["revision"] = revision_of(steps.step)
            record["step"] = str(steps.step)
        record["applied"] = steps.applied
        record["seconds"] = round(time.perf_counter() - started, 4)
        emit(record)
        return False
    finally:
        migration.log = steps.real
    emit(
        {
            "kind": kind,
            "status": "ok",
            "seconds": round(time.perf_counter() - started, 4),
            "applied": [*steps.applied, *([revision_of(steps.step)] if steps.step else [])],
        }
    )
    return True


def metadatas(target: Any) -> list[Any]:
    if target is None:
        return []
    return list(target) if isinstance(target, (list, tuple)) else [target]


def mapped_classes() -> list[Any]:
    """Every mapped class SQLAlchemy knows (all declarative bases, SQLModel's too)."""
    try:
        from sqlalchemy.orm import mapperlib

        registries = list(mapperlib._all_registries())
    except (ImportError, AttributeError):
        return []
    classes = []
    for reg in registries:
        for mapper in list(getattr(reg, "mappers", ())):
            classes.append(mapper.class_)
    return classes


def table_of(cls: Any) -> Any:
    return getattr(cls, "__table__", None)


def owners(default: Any) -> dict[str, dict[str, str]]:
    """Each table's name (schema-qualified where not the default): its class and module."""
    found: dict[str, dict[str, str]] = {}
    for cls in mapped_classes():
        table = table_of(cls)
        if table is not None and getattr(table, "name", None):
            key = full(table.schema, table.name, default)
            found.setdefault(key, {"model": cls.__name__, "module": cls.__module__})
    return found


def type_text(value: Any, dialect: Any) -> str:
    try:
        return str(value.compile(dialect=dialect))
    except Exception:  # noqa: BLE001 - a type the dialect cannot render
        return str(value)


def column_record(column: Any, dialect: Any) -> dict[str, Any]:
    return {
        "name": column.name,
        "type": type_text(column.type, dialect),
        "nullable": bool(column.nullable),
    }


def full(schema: Any, table: str, default: Any = None) -> str:
    """``billing.invoice``; a table of the connection's default schema (``public``, the
    ``search_path``'s first, SQLite's ``main``) by its bare name, as written unqualified."""
    return f"{schema}.{table}" if schema and schema != default else table


def included(opts: Any, table: Any) -> bool:
    """env.py's ``include_object`` hook on a model's table, as autogenerate calls it."""
    hook = opts.get("include_object")
    if hook is None:
        return True
    try:
        return bool(hook(table, table.name, "table", False, None))
    except Exception:  # noqa: BLE001 - a hook written for reflected objects only
        return True


def diff_records(diffs: list[Any], dialect: Any, default: Any = None) -> list[dict[str, Any]]:
    """compare_metadata's tuples as plain records."""
    out: list[dict[str, Any]] = []
    for diff in diffs:
        if isinstance(diff, list):  # column modifications come grouped per column
            for op in diff:
                name, schema, table, column = op[0], op[1], op[2], op[3]
                old, new = op[5], op[6]
                if name == "modify_type":
                    old, new = type_text(old, dialect), type_text(new, dialect)
                out.append(
                    {
                        "op": name,
                        "table": full(schema, table, default),
                        "column": column,
                        "db": None if old is None else str(old),
                        "model": None if new is None else str(new),
                    }
                )
            continue
        name = diff[0]
        if name in ("add_table", "remove_table"):
            table = diff[1]
            out.append(
                {
                    "op": name,
                    "table": full(table.schema, table.name, default),
                    "schema": table.schema,
                    "columns": [column_record(c, dialect) for c in table.columns],
                }
            )
        elif name in ("add_column", "remove_column"):
            record = column_record(diff[3], dialect)
            table = full(diff[1], diff[2], default)
            out.append({"op": name, "table": table, "column": record["name"]})
            out[-1].update({"type": record["type"], "nullable": record["nullable"]})
        else:  # indexes, constraints, foreign keys, comments: named, for completeness
            thing = diff[1] if len(diff) > 1 else None
            parent = getattr(thing, "table", None)
            where = full(parent.schema, parent.name, default) if parent is not None else None
            out.append({"op": name, "table": where, "name": getattr(thing, "name", None)})
    return out


def schema_of(connection: Any, metas: list[Any], default: Any) -> dict[str, list[str]]:
    """The migrated database's tables and their columns (default schema and the models')."""
    import sqlalchemy

    inspector = sqlalchemy.inspect(connection)
    schemas = {None} | {t.schema for m in metas for t in m.tables.values() if t.schema}
    tables: dict[str, list[str]] = {}
    for schema in sorted(schemas, key=lambda s: s or ""):
        try:
            names = inspector.get_table_names(schema=schema)
        except Exception:  # noqa: BLE001 - a schema the database cannot list (SQLite's)
            names = []
        for name in names:
            columns = inspector.get_columns(name, schema=schema)
            tables[full(schema, name, default)] = [str(c["name"]) for c in columns]
    return tables


def unseen_schemas(
    records: list[dict[str, Any]], migrated: dict[str, Any], opts: Any, default: Any
) -> None:
    """A model table outside the default schema that the migrations did create, which
    autogenerate calls missing because env.py does not set ``include_schemas=True``: it
    is env.py's setting that is wrong (every autogenerate writes its create_table again)."""
    if opts.get("include_schemas"):
        return
    for record in records:
        schema = record.get("schema")
        outside = record["op"] == "add_table" and schema and schema != default
        if outside and record["table"] in migrated:
            record["op"] = "schema_not_compared"


def compare(config: Any, emit: Any) -> dict[str, Any]:
    """Run env.py with a function that compares instead of migrating: its metadata
    (``metas``), its ``context.configure`` options (``opts``), the default schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    seen: dict[str, Any] = {}

    def fn(rev: Any, context: Any) -> list[Any]:
        target = context.opts.get("target_metadata")
        seen["metas"] = metadatas(target)
        seen["opts"] = context.opts
        if target is None:
            emit({"kind": "no_metadata"})
            return []
        started = time.perf_counter()
        diffs = compare_metadata(context, target)
        elapsed = time.perf_counter() - started
        dialect = context.dialect
        default = getattr(dialect, "default_schema_name", None)
        seen["default"] = default
        migrated = schema_of(context.bind, seen["metas"], default)
        records = diff_records(diffs, dialect, default)
        unseen_schemas(records, migrated, context.opts, default)
        emit(
            {
                "kind": "compare",
                "seconds": round(elapsed, 4),
                "diffs": records,
                "owners": owners(default),
                "metadata": len(seen["metas"]),
                "default_schema": default,
                "include_schemas": bool(context.opts.get("include_schemas")),
                "version_table": context.opts.get("version_table", "alembic_version"),
                "version_table_schema": context.opts.get("version_table_schema"),
            }
        )
        models = {
            full(t.schema, t.name, default): [c.name for c in t.columns]
            for m in seen["metas"]
            for t in m.tables.values()
            if included(context.opts, t)
        }
        emit({"kind": "schema", "migrated": migrated, "models": models})
        return []

    with EnvironmentContext(config, script, fn=fn, as_sql=False, destination_rev=None):
        script.run_env()
    return seen


def model_modules(root: str, skip: str) -> list[tuple[str, str]]:
    """(module, file) of every source under ``root`` that defines a mapped class."""
    entries = sorted(
        (os.path.abspath(p or ".") for p in sys.path if os.path.isdir(p or ".")),
        key=len,
        reverse=True,
    )
    found: list[tuple[str, str]] = []
    count = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.startswith(".")
            and os.path.abspath(os.path.join(folder, d)) != skip
        )
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            count += 1
            if count > MAX_FILES:
                return found
            path = os.path.abspath(os.path.join(folder, name))
            if defines_models(path):
                module = module_name(path, entries)
                if module:
                    found.append((module, path))
    return found


def defines_models(path: str) -> bool:
    try:
        if os.path.getsize(path) > MAX_BYTES:
            return False
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(), path)
    except (OSError, SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for kw in node.keywords:
            if kw.arg == "table" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                return True
        for stmt in node.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            if isinstance(stmt, ast.AnnAssign):
                targets = [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("__tablename__", "__table__"):
                    return True
    return False


def module_name(path: str, entries: list[str]) -> str | None:
    for entry in entries:
        if path.startswith(entry + os.sep):
            rel = os.path.relpath(path, entry)[: -len(".py")]
            parts = rel.split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts and all(p.isidentifier() for p in parts):
                return ".".join(parts)
    return None


def unseen(seen: dict[str, Any], root: str, skip: str, emit: Any) -> None:
    """Model modules env.py did not import: import each, say which tables it registers
    (those env.py's ``include_object`` keeps: a table it excludes alembic never sees)."""
    metas, opts, default = seen.get("metas", []), seen.get("opts", {}), seen.get("default")

    def tables() -> dict[str, Any]:
        return {full(t.schema, t.name, default): t for m in metas for t in m.tables.values()}

    for module, path in model_modules(root, skip):
        if module in sys.modules:
            continue
        before = tables()
        record: dict[str, Any] = {"kind": "unseen", "module": module, "path": path}
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - a module that fails to import is said so
            record.update(failure(exc))
            emit(record)
            continue
        after = tables()
        classes = [c for c in mapped_classes() if c.__module__ == module]
        new = [t for name, t in after.items() if name not in before]
        record["tables"] = sorted(full(t.schema, t.name, default) for t in new if included(opts, t))
        record["classes"] = sorted(c.__name__ for c in classes)
        record["other_tables"] = sorted(
            full(t.schema, t.name, default)
            for c in classes
            if (t := table_of(c)) is not None and not any(t.metadata is m for m in metas)
        )
        if new and not record["tables"] and not record["other_tables"]:
            continue  # env.py's include_object leaves these tables out on purpose
        emit(record)


def app_file(module: str, root: str) -> str | None:
    """The file of ``module`` when it is the application's (under ``root``)."""
    found = getattr(sys.modules.get(module), "__file__", None)
    if not found:
        return None
    path = os.path.abspath(str(found))
    if not path.startswith(root + os.sep) or any(d in path for d in ("site-packages", ".venv")):
        return None
    return path


def base_of(cls: Any, metadata: Any) -> str:
    """The declarative base whose ``metadata`` the class's table is on, by the name the
    application binds it to (``declarative_base()`` makes a class named ``Base`` in
    SQLAlchemy's own module: ``billing.models.BillingBase`` is what env.py imports)."""
    for parent in cls.__mro__[1:]:
        if parent.__dict__.get("metadata") is not metadata:
            continue
        for module in (parent.__module__, cls.__module__):
            names = getattr(sys.modules.get(module), "__dict__", {})
            for name, value in names.items():
                if value is parent:
                    return f"{module}.{name}"
        return f"{parent.__module__}.{parent.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def outside(seen: dict[str, Any], root: str, emit: Any) -> None:
    """The application's mapped classes (imported by env.py) whose table is on a
    MetaData that ``target_metadata`` does not list: autogenerate compares none of them."""
    metas, opts, default = seen.get("metas", []), seen.get("opts", {}), seen.get("default")
    if not metas:
        return
    found: dict[str, dict[str, Any]] = {}
    for cls in mapped_classes():
        table = table_of(cls)
        if table is None or any(table.metadata is m for m in metas) or not included(opts, table):
            continue
        path = app_file(cls.__module__, root)
        if path is None:
            continue
        base = base_of(cls, table.metadata)
        entry = found.setdefault(base, {"kind": "outside", "base": base, "models": []})
        entry["models"].append(
            {
                "model": cls.__name__,
                "module": cls.__module__,
                "path": path,
                "table": full(table.schema, table.name, default),
            }
        )
    for entry in found.values():
        entry["models"].sort(key=lambda m: m["table"])
        emit(entry)


# --- SQLite: a database file shipped in the image ------------------------------------------


def sqlite_tables(path: str) -> dict[str, list[str]]:
    """A SQLite file's tables and columns, opened read-only (``mode=ro``)."""
    import sqlite3

    uri = "file:" + path.replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        names = [
            str(row[0])
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        tables = {}
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            tables[name] = [str(r[1]) for r in db.execute(f"PRAGMA table_info({quoted})")]
        return tables


def sqlite_versions(path: str, table: str) -> list[str] | None:
    """The revisions in the shipped file's version table; None when it has none."""
    import sqlite3

    uri = "file:" + path.replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    quoted = '"' + table.replace('"', '""') + '"'
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        try:
            query = f"SELECT version_num FROM {quoted}"  # noqa: S608 - a quoted identifier
            return [str(r[0]) for r in db.execute(query)]
        except sqlite3.Error:
            return None


SIDES = ("-wal", "-shm", "-journal")


def move(src: str, dst: str) -> None:
    """The database file and its side files (WAL, journal) renamed, in the container."""
    os.replace(src, dst)
    for side in SIDES:
        if os.path.exists(src + side):
            os.replace(src + side, dst + side)


def sqlite_aside(path: str, emit: Any) -> tuple[bool, str | None]:
    """The shipped file read, then moved aside, so the upgrade starts from a fresh file
    at the same path (the container's own copy: the image is never changed). False when
    it cannot be (not a database, a folder the image's user cannot write): said so."""
    if not os.path.isfile(path):
        emit({"kind": "sqlite", "path": path, "shipped": False})
        return True, None
    record: dict[str, Any] = {"kind": "sqlite", "path": path, "shipped": True}
    try:
        record["tables"] = sqlite_tables(path)
        aside = path + ".imagecheck-shipped"
        move(path, aside)
    except Exception as exc:  # noqa: BLE001 - not a database, or its folder is read-only
        emit({"kind": "error", "stage": "sqlite", **failure(exc)} | {"path": path})
        return False, None
    emit(record)
    return True, aside


def sqlite_shipped(config: Any, path: str, aside: str, version_table: str, emit: Any) -> None:
    """The shipped file put back in place of the fresh one and upgraded to head, as the
    application's ``alembic upgrade head`` at its start would do with it."""
    move(path, path + ".imagecheck-fresh")
    move(aside, path)
    emit({"kind": "sqlite_versions", "versions": sqlite_versions(path, version_table)})
    upgrade(config, emit, kind="shipped_upgrade")


def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    emit = Emitter()
    sys.path.insert(0, os.getcwd())
    record: dict[str, Any] = {"kind": "start", "python": sys.version.split()[0]}
    try:
        import alembic
        import sqlalchemy
        from alembic.config import Config
    except ImportError as exc:
        record.update({"kind": "error", "stage": "import"}, **failure(exc))
        emit(record)
        return
    record.update({"alembic": alembic.__version__, "sqlalchemy": sqlalchemy.__version__})
    emit(record)
    ini = find_ini(options.get("ini"))
    if ini is None:
        emit({"kind": "error", "stage": "config", "error": "no alembic.ini in the image"})
        return
    config = Config(ini)
    os.chdir(os.path.dirname(ini))  # script_location is relative to where alembic runs
    from alembic.script import ScriptDirectory

    try:
        script = ScriptDirectory.from_config(config)
        heads = list(script.get_heads())
        count = sum(1 for _ in script.walk_revisions())
    except Exception as exc:  # noqa: BLE001 - a broken revision file or script folder
        emit({"kind": "error", "stage": "revisions", **failure(exc)})
        return
    emit({"kind": "config", "ini": ini, "script": script.dir, "heads": heads, "revisions": count})
    sqlite = os.path.abspath(str(options["sqlite"])) if options.get("sqlite") else None
    ready, aside = sqlite_aside(sqlite, emit) if sqlite else (True, None)
    if not ready:
        emit({"kind": "end"})
        return
    if options.get("upgrade", True) and not upgrade(config, emit):
        emit({"kind": "end"})
        return
    try:
        seen = compare(config, emit)
    except Exception as exc:  # noqa: BLE001 - env.py or the comparison broke
        emit({"kind": "error", "stage": "compare", **failure(exc)})
        emit({"kind": "end"})
        return
    root = os.path.dirname(ini)
    try:
        outside(seen, root, emit)
        unseen(seen, root, os.path.abspath(script.dir), emit)
    except Exception as exc:  # noqa: BLE001
        emit({"kind": "error", "stage": "models", **failure(exc)})
    if sqlite and aside:
        version = str(seen.get("opts", {}).get("version_table") or "alembic_version")
        try:
            sqlite_shipped(config, sqlite, aside, version, emit)
        except Exception as exc:  # noqa: BLE001
            emit({"kind": "error", "stage": "sqlite", **failure(exc)})
    emit({"kind": "end"})


if __name__ == "__main__":
    main()
