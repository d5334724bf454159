"""Create the user table

Revision ID: 5e1c0a3b7d21
Revises:
Create Date: 2026-11-02 10:14:52.342105

"""

import sqlalchemy as sa
from alembic import op

revision = "5e1c0a3b7d21"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("user")
