"""The live database and the migration check on MariaDB, on a real compose v1 stack.

``stacks/mysqlapp``: a SQLAlchemy 2 + alembic + PyMySQL backend and a real MariaDB (Debian's
package, ``mariadb_image``). Its model has a column (``user.score``) no migration creates;
the database was migrated by the previous image, one revision behind this image's head
(``user.role`` missing). ``imagecheck backend`` reads the database's ``alembic_version``
and ``information_schema`` through ``docker exec`` in the database's own container, with
its own MARIADB_* credentials, and runs the image's migrations on a throwaway MariaDB:
three problems, each named as what it is, and nothing written, nothing left behind.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import STACKS, WHEEL_CACHE, download_wheels
from .test_fullstack_engine import (
    DOCKER,
    Stack,
    _compose,
    _exec,
    _json_run,
    _state,
    build_backend_image,
)
from .test_migrations_engine import left_behind
from .test_stack_engine import _enter, _wait

pytestmark = pytest.mark.engine

STACK = STACKS / "mysqlapp"
PREVIOUS = "8b2d4f6a0c13"  # the previous image's head: the database is there
HEAD = "c4e6a8b0d2f5"  # this image's head: adds user.role
MODELS = STACK / "backend" / "app" / "models.py"
SCORE = MODELS.read_text().replace(
    "    role: Mapped[str | None] = mapped_column(String(32))\n",
    "    role: Mapped[str | None] = mapped_column(String(32))\n"
    "    score: Mapped[int | None] = mapped_column()\n",
)
LABELS_FILE = """\
services:
  db:
    labels: {imagecheck.test: "1"}
  backend:
    labels: {imagecheck.test: "1"}
networks:
  default:
    labels: {imagecheck.test: "1"}
"""


def _wheels() -> Path:
    """The pinned wheels of the backend's requirements.txt, downloaded on the host once."""
    folder = WHEEL_CACHE / "mysqlapp"
    requirements = STACK / "backend" / "requirements.txt"
    stamp = folder / "requirements.txt"
    if not stamp.is_file() or stamp.read_text() != requirements.read_text():
        download_wheels(folder, "-r", str(requirements))
        stamp.write_text(requirements.read_text())
    return folder


def _up(client: Any, stack: Stack) -> bool:
    """db healthy (``mariadb-admin ping`` through TCP) and the backend running."""
    try:
        db = _state(client, stack.container("db"))
        backend = _state(client, stack.container("backend"))
    except Exception:  # noqa: BLE001 (a container not created yet)
        return False
    return db.get("Health", {}).get("Status") == "healthy" and bool(backend["Running"])


