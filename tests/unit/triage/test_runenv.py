"""The environment ``check`` gives the smoke container: ``--env-file``/``--env`` and the
compose service that builds the image, on real compose files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagecheck.errors import BadInput
from imagecheck.triage import building_service, given_environment

COMPOSE = """services:
  db:
    image: postgres:15
  prestart:
    image: "${IMAGE?Variable not set}"
    build: ./backend
    command: bash scripts/prestart.sh
    env_file: .env
    environment:
      - ROLE=prestart
  backend:
    image: "${IMAGE?Variable not set}"
    build:
      context: ./backend
    env_file: .env
    environment:
      - POSTGRES_SERVER=db
  worker:
    image: registry.example/worker
"""


def _project(root: Path, compose: str = COMPOSE) -> Path:
    (root / "backend").mkdir(parents=True)
    (root / "backend" / "Dockerfile").write_text("FROM scratch\n")
    (root / "compose.yaml").write_text(compose)
    (root / ".env").write_text("IMAGE=backend\nPOSTGRES_USER=app\nPOSTGRES_SERVER=localhost\n")
    return root / "backend"


def test_the_service_that_builds_the_context_not_the_one_shot(tmp_path: Path) -> None:
    context = _project(tmp_path)
    env, svc = building_service(context, context, ["imagecheck-test/other:1"], environ={})
    assert svc is not None
    assert svc.name == "backend"
    assert dict(env.pairs) == {
        "IMAGE": "backend",
        "POSTGRES_USER": "app",
        "POSTGRES_SERVER": "db",  # environment: wins over env_file:, as compose does
    }
    assert env.sources == (
        f"compose service 'backend' ({tmp_path / 'compose.yaml'}, by its build context)",
    )


def test_else_the_service_whose_image_it_is(tmp_path: Path) -> None:
    _project(tmp_path)
    env, svc = building_service(tmp_path, None, ["backend"], environ={})
    assert svc is not None
    assert svc.name == "backend"  # backend == backend:latest
    assert "by its image" in env.sources[0]
    env, svc = building_service(tmp_path, None, ["registry.example/worker:latest"], environ={})
    assert svc is not None
    assert svc.name == "worker"
    assert env.pairs == ()
    assert env.sources == ()  # it sets nothing: nothing to say
    assert building_service(tmp_path, None, ["unrelated:1"], environ={}) == (
        building_service(tmp_path / "backend", None, [], environ={})
    )


def test_no_compose_file_or_a_broken_one(tmp_path: Path) -> None:
    env, svc = building_service(tmp_path, tmp_path, ["x"], environ={})
    assert (env.pairs, env.note, svc) == ((), "", None)
    context = _project(tmp_path, "services: [\n")
    env, svc = building_service(context, context, ["x"], environ={})
    assert svc is None
    assert env.note.startswith("the compose file was not read: ")


def test_env_files_then_env_flags(tmp_path: Path) -> None:
    first = tmp_path / "a.env"
    first.write_text('# settings\nA=1\nexport B="two words"\nC=${HOME_X}\n')
    env = given_environment(
        [first], ["A=override", "FROM_SHELL", "UNSET_HERE"], {"FROM_SHELL": "s", "HOME_X": "h"}
    )
    assert env.pairs == (
        ("A", "1"),
        ("B", "two words"),
        ("C", "h"),
        ("A", "override"),
        ("FROM_SHELL", "s"),
    )  # a later one wins in the container; an unset bare NAME is left out, as docker does
    assert env.sources == (f"--env-file {first}", "--env A, FROM_SHELL")


@pytest.mark.parametrize(
    ("files", "flags", "message"),
    [
        (["missing.env"], [], "--env-file: no such file: "),
        ([], ["=x"], "--env '=x': expected NAME=VALUE or NAME"),
        ([], ["A B=1"], "--env 'A B=1': expected NAME=VALUE or NAME"),
    ],
)
def test_bad_environment_input(
    tmp_path: Path, files: list[str], flags: list[str], message: str
) -> None:
    with pytest.raises(BadInput, match="^" + message.replace("(", r"\(")):
        given_environment([tmp_path / f for f in files], flags, {})
