"""Alembic's environment: the models' metadata, the URL from the environment."""

import os

from alembic import context
from app.models import Base
from sqlalchemy import engine_from_config, pool

config = context.config
config.set_main_option("sqlalchemy.url", os.environ.get("DATABASE_URL", "sqlite://"))
target_metadata = Base.metadata

section = config.get_section(config.config_ini_section) or {}
connectable = engine_from_config(section, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
