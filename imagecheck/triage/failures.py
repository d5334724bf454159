"""The table of known failures (``failures.toml``): what a message means and the fix.

Smoke tests explain failing imports and probes with it; crashloop triage reads
container logs with it. Plain data, so users extend it with a file of the same shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import BadInput


@dataclass(frozen=True, slots=True)
class Failure:
    id: str
    patterns: tuple[re.Pattern[str], ...]
    severity: str  # "error" or "warning"
    title: str
    cause: str
    fix: str
    harmless: bool = False

    def matches(self, text: str) -> bool:
        return any(p.search(text) for p in self.patterns)


def _parse(doc: dict[str, object], origin: str) -> list[Failure]:
    items = doc.get("failure", [])
    if not isinstance(items, list):
        raise BadInput(f"{origin}: [[failure]] must be an array of tables")
    out: list[Failure] = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise BadInput(f"{origin}: failure #{n} is not a table")
        try:
            patterns = tuple(re.compile(str(p)) for p in item["patterns"])
            out.append(
                Failure(
                    id=str(item["id"]),
                    patterns=patterns,
                    severity=str(item.get("severity", "error")),
                    title=str(item["title"]),
                    cause=str(item.get("cause", "")),
                    fix=str(item.get("fix", "")),
                    harmless=bool(item.get("harmless", False)),
                )
            )
        except KeyError as exc:
            raise BadInput(f"{origin}: failure #{n} has no {exc.args[0]!r}") from exc
        except re.error as exc:
            raise BadInput(f"{origin}: failure #{n} has a bad pattern: {exc}") from exc
        if out[-1].severity not in ("error", "warning"):
            raise BadInput(f"{origin}: failure #{n}: severity must be error or warning")
    return out


def load_failures(extra: tuple[Path, ...] = ()) -> tuple[Failure, ...]:
    """The shipped table, then each user file (their entries are tried first)."""
    from ..tomlfile import load_toml_file, load_toml_text

    shipped = resources.files("imagecheck.triage").joinpath("failures.toml").read_text()
    table = _parse(load_toml_text(shipped), "failures.toml")
    users = [f for path in extra for f in _parse(load_toml_file(path), str(path))]
    return (*users, *table)


def classify(text: str, table: tuple[Failure, ...]) -> Failure | None:
    """The failure ``text`` shows: a real error before any harmless look-alike."""
    harmless: Failure | None = None
    for failure in table:
        if failure.matches(text):
            if not failure.harmless:
                return failure
            harmless = harmless or failure
    return harmless
