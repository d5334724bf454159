from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200))


class LegacyReport(Base):
    """A view the DBA maintains, mapped read-only: env.py's include_object leaves it out."""

    __tablename__ = "legacy_report"
    id: Mapped[int] = mapped_column(primary_key=True)
    total: Mapped[int]
