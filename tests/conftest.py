"""Engine tests skip locally without an engine, but FAIL under ``--require-engine`` (CI)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-engine",
        action="store_true",
        help="fail, rather than skip, the engine tests when no Docker engine answers",
    )


def _engine_error() -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable engine
        return f"{type(exc).__name__}: {exc}"
    return None


def _skip_registry_tests(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Registry tests need docker-registry and skopeo: skipped without them, failed in CI."""
    registry_items = [item for item in items if item.get_closest_marker("registry")]
    if not registry_items:
        return
    from tests.registries import missing_tools

    error = missing_tools()
    if error is None:
        return
    if config.getoption("--require-engine"):
        raise pytest.UsageError(f"--require-engine: {error}")
    for item in registry_items:
        item.add_marker(pytest.mark.skip(reason=f"{error}; --require-engine makes this fail"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _skip_registry_tests(config, items)
    engine_items = [item for item in items if item.get_closest_marker("engine")]
    if not engine_items:
        return
    error = _engine_error()
    if error is None:
        return
    if config.getoption("--require-engine"):
        raise pytest.UsageError(f"--require-engine: no Docker engine answers ({error})")
    skip = pytest.mark.skip(reason=f"no Docker engine ({error}); --require-engine makes this fail")
    for item in engine_items:
        item.add_marker(skip)
