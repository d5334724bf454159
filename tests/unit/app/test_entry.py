"""The application's entry point, read from ENTRYPOINT/CMD, compose's command and scripts."""

from __future__ import annotations

import pytest

from imagecheck.app import FASTAPI_DEFAULT_PATHS, expand, find_entry, split_shell

SH = ("/bin/sh", "-c")  # what the shell form of CMD becomes


@pytest.mark.parametrize(
    ("cmd", "module", "attribute"),
    [
        (["uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", "8000"], "app.main", "app"),
        (["uvicorn", "--host", "127.0.0.1", "--port", "80", "app.main:api"], "app.main", "api"),
        (["uvicorn", "--port=80", "--reload", "main:app"], "main", "app"),
        (["/opt/venv/bin/uvicorn", "app.main:create_app", "--factory"], "app.main", "create_app"),
        (
            ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "4", "app.main:app"],
            "app.main",
            "app",
        ),
        (["gunicorn", "-b", "0.0.0.0:80", "--worker-class=gevent", "wsgi"], "wsgi", "application"),
        (["gunicorn", "-kuvicorn.workers.UvicornWorker", "svc.api:app"], "svc.api", "app"),
        (["hypercorn", "--bind", "0.0.0.0:80", "app.main:app"], "app.main", "app"),
        (["python", "-m", "uvicorn", "app.main:app", "--port", "80"], "app.main", "app"),
        (["python3", "-m", "app"], "app", None),
        (["python3.11", "-u", "-m", "service.cli"], "service.cli", None),
        (["celery", "-A", "app.worker", "worker", "-l", "info"], "app.worker", None),
        (["celery", "--app=app.worker:celery", "worker"], "app.worker", "celery"),
        (["celery", "-Aproj", "beat"], "proj", None),
        (["fastapi", "run", "--entrypoint", "app.main:app"], "app.main", "app"),
        (["flask", "--app", "web:create_app", "run"], "web", "create_app"),
        (["tini", "--", "uvicorn", "app.main:app"], "app.main", "app"),
        (["gosu", "app", "uvicorn", "app.main:app"], "app.main", "app"),
        (["uv", "run", "--no-sync", "uvicorn", "app.main:app"], "app.main", "app"),
        (["env", "FOO=1", "uvicorn", "app.main:app"], "app.main", "app"),
        ([*SH, "uvicorn app.main:app --host 0.0.0.0 --port ${PORT:-80}"], "app.main", "app"),
        ([*SH, "alembic upgrade head && exec uvicorn app.main:app"], "app.main", "app"),
        (
            ["bash", "-c", "set -e; python -m app.wait; exec gunicorn app.main:app"],
            "app.main",
            "app",
        ),
    ],
)
def test_the_command_names_the_application(
    cmd: list[str], module: str, attribute: str | None
) -> None:
    found = find_entry((), cmd)
    assert (found.module, found.attribute) == (module, attribute), found.how
    assert found.found


def test_how_says_where_it_came_from() -> None:
    found = find_entry((), ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "app.main:app"])
    assert found.how == (
        'CMD ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "app.main:app"]: '
        "gunicorn -k uvicorn.workers.UvicornWorker's application app.main:app"
    )


@pytest.mark.parametrize(
    ("cmd", "path"),
    [
        (["python", "app/main.py"], "app/main.py"),
        (["python3", "-u", "/srv/run.py", "--debug"], "/srv/run.py"),
        (["fastapi", "run", "app/main.py", "--port", "80"], "app/main.py"),
        (["fastapi", "run", "--port", "80", "src/api.py", "--app", "api"], "src/api.py"),
    ],
)
def test_a_file_is_imported_not_run(cmd: list[str], path: str) -> None:
    found = find_entry((), cmd)
    assert (found.module, found.path) == (None, path), found.how


def test_fastapi_run_attribute_and_defaults() -> None:
    named = find_entry((), ["fastapi", "run", "main.py", "--app", "api"])
    assert (named.attribute, named.attributes) == ("api", ())
    default = find_entry((), ["fastapi", "run"])
    assert (default.path, default.candidates) == (None, FASTAPI_DEFAULT_PATHS)
    assert default.attributes == ("app", "api")
    assert default.found


def test_a_variable_is_read_from_the_environment() -> None:
    env = {"APP_MODULE": "svc.main:app", "PORT": "80"}
    found = find_entry((), [*SH, "exec gunicorn -b :$PORT $APP_MODULE"], env=env)
    assert (found.module, found.attribute) == ("svc.main", "app")
    default = find_entry((), [*SH, "uvicorn ${APP_MODULE:-app.main:app}"])
    assert default.module == "app.main"


ENTRYPOINT_SH = """\
#!/bin/sh
set -e
# wait for the database, migrate, serve
python -m app.prestart
alembic upgrade head
if [ "$1" = "shell" ]; then exec bash; fi
exec uvicorn app.main:app \\
    --host 0.0.0.0 --port 8000
"""

