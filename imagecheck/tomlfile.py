"""The one TOML loader: the project's config, constraints and lock files, and the data
files imagecheck ships. A user's file that is missing or malformed is one ``BadInput``
line naming it; the shipped files are ours, so a fault in them is a bug."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def load_toml_text(text: str) -> dict[str, Any]:
    """A data file shipped with imagecheck."""
    return tomllib.loads(text)


def load_toml_file(path: Path) -> dict[str, Any]:
    """A user's TOML file; a missing or malformed one is a one-line ``BadInput``."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise BadInput(f"no such file: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from exc
