"""The application inside the image: its alembic migrations and models against a database."""

from .migrations import (
    LABEL,
    Difference,
    MigrationOptions,
    MigrationPlan,
    MigrationRun,
    UnseenModule,
    UpgradeFailure,
    database_service,
    has_alembic,
    migration_run,
    plan_migrations,
    project_here,
    read_live_schema,
    read_records,
    run_migrations,
)
from .schema import check_schema, live_findings, migration_findings

__all__ = [
    "LABEL",
    "Difference",
    "MigrationOptions",
    "MigrationPlan",
    "MigrationRun",
    "UnseenModule",
    "UpgradeFailure",
    "check_schema",
    "database_service",
    "has_alembic",
    "live_findings",
    "migration_findings",
    "migration_run",
    "plan_migrations",
    "project_here",
    "read_live_schema",
    "read_records",
    "run_migrations",
]
