"""From the image (and a compose service) to what the smoke runner imports of the app.

``image_scripts`` is the cataloger of the shell scripts a command may run (their
bytes are kept by the layer index); ``plan_entry`` finds the entry point from the
image's config, the compose service's overrides and the configuration;
``runner_config`` is the ``app`` part of the runner's JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..model import AppEntry, Inventory
from .entry import find_entry

if TYPE_CHECKING:
    from ..image import ImageFS

_SHELLS = frozenset({"sh", "bash", "dash", "ash"})


def image_scripts(fs: ImageFS) -> tuple[tuple[str, str], ...]:
    """(path without the leading slash, text) of every visible shell script the layers
    kept: ``*.sh`` outside the system folders, and shell-shebang files in bin folders."""
    out: list[tuple[str, str]] = []
    for path in sorted(set(fs.captured())):
        shebang = fs.shebang(path) or ""
        words = {w.rsplit("/", 1)[-1] for w in shebang.split()}
        if not path.endswith(".sh") and not words & _SHELLS:
            continue
        data = fs.read(path)
        if data is not None:
            out.append((path.lstrip("/"), data.decode("utf-8", "replace")))
    return tuple(out)


def plan_entry(
    inv: Inventory,
    *,
    configured: str | None = None,
    configured_how: str = "",
    command: Sequence[str] | None = None,
    entrypoint: Sequence[str] | None = None,
    how: str = "",
    environment: Sequence[tuple[str, str]] = (),
) -> AppEntry:
    """The application ``inv``'s image runs; ``command``/``entrypoint`` are a compose
    service's overrides (``how`` names it), ``environment`` what it adds to the ENV.

    As compose does, an ``entrypoint:`` override drops the image's CMD unless
    ``command:`` is given too."""
    image = inv.image
    env = {k: v for k, _, v in (e.partition("=") for e in image.env)}
    env.update(environment)
    cmd: Sequence[str] = image.cmd
    if entrypoint is not None:
        cmd = ()
    return find_entry(
        image.entrypoint if entrypoint is None else entrypoint,
        cmd,
        env=env,
        workdir=image.working_dir or "/",
        read_file=inv.script,
        configured=configured,
        configured_how=configured_how,
        command=command,
        command_how=how,
    )


def runner_config(entry: AppEntry, *, mappers: bool, timeout: float) -> dict[str, Any]:
    """The runner's ``app`` object: where the entry is and what to check after it."""
    return {
        "module": entry.module,
        "attribute": entry.attribute,
        "attributes": list(entry.attributes),
        "path": entry.path,
        "candidates": list(entry.candidates),
        "sys_path": list(entry.sys_path),
        "script": entry.script,
        "mappers": mappers,
        "timeout": timeout,
    }
