"""The JSON schemas imagecheck ships, loaded once, for tests that check documents against them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema


@cache
def schema(name: str) -> dict[str, Any]:
    """``name`` is the file's stem under imagecheck/schemas: inventory, report, lint."""
    text = resources.files("imagecheck").joinpath(f"schemas/{name}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(doc: object, name: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` follows the shipped schema ``name``."""
    jsonschema.validate(doc, schema(name))
