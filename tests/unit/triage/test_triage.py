"""Crashloop triage without an engine: the diagnosis of real-looking logs, container states,
the findings and commands they become, and a compose service read with the engine down."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from imagecheck.checks.context import Context
from imagecheck.codes import IC102, IC804, IC850
from imagecheck.engine import container_state
from imagecheck.model import (
    ContainerState,
    Diagnosis,
    Finding,
    Inventory,
    StaleVerdict,
    TriageRun,
)
from imagecheck.suite import run_checks
from imagecheck.triage.check import check_triage
from imagecheck.triage.diagnose import (
    commands,
    container_status,
    diagnose,
    worst_container,
)
from imagecheck.triage.failures import load_failures

LOGS = Path(__file__).parent / "triage_logs"
TABLE = load_failures()
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)


def state(**changes: object) -> ContainerState:
    fields: dict[str, object] = {
        "id": "c0ffee",
        "name": "demo-backend-1",
        "status": "restarting",
        "restarting": True,
        "restart_count": 7,
        "exit_code": 1,
        "oom_killed": False,
        "health": None,
        "started_at": "2026-11-23T16:59:58.123456789Z",
        "finished_at": "2026-11-23T16:59:59.5Z",
        "image_id": "sha256:" + "ab" * 32,
    }
    fields.update(changes)
    return ContainerState(**fields)  # type: ignore[arg-type]


def diagnosis_of(name: str, st: ContainerState | None = None) -> Diagnosis:
    found = diagnose((LOGS / name).read_text(), st or state(), TABLE)
    assert found is not None
    return found


def test_numpy_abi_under_uvicorn_is_the_final_import_error() -> None:
    d = diagnosis_of("numpy_abi.log")
    assert d.failure_id == "numpy-abi"
    assert d.evidence == "ImportError: numpy.core.multiarray failed to import"
    assert "numpy<2" in d.fix


def test_bcrypt_72_bytes_beats_the_harmless_about_warning_before_it() -> None:
    d = diagnosis_of("bcrypt_72.log")
    assert d.failure_id == "bcrypt-72-bytes"
    assert not d.harmless
    assert d.evidence.startswith("ValueError: password cannot be longer than 72 bytes")


@pytest.mark.parametrize(
    "cut",
    [
        # the newest run's traceback has no exception line yet
        'Traceback (most recent call last):\n  File "/app/app.py", line 4, in <module>\n',
        # or half of it
        (
            'Traceback (most recent call last):\n  File "/app/app.py", line 4, in <module>\n'
            "ValueError: password cannot be lon"
        ),
    ],
)
def test_a_traceback_read_half_written_does_not_hide_the_whole_one(cut: str) -> None:
    whole = (LOGS / "bcrypt_72.log").read_text()
    found = diagnose(whole + "seeding the admin user\n" + cut, state(), TABLE)
    assert found is not None
    assert found.failure_id == "bcrypt-72-bytes"
    assert found.evidence.endswith("(e.g. my_password[:72])")  # the whole line


def test_a_new_unknown_error_after_a_known_one_still_wins() -> None:
    whole = (LOGS / "bcrypt_72.log").read_text()
    newer = "Traceback (most recent call last):\n  File \"x\", line 1\nKeyError: 'DATABASE_URL'\n"
    found = diagnose(whole + newer, state(), TABLE)
    assert found is not None
    assert found.failure_id is None
    assert found.evidence == "KeyError: 'DATABASE_URL'"


def test_the_about_warning_alone_is_harmless() -> None:
    d = diagnosis_of("bcrypt_about.log", state(status="running", restarting=False))
    assert d.failure_id == "bcrypt-about"
    assert d.harmless
    assert d.evidence == "AttributeError: module 'bcrypt' has no attribute '__about__'"


def test_undefined_column_means_migrations() -> None:
    d = diagnosis_of("undefined_column.log")
    assert d.failure_id == "db-behind-models"
    assert d.evidence.startswith(
        "sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedColumn)"
    )
    assert "alembic upgrade head" in d.fix


def test_redis_authentication() -> None:
    d = diagnosis_of("redis_auth.log")
    assert d.failure_id == "redis-auth"
    assert d.evidence.startswith("redis.exceptions.AuthenticationError:")


def test_module_not_found() -> None:
    d = diagnosis_of("module_not_found.log")
    assert (d.failure_id, d.evidence) == (
        "module-not-found",
        "ModuleNotFoundError: No module named 'magic'",
    )


def test_oom_killed_state_beats_the_logs() -> None:
    d = diagnosis_of("module_not_found.log", state(oom_killed=True, exit_code=137))
    assert (d.failure_id, d.source) == ("oom-killed", "state")
    assert "137" in d.evidence


def test_unknown_error_is_quoted_verbatim() -> None:
    d = diagnosis_of("unknown.log")
    assert d.failure_id is None
    assert d.evidence == "RuntimeError: SETTINGS_MODULE is not configured"


def test_the_last_real_error_wins() -> None:
    text = (LOGS / "module_not_found.log").read_text() + (LOGS / "redis_auth.log").read_text()
    assert diagnose(text, state(), TABLE).failure_id == "redis-auth"  # type: ignore[union-attr]
    text = (LOGS / "redis_auth.log").read_text() + (LOGS / "unknown.log").read_text()
    assert diagnose(text, state(), TABLE).failure_id is None  # type: ignore[union-attr]


def test_a_wrapped_message_and_ansi_colours() -> None:
    text = (
        "\x1b[31mA module that was compiled using NumPy 1.x cannot be run in\x1b[0m\n"
        "NumPy 2.1.0 as it may crash.\n"
    )
    d = diagnose(text, None, TABLE)
    assert d is not None
    assert d.failure_id == "numpy-abi"
    assert d.evidence == "A module that was compiled using NumPy 1.x cannot be run in"


def test_clean_logs_have_no_diagnosis() -> None:
    assert diagnose("INFO: started\nINFO: 0 errors found\n", None, TABLE) is None


def test_a_plain_error_line_counts_when_nothing_else_does() -> None:
    d = diagnose("INFO: boot\nFATAL: config file /etc/app.toml missing\n", None, TABLE)
    assert d is not None
    assert (d.failure_id, d.evidence) == (None, "FATAL: config file /etc/app.toml missing")


def test_container_state_from_inspect() -> None:
    st = container_state(
        {
            "Id": "abc",
            "Name": "/demo-backend-1",
            "Image": "sha256:1",
            "RestartCount": 3,
            "State": {
                "Status": "running",
                "Restarting": False,
                "ExitCode": 0,
                "OOMKilled": False,
                "StartedAt": "2026-11-23T16:59:30.1Z",
                "FinishedAt": "0001-01-01T00:00:00Z",
                "Health": {"Status": "unhealthy"},
            },
        }
    )
    assert (st.name, st.restart_count, st.health, st.finished_at) == (
        "demo-backend-1",
        3,
        "unhealthy",
        None,
    )
    assert container_status(st, NOW) == "crashlooping"  # restarted 30 s ago
    assert container_status(state(status="running", restarting=False), NOW) == "crashlooping"
    old = state(status="running", restarting=False, started_at="2026-11-23T10:00:00Z")
    assert container_status(old, NOW) == "running"
    done = state(status="exited", restarting=False, exit_code=0)
    assert container_status(done, NOW) == "completed"  # no restart policy: a one-shot job
    stopped = state(status="exited", restarting=False, exit_code=0, restart_policy="always")
    assert container_status(stopped, NOW) == "clean"  # the engine would have restarted it
    assert container_status(stopped, NOW, one_shot=True) == "completed"


def test_the_worst_container_speaks_for_the_service() -> None:
    ok = state(name="demo-backend-2", status="running", restarting=False, restart_count=0)
    bad = state(name="demo-backend-1", status="exited", restarting=False, exit_code=3)
    assert worst_container((ok, bad), NOW) == ("exited", bad)
    assert worst_container((), NOW) == ("no-container", None)


def run_of(status: str, log: str | None, st: ContainerState | None, **kw: object) -> TriageRun:
    fields: dict[str, object] = {
        "service": "backend",
        "project": "demo",
        "compose_files": ("/p/compose.yaml",),
        "status": status,
        "reason": "",
        "image_ref": "sha256:" + "ab" * 32,
        "containers": (st,) if st else (),
        "diagnosis": diagnose((LOGS / log).read_text(), st, TABLE) if log else None,
        "build_context": "/p",
    }
    fields.update(kw)
    return TriageRun(**fields)  # type: ignore[arg-type]


def triage_findings(run: TriageRun) -> list[Finding]:
    return list(check_triage(Context(_empty_inventory(), triage=run)))


def _empty_inventory() -> Inventory:
    return Inventory.placeholder("demo-backend:latest", "test")


@pytest.mark.parametrize(
    ("log", "st", "code"),
    [
        ("bcrypt_72.log", state(), "IC701"),
        ("unknown.log", state(), "IC702"),
        ("module_not_found.log", state(oom_killed=True, exit_code=137), "IC703"),
    ],
)
def test_a_crashloop_is_an_error_finding(log: str, st: ContainerState, code: str) -> None:
    found = triage_findings(run_of("crashlooping", log, st))
    assert [(f.code, f.severity) for f in found] == [(code, "error")]
    # the state the engine reports: restarting after run 7 exited (RestartCount 7)
    assert "crashlooping (restarting; run 7 exited " in found[0].message
    assert f"exited {st.exit_code}" in found[0].message
    assert "at 2026-11-23 16:59:59 UTC" in found[0].message  # FinishedAt


def test_running_with_errors_harmless_and_no_container() -> None:
    running = state(status="running", restarting=False, restart_count=0, exit_code=0)
    found = triage_findings(run_of("running", "undefined_column.log", running))
    assert [(f.code, f.severity) for f in found] == [("IC704", "warning")]
    assert "alembic upgrade head" in found[0].hint
    found = triage_findings(run_of("running", "bcrypt_about.log", running))
    assert [(f.code, f.severity) for f in found] == [("IC705", "info")]
    found = triage_findings(run_of("no-container", None, None))
    assert [f.code for f in found] == ["IC706"]
    found = triage_findings(run_of("no-container", None, None, image_ref=None))
    assert [(f.code, f.hint) for f in found] == [
        ("IC708", "docker compose build backend"),
        ("IC706", found[1].hint),
    ]


def test_commands_rebuild_for_image_failures_and_migrate_for_the_database() -> None:
    run = run_of("crashlooping", "bcrypt_72.log", state())
    assert commands(run, (), has_build=True) == (
        "docker compose build --no-cache backend",
        "docker compose up -d --force-recreate backend",
    )
    run = run_of("running", "undefined_column.log", state(status="running", restarting=False))
    assert commands(run, (), has_build=True) == (
        "docker compose run --rm backend alembic upgrade head",
        "docker compose up -d --force-recreate backend",
    )
    log = "ImportError: failed to find libmagic.  Check your installation\n"
    libmagic = TriageRun(
        "backend", "demo", (), "crashlooping", "", diagnosis=diagnose(log, None, TABLE)
    )
    # a legacy image: its rebuild without the cache, never a BuildKit prune
    legacy = StaleVerdict("stale", "IC603", commands=("docker compose build --no-cache backend",))
    assert commands(libmagic, (), has_build=True, verdict=legacy) == (
        "docker compose build --no-cache backend",
        "docker compose up -d backend",
    )
    # a BuildKit image: the exact prune of its own record first
    prune = "docker builder prune -af --filter id=abc123"
    kit = StaleVerdict("stale", "IC603", commands=(prune, "docker compose build ..."))
    assert commands(libmagic, (), True, kit)[:2] == (
        prune,
        "docker compose build --no-cache backend",
    )
    assert commands(libmagic, (), has_build=False)[0] == "docker compose pull backend"


def test_a_bug_in_the_application_is_rebuilt_after_the_fix_with_the_cache() -> None:
    """Its own code (IC80x, IC85x, IC9xx) is what the source builds: no cache to drop;
    one image error elsewhere still asks for the clean rebuild."""
    run = run_of("no-container", None, None)
    own = (
        IC804.finding(subject="app.routers.reports", message="stale import", hint=""),
        IC850.finding(subject="alembic", message="2 heads", hint=""),
    )
    assert commands(run, own, has_build=True) == (
        "docker compose build backend",
        "docker compose up -d backend",
    )
    pins = IC102.finding(subject="numpy", message="numpy 2 is installed", hint="")
    assert commands(run, (*own, pins), has_build=True)[0] == (
        "docker compose build --no-cache backend"
    )


def test_the_triage_check_is_skipped_without_a_service() -> None:
    ctx = Context(_empty_inventory())
    _, results = run_checks(ctx, ("IC7",))
    assert [(r.status, r.reason) for r in results if r.code.startswith("IC701")] == [
        ("skipped", "no compose service (imagecheck SERVICE)")
    ]


COMPOSE = """\
name: demo
services:
  backend:
    build:
      context: ./app
      dockerfile: Dockerfile.prod
  redis:
    image: redis:7
