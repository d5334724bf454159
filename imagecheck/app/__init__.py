"""The application itself: its entry point from CMD, its import, modules and SQLAlchemy
mappers (IC80x, in the one smoke container); its alembic migrations read statically, its
live database (IC85x, IC86x), and its models against the schema its migrations make (IC9xx).

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .alembic import Folder, Graph, catalog_alembic, describe, parse_revision, read_scripts
    from .check import check_app, mapper_subject
    from .checks import alembic_findings, check_alembic, check_database, database_findings
    from .database import (
        DIALECTS,
        MYSQL,
        POSTGRES,
        Dialect,
        database_kind,
        detect,
        outcome,
        read_database,
        read_live_schema,
        revision_sql,
        schema_tables,
        version_table,
    )
    from .entry import FASTAPI_DEFAULT_PATHS, expand, find_entry, split_shell
    from .envpy import read_env
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
        read_records,
        run_migrations,
    )
    from .plan import image_scripts, plan_entry, runner_config
    from .schema import check_schema, live_findings, migration_findings, schema_detail
    from .shapes import Shapes, migration_summary, read_shape, sqlite_path, sqlite_url

__all__ = [
    "DIALECTS",
    "FASTAPI_DEFAULT_PATHS",
    "LABEL",
    "MYSQL",
    "POSTGRES",
    "Dialect",
    "Difference",
    "Folder",
    "Graph",
    "MigrationOptions",
    "MigrationPlan",
    "MigrationRun",
    "Shapes",
    "UnseenModule",
    "UpgradeFailure",
    "alembic_findings",
    "catalog_alembic",
    "check_alembic",
    "check_app",
    "check_database",
    "check_schema",
    "database_findings",
    "database_kind",
    "database_service",
    "describe",
    "detect",
    "expand",
    "find_entry",
    "has_alembic",
    "image_scripts",
    "live_findings",
    "mapper_subject",
    "migration_findings",
    "migration_run",
    "migration_summary",
    "outcome",
    "parse_revision",
    "plan_entry",
    "plan_migrations",
    "project_here",
    "read_database",
    "read_env",
    "read_live_schema",
    "read_records",
    "read_scripts",
    "read_shape",
    "revision_sql",
    "run_migrations",
    "runner_config",
    "schema_detail",
    "schema_tables",
    "split_shell",
    "sqlite_path",
    "sqlite_url",
    "version_table",
]

__getattr__ = lazy.interface(__name__, __file__)
