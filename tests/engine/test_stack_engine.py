"""The application's migrations and the stack around it, on the real fullstack stack.

Each test builds its own copy of ``stacks/fullstack`` (``fullstack_factory``) and breaks it
the way backends break: two alembic heads after a merge (the image cannot start, so it is
only built), a new image deployed without ``alembic upgrade head`` (the database, a real
PostgreSQL, is behind the image's head), and the database stopped under a backend that
checks it at start (a crashloop caused by a dependency). A test that changes its stack
takes it down itself; the factory removes the tags.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from .test_fullstack_engine import (
    HEAD,
    Factory,
    Stack,
    _compose,
    _json_run,
    _state,
    fullstack_factory,  # noqa: F401 - the fixture, used by name
)

pytestmark = pytest.mark.engine

VERSIONS = "backend/app/alembic/versions"
ROLE = "1f0e2d3c4b5a"  # the revision the newer image adds after HEAD
ROLE_SCRIPT = f'''"""Add user.role

Revision ID: {ROLE}
Revises: {HEAD}
"""

import sqlalchemy as sa
from alembic import op

revision = "{ROLE}"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user", sa.Column("role", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("user", "role")
'''
#: A second head: forked from HEAD's parent, as a branch merged without ``alembic merge``.
FORK = "7a6b5c4d3e2f"
FORK_SCRIPT = ROLE_SCRIPT.replace(ROLE, FORK).replace(f"{HEAD}", "9c0a54914c78")
FORK_SCRIPT = FORK_SCRIPT.replace("Add user.role", "Add item.priority")


def _findings(doc: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["code"] == code]


def _enter(stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The working folder at the stack's root and its variables set, as a developer's."""
    for name in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in stack.env:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IMAGECHECK_CACHE_DIR", str(tmp_path / "iccache"))
    monkeypatch.chdir(stack.root)


def test_two_heads_are_found_in_the_image_and_by_lint(
    fullstack_factory: Factory,  # noqa: F811 - the fixture imported above
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The image with a second head (``alembic upgrade head`` would fail at the start of
    prestart): IC850 names both heads and the merge; ``imagecheck lint`` on the source
    tree, given only the new script (as pre-commit passes it), says the same."""
    stack = fullstack_factory({f"{VERSIONS}/{FORK}_add_item_priority.py": FORK_SCRIPT}, up=False)
    code, doc = _json_run(["check", f"docker:{stack.backend_image}", "--no-smoke"], capsys)
    [heads] = _findings(doc, "IC850")
    assert heads["severity"] == "error"
    assert f"{HEAD} (Add user.full_name)" in heads["message"]
    assert f"{FORK} (Add item.priority)" in heads["message"]
    assert f'alembic merge heads -m "merge {FORK} and {HEAD}"' in heads["hint"] or (
        f'alembic merge heads -m "merge {HEAD} and {FORK}"' in heads["hint"]
    )
    assert heads["location"].startswith("/app/app/alembic/versions/")
    assert code == 1
    monkeypatch.chdir(stack.root / "backend")
    lint_code, lint_doc = _json_run(
        ["lint", f"app/alembic/versions/{FORK}_add_item_priority.py"], capsys
    )
    assert [f["code"] for f in lint_doc["findings"]] == ["IC850"]
    assert lint_code == 1


def _wait(condition: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    pytest.fail(f"not reached in {timeout:.0f} s: {what}")


def test_a_database_behind_the_new_image(
    fullstack_factory: Factory,  # noqa: F811
    client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """The stack runs at HEAD; a newer image with one more revision is deployed to the
    backend without running the migrations: its database is one migration behind."""
    stack = fullstack_factory({})
    try:
        _enter(stack, monkeypatch, tmp_path)
        code, doc = _json_run(["triage", "backend", "--no-smoke"], capsys)
        [at_head] = _findings(doc, "IC859")
        assert at_head["message"] == f"database at {HEAD} (Add user.full_name): the image's head"
        assert doc["triage"]["database"]["status"] == "read"
        assert code == 0

        newer = fullstack_factory({f"{VERSIONS}/{ROLE}_add_user_role.py": ROLE_SCRIPT}, up=False)
        tag = newer.backend_image.rsplit(":", 1)[1]
        deployed = replace(stack, env=tuple((k, tag if k == "TAG" else v) for k, v in stack.env))
        _compose(deployed, "up", "-d", "--no-deps", "--force-recreate", "backend")
        _wait(
            lambda: (
                _state(client, stack.container("backend")).get("Health", {}).get("Status")
                == "healthy"
            ),
            "the new backend healthy",
        )
        monkeypatch.setenv("TAG", tag)
        code, doc = _json_run(["triage", "backend", "--no-smoke"], capsys)
        assert doc["triage"]["image_ref"] == newer.backend_image
        [behind] = _findings(doc, "IC855")
        assert behind["severity"] == "error"
        assert behind["subject"] == "db"
        assert behind["message"].startswith(
            f"database at {HEAD} (Add user.full_name), image head {ROLE} (Add user.role): "
            "1 migration(s) behind"
        )
        assert behind["hint"] == "docker compose run --rm backend alembic upgrade head"
        assert "docker compose run --rm backend alembic upgrade head" in doc["triage"]["commands"]
        assert code == 1
        # read, never written: the database is still at HEAD
        current = client.containers.get(stack.container("db")).exec_run(
            ["psql", "-U", "postgres", "-d", "app", "-tA", "-c", "SELECT * FROM alembic_version"]
        )
        assert current.output.decode().strip() == HEAD
    finally:
        _compose(stack, "down", "-v", "--remove-orphans", check=False)


def test_a_crash_because_the_database_is_down(
    fullstack_factory: Factory,  # noqa: F811
    client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """db stopped, backend restarted: it crashloops (it checks the database at start).
    The crash is named as db's (IC860), the database is not read and says why (IC858),
    and the commands bring db up first."""
    stack = fullstack_factory({})
    try:
        _enter(stack, monkeypatch, tmp_path)
        db = client.containers.get(stack.container("db"))
        db.stop(timeout=20)
        client.containers.get(stack.container("backend")).restart(timeout=10)

        def crashed() -> bool:
            state = _state(client, stack.container("backend"))
            return (
                bool(state.get("Restarting"))
                or int(client.api.inspect_container(stack.container("backend"))["RestartCount"]) > 0
            )

        _wait(crashed, "backend restarting")
        code, doc = _json_run(["triage", "backend", "--no-smoke"], capsys)
        deps = {d["service"]: d for d in doc["triage"]["dependencies"]}
        assert deps["db"]["status"] == "exited"
        assert deps["db"]["condition"] == "service_healthy"
        assert deps["prestart"]["status"] == "completed"
        [down] = _findings(doc, "IC860")
        assert down["subject"] == "db"
        assert "while its dependency db is exited" in down["message"]
        assert "not from backend's own code" in down["message"]
        assert not _findings(doc, "IC861")  # prestart completed: not down
        [unread] = _findings(doc, "IC858")
        assert "is not running" in unread["message"]
        commands = doc["triage"]["commands"]
        assert commands.index("docker compose up -d db") < commands.index(
            "docker compose up -d --force-recreate backend"
        )
        assert code == 1
    finally:
        _compose(stack, "down", "-v", "--remove-orphans", check=False)