@pytest.fixture(scope="module")
def shop(
    client: Any, mariadb_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The stack up, its database migrated to the previous image's head."""
    base = tmp_path_factory.mktemp("mysqlapp")
    root = base / "stack"
    shutil.copytree(STACK, root)
    (root / "backend" / "app" / "models.py").write_text(SCORE)
    shutil.copytree(_wheels(), root / "backend" / "wheels")
    (base / "labels.yaml").write_text(LABELS_FILE)
    key = uuid.uuid4().hex[:8]
    tag = f"imagecheck-test/mysqlapp-backend:{key}"
    stack = Stack(
        project=f"icmysql{key}",
        root=root,
        backend_image=tag,
        env=(
            ("BACKEND_IMAGE", tag),
            ("MARIADB_IMAGE", mariadb_image),
            ("COMPOSE_PROJECT_NAME", f"icmysql{key}"),
        ),
    )
    build_backend_image(root, tag)
    try:
        ran = _compose(stack, "up", "-d", "--no-build", check=False)
        assert ran.returncode == 0, ran.stderr[-2000:]
        _wait(lambda: _up(client, stack), "db healthy and backend running", 180)
        _exec(client, stack, "backend", ["alembic", "upgrade", PREVIOUS])
        yield stack
    finally:
        _compose(stack, "down", "-v", "--remove-orphans", check=False)
        subprocess.run([DOCKER, "rmi", tag], capture_output=True, check=False)


@pytest.fixture
def in_shop(shop: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Stack:
    _enter(shop, monkeypatch, tmp_path)
    return shop


def _revision(client: Any, stack: Stack) -> str:
    """alembic_version as root sees it (the test's own look, not imagecheck's)."""
    done = client.containers.get(stack.container("db")).exec_run(
        ["mariadb", "-N", "-B", "-uroot", "-e", "SELECT version_num FROM alembic_version", "shop"],
        environment={"MYSQL_PWD": "root-changethis"},
    )
    assert done.exit_code == 0, done.output
    return str(done.output.decode().strip())


def _nothing_left(client: Any, stack: Stack, since: int) -> None:
    assert left_behind(client, dict(stack.env)["MARIADB_IMAGE"], since) == []


def test_the_mariadb_stack_behind_and_a_column_no_migration_creates(
    in_shop: Stack, client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``imagecheck backend``: the revision read (1 behind), the live schema against the
    models (user.role: migrated but not applied; user.score: no migration), and the
    image's migrations on a throwaway MariaDB (user.score again, before deploy)."""
    since = int(time.time()) - 1
    code, doc = _json_run(["backend", "--no-smoke"], capsys)
    database = doc["triage"]["database"]
    assert database["engine"] == "mysql"
    assert (database["status"], database["revisions"]) == ("read", [PREVIOUS])
    assert database["detail"] == f"mysql in {in_shop.container('db')} as shop, read-only"
    [behind] = [f for f in doc["findings"] if f["code"] == "IC855"]
    assert behind["subject"] == "db"
    assert behind["message"].startswith(
        f"database at {PREVIOUS} (Create the item table, owned by a user), image head {HEAD} "
        "(Add user.role): 1 migration(s) behind"
    )
    found = {(f["code"], f["subject"]) for f in doc["findings"] if f["code"].startswith("IC90")}
    assert found == {("IC901", "User.score"), ("IC907", "User.role"), ("IC908", "User.score")}
    migrations = next(c for c in doc["checks"] if c["name"] == "models against migrations")
    assert migrations["status"] == "failed"
    assert migrations["reason"].endswith(
        "3 revision(s) applied and compared; the live database: 3 table(s) read"
    )
    assert code == 1
    _nothing_left(client, in_shop, since)
    assert _revision(client, in_shop) == PREVIOUS  # read, never written


def test_the_migration_check_on_a_mariadb_image(
    in_shop: Stack, client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``imagecheck check IMAGE --migrations --db-image MARIADB``: the image's alembic
    (PyMySQL) upgrades a fresh MariaDB; only the column no migration creates differs."""
    mariadb = dict(in_shop.env)["MARIADB_IMAGE"]
    args = ["check", f"docker:{in_shop.backend_image}", "--migrations", "--db-image", mariadb]
    since = int(time.time()) - 1
    code, doc = _json_run([*args, "--no-smoke", "--select", "IC90"], capsys)
    [score] = doc["findings"]
    assert (score["code"], score["subject"]) == ("IC901", "User.score")
    assert "app.models" in score["message"]
    assert code == 1
    _nothing_left(client, in_shop, since)


def _as_root(client: Any, stack: Stack, sql: str) -> None:
    done = client.containers.get(stack.container("db")).exec_run(
        ["mariadb", "-uroot", "-e", sql, "shop"], environment={"MYSQL_PWD": "root-changethis"}
    )
    assert done.exit_code == 0, done.output


def test_a_revision_the_image_does_not_know_and_no_version_table(
    in_shop: Stack, client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Last (it changes the database): migrated by a newer image (IC856), then never
    migrated at all (IC857), each read through MariaDB's own client."""
    _as_root(client, in_shop, "UPDATE alembic_version SET version_num = '9f9f9f9f9f9f'")
    _, doc = _json_run(["triage", "backend", "--no-smoke"], capsys)
    [unknown] = [f for f in doc["findings"] if f["code"] == "IC856"]
    assert unknown["message"].startswith("database at 9f9f9f9f9f9f, which no revision script")
    assert "ahead of the image" in unknown["message"]
    _as_root(client, in_shop, "DROP TABLE alembic_version")
    _, doc = _json_run(["triage", "backend", "--no-smoke"], capsys)
    assert doc["triage"]["database"]["status"] == "no-table"
    [never] = [f for f in doc["findings"] if f["code"] == "IC857"]
    assert "Table 'shop.alembic_version' doesn't exist" in never["message"]