"""


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A compose project in tmp_path, the working folder, and an engine that never answers."""
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docker-compose.local.yml").write_text(COMPOSE)
    return tmp_path


def test_engine_down_reports_what_compose_says(
    no_engine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from imagecheck.cli import main
    from tests.helpers import validate

    code = main(["--file", "docker-compose.local.yml", "backend", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 3
    assert err.count("\n") == 1
    assert "cannot reach the Docker engine" in err
    doc = json.loads(out)
    validate(doc, "report")
    triage = doc["triage"]
    assert (triage["service"], triage["project"], triage["status"]) == (
        "backend",
        "demo",
        "skipped",
    )
    assert triage["build_context"] == str(no_engine / "app")
    assert triage["dockerfile"] == str(no_engine / "app" / "Dockerfile.prod")
    assert triage["engine_error"]
    assert [f["code"] for f in doc["findings"]] == ["IC707"]
    skipped = {c["name"]: c["status"] for c in doc["checks"]}
    assert skipped["pins"] == "skipped"
    assert skipped["compose service containers"] == "failed"


def test_a_typo_lists_the_services(no_engine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imagecheck.cli import main

    code = main(["-f", "docker-compose.local.yml", "backnd"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "services: backend, redis" in err
    assert "did you mean 'backend'?" in err


def test_a_bare_word_without_compose_file_is_an_image(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from imagecheck.cli import main

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.chdir(tmp_path)  # tmp folders have no compose file up to /
    assert main(["backend"]) == 3  # check: the image needs the engine
    assert "cannot reach the Docker engine" in capsys.readouterr().err


def test_junit_has_a_testcase_for_the_service_state() -> None:
    import xml.etree.ElementTree as ET

    from imagecheck.model import Report
    from imagecheck.report.findings import junit

    run = run_of("crashlooping", "bcrypt_72.log", state(), log_tail="ValueError: 72 bytes\n")
    ctx = Context(_empty_inventory(), triage=run)
    findings, results = run_checks(ctx, ("IC7",))
    xml = junit(Report(ctx.inventory, findings, results, triage=run), "error")
    root = ET.fromstring(xml)  # noqa: S314 - our own output
    suite = root.find("testsuite[@name='imagecheck service backend']")
    assert suite is not None
    assert suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message", "").startswith("IC701: crashlooping")
    assert suite.findtext("testcase/system-out") == "ValueError: 72 bytes\n"


@pytest.mark.parametrize(
    ("line", "failure_id"),
    [
        ('psycopg2.errors.UndefinedTable: relation "invoices" does not exist', "db-behind-models"),
        (
            (
                "sqlalchemy.exc.AmbiguousForeignKeysError: Could not determine join condition "
                "between parent/child tables on relationship User.invoices"
            ),
            "sqlalchemy-ambiguous-fk",
        ),
        (
            (
                "sqlalchemy.exc.InvalidRequestError: Attribute name 'metadata' is reserved when "
                "using the Declarative API."
            ),
            "sqlalchemy-metadata-reserved",
        ),
        ("redis.exceptions.ResponseError: NOAUTH Authentication required.", "redis-auth"),
        ("ImportError: failed to find libmagic.  Check your installation", "libmagic"),
        ("smtplib.SMTPAuthenticationError: (535, b'bad credentials')", None),
    ],
)
def test_one_line_errors(line: str, failure_id: str | None) -> None:
    d = diagnose(f"INFO: boot\n{line}\n", None, TABLE)
    assert d is not None
    assert (d.failure_id, d.evidence) == (failure_id, line)


def test_a_broken_compose_file_is_reported_for_a_bare_word(
    no_engine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from imagecheck.cli import main

    (no_engine / "compose.yaml").write_text("services:\n  backend:\n    image: ${TAG:?set TAG}\n")
    assert main(["backend"]) == 2
    assert "required variable TAG is missing a value: set TAG" in capsys.readouterr().err


def test_engine_down_with_the_image_as_an_archive(
    no_engine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No engine, but a saved copy of the image: the image and staleness checks still
    run against it and the service's build context."""
    import json

    from imagecheck.cli import main
    from tests.unit.stale.test_stale import DOCKERFILE, REQS, _image

    archive = _image(no_engine)
    app = no_engine / "app"
    (app / "app").mkdir(parents=True)
    (app / "Dockerfile.prod").write_text(DOCKERFILE)
    (app / "requirements.txt").write_bytes(REQS)
    (app / "app" / "__init__.py").write_text("print(1)\n")
    argv = ["--file", "docker-compose.local.yml", "backend", "--image", str(archive)]
    code = main([*argv, "--format", "json", "--no-smoke"])
    out, err = capsys.readouterr()
    assert code == 3
    assert "reported what the compose file and --image say" in err
    doc = json.loads(out)
    assert doc["triage"]["image_source"] == "--image"
    codes = {f["code"] for f in doc["findings"]}
    assert {"IC707", "IC603", "IC605"} <= codes
    assert doc["stale"]["status"] == "stale"
    assert doc["stale"]["how"].startswith("compose service 'backend'")
    assert doc["stale"]["reason"].startswith("IC603")


# --- log levels, client errors, wrapped lines: real logs of the engine tests' stack ---------
# (tests/engine/stacks/fastapi and tests/engine/stacks/postgres, captured with docker logs)


def test_a_logger_named_error_logging_at_info_is_no_error() -> None:
    """uvicorn logs its startup through the logger ``uvicorn.error``, at INFO."""
    assert diagnose((LOGS / "uvicorn_healthy.log").read_text(), None, TABLE) is None
    assert diagnose((LOGS / "prestart_alembic.log").read_text(), None, TABLE) is None


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("INFO:uvicorn.error:Application startup complete.", False),
        ("ERROR:uvicorn.error:Exception in ASGI application", True),
        ("INFO:     Finished server process [1]: no errors", False),
        ("ERROR:    Application startup failed. Exiting.", True),
        (
            "[2024-01-01 00:00:00 +0000] [1] [INFO] Worker exiting (pid: 7), error handler set",
            False,
        ),
        ("[2024-01-01 00:00:00 +0000] [7] [ERROR] Exception in worker process", True),
        ('{"level": "info", "logger": "app.error", "msg": "error budget ok"}', False),
        ('{"levelname": "ERROR", "message": "payment failed"}', True),
        ('{"severity": "CRITICAL", "message": "disk full"}', True),
        (
            "2026-12-03 11:44:22.726 UTC [1] LOG:  database system is ready to accept connections",
            False,
        ),
        ('2026-12-03 11:50:02.001 UTC [1] PANIC:  could not write to file "pg_wal/x"', True),
        ("[2026-11-23 16:40:01,112: INFO/MainProcess] error queue is empty", False),
        ("2024-01-01 12:00:00,123 - app.errors - WARNING - error rate 2%", False),
        ('time=2024-01-01T00:00:00Z level=error msg="listen tcp: address in use"', True),
    ],
)
def test_the_level_a_line_states_decides(line: str, error: bool) -> None:
    found = diagnose(f"{line}\n", None, TABLE)
    assert (found is not None) == error, found
    if found is not None:
        assert found.evidence == line  # quoted whole


def test_the_database_quotes_its_clients_errors_not_as_its_own() -> None:
    """PostgreSQL's ERROR aborts one client's statement: not the server's failure."""
    log = (LOGS / "postgres_client_error.log").read_text()
    serving = state(status="running", restarting=False, restart_count=0, exit_code=0)
    assert diagnose(log, serving, TABLE) is None
    assert diagnose(log, None, TABLE) is None
    from imagecheck.triage.diagnose import client_errors

    quoted = 'ERROR:  column "priority" does not exist at character 19'
    statement = "STATEMENT:  SELECT id, title, priority FROM item"
    assert client_errors(log) == (f"{quoted} ({statement})",)
    assert client_errors(log, since="2026-12-03T11:45:00Z") == ()  # before the client started
    assert client_errors(log, since="2026-12-03T11:44:40.5Z") == (f"{quoted} ({statement})",)
    backend = (LOGS / "backend_undefined_column.log").read_text()
    assert client_errors(log, client_log=backend) == client_errors(log)  # its driver quotes it
    other = (LOGS / "uvicorn_healthy.log").read_text()
    assert client_errors(log, client_log=other) == ()  # another client's query


def test_a_database_that_crashes_has_its_own_fatal() -> None:
    log = (
        "2026-12-03 11:44:22.716 UTC [1] LOG:  starting PostgreSQL 15.18\n"
        '2026-12-03 11:44:22.717 UTC [1] FATAL:  could not access file "pg_stat": No such file\n'
    )
    d = diagnose(log, state(), TABLE)  # restarting
    assert d is not None
    assert d.evidence.endswith('FATAL:  could not access file "pg_stat": No such file')
    serving = state(status="running", restarting=False, restart_count=0, exit_code=0)
    auth = log.replace(
        'could not access file "pg_stat": No such file',
        'password authentication failed for user "app"',
    )
    assert diagnose(auth, serving, TABLE) is None  # a client's session, while it serves


def test_the_clients_diagnosis_gets_what_the_database_logged() -> None:
    running = state(status="running", restarting=False, restart_count=0, exit_code=0)
    d = diagnose((LOGS / "backend_undefined_column.log").read_text(), running, TABLE)
    assert d is not None
    assert (d.failure_id, d.evidence) == (
        "db-behind-models",
        'psycopg2.errors.UndefinedColumn: column "priority" does not exist',
    )
    related = ('db logged: ERROR:  column "priority" does not exist at character 19',)
    run = run_of("running", None, running, diagnosis=replace(d, related=related))
    (found,) = triage_findings(run)
    assert found.code == "IC704"
    assert found.message.endswith(
        'log: psycopg2.errors.UndefinedColumn: column "priority" does not exist; '
        'db logged: ERROR:  column "priority" does not exist at character 19'
    )


def test_a_rich_traceback_box_and_its_wrapped_exception_line() -> None:
    """rich's box (``fastapi run``, typer) made by rich 13.9.4 in a container at 80 columns:
    the exception line after the box is wrapped; it is quoted whole."""
    d = diagnosis_of("rich_traceback.log")
    assert d.failure_id == "sqlalchemy-metadata-reserved"
    assert d.evidence == (
        "InvalidRequestError: Attribute name 'metadata' is reserved when using the Declarative API."
    )


def test_wrapped_lines_are_joined_only_where_a_console_wrapped_them() -> None:
    from imagecheck.triage.logs import unwrap

    box = "╭" + "─" * 38 + "╮"
    wrapped = [
        box,
        "│ x │",
        "╰" + "─" * 38 + "╯",
        "ValueError: the message is long and ",
        "wraps here.",
    ]
    assert unwrap(wrapped)[-1] == "ValueError: the message is long and wraps here."
    short = [box, "ValueError: short ", "next line"]  # would have fitted: a real line break
    assert unwrap(short) == short
    logged = ["ValueError: x ", "INFO:     next entry"]
    assert unwrap(logged) == logged
    long = "a line of a log long enough to have been wrapped by an 80-column console "
    assert unwrap([long, "ends here."]) == [long + "ends here."]
    assert unwrap([long, "KeyError: 'DATABASE_URL'"]) == [long, "KeyError: 'DATABASE_URL'"]
    assert unwrap(["short ", "line"]) == ["short ", "line"]


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({}, "restarting; run 7 exited 1 at 2026-11-23 16:59:59 UTC"),
        (
            {"status": "running", "restarting": False, "exit_code": 0},
            (
                "run 8 since 2026-11-23 16:59:58 UTC, after 7 restart(s); run 7 ended at "
                "2026-11-23 16:59:59 UTC"
            ),
        ),
        (
            {"status": "exited", "restarting": False, "restart_count": 2, "exit_code": 3},
            "run 3 exited 3 at 2026-11-23 16:59:59 UTC after 2 restart(s)",
        ),
    ],
)
def test_the_header_says_which_run_the_state_describes(
    changes: dict[str, object], says: str
) -> None:
    from imagecheck.triage.diagnose import describe_run

    assert describe_run(state(**changes)) == says


def test_fastapi_runs_rich_traceback_with_locals() -> None:
    """``fastapi run`` (fastapi-cli 0.0.7, typer 0.15.1, rich 13.9.4) in a container: a
    box with nested locals boxes, a wrapped startup message, the wrapped exception."""
    d = diagnosis_of("fastapi_run_rich.log")
    assert d.failure_id == "sqlalchemy-metadata-reserved"
    assert d.evidence == (
        "InvalidRequestError: Attribute name 'metadata' is reserved when using the Declarative API."
    )
