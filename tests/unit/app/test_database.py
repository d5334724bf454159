"""The live database seam (``imagecheck.app.database``): which server a container or compose
service is, whose credentials its client uses, the read-only command it runs, and what the
client's output means. The clients' outputs below are what psql 15 and MariaDB 10.11's
``mariadb`` printed in the engine tests' images (tests/engine/stacks/postgres, mariadb)."""

from __future__ import annotations

from pathlib import Path

from imagecheck.app import (
    MYSQL,
    POSTGRES,
    database_kind,
    database_service,
    detect,
    outcome,
    plan_migrations,
    schema_tables,
)
from imagecheck.app import MigrationOptions as Options
from imagecheck.engine import ContainerConfig, ExecResult
from imagecheck.triage import load_project

MARIADB_NO_TABLE = """\
--------------
SET SESSION TRANSACTION READ ONLY; SELECT version_num FROM alembic_version
--------------

ERROR 1146 (42S02) at line 1: Table 'app.alembic_version' doesn't exist
"""
MARIADB_DENIED = (
    "ERROR 1045 (28000): Access denied for user 'app'@'localhost' (using password: YES)\n"
)
MARIADB_DOWN = (
    "ERROR 2002 (HY000): Can't connect to local server through socket "
    "'/run/mysqld/mysqld.sock' (2)\n"
)
PSQL_NO_TABLE = 'ERROR:  relation "alembic_version" does not exist\nLINE 1: SELECT ...\n'
SH_NO_CLIENT = "sh: 1: exec: mysql: not found\n"


def _config(env: tuple[str, ...], image: str = "x") -> ContainerConfig:
    return ContainerConfig("id", "p_db_1", image, env, True)


def test_the_server_is_known_by_its_variables_or_its_image() -> None:
    assert database_kind(_config(("POSTGRES_PASSWORD=x",))) == "postgresql"
    assert database_kind(_config((), "docker.io/library/postgres:16")) == "postgresql"
    assert database_kind(_config(("MARIADB_ROOT_PASSWORD=x",))) == "mysql"
    assert database_kind(_config((), "mysql:8")) == "mysql"
    assert database_kind(_config((), "registry.local:5000/team/mariadb@sha256:ab")) == "mysql"
    assert database_kind(_config(("PATH=/bin",), "redis:7")) is None
    # a registry's port or a tag is no image name: "postgres" there says nothing
    assert database_kind(_config((), "postgres.example:5000/app/api:postgres")) is None


def test_a_client_variable_is_a_weaker_sign_than_the_server_s_own() -> None:
    app = detect(["MYSQL_HOST", "MYSQL_USER", "MYSQL_PASSWORD"], "imagecheck-test/backend:1")
    assert app is not None
    assert (app.dialect, app.strong) == (MYSQL, False)
    server = detect(["MYSQL_USER", "MARIADB_ROOT_PASSWORD"], "corp/db:1")
    assert server is not None
    assert (server.dialect, server.strong) == (MYSQL, True)
    by_name = detect(["POSTGRES_USER"], "imagecheck-test/mariadb:ab12")
    assert by_name is not None
    assert (by_name.dialect, by_name.strong) == (MYSQL, True)  # the image wins over a client key
    data = detect(["PGDATA"], "corp/db:1")
    assert data is not None
    assert (data.dialect, data.strong) == (POSTGRES, True)


def test_mysql_connects_as_the_application_s_user_else_root() -> None:
    env = {
        "MARIADB_ROOT_PASSWORD": "rootpw",
        "MYSQL_USER": "app",
        "MYSQL_PASSWORD": "s3cret",
        "MARIADB_DATABASE": "shop",
    }
    creds = MYSQL.credentials(env)
    assert (creds.user, creds.password, creds.database) == ("app", "s3cret", "shop")
    root = MYSQL.credentials({"MYSQL_ROOT_PASSWORD": "rootpw"})
    assert (root.user, root.password, root.database) == ("root", "rootpw", "")
    secret = MYSQL.credentials({"MYSQL_USER": "app", "MYSQL_PASSWORD_FILE": "/run/secrets/db"})
    assert (secret.password, secret.password_file) == (None, "/run/secrets/db")
    pg = POSTGRES.credentials({"POSTGRES_USER": "u"})
    assert (pg.user, pg.database, pg.password) == ("u", "u", None)  # POSTGRES_DB: the user


def test_the_clients_are_read_only_and_keep_passwords_out_of_argv() -> None:
    creds = POSTGRES.credentials({"POSTGRES_USER": "u", "POSTGRES_PASSWORD": "s3cret"})
    argv, env = POSTGRES.command(creds, "SELECT 1")
    assert argv[:2] == ("psql", "-X")
    assert argv[argv.index("-U") : argv.index("-U") + 2] == ("-U", "u")
    assert argv[argv.index("-F") + 1] == "\t"
    assert "PGOPTIONS=-c default_transaction_read_only=on" in env
    assert "PGPASSWORD=s3cret" in env
    assert "s3cret" not in " ".join(argv)

    creds = MYSQL.credentials({"MYSQL_ROOT_PASSWORD": "s3cret", "MYSQL_DATABASE": "app"})
    argv, env = MYSQL.command(creds, "SELECT 1")
    assert argv[:2] == ("sh", "-c")
    assert "exec mariadb" in argv[2]
    assert "exec mysql" in argv[2]  # whichever client the image has
    assert argv[-1] == "app"
    assert argv[argv.index("-e") + 1] == "SET SESSION TRANSACTION READ ONLY; SELECT 1"
    assert env == ("MYSQL_PWD=s3cret",)
    assert "s3cret" not in " ".join(argv)

    filed = MYSQL.credentials({"MYSQL_USER": "a", "MYSQL_PASSWORD_FILE": "/run/secrets/db"})
    argv, env = MYSQL.command(filed, "SELECT 1")
    assert env == ("IMAGECHECK_PASSWORD_FILE=/run/secrets/db",)
    assert "/run/secrets/db" not in " ".join(argv)
    assert argv[argv.index("-e") - 1] == "a"
    assert argv[-1].endswith("SELECT 1")  # no database named: none selected


