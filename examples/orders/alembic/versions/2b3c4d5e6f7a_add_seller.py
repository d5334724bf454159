"""add orders.seller_id

Revision ID: 2b3c4d5e6f7a
Revises: 1a2b3c4d5e6f
"""

import sqlalchemy as sa
from alembic import op

revision = "2b3c4d5e6f7a"
down_revision = "1a2b3c4d5e6f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("seller_id", sa.Integer, sa.ForeignKey("users.id")))


def downgrade() -> None:
    op.drop_column("orders", "seller_id")
