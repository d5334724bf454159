"""add orders.total (a branch merged beside add_seller, never merged in alembic)

Revision ID: 3c4d5e6f7a8b
Revises: 1a2b3c4d5e6f
"""

import sqlalchemy as sa
from alembic import op

revision = "3c4d5e6f7a8b"
down_revision = "1a2b3c4d5e6f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("total", sa.Numeric(10, 2)))


def downgrade() -> None:
    op.drop_column("orders", "total")
