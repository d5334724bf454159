"""Package interfaces that load on first use.

A package's ``__init__.py`` names its interface in an ``if TYPE_CHECKING:`` block of
``from .module import name`` lines (what readers and mypy see), lists the names in
``__all__`` and ends with ``__getattr__ = lazy.interface(__name__, __file__)``. A
name's module is imported the first time the name is asked for, so using one name of
a package never loads the whole of it: the warm run, which reads everything from the
cache, imports a fraction of the code.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def names(init_file: str | Path) -> dict[str, str]:
    """``{name: ".module"}`` of the ``if TYPE_CHECKING:`` imports of an ``__init__.py``."""
    where: dict[str, str] = {}
    for node in ast.parse(Path(init_file).read_text()).body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.level == 1 and stmt.module:
                for alias in stmt.names:
                    where[alias.asname or alias.name] = f".{stmt.module}"
    return where


def interface(package: str, init_file: str) -> Callable[[str], Any]:
    """The package's module ``__getattr__``: imports a name's module when first asked."""
    where: dict[str, str] = {}

    def load(name: str) -> Any:
        if not where:
            where.update(names(init_file))
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # asked once: a plain attribute after
        return value

    return load
