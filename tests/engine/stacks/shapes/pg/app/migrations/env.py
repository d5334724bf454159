"""Three declarative bases, schemas billing and meta, the version table in meta."""

import os

from alembic import context
from billing.models import BillingBase
from catalog.models import Product  # noqa: F401 (registers its table on SQLModel.metadata)
from sqlalchemy import create_engine, pool, text
from sqlmodel import SQLModel
from users.models import Base

target_metadata = [Base.metadata, BillingBase.metadata, SQLModel.metadata]
SCHEMAS = {None, "billing", "meta"}
VERSION_TABLE = "schema_versions"


def include_name(name, type_, parent_names):
    return name in SCHEMAS if type_ == "schema" else True


def include_object(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name == "legacy_report")


def run_migrations_online() -> None:
    engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text("CREATE SCHEMA IF NOT EXISTS meta"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_schemas=True,
            include_name=include_name,
            include_object=include_object,
            version_table=VERSION_TABLE,
            version_table_schema="meta",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
