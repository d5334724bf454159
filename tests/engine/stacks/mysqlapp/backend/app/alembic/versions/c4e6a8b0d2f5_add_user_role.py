"""Add user.role

Revision ID: c4e6a8b0d2f5
Revises: 8b2d4f6a0c13
Create Date: 2026-11-20 09:41:37.915320

"""

import sqlalchemy as sa
from alembic import op

revision = "c4e6a8b0d2f5"
down_revision = "8b2d4f6a0c13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user", sa.Column("role", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("user", "role")
