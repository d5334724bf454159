"""``imagecheck.compose`` on real compose files written in a temporary folder (no engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagecheck.compose import ComposeProject, find_files, load_project
from imagecheck.errors import BadInput

SIMPLE = "services:\n  web:\n    image: nginx\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(
    cwd: Path,
    *files: str | Path,
    env: dict[str, str] | None = None,
    project_name: str | None = None,
    env_file: Path | None = None,
) -> ComposeProject:
    """``load_project`` with an explicit, empty by default, process environment."""
    return load_project(cwd, files, project_name, env_file, {} if env is None else env)


# --- finding the files ---------------------------------------------------------------------


def test_default_file_in_the_working_folder(tmp_path: Path) -> None:
    compose = write(tmp_path / "compose.yaml", SIMPLE)
    assert find_files(tmp_path, environ={}) == (compose,)


@pytest.mark.parametrize(
    ("present", "winner"),
    [
        (["compose.yaml", "compose.yml", "docker-compose.yml"], "compose.yaml"),
        (["compose.yml", "docker-compose.yml", "docker-compose.yaml"], "compose.yml"),
        # compose-go prefers .yml over .yaml for the legacy name
        (["docker-compose.yaml", "docker-compose.yml"], "docker-compose.yml"),
        (["docker-compose.yaml"], "docker-compose.yaml"),
    ],
)
def test_default_file_order_of_preference(tmp_path: Path, present: list[str], winner: str) -> None:
    for name in present:
        write(tmp_path / name, SIMPLE)
    assert find_files(tmp_path, environ={}) == (tmp_path / winner,)


def test_walks_up_to_the_nearest_parent_with_a_compose_file(tmp_path: Path) -> None:
    write(tmp_path / "docker-compose.yml", SIMPLE)
    nearer = write(tmp_path / "repo" / "compose.yml", SIMPLE)
    deep = tmp_path / "repo" / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_files(deep, environ={}) == (nearer,)
    project = load(deep)
    assert project.folder == tmp_path / "repo"
    assert project.name == "repo"


def test_override_file_next_to_the_default_is_merged_after_it(tmp_path: Path) -> None:
    compose = write(tmp_path / "compose.yaml", SIMPLE)
    override = write(
        tmp_path / "docker-compose.override.yml", "services:\n  web:\n    image: caddy\n"
    )
    assert find_files(tmp_path, environ={}) == (compose, override)
    assert load(tmp_path).service("web").image == "caddy"


def test_compose_override_is_preferred_to_docker_compose_override(tmp_path: Path) -> None:
    compose = write(tmp_path / "compose.yaml", SIMPLE)
    write(tmp_path / "docker-compose.override.yml", SIMPLE)
    override = write(tmp_path / "compose.override.yaml", SIMPLE)
    assert find_files(tmp_path, environ={}) == (compose, override)


def test_override_in_another_folder_is_ignored(tmp_path: Path) -> None:
    compose = write(tmp_path / "compose.yaml", SIMPLE)
    write(tmp_path / "sub" / "compose.override.yaml", SIMPLE)
    assert find_files(tmp_path / "sub", environ={}) == (compose,)


def test_no_compose_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=r"no compose file in .*empty or its parents") as err:
        find_files(tmp_path / "empty", environ={})
    assert "\n" not in str(err.value)
    assert "compose.yaml, compose.yml" in str(err.value)


def test_explicit_files_win_over_defaults_and_compose_file(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", SIMPLE)
    write(tmp_path / "env.yml", SIMPLE)
    other = write(tmp_path / "ci" / "other.yml", SIMPLE)
    assert find_files(tmp_path, ["ci/other.yml"], {"COMPOSE_FILE": "env.yml"}) == (other,)


def test_explicit_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"compose file not found: .*nope\.yml"):
        find_files(tmp_path, ["nope.yml"], {})


def test_explicit_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.yml").mkdir()
    with pytest.raises(BadInput, match="is not a file"):
        find_files(tmp_path, ["dir.yml"], {})


def test_stdin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="standard input"):
        find_files(tmp_path, ["-"], {})


def test_compose_file_env_with_two_files(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  ignored:\n    image: x\n")
    base = write(tmp_path / "base.yml", "services:\n  web:\n    image: nginx\n")
    prod = write(tmp_path / "prod.yml", "services:\n  web:\n    image: nginx:prod\n")
    env = {"COMPOSE_FILE": "base.yml:prod.yml"}
    assert find_files(tmp_path, environ=env) == (base, prod)
    project = load(tmp_path, env=env)
    assert project.files == (base, prod)
    assert project.service_names == ("web",)
    assert project.service("web").image == "nginx:prod"


def test_compose_file_env_with_a_custom_separator(tmp_path: Path) -> None:
    base = write(tmp_path / "base.yml", SIMPLE)
    prod = write(tmp_path / "prod.yml", SIMPLE)
    env = {"COMPOSE_FILE": "base.yml;prod.yml", "COMPOSE_PATH_SEPARATOR": ";"}
    assert find_files(tmp_path, environ=env) == (base, prod)


def test_compose_file_env_gets_no_override_file(tmp_path: Path) -> None:
    base = write(tmp_path / "base.yml", SIMPLE)
    write(tmp_path / "compose.override.yml", SIMPLE)
    assert find_files(tmp_path, environ={"COMPOSE_FILE": "base.yml"}) == (base,)


def test_compose_file_env_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"COMPOSE_FILE not found: .*gone\.yml"):
        find_files(tmp_path, environ={"COMPOSE_FILE": "gone.yml"})


def test_compose_file_from_dot_env_of_the_working_folder(tmp_path: Path) -> None:
    """Compose reads ./.env before it looks for COMPOSE_FILE."""
    write(tmp_path / "compose.yaml", "services:\n  default:\n    image: x\n")
    write(tmp_path / "ci.yml", "services:\n  ci:\n    image: y\n")
    write(tmp_path / ".env", "COMPOSE_FILE=ci.yml\n")
    project = load(tmp_path)
    assert project.files == (tmp_path / "ci.yml",)
    assert project.service_names == ("ci",)


def test_project_folder_is_the_folder_of_the_first_file(tmp_path: Path) -> None:
    write(tmp_path / "deploy" / "compose.yml", "services:\n  app:\n    build: ../app\n")
    write(tmp_path / "other" / "extra.yml", "services:\n  app:\n    build:\n      target: prod\n")
    project = load(tmp_path, "deploy/compose.yml", "other/extra.yml")
    assert project.folder == tmp_path / "deploy"
    build = project.service("app").build
    assert build is not None
    assert build.context == tmp_path / "app"
    assert build.target == "prod"