def test_the_schema_query_leaves_out_the_server_s_own_schemas() -> None:
    sql = MYSQL.schema_sql()
    assert "NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')" in sql
    assert sql.startswith("SELECT table_schema, table_name, column_name, DATABASE() FROM")
    assert "current_schema()" in POSTGRES.schema_sql()
    assert "'pg_catalog'" in POSTGRES.schema_sql()


def test_the_clients_rows_are_parsed() -> None:
    # mariadb -B escapes a tab in a value as \t and a backslash as \\ ; psql -A does not
    out = "app\tuser\tid\tapp\napp\tuser\twe\\tird\tapp\napp\tlog\tpath\\\\x\tapp\n\n"
    assert MYSQL.rows(out) == (
        ("app", "user", "id", "app"),
        ("app", "user", "we\tird", "app"),
        ("app", "log", "path\\x", "app"),
    )
    assert POSTGRES.rows("public\tuser\tid\tpublic\n") == (("public", "user", "id", "public"),)


def test_the_default_schema_s_tables_are_unqualified() -> None:
    rows = [
        ("app", "user", "id", "app"),
        ("app", "user", "email", "app"),
        ("audit", "event", "id", "app"),
        ("public", "ignored", "too-few"),
    ]
    assert schema_tables(rows) == (("audit.event", ("id",)), ("user", ("id", "email")))
    pg = [("public", "item", "id", "public"), ("billing", "invoice", "id", "public")]
    assert schema_tables(pg) == (("billing.invoice", ("id",)), ("item", ("id",)))
    # no database selected (DATABASE() is NULL): the one schema there is is the default
    assert schema_tables([("app", "user", "id", "NULL")]) == (("user", ("id",)),)
    # among several, which one the application uses is unknown: said, not guessed
    several = [("app", "user", "id", "NULL"), ("crm", "lead", "id", "NULL")]
    assert schema_tables(several) == (
        "no database is named in its environment (MYSQL_DATABASE) and it has 2: app, crm"
    )
    assert schema_tables([]) == ()


def test_what_the_client_said_is_an_answer() -> None:
    read = outcome(MYSQL, "p_db_1", "app", ExecResult(0, "3f2a1b0c9d8e\n", ""))
    assert (read.status, read.rows, read.detail) == (
        "read",
        (("3f2a1b0c9d8e",),),
        "mysql in p_db_1 as app",
    )
    never = outcome(MYSQL, "p_db_1", "app", ExecResult(1, "", MARIADB_NO_TABLE))
    assert never.status == "no-table"
    assert never.detail.startswith("ERROR 1146 (42S02) at line 1: Table 'app.alembic_version'")
    denied = outcome(MYSQL, "p_db_1", "app", ExecResult(1, "", MARIADB_DENIED))
    assert (denied.status, denied.detail) == ("failed", MARIADB_DENIED.strip())
    down = outcome(MYSQL, "p_db_1", "app", ExecResult(1, "", MARIADB_DOWN))
    assert down.status == "refused"
    missing = outcome(MYSQL, "p_worker_1", "app", ExecResult(127, "", SH_NO_CLIENT))
    assert (missing.status, missing.detail) == (
        "no-client",
        "p_worker_1 has no mysql client to read it with",
    )
    assert (
        outcome(MYSQL, "p_db_1", "app", ExecResult(None, "", "", timed_out=True)).status == "failed"
    )
    pg = outcome(POSTGRES, "p_db_1", "postgres", ExecResult(1, "", PSQL_NO_TABLE))
    assert (pg.status, pg.detail) == (
        "no-table",
        'ERROR:  relation "alembic_version" does not exist',
    )


COMPOSE = """\
services:
  worker:
    image: shop/backend:1
    environment: [MYSQL_HOST=db, MYSQL_USER=app, MYSQL_PASSWORD=pw, MYSQL_DATABASE=shop]
  db:
    image: corp/sql:10
    environment: [MARIADB_ROOT_PASSWORD=root, MARIADB_USER=app, MARIADB_PASSWORD=pw]
  backend:
    build: ./backend
    image: shop/backend:1
    environment: [MYSQL_HOST=db, MYSQL_USER=app]
"""


def test_the_compose_database_service_is_the_server_not_a_client(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    project = load_project(tmp_path, environ={})
    db = database_service(project)
    assert db is not None
    assert db.name == "db"
    plan = plan_migrations(project, ("shop/backend:1",), Options())
    assert not isinstance(plan, str)
    assert (plan.kind, plan.db_image, plan.aliases) == ("mysql", "corp/sql:10", ("db",))
    assert "MYSQL_HOST=db" in plan.app_environment
    alone = plan_migrations(None, (), Options(db_image="imagecheck-test/mariadb:1"))
    assert not isinstance(alone, str)
    assert alone.db_environment == ("MYSQL_ROOT_PASSWORD=imagecheck",)
