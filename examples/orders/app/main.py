"""The orders service. Its reports router is mounted lazily (on first use), so a broken
import there passes a start-up test and fails in production."""

from fastapi import FastAPI

from app.routers import orders

app = FastAPI()
app.include_router(orders.router)


@app.get("/reports/{name}")
def report(name: str) -> dict[str, str]:
    from app.routers import reports  # lazily: only this endpoint needs it

    return reports.render(name)
