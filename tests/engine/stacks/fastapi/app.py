"""The ``backend`` service: logs as uvicorn does (its logger is called ``uvicorn.error``),
then serves; with BAD_QUERY set it queries a column the migrations never made."""

import logging
import os
import time

import psycopg2  # type: ignore[import-untyped]  # in the image only

logging.basicConfig(level=logging.INFO)
log = logging.getLogger("uvicorn.error")
log.info("Started server process [%d]", os.getpid())
log.info("Waiting for application startup.")
conn = psycopg2.connect(os.environ["DATABASE_URL"])
log.info("Application startup complete.")
log.info("Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)")
if os.environ.get("BAD_QUERY"):
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, title, priority FROM item")
    except psycopg2.Error:
        conn.rollback()
        log.exception("Exception in ASGI application")
time.sleep(3600)
