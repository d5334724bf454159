"""The one-shot ``prestart`` service: wait for the database, run the "migrations", exit 0."""

import logging
import os

import psycopg2  # type: ignore[import-untyped]  # in the image only

logging.basicConfig(level=logging.INFO, format="%(levelname)-5.5s [%(name)s] %(message)s")
log = logging.getLogger("alembic.runtime.migration")
log.info("Context impl PostgresqlImpl.")
log.info("Will assume transactional DDL.")
with psycopg2.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cur:
    cur.execute("CREATE TABLE IF NOT EXISTS item (id serial PRIMARY KEY, title text)")
log.info("Running upgrade  -> 1a2b3c4d5e6f, create item table")
