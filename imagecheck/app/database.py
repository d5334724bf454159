"""The stack's database, read the least invasive way and never written: its alembic
revision (triage, IC85x) and its tables and columns (the live schema, IC907/IC908).

One seam for every database server: a ``Dialect`` says how the server is known (its
image's name, the variables its image reads), where its credentials are in its
container's environment, how its own client runs a read-only query with them, and how
to read the client's rows. ``docker exec`` into the database's own running container runs
that client (``psql`` with ``default_transaction_read_only``; ``mariadb`` or ``mysql``,
whichever the image has, after ``SET SESSION TRANSACTION READ ONLY``): nothing is
installed, no network is joined, no port is opened, and the password goes in the exec's
environment (``PGPASSWORD``, ``MYSQL_PWD``), never in argv and so never in the process
list. A refused connection is an answer (``status="refused"``), not an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import EnvironmentProblem, ImageNotFound
from ..model import DatabaseRevision, Inventory

if TYPE_CHECKING:
    from ..engine import ContainerConfig, Engine, ExecResult

Tables = tuple[tuple[str, tuple[str, ...]], ...]  # table -> its columns, in order
TIMEOUT = 20.0
REVISION_SQL = "SELECT version_num FROM alembic_version"
#: a version table env.py names (``meta.schema_versions``): plain identifiers only
_RELATION = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$")


def version_table(inv: Inventory) -> str:
    """The version table the image's env.py names (statically read), else alembic's."""
    for scripts in inv.alembic:
        if scripts.env is not None and _RELATION.match(scripts.env.version_relation):
            return scripts.env.version_relation
    return "alembic_version"


def revision_sql(table: str = "alembic_version") -> str:
    """The revision query on ``table`` (alembic's own when it is no plain identifier)."""
    if table == "alembic_version" or not _RELATION.match(table):
        return REVISION_SQL
    return f"SELECT version_num FROM {table}"  # noqa: S608 - a plain identifier (_RELATION)


#: what a client says when the server is not there (yet) to answer
_REFUSED = (
    "could not connect",
    "connection refused",
    "no such file or directory",
    "the database system is starting up",
    "the database system is shutting down",
    "can't connect",
    "error 2002",
    "error 2003",
    "error 2013",
)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who the client connects as: the server container's own configured account."""

    user: str
    database: str  # "": none named (MySQL then selects none)
    password: str | None = None
    password_file: str | None = None  # a *_FILE variable: read inside the container


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between database servers; the reading itself is one code path."""

    name: str  # DatabaseRevision.engine, MigrationPlan.kind: "postgresql", "mysql"
    label: str  # for people: "PostgreSQL", "MySQL/MariaDB"
    client: str  # the client named in messages
    images: tuple[str, ...]  # image names that are this server
    server_keys: tuple[str, ...]  # variables only the server's image reads or sets
    prefixes: tuple[str, ...]  # variables that may be the server's or a client's
    data_dir: str  # where the server keeps its data (a tmpfs for a throwaway one)
    ready: tuple[str, ...]  # exits 0 once the server accepts TCP connections
    default_env: tuple[str, ...]  # what a throwaway server needs when nothing is given
    system_schemas: tuple[str, ...]
    current_schema: str  # SQL: the session's default schema, whose tables go unqualified
    no_table: tuple[str, ...]  # the client's words for "no such table"

    def credentials(self, env: Mapping[str, str]) -> Credentials:
        raise NotImplementedError

    def command(self, creds: Credentials, sql: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the client's argv, the exec's added environment) for one read-only query."""
        raise NotImplementedError

    def rows(self, stdout: str) -> tuple[tuple[str, ...], ...]:
        """The client's output as rows of fields (tab-separated, no header)."""
        return tuple(tuple(line.split("\t")) for line in stdout.splitlines() if line.strip())

    def schema_sql(self) -> str:
        """Every table's columns but the server's own, and the session's default schema."""
        skipped = ", ".join(f"'{s}'" for s in self.system_schemas)
        columns = f"table_schema, table_name, column_name, {self.current_schema}"
        where = f"table_schema NOT IN ({skipped})"
        order = "table_schema, table_name, ordinal_position"
        # this module's constants only, no input: S608 does not apply
        return f"SELECT {columns} FROM information_schema.columns WHERE {where} ORDER BY {order}"  # noqa: S608


@dataclass(frozen=True, slots=True)
class _Postgres(Dialect):
    def credentials(self, env: Mapping[str, str]) -> Credentials:
        user = env.get("POSTGRES_USER") or "postgres"
        password = env.get("POSTGRES_PASSWORD") or None
        return Credentials(user, env.get("POSTGRES_DB") or user, password)

    def command(self, creds: Credentials, sql: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        added = ["PGOPTIONS=-c default_transaction_read_only=on", "PGCONNECT_TIMEOUT=10"]
        if creds.password:  # local sockets are usually trusted; TCP is not
            added.append(f"PGPASSWORD={creds.password}")
        argv = ("psql", "-X", "-q", "-t", "-A", "-F", "\t", "-v", "ON_ERROR_STOP=1")
        return (*argv, "-U", creds.user, "-d", creds.database, "-c", sql), tuple(added)


#: The client the image has (MariaDB 11 has no ``mysql``, MySQL has no ``mariadb``), its
#: password read from a *_FILE secret when that is how the container got it.
_MYSQL_SH = (
    'if [ -n "${IMAGECHECK_PASSWORD_FILE:-}" ]; then '
    'MYSQL_PWD=$(cat "$IMAGECHECK_PASSWORD_FILE") && export MYSQL_PWD; fi; '
    'if command -v mariadb >/dev/null 2>&1; then exec mariadb "$@"; fi; exec mysql "$@"'
)
_MYSQL_PING = (  # mysqladmin says "alive" (exit 0) even when it is refused the account
    "if command -v mariadb-admin >/dev/null 2>&1; then "
    "exec mariadb-admin ping -h 127.0.0.1 --silent; fi; "
    "exec mysqladmin ping -h 127.0.0.1 --silent"
)
_MYSQL_UNESCAPE = {"\\t": "\t", "\\n": "\n", "\\0": "\0", "\\\\": "\\"}


def _first(env: Mapping[str, str], *keys: str) -> str | None:
    return next((env[k] for k in keys if env.get(k)), None)


@dataclass(frozen=True, slots=True)
class _MySQL(Dialect):
    def credentials(self, env: Mapping[str, str]) -> Credentials:
        """The application's user when the container made one, else root."""
        database = _first(env, "MARIADB_DATABASE", "MYSQL_DATABASE") or ""
        user = _first(env, "MARIADB_USER", "MYSQL_USER")
        if user:
            password = _first(env, "MARIADB_PASSWORD", "MYSQL_PASSWORD")
            file = _first(env, "MARIADB_PASSWORD_FILE", "MYSQL_PASSWORD_FILE")
        else:
            user = "root"
            password = _first(env, "MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD")
            file = _first(env, "MARIADB_ROOT_PASSWORD_FILE", "MYSQL_ROOT_PASSWORD_FILE")
        return Credentials(user, database, password, None if password else file)

    def command(self, creds: Credentials, sql: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        sql = f"SET SESSION TRANSACTION READ ONLY; {sql}"
        args = ("--connect-timeout=10", "-N", "-B", "-u", creds.user, "-e", sql)
        named = (creds.database,) if creds.database else ()
        argv = ("sh", "-c", _MYSQL_SH, "mysql", *args, *named)
        if creds.password:
            return argv, (f"MYSQL_PWD={creds.password}",)
        if creds.password_file:
            return argv, (f"IMAGECHECK_PASSWORD_FILE={creds.password_file}",)
        return argv, ()

    def rows(self, stdout: str) -> tuple[tuple[str, ...], ...]:
        """Batch mode escapes tab, newline, NUL and backslash in values."""
        return tuple(
            tuple(_unescape(field) for field in line.split("\t"))
            for line in stdout.splitlines()
            if line.strip()
        )


def _unescape(field: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(field):
        pair = field[i : i + 2]
        if pair in _MYSQL_UNESCAPE:
            out.append(_MYSQL_UNESCAPE[pair])
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


POSTGRES = _Postgres(
    name="postgresql",
    label="PostgreSQL",
    client="psql",
    images=("postgres", "postgis", "timescale"),
    server_keys=(
        "PGDATA",
        "PG_MAJOR",
        "PG_VERSION",
        "POSTGRES_INITDB_ARGS",
        "POSTGRES_HOST_AUTH_METHOD",
    ),
    prefixes=("POSTGRES_",),
    data_dir="/var/lib/postgresql/data",
    ready=("pg_isready", "-h", "127.0.0.1", "-q"),
    default_env=("POSTGRES_PASSWORD=imagecheck",),
    system_schemas=("pg_catalog", "information_schema"),
    current_schema="current_schema()",
    no_table=('relation "alembic_version" does not exist',),
)
MYSQL = _MySQL(
    name="mysql",
    label="MySQL/MariaDB",
    client="mysql",
    images=("mysql", "mariadb", "percona"),
    server_keys=(
        "MYSQL_ROOT_PASSWORD",
        "MARIADB_ROOT_PASSWORD",
        "MYSQL_ROOT_PASSWORD_FILE",
        "MARIADB_ROOT_PASSWORD_FILE",
        "MYSQL_ALLOW_EMPTY_PASSWORD",
        "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
        "MYSQL_RANDOM_ROOT_PASSWORD",
        "MARIADB_RANDOM_ROOT_PASSWORD",
        "MYSQL_MAJOR",
        "MYSQL_VERSION",
        "MARIADB_MAJOR",
        "MARIADB_VERSION",
    ),
    prefixes=("MYSQL_", "MARIADB_"),
    data_dir="/var/lib/mysql",
    ready=("sh", "-c", _MYSQL_PING),
    default_env=("MYSQL_ROOT_PASSWORD=imagecheck",),
    system_schemas=("mysql", "information_schema", "performance_schema", "sys"),
    current_schema="DATABASE()",
    no_table=("error 1146",),
)
DIALECTS = (POSTGRES, MYSQL)


@dataclass(frozen=True, slots=True)
class Detected:
    dialect: Dialect
    strong: bool  # by the image's name or a server-only variable, not a client's variable


def detect(keys: Iterable[str], image: str) -> Detected | None:
    """The server a container or compose service runs, by (first) a variable only the
    server reads, its image's name, then a variable a client may also have
    (``POSTGRES_USER`` is in the application's environment too)."""
    names = set(keys)
    repository = image.lower().rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    for dialect in DIALECTS:
        if names & set(dialect.server_keys):
            return Detected(dialect, True)
    for dialect in DIALECTS:
        if any(n in repository for n in dialect.images):
            return Detected(dialect, True)
    for dialect in DIALECTS:
        if any(k.startswith(dialect.prefixes) for k in names):
            return Detected(dialect, False)
    return None


def dialect_named(name: str) -> Dialect:
    return next(d for d in DIALECTS if d.name == name)


def container_env(config: ContainerConfig) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in config.env:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def database_kind(config: ContainerConfig) -> str | None:
    """ "postgresql" or "mysql" from the container's environment, else its image's name."""
    found = detect(container_env(config), config.image)
    return found.dialect.name if found else None


@dataclass(frozen=True, slots=True)
class Answer:
    """One query's outcome: "read" (with rows), "no-table", "refused", "no-client",
    "failed"; ``detail`` is the client's own error line, or how it was read."""

    status: str
    rows: tuple[tuple[str, ...], ...] = ()
    detail: str = ""


def _said(text: str) -> str:
    """The client's error line (mysql echoes the statement between dashes first)."""
    lines = [line.strip() for line in text.splitlines() if line.strip().strip("-")]
    line = next((x for x in lines if "error" in x.lower()), lines[0] if lines else "")
    return line[:300]


def outcome(
    dialect: Dialect, name: str, user: str, result: ExecResult, table: str = "alembic_version"
) -> Answer:
    """What the client's exit and output mean (``table``: the version table asked)."""
    if result.exit_code == 0:
        return Answer("read", dialect.rows(result.stdout), f"{dialect.client} in {name} as {user}")
    if result.exit_code is None:
        return Answer("failed", (), f"{dialect.client} in {name} did not answer")
    said = _said(result.stderr) or _said(result.stdout)
    lowered = (result.stderr + result.stdout).lower()
    missing = any(s in lowered for s in (*dialect.no_table, "does not exist", "doesn't exist"))
    if missing and table.rsplit(".", 1)[-1].lower() in lowered:
        return Answer("no-table", (), said)
    if result.exit_code in (126, 127) or "executable file not found" in lowered:
        return Answer("no-client", (), f"{name} has no {dialect.client} client to read it with")
    status = "refused" if any(s in lowered for s in _REFUSED) else "failed"
    return Answer(status, (), said or f"exit {result.exit_code}")


def query(
    engine: Engine,
    config: ContainerConfig,
    dialect: Dialect,
    sql: str,
    timeout: float = TIMEOUT,
    *,
    table: str = "alembic_version",
) -> Answer:
    """``sql`` run read-only by the server's own client in its container, as its account."""
    if not config.running:
        return Answer("refused", (), f"{config.name} is not running")
    creds = dialect.credentials(container_env(config))
    argv, added = dialect.command(creds, sql)
    try:
        result = engine.exec_run(config.id, argv, added, timeout=timeout)
    except EnvironmentProblem as exc:
        return Answer("failed", (), str(exc))
    return outcome(dialect, config.name, creds.user, result, table)


def read_database(
    engine: Engine, candidates: Sequence[tuple[str, str]], table: str = "alembic_version"
) -> DatabaseRevision | None:
    """The alembic revision of the stack's database among ``candidates`` ((service,
    container id), the service's ``depends_on`` first), from ``table`` (env.py's
    ``version_table``, schema-qualified); None when none is a database.

    Those the image's name or a server-only variable make a database go first; one
    without the client (an application with ``POSTGRES_USER``) or not running is only
    the answer when no other candidate answers."""
    found: list[tuple[bool, int, str, ContainerConfig, Dialect]] = []
    for index, (service, cid) in enumerate(candidates):
        try:
            config = engine.container_config(cid)
        except ImageNotFound:  # removed since it was listed
            continue
        hit = detect(container_env(config), config.image)
        if hit is not None:
            found.append((not hit.strong, index, service, config, hit.dialect))
    fallback: DatabaseRevision | None = None
    for weak, _, service, config, dialect in sorted(found, key=lambda f: f[:2]):
        answer = query(engine, config, dialect, revision_sql(table), table=table)
        status = "failed" if answer.status == "no-client" else answer.status
        revisions = tuple(row[0].strip() for row in answer.rows if row and row[0].strip())
        detail = f"{answer.detail}, read-only" if answer.status == "read" else answer.detail
        got = DatabaseRevision(service, dialect.name, status, revisions, detail, config.name)
        if answer.status == "no-client" or (weak and not config.running):
            fallback = fallback or got
            continue
        return got
    return fallback


def schema_tables(rows: Iterable[tuple[str, ...]]) -> Tables | str:
    """information_schema's (schema, table, column, current schema) rows as table ->
    columns; the current schema's tables unqualified, as SQLAlchemy names them. With no
    current schema (MySQL's root, no database named) the one schema there is stands for
    it; among several, which one the application uses is unknown: the reason, not a
    guess (every model table would look missing)."""
    found = [row for row in rows if len(row) == 4]
    current = {row[3] for row in found} - {"NULL", ""}
    schemas = sorted({row[0] for row in found})
    if not current and len(schemas) > 1:
        return (
            f"no database is named in its environment (MYSQL_DATABASE) and it has "
            f"{len(schemas)}: {', '.join(schemas)}"
        )
    default = next(iter(current), schemas[0] if schemas else "")
    tables: dict[str, list[str]] = {}
    for schema, table, column, _ in found:
        name = table if schema == default else f"{schema}.{table}"
        tables.setdefault(name, []).append(column)
    return tuple((t, tuple(c)) for t, c in sorted(tables.items()))


def read_live_schema(
    engine: Engine, project: str, service: str, kind: str, timeout: float = 30.0
) -> Tables | str:
    """The running database's tables and columns, read-only, with its own credentials
    (its client in its container, as its variables say); or why they cannot be read."""
    labels = [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]
    configs = [engine.container_config(cid) for cid in engine.container_ids(labels)]
    running = [c for c in configs if c.running]
    if not running:
        return f"no running container of the database service {service!r}"
    dialect = dialect_named(kind)
    answer = query(engine, running[0], dialect, dialect.schema_sql(), timeout)
    if answer.status != "read":
        return f"{dialect.client} in {service} failed: {answer.detail}"
    tables = schema_tables(answer.rows)
    return (
        f"the schema of {service} is not compared: {tables}" if isinstance(tables, str) else tables
    )


__all__ = [
    "DIALECTS",
    "MYSQL",
    "POSTGRES",
    "Answer",
    "Credentials",
    "Detected",
    "Dialect",
    "database_kind",
    "detect",
    "dialect_named",
    "outcome",
    "query",
    "read_database",
    "read_live_schema",
    "revision_sql",
    "schema_tables",
    "version_table",
]
