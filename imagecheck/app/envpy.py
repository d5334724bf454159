"""An alembic ``env.py`` read with ``ast``, never run: what its ``context.configure(...)``
sets that the migration check and the live ``alembic_version`` read must honour.

``version_table``/``version_table_schema`` (where the revision is kept: the live read asks
that table, the comparison leaves it out), ``include_schemas`` (whether autogenerate looks
past the default schema), ``target_metadata`` (one MetaData, or a list of them: several
declarative bases) and the hooks set (``include_object``, ``include_name``). A keyword's
value is a literal, or a module-level name bound to one; anything computed is left at
alembic's default. Of two ``configure`` calls (offline and online), the online one (with
``connection=``) wins.
"""

from __future__ import annotations

import ast
import configparser
import re

from ..model import AlembicEnv

HOOKS = ("include_object", "include_name", "process_revision_directives")
#: alembic.ini's template URL (``alembic init``): not a database anyone uses
_TEMPLATE = re.compile(r"^driver://")


_KEYWORDS = frozenset({"target_metadata", "version_table", "version_table_schema", *HOOKS})


def _is_configure(node: ast.AST) -> bool:
    """``context.configure(...)``, or any ``X.configure(...)`` with alembic's keywords."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr != "configure":
        return False
    on_context = isinstance(node.func.value, ast.Name) and node.func.value.id == "context"
    return on_context or any(k.arg in _KEYWORDS for k in node.keywords)


def _configure_calls(tree: ast.Module) -> list[ast.Call]:
    """The configure calls, the online ones (``connection=``) first."""
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _is_configure(node)]
    online = [c for c in calls if any(k.arg == "connection" for k in c.keywords)]
    return online + [c for c in calls if c not in online]


def _bindings(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level ``NAME = value`` (the last one wins, as at run time)."""
    found: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            found[node.target.id] = node.value
    return found


def _value(node: ast.expr, names: dict[str, ast.expr]) -> object:
    """A literal, through at most one module-level name; ``...`` when not a literal."""
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ...


def _metadata(node: ast.expr, names: dict[str, ast.expr]) -> tuple[str, ...]:
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(ast.unparse(e) for e in node.elts)
    if isinstance(node, ast.Constant) and node.value is None:
        return ()
    return (ast.unparse(node),)


def ini_url(text: str) -> str | None:
    """alembic.ini's ``sqlalchemy.url`` (its [alembic] section), unless the template's."""
    ini = configparser.RawConfigParser(strict=False)
    try:
        ini.read_string(text)
    except configparser.Error:
        return None
    url = ini.get("alembic", "sqlalchemy.url", fallback="").strip()
    return url if url and not _TEMPLATE.match(url) else None


def read_env(text: str, path: str, url: str | None = None) -> AlembicEnv:
    """The settings of one env.py; alembic's defaults where it sets none (or its source
    does not parse: alembic would fail on it, and that failure is the migration check's)."""
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return AlembicEnv(path, url)
    names = _bindings(tree)
    fields: dict[str, object] = {}
    hooks: list[str] = []
    metadata: tuple[str, ...] = ()
    for call in reversed(_configure_calls(tree)):  # the online call's keywords win
        for keyword in call.keywords:
            if keyword.arg in HOOKS:
                if keyword.arg not in hooks:
                    hooks.append(keyword.arg)
            elif keyword.arg == "target_metadata":
                metadata = _metadata(keyword.value, names)
            elif keyword.arg in ("version_table", "version_table_schema", "include_schemas"):
                value = _value(keyword.value, names)
                if value is not ...:
                    fields[keyword.arg] = value
    table = fields.get("version_table")
    schema = fields.get("version_table_schema")
    return AlembicEnv(
        path,
        url,
        version_table=table if isinstance(table, str) and table else "alembic_version",
        version_table_schema=schema if isinstance(schema, str) and schema else None,
        include_schemas=fields.get("include_schemas") is True,
        target_metadata=metadata,
        hooks=tuple(sorted(hooks)),
    )
