"""The orders models. Broken on purpose: ``Order.buyer`` does not say which of the two
foreign keys to ``users`` it follows (seller_id came later), so SQLAlchemy cannot
configure the mappers: the first query fails, not the import."""

import enum

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class OrderState(str, enum.Enum):  # was OrderStatus before the rename
    open = "open"
    paid = "paid"


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200))


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), default=OrderState.open.value)
    total: Mapped[float | None] = mapped_column(Numeric(10, 2))
    buyer: Mapped[User] = relationship()  # which key? buyer_id or seller_id