HANDS_OVER_SH = """\
#!/usr/bin/env bash
set -euo pipefail
export APP_MODULE=worker.tasks
echo "starting $APP_MODULE"
exec "$@"
"""


def test_an_entrypoint_script_is_read_from_the_image() -> None:
    files = {"/docker-entrypoint.sh": ENTRYPOINT_SH}
    found = find_entry(("/docker-entrypoint.sh",), (), read_file=files.get)
    assert (found.module, found.attribute) == ("app.main", "app")
    assert found.how.startswith('ENTRYPOINT ["/docker-entrypoint.sh"]: /docker-entrypoint.sh: ')


def test_a_script_relative_to_the_workdir_and_run_by_bash() -> None:
    files = {"/app/scripts/start.sh": ENTRYPOINT_SH}
    found = find_entry((), ["bash", "scripts/start.sh"], workdir="/app", read_file=files.get)
    assert found.module == "app.main"


def test_exec_at_sign_hands_over_to_cmd() -> None:
    files = {"/entrypoint.sh": HANDS_OVER_SH}
    found = find_entry(
        ("/entrypoint.sh",), ("celery", "-A", "worker.tasks", "worker"), read_file=files.get
    )
    assert found.module == "worker.tasks"
    assert "/entrypoint.sh: celery -A worker.tasks" in found.how


def test_compose_command_replaces_cmd_but_keeps_entrypoint() -> None:
    files = {"/entrypoint.sh": HANDS_OVER_SH}
    found = find_entry(
        ("/entrypoint.sh",),
        ("uvicorn", "app.main:app"),
        read_file=files.get,
        command=("celery", "-A", "app.worker", "worker"),
    )
    assert found.module == "app.worker"
    assert found.how.startswith('compose command: ["celery", "-A", "app.worker", "worker"] after')


def test_configured_wins() -> None:
    found = find_entry(
        (), ["uvicorn", "other:app"], configured="app.main:app", configured_how="--app"
    )
    assert (found.module, found.attribute, found.how) == ("app.main", "app", "--app: app.main:app")
    file = find_entry((), (), configured="app/main.py")
    assert file.path == "app/main.py"
    bad = find_entry((), (), configured="not a module")
    assert not bad.found
    assert "is not MODULE[:ATTRIBUTE]" in bad.how


@pytest.mark.parametrize(
    ("entrypoint", "cmd", "why"),
    [
        ((), (), "nothing to read the application from"),
        ((), ("bash",), "an interactive shell"),
        ((), ("python3",), "python without a script or -m"),
        ((), ("python", "-c", "print(1)"), "python -c runs inline code"),
        ((), ("postgres",), "no server or python command recognised"),
        ((), ("gunicorn", "-c", "gunicorn.conf.py"), "reads its application from its config"),
        ((), ("celery", "worker"), "celery without -A/--app"),
        (("/entrypoint.sh",), ("uvicorn", "app.main:app"), "/entrypoint.sh is not readable"),
        ((), ("sh", "/start.sh"), "the script /start.sh is not readable"),
    ],
)
def test_not_found_says_why(entrypoint: tuple[str, ...], cmd: tuple[str, ...], why: str) -> None:
    found = find_entry(entrypoint, cmd, read_file=lambda _: None)
    assert not found.found
    assert why in found.how


def test_a_script_that_calls_itself_is_no_hang() -> None:
    files = {"/loop.sh": "#!/bin/sh\nexec /loop.sh\n"}
    found = find_entry(("/loop.sh",), (), read_file=files.get)
    assert not found.found
    assert "too deep" in found.how


def test_expand_and_split() -> None:
    env = {"A": "1", "E": ""}
    assert expand("$A ${A} ${B:-x} ${E:-y} ${E-z} $B", env) == "1 1 x y  $B"
    assert split_shell("a 'b c' && d; e | f # g\nh \\\n i") == [
        ["a", "b c"],
        ["d"],
        ["e"],
        ["f"],
        ["h", "i"],
    ]
    assert split_shell("echo 'unterminated\nok") == [["ok"]]


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        ((), False),  # no CMD at all (docker import)
        (("bash",), False),
        (("python3",), False),
        (("python3", "-c", "import numpy"), False),
        (("/usr/local/bin/launcher", "--serve"), True),  # unknown: an app may hide there
        (("gunicorn",), True),  # a server with no application named
    ],
)
def test_an_application_is_expected_only_when_the_command_could_run_one(
    cmd: tuple[str, ...], expected: bool
) -> None:
    """IC801 stays off base images: a shell or a bare interpreter runs no application."""
    found = find_entry((), cmd)
    assert not found.found
    assert found.expected is expected
