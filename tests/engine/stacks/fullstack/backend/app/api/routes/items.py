"""Items: list and create, each owned by a user."""

from fastapi import APIRouter, HTTPException
from sqlmodel import select

from app.api.deps import SessionDep
from app.models import Item, ItemCreate, ItemPublic, User

router = APIRouter(prefix="/items", tags=["items"])


@router.get("/", response_model=list[ItemPublic])
def read_items(session: SessionDep, skip: int = 0, limit: int = 100) -> list[Item]:
    return list(session.exec(select(Item).offset(skip).limit(limit)).all())


@router.post("/", response_model=ItemPublic)
def create_item(session: SessionDep, item_in: ItemCreate) -> Item:
    if session.get(User, item_in.owner_id) is None:
        raise HTTPException(status_code=404, detail="Owner not found")
    item = Item.model_validate(item_in)
    session.add(item)
    session.commit()
    session.refresh(item)
    return item
