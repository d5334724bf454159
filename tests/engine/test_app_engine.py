"""The application's own import (IC80x), on real images of the fullstack backend.

Each test builds ``stacks/fullstack/backend`` with BuildKit, edited into one broken
variant (or none), and runs the smoke tests on it with the compose service's
environment (read from the stack's compose file and ``.env``, as ``imagecheck
backend`` does): the application's settings need ``POSTGRES_SERVER`` at import.
No stack is brought up: a broken backend would never get healthy, and the smoke
container needs no database.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import BuildRequest, Options, check, smoke
from imagecheck.model import Finding, ModuleResult, Report
from imagecheck.smoke import SmokeOptions
from imagecheck.triage import load_project

from .test_fullstack_engine import DOCKER, STACK, _wheels, build_backend_image, copy_stack

pytestmark = pytest.mark.engine

Build = Callable[[Mapping[str, str | None]], tuple[str, Path]]
MODELS = STACK / "backend" / "app" / "models.py"
USERS = STACK / "backend" / "app" / "api" / "routes" / "users.py"


@pytest.fixture(scope="module")
def build_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """``build_backend(edits) -> (tag, stack root)``: the backend image of an edited copy."""
    tags: list[str] = []
    wheels = _wheels()

    def _build(edits: Mapping[str, str | None]) -> tuple[str, Path]:
        root = tmp_path_factory.mktemp("appstack") / "stack"
        copy_stack(root, edits, wheels)
        tag = f"imagecheck-test/app-backend:{uuid.uuid4().hex[:8]}"
        build_backend_image(root, tag)
        tags.append(tag)
        return tag, root

    yield _build
    for tag in tags:
        subprocess.run([DOCKER, "rmi", tag], capture_output=True, check=False)


def _service_env(root: Path) -> tuple[tuple[str, str], ...]:
    """The backend service's env_file: + environment:, as compose would give them."""
    environ = {"DOCKER_IMAGE_BACKEND": "x", "TAG": "y", "POSTGRES_IMAGE": "z", "PATH": "/bin"}
    return load_project(root, environ=environ).service("backend").environment


def _smoke(tag: str, root: Path, tmp_path: Path, **opts: Any) -> Report:
    options = SmokeOptions(environment=_service_env(root), **{"module_timeout": 60.0, **opts})
    return smoke(f"docker:{tag}", Options(cache_dir=tmp_path), options, select=("IC5", "IC80"))


def _app(report: Report) -> dict[str, ModuleResult]:
    assert report.smoke is not None
    return {r.name: r for r in report.smoke.results if r.kind in ("app", "mappers")}


def _codes(report: Report) -> list[tuple[str, str]]:
    return sorted((f.code, f.subject) for f in report.findings if f.code.startswith("IC80"))


