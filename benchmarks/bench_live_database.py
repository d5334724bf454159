"""Benchmark the live database reads: MariaDB's beside PostgreSQL's, and a bare exec.

Prints figures; it is not a test. The test images of tests/engine/stacks (postgres: Debian's
PostgreSQL 15; mariadb: Debian's MariaDB 10.11) are built, started on an internal network
with compose's labels (as a stack's ``db`` service), given an ``alembic_version`` row and
``--tables`` tables of ``--columns`` columns each, then read in interleaved rounds, as
``imagecheck SERVICE`` reads them (``docker exec`` of the server's own client, read-only,
with the container's own credentials):

- floor: ``docker exec true`` in the same container (what any exec costs);
- revision: ``read_database`` (``SELECT version_num FROM alembic_version``);
- schema: ``read_live_schema`` (``information_schema.columns``, parsed into tables).

Run: ``python benchmarks/bench_live_database.py [--repeat 15] [--tables 40 --columns 10]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from imagecheck.app import MYSQL, POSTGRES, Dialect, read_database, read_live_schema
from imagecheck.engine import Engine, Service, connect

ROOT = Path(__file__).resolve().parents[1]
STACKS = ROOT / "tests" / "engine" / "stacks"
DOCKER = "/usr/bin/docker"
LABEL = {"imagecheck.test": "1"}
REVISION = "c4e6a8b0d2f5"
SERVERS = {
    "postgres": (POSTGRES, ("POSTGRES_PASSWORD=bench", "POSTGRES_DB=app")),
    "mariadb": (
        MYSQL,
        (
            "MARIADB_ROOT_PASSWORD=bench-root",
            "MARIADB_DATABASE=app",
            "MARIADB_USER=app",
            "MARIADB_PASSWORD=bench-app",
        ),
    ),
}


def _wait(engine: Engine, cid: str, dialect: Dialect) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if engine.exec_run(cid, dialect.ready, timeout=10).exit_code == 0:
            return
        time.sleep(0.3)
    raise SystemExit(f"{dialect.label} did not start")


def _populate(engine: Engine, cid: str, name: str, tables: int, columns: int) -> None:
    """The benchmark's own set-up, as the server's superuser (the reads are not)."""
    cols = ", ".join(f"c{n} INTEGER" for n in range(columns))
    ddl = [f"CREATE TABLE t{n} (id INTEGER PRIMARY KEY, {cols})" for n in range(tables)]
    ddl.append("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    ddl.append("INSERT INTO alembic_version VALUES ('c4e6a8b0d2f5')")  # REVISION
    sql = "; ".join(ddl)
    if name == "postgres":
        argv: tuple[str, ...] = ("psql", "-q", "-U", "postgres", "-d", "app", "-c", sql)
        env: tuple[str, ...] = ()
    else:
        argv, env = ("mariadb", "-uroot", "app", "-e", sql), ("MYSQL_PWD=bench-root",)
    done = engine.exec_run(cid, argv, env, timeout=60)
    if done.exit_code != 0:
        raise SystemExit(f"set-up failed in {name}: {done.stderr}")


def _timed(fn: Callable[[], object], into: list[float]) -> None:
    began = time.perf_counter()
    fn()
    into.append((time.perf_counter() - began) * 1000)


def _round(
    engine: Engine,
    project: str,
    dialect: Dialect,
    server: tuple[str, str],
    *,
    tables: int,
    times: dict[str, list[float]],
) -> None:
    """One of each read of one server ((service, container id)), checked, then timed."""
    name, cid = server
    _timed(partial(engine.exec_run, cid, ("true",)), times.setdefault(f"{name} exec true", []))
    got = read_database(engine, [(name, cid)])
    if got is None or got.revisions != (REVISION,):
        raise SystemExit(f"{name}: the revision was not read: {got}")
    _timed(partial(read_database, engine, [(name, cid)]), times.setdefault(f"{name} revision", []))
    schema = read_live_schema(engine, project, name, dialect.name)
    if isinstance(schema, str) or len(schema) != tables:
        raise SystemExit(f"{name}: the schema was not read: {schema}")
    read = partial(read_live_schema, engine, project, name, dialect.name)
    _timed(read, times.setdefault(f"{name} schema", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--tables", type=int, default=40)
    parser.add_argument("--columns", type=int, default=10)
    args = parser.parse_args()
    key = uuid.uuid4().hex[:8]
    project = f"icbenchlive{key}"
    engine = connect()
    tags = {name: f"imagecheck-bench/livedb-{name}:{key}" for name in SERVERS}
    for name, tag in tags.items():
        subprocess.run(
            [DOCKER, "build", "-q", "--label", "imagecheck.test=1", "-t", tag, str(STACKS / name)],
            check=True,
            capture_output=True,
        )
    network = engine.create_network(f"imagecheck-bench-{key}", LABEL)
    started: dict[str, str] = {}
    try:
        for name, (dialect, env) in SERVERS.items():
            labels = {
                **LABEL,
                "com.docker.compose.project": project,
                "com.docker.compose.service": name,
            }
            spec = Service(
                tags[name], network, (name,), env, labels=labels, tmpfs=(dialect.data_dir,)
            )
            started[name] = engine.start_service(spec)
        for name, (dialect, _) in SERVERS.items():
            _wait(engine, started[name], dialect)
            _populate(engine, started[name], name, args.tables, args.columns)
        times: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            for name, (dialect, _) in SERVERS.items():
                server = (name, started[name])
                _round(engine, project, dialect, server, tables=args.tables + 1, times=times)
    finally:
        for cid in started.values():
            engine.remove_container(cid)
        engine.remove_network(network)
        subprocess.run([DOCKER, "rmi", *tags.values()], capture_output=True, check=False)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.repeat} rounds, medians; {args.tables} tables x {args.columns + 1} columns")
    for key_, value in med.items():
        print(f"  {key_:22s} {value:7.1f} ms")
    for what in ("revision", "schema"):
        my, pg = med[f"mariadb {what}"], med[f"postgres {what}"]
        bare = med["mariadb exec true"]
        print(f"  mariadb {what}: {my / pg:.2f} x postgres, {my / bare:.2f} x a bare exec")


if __name__ == "__main__":
    main()
