"""The FastAPI application: checks the database at start, serves /health and the API."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from app.api.main import api_router
from app.core.config import settings
from app.core.db import engine


def check_database() -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    check_database()  # fail at start, not at the first request
    yield


app = FastAPI(title=settings.PROJECT_NAME, lifespan=lifespan)
app.include_router(api_router, prefix=settings.API_V1_STR)


@app.get("/health")
def health() -> dict[str, str]:
    check_database()
    return {"status": "ok"}
