"""Orders: list them by state."""

from fastapi import APIRouter

from app.models import OrderState

router = APIRouter()


@router.get("/orders/states")
def states() -> list[str]:
    return [s.value for s in OrderState]
