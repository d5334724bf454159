"""``[tool.imagecheck]`` in the project's pyproject.toml: settings the flags extend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import BadInput
from .smoke import SmokeOptions
from .tomlfile import load_toml_file


def tool_section(folder: Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """The ``[tool.imagecheck]`` table of ./pyproject.toml, and the file it came from."""
    path = (folder or Path.cwd()) / "pyproject.toml"
    if not path.is_file():
        return {}, None
    section = load_toml_file(path).get("tool", {}).get("imagecheck", {})
    if not isinstance(section, dict):
        raise BadInput(f"{path}: [tool.imagecheck] must be a table")
    return section, path


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"{where} must be a list of strings")
    return tuple(value)


def smoke_options(
    *,
    imports: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
    probe_files: tuple[Path, ...] = (),
    folder: Path | None = None,
    **overrides: Any,
) -> SmokeOptions:
    """``[tool.imagecheck.smoke]`` (imports, skip, probes, module-timeout, timeout,
    memory, python) and ``[tool.imagecheck] app`` ("app.main:app", or false: no
    application step), extended by the flags' lists and overridden by their values."""
    section, path = tool_section(folder)
    table = section.get("smoke", {})
    where = f"{path}: [tool.imagecheck.smoke]"
    if not isinstance(table, dict):
        raise BadInput(f"{where} must be a table")
    known = {"imports", "skip", "probes", "module-timeout", "timeout", "memory", "python"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise BadInput(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    base = path.parent if path else Path.cwd()
    values: dict[str, Any] = {
        "imports": _strings(table.get("imports", []), f"{where} imports") + imports,
        "skip": _strings(table.get("skip", []), f"{where} skip") + skip,
        "probe_files": tuple(base / p for p in _strings(table.get("probes", []), where))
        + probe_files,
    }
    for key, field_name in (
        ("module-timeout", "module_timeout"),
        ("timeout", "timeout"),
        ("memory", "mem_limit"),
        ("python", "python"),
    ):
        if key in table:
            values[field_name] = table[key]
    app = section.get("app")
    if app is not None and "app" not in {k for k, v in overrides.items() if v is not None}:
        if app is False:
            values["app_step"] = False
        elif isinstance(app, str) and app:
            values["app"], values["app_how"] = app, f"{path}: [tool.imagecheck] app"
        else:
            raise BadInput(f'{path}: [tool.imagecheck] app must be "MODULE[:ATTRIBUTE]" or false')
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SmokeOptions(**values)
    except TypeError as exc:
        raise BadInput(f"{where}: {exc}") from exc
