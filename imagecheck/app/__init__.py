"""The application itself: its alembic migrations (read statically), its live database.

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

__all__ = [
    "Folder",
    "Graph",
    "alembic_findings",
    "catalog_alembic",
    "check_alembic",
    "check_database",
    "database_findings",
    "database_kind",
    "describe",
    "mysql_command",
    "parse_revision",
    "postgres_command",
    "read_database",
    "read_scripts",
]

__getattr__ = lazy.interface(__name__, __file__)