def _one(report: Report, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, report.findings
    return found[0]


def test_the_healthy_app_imports_every_module(build_backend: Build, tmp_path: Path) -> None:
    tag, root = build_backend({})
    report = _smoke(tag, root, tmp_path)
    results = _app(report)
    assert report.smoke is not None
    assert report.smoke.app is not None
    assert report.smoke.app.spec == "app.main:app"
    assert "uvicorn's application app.main:app" in report.smoke.app.how
    assert {r.name: r.status for r in results.values()} == dict.fromkeys(
        [
            "app.main",
            "app",
            "app.api",
            "app.api.deps",
            "app.api.main",
            "app.api.routes",
            "app.api.routes.items",
            "app.api.routes.users",
            "app.backend_pre_start",
            "app.core",
            "app.core.config",
            "app.core.db",
            "app.models",
            "sqlalchemy.orm.configure_mappers",
        ],
        "ok",
    )  # app/alembic (env.py, the revisions) is left out
    assert results["app.main"].role == "entry"
    assert [f for f in report.findings if f.code.startswith("IC8") or f.severity != "info"] == []


def test_without_the_service_environment_the_settings_are_named(
    build_backend: Build, tmp_path: Path
) -> None:
    """The image alone lacks POSTGRES_SERVER: a healthy app before deploy, so a warning
    naming the variables, where the settings are made, and what was left unchecked."""
    tag, _ = build_backend({})
    report = smoke(f"docker:{tag}", Options(cache_dir=tmp_path), SmokeOptions(probes=False))
    assert [r.name for r in report.checks] == ["smoke tests", "the application's import"]
    assert report.smoke is not None
    assert report.smoke.environment_from == ()
    assert _app(report)["app.main"].missing_env == ("POSTGRES_SERVER", "POSTGRES_USER")
    finding = _one(report, "IC808")
    assert (finding.subject, finding.severity) == ("app.main:app", "warning")
    assert "POSTGRES_SERVER, POSTGRES_USER" in finding.message
    assert "7 more module(s) stop there" in finding.message
    assert finding.location == "app/core/config.py:37"
    assert [f for f in report.findings if f.severity == "error"] == []


def test_an_environment_that_still_lacks_a_setting_is_the_crash(
    build_backend: Build, tmp_path: Path
) -> None:
    """Given an environment (here --env) that lacks POSTGRES_USER: what that deploy does."""
    tag, _ = build_backend({})
    opts = SmokeOptions(probes=False, env=("POSTGRES_SERVER=db",))
    report = smoke(f"docker:{tag}", Options(cache_dir=tmp_path), opts)
    assert report.smoke is not None
    assert report.smoke.environment_from == ("--env POSTGRES_SERVER",)
    finding = _one(report, "IC802")
    assert finding.severity == "error"
    assert "(--env POSTGRES_SERVER) lacks POSTGRES_USER" in finding.message
    assert finding.location == "app/core/config.py:37"


def test_check_beside_the_compose_file_imports_with_the_service_environment(
    build_backend: Build, tmp_path: Path
) -> None:
    """``imagecheck check IMAGE`` in the backend's folder, as after ``docker compose build``:
    the compose file a folder up builds this context, so its backend service's
    env_file: and environment: are the container's (not prestart's, a one-shot with its
    own command), and the healthy app passes."""
    tag, root = build_backend({})
    report = check(
        f"docker:{tag}",
        Options(cache_dir=tmp_path),
        smoke=SmokeOptions(probes=False),
        build=BuildRequest(cwd=root / "backend"),
        select=("IC5", "IC8"),
    )
    assert report.smoke is not None
    assert report.smoke.environment_from == (
        f"compose service 'backend' ({root / 'compose.yaml'}, by its build context)",
    )
    assert [f for f in report.findings if f.severity != "info"] == []
    assert _app(report)["app.main"].status == "ok"
    off = check(
        f"docker:{tag}",
        Options(cache_dir=tmp_path),
        smoke=SmokeOptions(probes=False, compose_environment=False),
        build=BuildRequest(cwd=root / "backend"),
        select=("IC8",),
    )
    assert [f.code for f in off.findings if f.code != "IC854"] == ["IC808"]


STALE_USERS = USERS.read_text().replace(
    "from app.models import User, UserCreate, UserPublic",
    "from app.models import User, UserCreate, UserPublic, UserRole",
)
ROLES = "\n\nimport enum\n\n\nclass UserRoles(str, enum.Enum):\n    admin = 'admin'\n"


def test_a_stale_import_names_the_line_and_the_close_name(
    build_backend: Build, tmp_path: Path
) -> None:
    tag, root = build_backend(
        {
            "backend/app/api/routes/users.py": STALE_USERS,
            "backend/app/models.py": MODELS.read_text() + ROLES,
        }
    )
    report = _smoke(tag, root, tmp_path)
    finding = _one(report, "IC802")
    assert finding.subject == "app.main"
    assert "cannot import name 'UserRole' from 'app.models'" in finding.message
    assert finding.location == "app/api/routes/users.py:7"
    assert "app.models defines UserRoles" in finding.hint
    # the modules that import users.py fail the same way: one finding says so
    assert "other module(s) fail the same way" in finding.message
    assert "app.api.routes.users" in finding.message
    assert _codes(report) == [("IC802", "app.main")]


LAZY_REPORTS = "from app.models import Item, ItemReport\n\n\ndef report() -> Item | None:\n"
LAZY_REPORTS += "    return None\n"
START_SH = "#!/bin/sh\nset -e\npython app/backend_pre_start.py\nexec uvicorn app.main:app \\\n"
START_SH += "    --host 0.0.0.0 --port 8000\n"


def test_lazy_modules_hangs_and_exits_each_on_its_own(build_backend: Build, tmp_path: Path) -> None:
    """A router nothing imports at start, a module that serves at import, one that exits;
    the image starts through a shell script, read from its layers."""
    dockerfile = (STACK / "backend" / "Dockerfile").read_text()
    tag, root = build_backend(
        {
            "backend/app/api/routes/reports.py": LAZY_REPORTS,
            # serves forever at import (on loopback: the smoke container has no network)
            "backend/app/api/routes/serve.py": (
                "import socketserver\n\n"
                "socketserver.TCPServer(('127.0.0.1', 0), socketserver.BaseRequestHandler)"
                ".serve_forever()\n"
            ),
            "backend/app/api/routes/bye.py": "import sys\n\nsys.exit('no config')\n",
            "backend/app/tests/test_broken.py": "raise RuntimeError('never imported')\n",
            "backend/app/tests/__init__.py": "",
            "backend/scripts/start.sh": START_SH,
            "backend/Dockerfile": dockerfile.replace(
                'CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", '
                '"--workers", "1"]',
                'CMD ["sh", "scripts/start.sh"]',
            ),
        }
    )
    report = _smoke(tag, root, tmp_path, module_timeout=30)  # a loaded host is slow
    assert report.smoke is not None
    assert report.smoke.app is not None
    assert "scripts/start.sh: uvicorn's application app.main:app" in report.smoke.app.how
    assert _codes(report) == [
        ("IC804", "app.api.routes.reports"),
        ("IC805", "app.api.routes.bye"),
        ("IC805", "app.api.routes.serve"),
    ]
    lazy = next(f for f in report.findings if f.code == "IC804")
    assert lazy.location == "app/api/routes/reports.py:1"
    assert "cannot import name 'ItemReport'" in lazy.message
    results = _app(report)
    assert results["app.api.routes.serve"].status == "timeout", results["app.api.routes.serve"]
    assert results["app.api.routes.bye"].exc_type == "builtins.SystemExit"
    assert results["app.main"].status == "ok"
    assert not any(".tests" in name for name in results)
    assert report.smoke.status == "ran"


AMBIGUOUS = MODELS.read_text().replace(
    '    owner_id: uuid.UUID = Field(foreign_key="user.id", nullable=False, ondelete="CASCADE")\n',
    '    owner_id: uuid.UUID = Field(foreign_key="user.id", nullable=False, ondelete="CASCADE")\n'
    '    reviewer_id: uuid.UUID | None = Field(default=None, foreign_key="user.id")\n',
)


def test_ambiguous_foreign_keys_name_the_relationship(build_backend: Build, tmp_path: Path) -> None:
    assert MODELS.read_text() != AMBIGUOUS
    tag, root = build_backend({"backend/app/models.py": AMBIGUOUS})
    report = _smoke(tag, root, tmp_path)
    finding = _one(report, "IC806")
    assert finding.subject in ("User.items", "Item.owner")
    assert "AmbiguousForeignKeysError" in finding.message
    line = 20 if finding.subject == "User.items" else 40
    assert finding.location == f"app/models.py:{line}"
    assert "foreign_keys=" in finding.hint
    assert _codes(report) == [("IC806", finding.subject)]  # the import itself works


METADATA = MODELS.read_text().replace(
    '    owner: User | None = Relationship(back_populates="items")\n',
    '    owner: User | None = Relationship(back_populates="items")\n'
    "    metadata: str | None = Field(default=None, max_length=255)\n",
)


def test_a_column_named_metadata(build_backend: Build, tmp_path: Path) -> None:
    """SQLAlchemy 2.1 (the stack's pin) warns where 2.0 raised: a warning finding."""
    assert MODELS.read_text() != METADATA
    tag, root = build_backend({"backend/app/models.py": METADATA})
    report = _smoke(tag, root, tmp_path)
    warned = [f for f in report.findings if f.code == "IC807"]
    assert {f.subject for f in warned} == {"app.main"}
    assert any("SAWarning: Attribute name 'metadata'" in f.message for f in warned), warned
    assert _codes(report) == [("IC807", "app.main")] * len(warned)  # nothing else
