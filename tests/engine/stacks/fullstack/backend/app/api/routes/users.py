"""Users: list and create."""

from fastapi import APIRouter, HTTPException
from sqlmodel import select

from app.api.deps import SessionDep
from app.models import User, UserCreate, UserPublic

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/", response_model=list[UserPublic])
def read_users(session: SessionDep, skip: int = 0, limit: int = 100) -> list[User]:
    return list(session.exec(select(User).offset(skip).limit(limit)).all())


@router.post("/", response_model=UserPublic)
def create_user(session: SessionDep, user_in: UserCreate) -> User:
    if session.exec(select(User).where(User.email == user_in.email)).first():
        raise HTTPException(status_code=400, detail="The user with this email already exists")
    user = User.model_validate(user_in)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user
