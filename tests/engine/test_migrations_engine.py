"""``imagecheck check --migrations`` and the live schema, on the real fullstack stack.

Variants of ``stacks/fullstack`` (SQLModel + alembic + psycopg 3), built with BuildKit:
the image's own ``alembic upgrade heads`` runs against a throwaway PostgreSQL (the real
``postgres_image``) on an internal network, then ``compare_metadata`` in the image. Each
test also checks that the run left no container or network behind.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imagecheck.app import LABEL as RUN_LABEL

from .conftest import LABEL
from .test_fullstack_engine import (
    DOCKER,
    STACK,
    Edits,
    Stack,
    _clean_env,
    _exec,
    _json_run,
    _wheels,
    fullstack,
    fullstack_factory,
)

pytestmark = pytest.mark.engine
__all__ = ["fullstack", "fullstack_factory"]  # module-scoped fixtures, used here too

MODELS = STACK / "backend" / "app" / "models.py"
VERSIONS = "backend/app/alembic/versions"

SCORE = MODELS.read_text().replace(
    "    is_active: bool = True\n", "    is_active: bool = True\n    score: int | None = None\n"
)
AUDIT = """\
import uuid

from sqlmodel import Field, SQLModel


class Audit(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    note: str
"""
TAG_TABLE = (
    MODELS.read_text()
    + """

class Tag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(max_length=64)
"""
)
BAD_REVISION = '''\
"""Add a column with a default PostgreSQL cannot cast

Revision ID: 0badc0ffee00
Revises: d98dd8ec85a3
"""

import sqlalchemy as sa
from alembic import op

revision = "0badc0ffee00"
down_revision = "d98dd8ec85a3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("item", sa.Column("rank", sa.Integer(), server_default="high"))


def downgrade() -> None:
    op.drop_column("item", "rank")
'''


@pytest.fixture(scope="module")
def variant(
    postgres_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[Edits], Stack]]:
    """``variant(edits) -> Stack``: the stack copied, edited and its backend built (not up)."""
    tags: list[str] = []
    wheels = _wheels()

    def _make(edits: Edits) -> Stack:
        root = tmp_path_factory.mktemp("variant") / "stack"
        shutil.copytree(STACK, root)
        for rel, text in edits.items():
            if text is None:
                (root / rel).unlink()
            else:
                (root / rel).write_text(text)
        (root / "backend" / "wheels").mkdir()
        for wheel in wheels.glob("*.whl"):
            shutil.copy(wheel, root / "backend" / "wheels")
        key = uuid.uuid4().hex[:8]
        repository = "imagecheck-test/migrations-backend"
        labels = [f"--label={k}={v}" for k, v in LABEL.items()]
        built = subprocess.run(
            [DOCKER, "build", "-q", *labels, "-t", f"{repository}:{key}", "backend"],
            cwd=root,
            env={**_clean_env(), "DOCKER_BUILDKIT": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert built.returncode == 0, built.stderr[-3000:]
        tags.append(f"{repository}:{key}")
        env = (
            ("DOCKER_IMAGE_BACKEND", repository),
            ("TAG", key),
            ("POSTGRES_IMAGE", postgres_image),
            ("COMPOSE_PROJECT_NAME", f"icmig{key}"),
        )
        return Stack(f"icmig{key}", root, f"{repository}:{key}", env)

    yield _make
    for tag in tags:
        subprocess.run([DOCKER, "rmi", tag], capture_output=True, check=False)


def left_behind(client: Any, db_image: str, since: int) -> list[str]:
    """What this session's migration runs since ``since`` left: the containers and the
    network (``imagecheck-migrations-KEY``) of each run whose database was created from
    ``db_image`` (this session's tag, as the engine's create events name it). Other
    sessions share the engine, the label, and even the image's id (a cached build)."""
    filters = {"type": "container", "event": "create", "label": RUN_LABEL}
    events = client.events(since=since, until=int(time.time()) + 1, decode=True, filters=filters)
    keys = {
        event["Actor"]["Attributes"].get(RUN_LABEL)
        for event in events
        if event["Actor"]["Attributes"].get("image") == db_image
    }
    assert keys, f"no migration run started a database from {db_image}"
    left = [
        container.name
        for key in keys
        for container in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={key}"})
    ]
    ours = {f"imagecheck-migrations-{key}" for key in keys}
    return left + [
        n.name for n in client.networks.list(filters={"label": RUN_LABEL}) if n.name in ours
    ]


def _check(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    client: Any,
    tmp_path: Path,
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """``imagecheck check IMAGE --migrations`` from the stack's root: exit, IC9 findings,
    the check's result; and nothing of the run is left in the engine."""
    for name, value in stack.env:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IMAGECHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(stack.root)
    args = ["check", f"docker:{stack.backend_image}", "--migrations", "--no-smoke"]
    since = int(time.time()) - 1
    code, doc = _json_run([*args, "--select", "IC9"], capsys)
    assert left_behind(client, dict(stack.env)["POSTGRES_IMAGE"], since) == []
    result = next(c for c in doc["checks"] if c["name"] == "models against migrations")
    return code, [f for f in doc["findings"] if f["code"].startswith("IC9")], result


@pytest.fixture
def check(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    client: Any,
    tmp_path: Path,
) -> Callable[[Stack], tuple[int, list[dict[str, Any]], dict[str, Any]]]:
    return lambda stack: _check(stack, monkeypatch, capsys, client, tmp_path)


Checker = Callable[[Stack], tuple[int, list[dict[str, Any]], dict[str, Any]]]


def test_the_healthy_app_has_no_finding(variant: Callable[[Edits], Stack], check: Checker) -> None:
    code, found, result = check(variant({}))
    assert (found, result["status"], code) == ([], "passed", 0)


def test_a_model_column_no_migration_creates(
    variant: Callable[[Edits], Stack], check: Checker
) -> None:
    code, found, _ = check(variant({"backend/app/models.py": SCORE}))
    assert [(f["code"], f["subject"]) for f in found] == [("IC901", "User.score")]
    assert "app.models" in found[0]["message"]
    assert "alembic revision --autogenerate -m 'add user.score'" in found[0]["hint"]
    assert code == 1


def test_a_table_no_migration_creates(variant: Callable[[Edits], Stack], check: Checker) -> None:
    _, found, _ = check(variant({"backend/app/models.py": TAG_TABLE}))
    assert [(f["code"], f["subject"]) for f in found] == [("IC902", "Tag")]
    assert "the table tag" in found[0]["message"]


def test_a_model_module_env_py_does_not_import(
    variant: Callable[[Edits], Stack], check: Checker
) -> None:
    _, found, _ = check(variant({"backend/app/audit.py": AUDIT}))
    assert [(f["code"], f["subject"]) for f in found] == [("IC906", "app.audit")]
    assert "Audit (table audit)" in found[0]["message"]
    assert "import app.audit" in found[0]["hint"]


def test_a_migration_that_fails_on_postgresql(
    variant: Callable[[Edits], Stack], check: Checker
) -> None:
    stack = variant({f"{VERSIONS}/0badc0ffee00_bad_default.py": BAD_REVISION})
    code, found, _ = check(stack)
    assert [(f["code"], f["subject"]) for f in found] == [("IC905", "0badc0ffee00")]
    message = found[0]["message"]
    assert "invalid input syntax for type integer" in message
    assert "ALTER TABLE item ADD COLUMN rank INTEGER DEFAULT 'high'" in message
    assert code == 1


def test_the_live_database_behind_and_a_column_no_migration_creates(
    fullstack_factory: Callable[[Edits], Stack],
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """``imagecheck backend`` on a running stack whose model has a column no migration
    creates, and whose database was taken one revision back: two different problems."""
    stack = fullstack_factory({"backend/app/models.py": SCORE})
    _exec(client, stack, "backend", ["alembic", "downgrade", "-1"])  # drops user.full_name
    for name, value in stack.env:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IMAGECHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(stack.root)
    since = int(time.time()) - 1
    _, doc = _json_run(["backend", "--no-smoke", "--select", "IC9"], capsys)
    found = {(f["code"], f["subject"]) for f in doc["findings"]}
    assert found == {("IC901", "User.score"), ("IC908", "User.score"), ("IC907", "User.full_name")}
    behind = next(f for f in doc["findings"] if f["code"] == "IC907")
    assert "alembic upgrade head" in behind["hint"]
    assert left_behind(client, dict(stack.env)["POSTGRES_IMAGE"], since) == []
