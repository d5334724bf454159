"""``imagecheck.compose`` on real compose files written in a temporary folder (no engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagecheck.compose import ComposeProject, find_files, interpolate, load_project, read_env_file
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


# --- interpolation -------------------------------------------------------------------------

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("pre-${SET}-post", "pre-value-post"),
        ("$SET.x", "value.x"),
        ("${UNSET}", ""),
        ("$UNSET", ""),
        # :- takes the default when unset or empty, - only when unset
        ("${UNSET:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${SET:-dflt}", "value"),
        ("${UNSET-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${SET-dflt}", "value"),
        # :+ takes the alternative when set and non-empty, + when set
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        # required, satisfied
        ("${SET:?must}", "value"),
        ("${SET?must}", "value"),
        ("${EMPTY?must}", ""),
        # $$ is a literal dollar, never a variable
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("cost: 5$$", "cost: 5$"),
        # a lone dollar stays
        ("a $ b", "a $ b"),
        ("5$", "5$"),
        # defaults may themselves interpolate, and hold a colon or spaces
        ("${UNSET:-${SET}}", "value"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-host:5000/img}", "host:5000/img"),
        ("${UNSET:-two words}", "two words"),
    ],
)
def test_interpolation_forms(template: str, expected: str) -> None:
    assert interpolate(template, ENV) == expected


def test_unset_variables_are_reported_once() -> None:
    unset: list[str] = []
    assert interpolate("$A ${A} ${B} ${C:-x}", {}, unset=unset) == "   x"
    assert unset == ["A", "B"]


def test_default_is_only_evaluated_when_used() -> None:
    assert interpolate("${SET:-${MISSING:?boom}}", ENV) == "value"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("${MISSING:?set it}", "required variable MISSING is missing a value: set it"),
        ("${MISSING?set it}", "required variable MISSING is missing a value: set it"),
        ("${EMPTY:?set it}", "required variable EMPTY is missing a value: set it"),
        ("${MISSING:?}", "required variable MISSING is missing a value"),
    ],
)
def test_required_variable_error(template: str, message: str) -> None:
    with pytest.raises(BadInput) as err:
        interpolate(template, ENV, where="services.web.image")
    assert str(err.value) == f"error while interpolating services.web.image: {message}"


@pytest.mark.parametrize("template", ["${", "${SET", "${1BAD}", "${SET:x}", "${}", "${A B}"])
def test_invalid_template(template: str) -> None:
    with pytest.raises(BadInput, match=r"invalid interpolation format for v: .*escape any"):
        interpolate(template, ENV, where="v")


def test_interpolation_in_a_compose_file(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n"
        "  web:\n"
        "    image: ${REGISTRY:-docker.io}/web:${TAG}\n"
        "    container_name: web-$$HOME\n"
        "    build:\n"
        "      context: ${CTX:-.}\n"
        "      args:\n"
        "        VERSION: ${TAG}\n"
        "        PRICE: 5$$\n",
    )
    project = load(tmp_path, env={"TAG": "1.2"})
    web = project.service("web")
    assert web.image == "docker.io/web:1.2"
    assert web.container_name == "web-$HOME"
    assert web.build is not None
    assert web.build.context == tmp_path
    assert web.build.args == (("VERSION", "1.2"), ("PRICE", "5$"))
    assert project.warnings == ()


def test_unset_variable_in_a_file_becomes_a_warning(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: web:${TAG}\n")
    project = load(tmp_path)
    assert project.service("web").image == "web:"
    assert project.warnings == ('The "TAG" variable is not set. Defaulting to a blank string.',)


def test_required_variable_in_a_file_names_file_and_key(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: web:${TAG:?pick a tag}\n")
    with pytest.raises(BadInput) as err:
        load(tmp_path)
    assert str(err.value) == (
        "compose.yaml: error while interpolating services.web.image:"
        " required variable TAG is missing a value: pick a tag"
    )


def test_keys_are_not_interpolated(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  $NAME:\n    image: x\n")
    assert load(tmp_path, env={"NAME": "web"}).service_names == ("$NAME",)


# --- .env and the environment --------------------------------------------------------------


def test_env_file_syntax(tmp_path: Path) -> None:
    env = write(
        tmp_path / ".env",
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "  INDENTED = spaced  \n"
        "INLINE=kept # dropped\n"
        "HASH=a#b\n"
        "SINGLE='literal $PLAIN \\n'\n"
        'DOUBLE="tab\\there \\"q\\" $PLAIN \\$PLAIN"\n'
        "EMPTY=\n"
        'EMPTY_QUOTED=""\n'
        "YAMLISH: colon\n"
        "REF=${PLAIN}-${FROM_ENV:-none}\n"
        'MULTI="line one\n'
        'line two"\n'
        "QUOTED_COMMENT='x' # trailing\n",
    )
    assert read_env_file(env, {}) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "INDENTED": "spaced",
        "INLINE": "kept",
        "HASH": "a#b",
        "SINGLE": "literal $PLAIN \\n",
        "DOUBLE": 'tab\there "q" value $PLAIN',
        "EMPTY": "",
        "EMPTY_QUOTED": "",
        "YAMLISH": "colon",
        "REF": "value-none",
        "MULTI": "line one\nline two",
        "QUOTED_COMMENT": "x",
    }


def test_env_file_expands_with_the_process_environment_first(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", "A=file\nB=${A}\n")
    assert read_env_file(env, {"A": "process"}) == {"A": "file", "B": "process"}


def test_env_file_bare_key_inherits_from_the_environment(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", "INHERITED\nABSENT\n")
    assert read_env_file(env, {"INHERITED": "from-process"}) == {"INHERITED": "from-process"}


def test_env_file_bad_line(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", "OK=1\nNOT A VARIABLE\n")
    with pytest.raises(BadInput, match=r"\.env:2: invalid line 'NOT A VARIABLE'"):
        read_env_file(env, {})


def test_env_file_unterminated_quote(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", "A='open\nB=2\n")
    with pytest.raises(BadInput, match=r"\.env:1: unterminated quoted value for A"):
        read_env_file(env, {})


def test_process_environment_wins_over_dot_env(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG}:${TAG}\n")
    write(tmp_path / ".env", "IMG=from-file\nTAG=file-tag\n")
    assert load(tmp_path, env={"TAG": "env-tag"}).service("web").image == "from-file:env-tag"


def test_dot_env_is_read_from_the_project_folder_not_the_working_folder(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG:-none}\n")
    write(tmp_path / ".env", "IMG=project\n")
    write(tmp_path / "sub" / ".env", "IMG=cwd\n")
    assert load(tmp_path / "sub").service("web").image == "project"


def test_env_file_argument_replaces_dot_env(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG:-none}\n")
    write(tmp_path / ".env", "IMG=dot-env\n")
    write(tmp_path / "prod.env", "IMG=prod\n")
    assert load(tmp_path, env_file=Path("prod.env")).service("web").image == "prod"
    assert load(tmp_path, env_file=tmp_path / "prod.env").service("web").image == "prod"
    assert load(tmp_path).service("web").image == "dot-env"


def test_missing_env_file_argument_is_bad_input(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", SIMPLE)
    with pytest.raises(BadInput, match=r"env file not found: .*missing\.env"):
        load(tmp_path, env_file=Path("missing.env"))
