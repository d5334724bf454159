"""notes.body, titles unique

Revision ID: n2
Revises: n1
"""

import sqlalchemy as sa
from alembic import op

revision = "n2"
down_revision = "n1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch.create_unique_constraint("uq_notes_title", ["title"])


def downgrade() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.drop_constraint("uq_notes_title", type_="unique")
        batch.drop_column("body")
