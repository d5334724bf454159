"""Add user.full_name

Revision ID: d98dd8ec85a3
Revises: 9c0a54914c78
Create Date: 2026-11-20 09:41:37.915320

"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

# revision identifiers, used by Alembic.
revision = "d98dd8ec85a3"
down_revision = "9c0a54914c78"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "user",
        sa.Column("full_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("user", "full_name")
