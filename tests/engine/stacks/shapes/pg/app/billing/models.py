from sqlalchemy import Column, Integer, Numeric, String
from sqlalchemy.orm import declarative_base

BillingBase = declarative_base()


class Invoice(BillingBase):
    __tablename__ = "invoice"
    __table_args__ = {"schema": "billing"}  # noqa: RUF012 (SQLAlchemy reads it as is)

    id = Column(Integer, primary_key=True)
    number = Column(String(40), nullable=False)
    amount = Column(Numeric(10, 2), nullable=False)
