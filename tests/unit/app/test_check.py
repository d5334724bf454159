"""The application step: the runner's app items on a real package on disk, and IC80x."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from imagecheck.app import check_app, mapper_subject
from imagecheck.model import AppEntry, ModuleResult, SmokeRun
from imagecheck.smoke import runner_source
from imagecheck.triage import load_project

FILES = {
    "app/__init__.py": "",
    "app/main.py": "from app.models.user import User\n\napp = object()\n",
    "app/models/__init__.py": "",
    "app/models/user.py": "class User:\n    pass\n\n\nclass UserRoles:\n    pass\n",
    "app/routers/__init__.py": "",
    "app/routers/items.py": "import os\nfrom app.models.user import UserRole\n",
    "app/routers/bye.py": "import sys\n\nsys.exit(3)\n",
    "app/routers/hang.py": "import time\n\ntime.sleep(60)\n",
    "app/routers/broken.py": "def f(:\n",
    "app/tests/__init__.py": "",
    "app/tests/test_x.py": "raise RuntimeError\n",
    "app/migrations/__init__.py": "raise RuntimeError\n",
    "app/__main__.py": "raise SystemExit('served')\n",
    "app/routers/test_routes.py": "raise RuntimeError\n",
}


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _run(cwd: Path, app: dict[str, Any], timeout: float = 2.0) -> list[dict[str, Any]]:
    """The real runner, in a fresh interpreter in ``cwd`` (as in the image's WORKDIR)."""
    config = {"items": [], "module_timeout": timeout, "app": {**app, "timeout": timeout}}
    done = subprocess.run(
        [sys.executable, "-c", runner_source(), json.dumps(config)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def _by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in records if r.get("kind") == "app"}


def test_the_runner_imports_each_module_of_the_package(tmp_path: Path) -> None:
    _tree(tmp_path, FILES)
    records = _run(tmp_path, {"module": "app.main", "attribute": "app"})
    plan = next(r for r in records if r["kind"] == "app-plan")
    assert plan["modules"] == [
        "app.main",
        "app",
        "app.models",
        "app.models.user",
        "app.routers",
        "app.routers.broken",
        "app.routers.bye",
        "app.routers.hang",
        "app.routers.items",
    ]  # no tests, migrations, test_*.py, __main__
    results = _by_name(records)
    assert results["app.main"]["status"] == "ok"
    assert results["app.main"]["role"] == "entry"
    items = results["app.routers.items"]
    assert (items["status"], items["location"]) == ("error", "app/routers/items.py:2")
    assert items["close_names"] == ["UserRoles", "User"]  # closest first
    assert results["app.routers.bye"]["exc_type"] == "builtins.SystemExit"
    assert results["app.routers.hang"]["status"] == "timeout"
    broken = results["app.routers.broken"]
    assert (broken["exc_type"], broken["location"]) == (
        "builtins.SyntaxError",
        "app/routers/broken.py:1",
    )
    assert records[-1]["kind"] == "end"


def test_a_missing_attribute_has_close_names(tmp_path: Path) -> None:
    _tree(tmp_path, {"svc.py": "api = object()\napps = 1\n"})
    results = _by_name(_run(tmp_path, {"module": "svc", "attribute": "app"}))
    record = results["svc"]
    assert (record["status"], record["reason"]) == ("error", "attribute")
    assert record["last_line"] == "AttributeError: module 'svc' has no attribute 'app'"
    assert "apps" in record["close_names"]
    fastapi = _by_name(_run(tmp_path, {"module": "svc", "attributes": ["app", "api"]}))
    assert fastapi["svc"]["status"] == "ok"


def test_a_file_is_found_as_its_package_module(tmp_path: Path) -> None:
    _tree(tmp_path, FILES)
    records = _run(tmp_path, {"path": "app/main.py", "attribute": "app"})
    assert _by_name(records)["app.main"]["status"] == "ok"
    missing = _run(tmp_path, {"candidates": ["main.py", "app.py"]})
    plan = next(r for r in missing if r["kind"] == "app-plan")
    assert plan["status"] == "missing"
    assert plan["reason"].startswith("no main.py or app.py in ")


def test_mappers_are_skipped_when_the_app_does_not_use_the_orm(tmp_path: Path) -> None:
    _tree(tmp_path, {"svc.py": "app = 1\n"})
    records = _run(tmp_path, {"module": "svc", "attribute": "app", "mappers": True})
    mappers = next(r for r in records if r["kind"] == "mappers")
    assert mappers["status"] == "skipped"  # svc never imports sqlalchemy.orm
    assert mappers["reason"] == "the application does not import sqlalchemy.orm"


SETTINGS = """from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_")
    POSTGRES_SERVER: str
    user: str
    secret: str = Field(validation_alias="SECRET_KEY")
    debug: bool = False


settings = Settings()
"""


def test_missing_settings_are_named_as_the_settings_class_reads_them(tmp_path: Path) -> None:
    """pydantic-settings (real, with env_prefix and an alias) and os.environ[...]; any
    other failure, a wrong value included, names no variable."""
    _tree(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/config.py": SETTINGS,
            "svc/main.py": "from svc.config import settings\n\napp = 1\n",
            "svc/keys.py": "import os\n\nKEY = os.environ['IMAGECHECK_TEST_KEY']\n",
            "svc/other.py": "raise KeyError('not from the environment')\n",
            "svc/wrong.py": "from pydantic_settings import BaseSettings\n\n\n"
            "class Mixed(BaseSettings):\n    need: str\n    debug: bool\n\n\n"
            "Mixed(debug='maybe')\n",
        },
    )
    results = _by_name(_run(tmp_path, {"module": "svc.main", "attribute": "app"}, timeout=20))
    main = results["svc.main"]
    assert (main["status"], main["location"]) == ("error", "svc/config.py:13")
    assert main["missing_env"] == ["APP_POSTGRES_SERVER", "APP_USER", "SECRET_KEY"]
    assert results["svc.keys"]["missing_env"] == ["IMAGECHECK_TEST_KEY"]
    assert results["svc.other"]["missing_env"] == []
    assert results["svc.wrong"]["missing_env"] == []  # missing ones and a bad bool


ENTRY = AppEntry("app.main", "app", 'CMD ["uvicorn", "app.main:app"]: uvicorn')


def _run_of(*results: ModuleResult, entry: AppEntry = ENTRY) -> SmokeRun:
    return SmokeRun("ran", "", "/usr/bin/python3", "3.11", 1.0, results, app=entry)


class _Ctx:
    def __init__(self, run: SmokeRun) -> None:
        self.smoke = run


STALE = (
    "ImportError: cannot import name 'UserRole' from 'app.models.user' (/app/app/models/user.py)"
)


def test_failures_with_the_same_cause_are_one_finding() -> None:
    same: dict[str, Any] = {
        "exc_type": "builtins.ImportError",
        "last_line": STALE,
        "location": "app/routers/items.py:2",
    }
    run = _run_of(
        ModuleResult("app", "app.main", "error", role="entry", close_names=("UserRoles",), **same),
        ModuleResult("app", "app.routers", "error", role="module", **same),
        ModuleResult("app", "app.models", "ok", role="module"),
    )
    findings = list(check_app(_Ctx(run)))
    assert [(f.code, f.subject, f.location) for f in findings] == [
        ("IC802", "app.main", "app/routers/items.py:2")
    ]
    assert "1 other module(s) fail the same way (app.routers)" in findings[0].message
    assert findings[0].hint.startswith("app.models.user defines UserRoles, not UserRole")


def test_a_failing_distribution_is_one_finding_for_every_module_it_fails() -> None:
    """fastapi 0.79 on Python 3.11 (a real project's image): each module that imports it
    fails at its own line; one finding names fastapi, not twenty at twenty lines."""
    why = "ValueError: 'not' is not a valid parameter name"
    run = _run_of(
        ModuleResult("import", "fastapi", "error", exc_type="builtins.ValueError", last_line=why),
        ModuleResult(
            "app", "app.main", "error", role="entry", last_line=why, location="app/main.py:1"
        ),
        ModuleResult(
            "app",
            "app.api.routes.users",
            "error",
            role="module",
            last_line=why,
            location="app/api/routes/users.py:1",
        ),
        ModuleResult(
            "app",
            "app.db.events",
            "error",
            role="module",
            last_line=why,
            location="app/db/events.py:2",
        ),
        ModuleResult(
            "app",
            "app.other",
            "error",
            role="module",
            last_line="KeyError: 'x'",
            location="app/other.py:3",
        ),
    )
    findings = list(check_app(_Ctx(run)))
    assert [(f.code, f.subject) for f in findings] == [
        ("IC802", "app.main"),
        ("IC804", "app.other"),
    ]
    assert "app.main:app fails to import because fastapi does: " + why in findings[0].message
    assert "2 more module(s) of the application fail with it" in findings[0].message
    assert "IC501" in findings[0].hint


def test_missing_settings_warn_with_the_image_env_and_fail_with_a_given_one() -> None:
    """The image's ENV alone: a healthy app waiting for deploy's settings (IC808,
    warning); an environment given that still lacks them: the crash (IC802, error)."""
    common: dict[str, Any] = {
        "exc_type": "pydantic_core._pydantic_core.ValidationError",
        "last_line": "ValidationError: 1 validation error for Settings",
        "location": "app/core/config.py:37",
        "missing_env": ("POSTGRES_SERVER",),
    }
    results = (
        ModuleResult("app", "app.main", "error", role="entry", **common),
        ModuleResult("app", "app.api", "error", role="module", **common),
    )
    alone = list(check_app(_Ctx(_run_of(*results))))
    assert [(f.code, f.severity, f.subject) for f in alone] == [
        ("IC808", "warning", "app.main:app")
    ]
    assert "needs settings the image does not set: POSTGRES_SERVER" in alone[0].message
    assert "1 more module(s) stop there" in alone[0].message
    assert "--env-file" in alone[0].hint
    given = replace(_run_of(*results), environment_from=("--env-file prod.env",))
    crash = list(check_app(_Ctx(given)))
    assert [(f.code, f.severity) for f in crash] == [("IC802", "error")]
    assert "(--env-file prod.env) lacks POSTGRES_SERVER" in crash[0].message
    noted = replace(_run_of(*results), environment_note="the compose file was not read: x")
    assert "the compose file was not read: x" in next(iter(check_app(_Ctx(noted)))).hint


def test_each_code() -> None:
    run = _run_of(
        ModuleResult(
            "app",
            "app.main",
            "error",
            role="entry",
            exc_type="builtins.AttributeError",
            last_line="AttributeError: module 'app.main' has no attribute 'app'",
            reason="attribute",
            close_names=("api",),
        ),
        ModuleResult(
            "app",
            "app.x",
            "error",
            role="module",
            exc_type="builtins.KeyError",
            last_line="KeyError: 'DB'",
            location="app/x.py:3",
        ),
        ModuleResult("app", "app.serve", "timeout", role="module", seconds=8.0),
        ModuleResult(
            "app",
            "app.bye",
            "error",
            role="module",
            exc_type="builtins.SystemExit",
            last_line="SystemExit: 3",
        ),
        ModuleResult(
            "mappers",
            "sqlalchemy.orm.configure_mappers",
            "error",
            exc_type="sqlalchemy.exc.AmbiguousForeignKeysError",
            last_line="AmbiguousForeignKeysError: Could not determine join condition "
            "between parent/child tables on relationship User.items - there are "
            "multiple foreign key paths",
            location="app/models.py:20",
        ),
        ModuleResult(
            "app",
            "app.models",
            "ok",
            role="module",
            warnings=(
                "SAWarning: Attribute name 'metadata' should be left reserved (x.py:1)",
                "DeprecationWarning: old (y.py:2)",
            ),
        ),
    )
    codes = [(f.code, f.subject) for f in check_app(_Ctx(run))]
    assert codes == [
        ("IC803", "app.main:app"),
        ("IC804", "app.x"),
        ("IC805", "app.serve"),
        ("IC805", "app.bye"),
        ("IC806", "User.items"),
        ("IC807", "app.models"),
    ]


def test_not_found_says_how_to_configure() -> None:
    run = _run_of(entry=AppEntry(None, None, 'CMD ["postgres"]: no server or python command'))
    (finding,) = check_app(_Ctx(run))
    assert (finding.code, finding.severity) == ("IC801", "info")
    assert "--app app.main:app" in finding.hint
    assert list(check_app(_Ctx(SmokeRun("ran", "", results=())))) == []  # the step was off


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        (
            (
                "Could not determine join condition between parent/child tables on "
                "relationship User.items - there are multiple"
            ),
            ("User", "items"),
        ),
        ("Mapper 'Mapper[Item(item)]' has no property 'owner'", ("Item", None)),
        ("something else", (None, None)),
    ],
)
def test_mapper_subject(text: str, subject: tuple[str | None, str | None]) -> None:
    assert mapper_subject(text) == subject


