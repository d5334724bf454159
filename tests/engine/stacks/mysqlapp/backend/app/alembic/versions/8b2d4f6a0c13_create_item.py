"""Create the item table, owned by a user

Revision ID: 8b2d4f6a0c13
Revises: 5e1c0a3b7d21
Create Date: 2026-11-09 16:03:11.208174

"""

import sqlalchemy as sa
from alembic import op

revision = "8b2d4f6a0c13"
down_revision = "5e1c0a3b7d21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("item")
