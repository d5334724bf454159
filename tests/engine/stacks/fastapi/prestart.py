"""The one-shot ``prestart`` service: wait for the database, run the "migrations", exit 0."""

import logging
import os
import time

import psycopg2  # type: ignore[import-untyped]  # in the image only


def connect() -> "psycopg2.extensions.connection":
    """As backend_pre_start.py does: the database may still be starting."""
    for _ in range(60):
        try:
            return psycopg2.connect(os.environ["DATABASE_URL"])
        except psycopg2.OperationalError:
            time.sleep(0.5)
    return psycopg2.connect(os.environ["DATABASE_URL"])


logging.basicConfig(level=logging.INFO, format="%(levelname)-5.5s [%(name)s] %(message)s")
log = logging.getLogger("alembic.runtime.migration")
conn = connect()
log.info("Context impl PostgresqlImpl.")
log.info("Will assume transactional DDL.")
with conn, conn.cursor() as cur:
    cur.execute("CREATE TABLE IF NOT EXISTS item (id serial PRIMARY KEY, title text)")
log.info("Running upgrade  -> 1a2b3c4d5e6f, create item table")