def test_compose_environment_and_command(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  web:\n"
        "    image: web\n"
        "    command: sh -c 'exec uvicorn app.main:app'\n"
        "    env_file: [.env.web, {path: .env.missing, required: false}]\n"
        "    environment:\n"
        "      - DB=postgres\n"
        "      - FROM_SHELL\n"
        "      - UNSET_HERE\n"
        "  worker:\n"
        "    image: web\n"
        "    entrypoint: [celery]\n"
        "    environment: {A: 1, B: null}\n"
    )
    (tmp_path / ".env.web").write_text("DB=sqlite\nSECRET=s\n")
    project = load_project(tmp_path, environ={"FROM_SHELL": "yes", "PATH": "/bin"})
    web = project.service("web")
    assert web.command == ("sh", "-c", "exec uvicorn app.main:app")
    assert web.environment == (("DB", "postgres"), ("SECRET", "s"), ("FROM_SHELL", "yes"))
    worker = project.service("worker")
    assert (worker.entrypoint, worker.command, worker.environment) == (
        ("celery",),
        None,
        (("A", "1"),),
    )


def test_a_script_without_a_main_guard_is_not_run(tmp_path: Path) -> None:
    """``python app.py`` whose work is at module level: importing it would run it."""
    _tree(tmp_path, {"run.py": "import time\n\ntime.sleep(60)\n"})
    records = _run(tmp_path, {"path": "run.py", "script": True})
    entry = _by_name(records)["run"]
    assert entry["status"] == "skipped"
    assert "has no `if __name__ ==" in entry["reason"]
    _tree(tmp_path, {"served.py": "x = 1\n\nif __name__ == '__main__':\n    raise SystemExit(1)\n"})
    guarded = _by_name(_run(tmp_path, {"path": "served.py", "script": True}))
    assert guarded["served"]["status"] == "ok"
