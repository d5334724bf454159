"""The application itself: its alembic migrations (read statically), its live database,
and its models against the schema its migrations make.

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .alembic import Folder, Graph, catalog_alembic, describe, parse_revision, read_scripts
    from .checks import alembic_findings, check_alembic, check_database, database_findings
    from .database import database_kind, mysql_command, postgres_command, read_database
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
    "Folder",
    "Graph",
    "MigrationOptions",
    "MigrationPlan",
    "MigrationRun",
    "UnseenModule",
    "UpgradeFailure",
    "alembic_findings",
    "catalog_alembic",
    "check_alembic",
    "check_database",
    "check_schema",
    "database_findings",
    "database_kind",
    "database_service",
    "describe",
    "has_alembic",
    "live_findings",
    "migration_findings",
    "migration_run",
    "mysql_command",
    "parse_revision",
    "plan_migrations",
    "postgres_command",
    "project_here",
    "read_database",
    "read_live_schema",
    "read_records",
    "read_scripts",
    "run_migrations",
]

__getattr__ = lazy.interface(__name__, __file__)
