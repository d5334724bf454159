"""Wait for the database to accept connections (the prestart service runs this)."""

import logging
import time

from sqlalchemy import text
from sqlmodel import Session

from app.core.db import engine

logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)

MAX_TRIES = 60  # one minute
WAIT_SECONDS = 1


def init() -> None:
    for attempt in range(1, MAX_TRIES + 1):
        try:
            with Session(engine) as session:
                session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        except Exception:
            if attempt == MAX_TRIES:
                raise
            logger.warning("database not ready (attempt %d), waiting", attempt)
            time.sleep(WAIT_SECONDS)
        else:
            return


def main() -> None:
    logger.info("Initializing service")
    init()
    logger.info("Service finished initializing")


if __name__ == "__main__":
    main()
