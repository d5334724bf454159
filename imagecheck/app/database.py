"""The stack's database's alembic revision, read the least invasive way and never written.

``docker exec`` into the database's own running container, with the credentials that
container was configured with (``POSTGRES_USER``/``POSTGRES_DB``, ``MYSQL_USER``/
``MYSQL_DATABASE`` ... of its environment), runs the server's own client on a
read-only session: ``psql`` with ``default_transaction_read_only``, ``mysql`` with
``SET SESSION TRANSACTION READ ONLY``. Nothing is installed, no network is joined, no
port is opened. A refused connection is an answer (``status="refused"``), not an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import EnvironmentProblem, ImageNotFound
from ..model import DatabaseRevision, Inventory

if TYPE_CHECKING:
    from ..engine import ContainerConfig, Engine, ExecResult

QUERY = "SELECT version_num FROM alembic_version"
#: a version table env.py names (``meta.schedule_versions``): plain identifiers only
_RELATION = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$")
TIMEOUT = 20.0
_PG_KEYS = ("POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD", "PG_MAJOR", "PG_VERSION")
_MY_KEYS = (
    "MYSQL_ROOT_PASSWORD",
    "MYSQL_DATABASE",
    "MYSQL_USER",
    "MARIADB_ROOT_PASSWORD",
    "MARIADB_DATABASE",
    "MARIADB_USER",
    "MYSQL_ALLOW_EMPTY_PASSWORD",
    "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
)
_REFUSED = (
    "could not connect",
    "connection refused",
    "no such file or directory",
    "the database system is starting up",
    "the database system is shutting down",
    "can't connect",
    "error 2002",
    "error 2003",
)
_NO_TABLE = ('relation "alembic_version" does not exist', "error 1146", "doesn't exist")


def _env(config: ContainerConfig) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in config.env:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def database_kind(config: ContainerConfig) -> str | None:
    """ "postgresql" or "mysql" from the container's environment, else its image's name."""
    env = _env(config)
    image = config.image.lower().rsplit("/", 1)[-1]
    if any(k in env for k in _PG_KEYS) or image.startswith(("postgres", "postgis", "timescale")):
        return "postgresql"
    if any(k in env for k in _MY_KEYS) or image.startswith(("mysql", "mariadb", "percona")):
        return "mysql"
    return None


def version_table(inv: Inventory) -> str:
    """The version table the image's env.py names (statically read), else alembic's."""
    for scripts in inv.alembic:
        if scripts.env is not None and _RELATION.match(scripts.env.version_relation):
            return scripts.env.version_relation
    return "alembic_version"


def _query(table: str) -> str:
    if table == "alembic_version" or not _RELATION.match(table):
        return QUERY
    return f"SELECT version_num FROM {table}"  # noqa: S608 - a plain identifier (_RELATION)


def postgres_command(
    env: dict[str, str], table: str = "alembic_version"
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(psql's argv, the exec's added environment) on the container's own settings."""
    user = env.get("POSTGRES_USER") or "postgres"
    database = env.get("POSTGRES_DB") or user
    added = ["PGOPTIONS=-c default_transaction_read_only=on", "PGCONNECT_TIMEOUT=10"]
    if env.get("POSTGRES_PASSWORD"):  # local sockets are usually trusted; TCP is not
        added.append(f"PGPASSWORD={env['POSTGRES_PASSWORD']}")
    argv = ("psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database)
    return (*argv, "-c", _query(table)), tuple(added)


def mysql_command(
    env: dict[str, str], table: str = "alembic_version"
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the mysql client's argv, the exec's added environment): the application user when
    the container made one, else root; the password through MYSQL_PWD, never argv."""
    user = env.get("MYSQL_USER") or env.get("MARIADB_USER")
    password = env.get("MYSQL_PASSWORD") or env.get("MARIADB_PASSWORD")
    if not user:
        user = "root"
        password = env.get("MYSQL_ROOT_PASSWORD") or env.get("MARIADB_ROOT_PASSWORD")
    database = env.get("MYSQL_DATABASE") or env.get("MARIADB_DATABASE") or ""
    sql = f"SET SESSION TRANSACTION READ ONLY; {_query(table)}"
    client = "mariadb" if any(k.startswith("MARIADB_") for k in env) else "mysql"
    argv = (client, "--connect-timeout=10", "-N", "-B", "-u", user, "-e", sql)
    added = (f"MYSQL_PWD={password}",) if password else ()
    return ((*argv, database) if database else argv), added


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def _outcome(  # noqa: PLR0917 - the one caller passes what it read
    service: str, kind: str, name: str, result: ExecResult, client: str, table: str
) -> DatabaseRevision:
    said = _first_line(result.stderr) or _first_line(result.stdout)
    lowered = (result.stderr + result.stdout).lower()
    if result.exit_code == 0:
        rows = tuple(line.strip() for line in result.stdout.splitlines() if line.strip())
        detail = f"{client} in {name}, read-only"
        return DatabaseRevision(service, kind, "read", rows, detail, name)
    if result.exit_code is None:
        return DatabaseRevision(service, kind, "failed", (), f"{client} did not answer", name)
    if any(s in lowered for s in _NO_TABLE) and table.rsplit(".", 1)[-1].lower() in lowered:
        return DatabaseRevision(service, kind, "no-table", (), said, name)
    if result.exit_code in (126, 127) or "executable file not found" in lowered:
        detail = f"{name} has no {client} client to read it with"
        return DatabaseRevision(service, kind, "failed", (), detail, name)
    status = "refused" if any(s in lowered for s in _REFUSED) else "failed"
    return DatabaseRevision(service, kind, status, (), said or f"exit {result.exit_code}", name)


def read_database(
    engine: Engine, candidates: Sequence[tuple[str, str]], table: str = "alembic_version"
) -> DatabaseRevision | None:
    """The alembic revision of the first database among ``candidates`` ((service,
    container id), the service's ``depends_on`` first), read from ``table`` (env.py's
    ``version_table``, schema-qualified); None when none is a database."""
    for service, cid in candidates:
        try:
            config = engine.container_config(cid)
        except ImageNotFound:  # removed since it was listed
            continue
        kind = database_kind(config)
        if kind is None:
            continue
        if not config.running:
            detail = f"{config.name} is not running"
            return DatabaseRevision(service, kind, "refused", (), detail, config.name)
        env = _env(config)
        command = postgres_command if kind == "postgresql" else mysql_command
        argv, added = command(env, table)
        try:
            result = engine.exec_run(config.id, argv, added, timeout=TIMEOUT)
        except EnvironmentProblem as exc:
            return DatabaseRevision(service, kind, "failed", (), str(exc), config.name)
        return _outcome(service, kind, config.name, result, argv[0], table)
    return None


__all__ = ["database_kind", "mysql_command", "postgres_command", "read_database", "version_table"]
