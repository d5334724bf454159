"""Alembic's environment: the database from the service's variables, the models' metadata."""

from alembic import context
from app.db import url
from app.models import Base
from sqlalchemy import create_engine, pool

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = create_engine(url(), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
