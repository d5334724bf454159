"""IC3xx: known incompatibilities between installed distributions, shipped as data."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import TYPE_CHECKING

from .. import codes
from ..model import Finding, canonical
from ..tomlfile import load_toml_text
from .check import satisfies

if TYPE_CHECKING:
    from ..checks import Context


def load_known(extra: str | None = None) -> list[dict[str, object]]:
    texts = [resources.files("imagecheck.pins").joinpath("known_issues.toml").read_text()]
    if extra:
        texts.append(extra)
    return [item for text in texts for item in load_toml_text(text).get("issue", [])]


def check_known(ctx: Context, extra: str | None = None) -> Iterator[Finding]:
    for item in load_known(extra):
        when = item.get("when")
        if not isinstance(when, dict):
            continue
        dists = []
        for name, spec in when.items():
            dist = ctx.by_key.get(canonical(name))
            if (
                dist is None
                or satisfies(dist.version, "" if spec == "*" else str(spec)) is not True
            ):
                break
            dists.append(dist)
        else:
            subject = str(item.get("subject") or next(iter(when)))
            present = ", ".join(f"{d.name} {d.version}" for d in dists)
            latest = max(dists, key=lambda d: d.layer.index)
            yield codes.lookup(str(item["code"])).finding(
                subject=subject,
                message=f"{present}: {item['message']}",
                hint=str(item.get("hint", "")),
                layer=latest.layer,
                severity=str(item.get("severity", "warning")),
            )
