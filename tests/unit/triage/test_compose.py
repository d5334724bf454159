"""``imagecheck.triage.compose`` on real compose files written in a temporary folder (no engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagecheck.errors import BadInput
from imagecheck.triage.compose import (
    BuildSpec,
    ComposeProject,
    find_files,
    interpolate,
    load_project,
    normalize_project_name,
    read_env_file,
)

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


def test_dot_env_of_the_project_folder(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG:-none}\n")
    write(tmp_path / ".env", "IMG=project\n")
    (tmp_path / "sub").mkdir()
    assert load(tmp_path / "sub").service("web").image == "project"


def test_dot_env_of_the_working_folder_comes_first(tmp_path: Path) -> None:
    """Compose reads ./.env, finds the files, then adds the project folder's .env under it."""
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG}:${TAG}\n")
    write(tmp_path / ".env", "IMG=project\nTAG=project-tag\n")
    write(tmp_path / "sub" / ".env", "IMG=cwd\n")
    assert load(tmp_path / "sub").service("web").image == "cwd:project-tag"
    # with -f the working folder is not consulted: the project folder is the file's
    assert load(tmp_path / "sub", "../compose.yaml").service("web").image == "project:project-tag"


def test_default_dot_env_can_be_disabled(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG:-none}\n")
    write(tmp_path / ".env", "IMG=dot-env\n")
    project = load(tmp_path, env={"COMPOSE_DISABLE_ENV_FILE": "true"})
    assert project.service("web").image == "none"


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


# --- project name --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("myapp", "myapp"),
        ("My App", "myapp"),
        ("My.Project_2-x", "myproject_2-x"),
        ("_-leading", "leading"),
        ("--9lives", "9lives"),
        ("Ünïcode", "ncode"),
    ],
)
def test_project_name_from_the_folder_is_normalised(
    tmp_path: Path, folder: str, expected: str
) -> None:
    write(tmp_path / folder / "compose.yaml", SIMPLE)
    assert load(tmp_path / folder).name == expected
    assert normalize_project_name(folder) == expected


def test_folder_name_with_nothing_usable_is_bad_input(tmp_path: Path) -> None:
    write(tmp_path / "___" / "compose.yaml", SIMPLE)
    with pytest.raises(BadInput, match="project name must not be empty"):
        load(tmp_path / "___")


def test_project_name_precedence(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    write(folder / "compose.yaml", "name: from-file\n" + SIMPLE)
    assert load(folder).name == "from-file"
    write(folder / ".env", "COMPOSE_PROJECT_NAME=from-dot-env\n")
    assert load(folder).name == "from-dot-env"
    assert load(folder, env={"COMPOSE_PROJECT_NAME": "from-env"}).name == "from-env"
    both = load(folder, env={"COMPOSE_PROJECT_NAME": "from-env"}, project_name="from-flag")
    assert both.name == "from-flag"
    (folder / ".env").unlink()
    (folder / "compose.yaml").write_text(SIMPLE)
    assert load(folder).name == "folder"


def test_top_level_name_is_interpolated_normalised_and_the_last_file_wins(
    tmp_path: Path,
) -> None:
    write(tmp_path / "a.yml", "name: First\n" + SIMPLE)
    write(tmp_path / "b.yml", "name: ${STAGE}.Second\n")
    write(tmp_path / "c.yml", 'name: ""\n')
    assert load(tmp_path, "a.yml", "b.yml", "c.yml", env={"STAGE": "Prod"}).name == "prodsecond"


@pytest.mark.parametrize(
    ("given", "env"),
    [("MyApp", {}), ("my app", {}), ("", {"COMPOSE_PROJECT_NAME": "-dash"})],
)
def test_explicit_project_name_must_already_be_valid(
    tmp_path: Path, given: str, env: dict[str, str]
) -> None:
    """Compose rejects, rather than rewrites, a -p or COMPOSE_PROJECT_NAME it would change."""
    write(tmp_path / "compose.yaml", SIMPLE)
    with pytest.raises(BadInput, match=r"invalid project name .*must consist only of lowercase"):
        load(tmp_path, env=env, project_name=given or None)


# --- services, images, builds --------------------------------------------------------------


def test_image_names_compose_would_give_a_built_service(tmp_path: Path) -> None:
    write(
        tmp_path / "shop" / "compose.yaml",
        "services:\n"
        "  api:\n    build: .\n"
        "  web:\n    image: registry:5000/web\n    build: .\n"
        "  db:\n    image: postgres:16\n"
        "  cache:\n    image: redis@sha256:abc\n",
    )
    project = load(tmp_path / "shop")
    api = project.service("api")
    assert api.image is None
    assert api.image_candidates == ("shop-api:latest", "shop_api:latest")
    web = project.service("web")
    assert web.image == "registry:5000/web"
    assert web.image_candidates == ("registry:5000/web:latest",)
    assert project.service("db").image_candidates == ("postgres:16",)
    assert project.service("cache").image_candidates == ("redis@sha256:abc",)


def test_image_names_use_the_project_name(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  api:\n    build: .\n")
    api = load(tmp_path, project_name="prod").service("api")
    assert api.image_candidates == ("prod-api:latest", "prod_api:latest")


def test_build_as_a_string(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  api:\n    build: ./backend\n")
    assert load(tmp_path).service("api").build == BuildSpec(
        context=tmp_path / "backend", dockerfile=tmp_path / "backend" / "Dockerfile"
    )


def test_build_as_a_mapping(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n"
        "  api:\n"
        "    container_name: the-api\n"
        "    profiles: [dev, debug]\n"
        "    build:\n"
        "      context: ../outside\n"
        "      dockerfile: docker/api.Dockerfile\n"
        "      target: runtime\n"
        "      args:\n"
        "        PY: 3.12\n"
        "        DEBUG: true\n"
        "        COUNT: 3\n"
        "        FROM_ENV:\n"
        "        UNSET_ARG: null\n",
    )
    api = load(tmp_path / "", env={"FROM_ENV": "yes"}).service("api")
    assert api.container_name == "the-api"
    assert api.profiles == ("dev", "debug")
    assert api.build == BuildSpec(
        context=tmp_path.parent / "outside",
        dockerfile=tmp_path.parent / "outside" / "docker" / "api.Dockerfile",
        args=(
            ("PY", "3.12"),
            ("DEBUG", "true"),
            ("COUNT", "3"),
            ("FROM_ENV", "yes"),
            ("UNSET_ARG", None),
        ),
        target="runtime",
    )
    assert api.build.arg_values() == {
        "PY": "3.12",
        "DEBUG": "true",
        "COUNT": "3",
        "FROM_ENV": "yes",
    }


def test_build_args_as_a_list(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n"
        "  api:\n"
        "    build:\n"
        "      context: .\n"
        "      args:\n"
        "        - A=1\n"
        "        - B=x=y\n"
        "        - C=\n"
        "        - FROM_DOT_ENV\n"
        "        - NOWHERE\n",
    )
    write(tmp_path / ".env", "FROM_DOT_ENV=dot\n")
    build = load(tmp_path).service("api").build
    assert build is not None
    assert build.args == (
        ("A", "1"),
        ("B", "x=y"),
        ("C", ""),
        ("FROM_DOT_ENV", "dot"),
        ("NOWHERE", None),
    )


def test_absolute_dockerfile_and_home_context(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n"
        "  api:\n"
        "    build:\n"
        "      context: ~/src\n"
        f"      dockerfile: {tmp_path}/Dockerfile.abs\n",
    )
    build = load(tmp_path).service("api").build
    assert build is not None
    assert build.context == Path("~/src").expanduser()
    assert build.dockerfile == tmp_path / "Dockerfile.abs"


def test_dockerfile_inline(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n  api:\n    build:\n      dockerfile_inline: |\n        FROM alpine\n",
    )
    build = load(tmp_path).service("api").build
    assert build is not None
    assert build.dockerfile is None
    assert build.dockerfile_inline == "FROM alpine\n"
    assert build.context == tmp_path


def test_remote_build_context(tmp_path: Path) -> None:
    url = "https://github.com/acme/app.git#main"
    write(tmp_path / "compose.yaml", f"services:\n  api:\n    build: {url}\n")
    build = load(tmp_path).service("api").build
    assert build is not None
    assert build.context is None
    assert build.remote_context == url
    assert build.dockerfile == Path("Dockerfile")


def test_a_service_without_build_has_none(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", SIMPLE)
    web = load(tmp_path).service("web")
    assert web.build is None
    assert web.profiles == ()
    assert web.container_name is None


def test_services_keep_the_file_order(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  zeta:\n    image: z\n  alpha:\n    image: a\n")
    assert load(tmp_path).service_names == ("zeta", "alpha")


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "x-build: &build\n"
        "  context: ./app\n"
        "  target: base\n"
        "services:\n"
        "  one:\n    build:\n      <<: *build\n      target: one\n"
        "  two:\n    build: *build\n",
    )
    project = load(tmp_path)
    one, two = project.service("one").build, project.service("two").build
    assert one is not None
    assert two is not None
    assert (one.context, one.target) == (tmp_path / "app", "one")
    assert (two.context, two.target) == (tmp_path / "app", "base")


# --- merging several files -----------------------------------------------------------------


def test_override_files_merge_over_earlier_ones(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n"
        "  api:\n"
        "    image: api:dev\n"
        "    profiles: [dev]\n"
        "    build:\n"
        "      context: ./api\n"
        "      dockerfile: Dockerfile.dev\n"
        "      args: [A=1, B=2]\n"
        "  db:\n    image: postgres\n",
    )
    write(
        tmp_path / "prod.yml",
        "services:\n"
        "  api:\n"
        "    image: api:prod\n"
        "    profiles: [prod, dev]\n"
        "    build:\n"
        "      target: prod\n"
        "      args:\n"
        "        B: two\n"
        "        C: three\n"
        "  worker:\n    build: ./worker\n",
    )
    project = load(tmp_path, "compose.yaml", "prod.yml")
    assert project.service_names == ("api", "db", "worker")
    api = project.service("api")
    assert api.image == "api:prod"
    assert api.profiles == ("dev", "prod")
    assert api.build == BuildSpec(
        context=tmp_path / "api",
        dockerfile=tmp_path / "api" / "Dockerfile.dev",
        args=(("A", "1"), ("B", "two"), ("C", "three")),
        target="prod",
    )
    assert project.service("db").image == "postgres"


def test_build_string_merges_over_a_build_mapping_and_back(tmp_path: Path) -> None:
    write(
        tmp_path / "a.yml",
        "services:\n  api:\n    build:\n      context: ./one\n      dockerfile: D1\n",
    )
    write(tmp_path / "b.yml", "services:\n  api:\n    build: ./two\n")
    write(tmp_path / "c.yml", "services:\n  api:\n    build:\n      target: t\n")
    build = load(tmp_path, "a.yml", "b.yml").service("api").build
    assert build is not None
    assert (build.context, build.dockerfile) == (tmp_path / "two", tmp_path / "two" / "D1")
    build = load(tmp_path, "b.yml", "c.yml").service("api").build
    assert build is not None
    assert (build.context, build.target) == (tmp_path / "two", "t")


def test_a_later_null_keeps_the_earlier_value(tmp_path: Path) -> None:
    write(tmp_path / "a.yml", "services:\n  api:\n    image: api:1\n")
    write(tmp_path / "b.yml", "services:\n  api:\n    image:\n")
    assert load(tmp_path, "a.yml", "b.yml").service("api").image == "api:1"


def test_reset_and_override_tags(tmp_path: Path) -> None:
    write(
        tmp_path / "a.yml",
        "services:\n"
        "  api:\n"
        "    image: api:1\n"
        "    profiles: [dev]\n"
        "    build:\n      context: ./api\n      args: {A: '1', B: '2'}\n",
    )
    write(
        tmp_path / "b.yml",
        "services:\n"
        "  api:\n"
        "    image: !reset null\n"
        "    profiles: !override [prod]\n"
        "    build:\n      args: !override {C: '3'}\n",
    )
    api = load(tmp_path, "a.yml", "b.yml").service("api")
    assert api.image is None
    assert api.image_candidates[0].endswith("-api:latest")
    assert api.profiles == ("prod",)
    assert api.build is not None
    assert api.build.args == (("C", "3"),)


# --- errors --------------------------------------------------------------------------------


def test_unknown_service_lists_the_services_and_suggests(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n  redis:\n    image: r\n  backend:\n    build: .\n  db:\n    image: d\n",
    )
    with pytest.raises(BadInput) as err:
        load(tmp_path).service("backnd")
    assert str(err.value) == (
        "no service 'backnd' in compose.yaml (services: backend, db, redis);"
        " did you mean 'backend'?"
    )


def test_unknown_service_without_a_close_match(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", SIMPLE)
    write(tmp_path / "compose.override.yml", "services:\n  db:\n    image: d\n")
    with pytest.raises(BadInput) as err:
        load(tmp_path).service("zzz")
    assert str(err.value) == (
        "no service 'zzz' in compose.yaml, compose.override.yml (services: db, web)"
    )


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: nginx\n   bad: [1\n")
    with pytest.raises(BadInput) as err:
        load(tmp_path)
    message = str(err.value)
    assert message.startswith("compose.yaml:4:")
    assert "invalid YAML" in message
    assert "\n" not in message


def test_malformed_yaml_in_the_second_file(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", SIMPLE)
    write(tmp_path / "sub" / "prod.yml", "services:\n  web: {image: [\n")
    with pytest.raises(BadInput, match=r"^sub/prod\.yml:\d+:\d+: invalid YAML: "):
        load(tmp_path, "compose.yaml", "sub/prod.yml")


def test_duplicate_keys_are_an_error_as_in_compose(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: a\n    image: b\n")
    with pytest.raises(BadInput) as err:
        load(tmp_path)
    assert str(err.value) == (
        "compose.yaml:4:5: invalid YAML: mapping key 'image' already defined at line 3"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "compose.yaml: top-level must be a mapping, not a list"),
        ("just text\n", "compose.yaml: top-level must be a mapping, not a string"),
        ("# nothing\n", "compose.yaml: empty compose file"),
        ("services: [web]\n", "compose.yaml: services must be a mapping, not a list"),
        ("services:\n  web:\n", "compose.yaml: services.web must be a mapping, not null"),
        (
            "services:\n  web:\n    build: 3\n",
            "compose.yaml: services.web.build must be a string or a mapping",
        ),
        (
            "services:\n  web:\n    image: [a]\n",
            "compose.yaml: services.web.image must be a string, not a list",
        ),
        (
            "services:\n  web:\n    image: a\n    profiles: dev\n",
            "compose.yaml: services.web.profiles must be a list of strings",
        ),
        (
            "services:\n  web:\n    build:\n      args: [1]\n",
            "compose.yaml: services.web.build.args entries must be strings",
        ),
        (
            "services:\n  web:\n    image: ${\n",
            (
                "compose.yaml: invalid interpolation format for services.web.image: '${'"
                " (you may need to escape any $ with another $)"
            ),
        ),
    ],
)
def test_malformed_compose_files(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "compose.yaml", text)
    with pytest.raises(BadInput) as err:
        load(tmp_path)
    assert str(err.value) == message


def test_no_services_at_all(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "name: empty\nvolumes:\n  data:\n")
    project = load(tmp_path)
    assert project.services == ()
    with pytest.raises(BadInput, match=r"\(services: none\)"):
        project.service("web")


def test_default_environment_is_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMAGECHECK_TEST_IMG}\n")
    monkeypatch.setenv("IMAGECHECK_TEST_IMG", "from-os")
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    assert load_project(tmp_path).service("web").image == "from-os"


def test_relative_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "app" / "compose.yaml", SIMPLE)
    monkeypatch.chdir(tmp_path)
    project = load(Path("app"))
    assert project.folder == tmp_path / "app"
    assert project.files == (tmp_path / "app" / "compose.yaml",)


def test_include_adds_the_services_of_other_files(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "include:\n  - infra/compose.yaml\n  - path: [jobs/compose.yaml]\n"
        "services:\n  web:\n    image: web:${TAG:-1}\n",
    )
    write(tmp_path / "infra" / "compose.yaml", "services:\n  db:\n    build: ./db\n")
    write(tmp_path / "jobs" / "compose.yaml", "services:\n  worker:\n    image: w:${TAG:-1}\n")
    project = load(tmp_path)
    assert project.service_names == ("web", "db", "worker")
    db = project.service("db").build
    assert db is not None
    assert db.context == tmp_path / "infra" / "db"  # relative to the included file
    assert project.service("worker").image == "w:1"  # interpolated as the main file
    assert project.warnings == ()


def test_include_of_a_service_defined_twice_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "include: [other.yaml]\nservices:\n  web:\n    image: a\n")
    write(tmp_path / "other.yaml", "services:\n  web:\n    image: b\n")
    with pytest.raises(BadInput, match=r"services\.web conflicts"):
        load(tmp_path)
    write(tmp_path / "compose.yaml", "include: [missing.yaml]\nservices: {}\n")
    with pytest.raises(BadInput, match=r"no such compose file: missing\.yaml"):
        load(tmp_path)


def test_extends_in_the_same_file_and_from_another(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n"
        "  base:\n    build:\n      context: ./app\n      args: {MODE: dev}\n"
        "  web:\n    extends: base\n    build:\n      args: {MODE: prod}\n"
        "  api:\n    extends:\n      file: common/services.yaml\n      service: backend\n"
        "    image: api:2\n",
    )
    write(
        tmp_path / "common" / "services.yaml",
        "services:\n  backend:\n    image: api:1\n    build: ../app\n",
    )
    project = load(tmp_path)
    web = project.service("web").build
    assert web is not None
    assert web.context == tmp_path / "app"
    assert web.args == (("MODE", "prod"),)  # its own keys win over the base's
    api = project.service("api")
    assert api.image == "api:2"
    assert api.build is not None
    assert api.build.context == tmp_path / "app"  # relative to common/services.yaml


def test_extends_errors(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  a:\n    extends: b\n  b:\n    extends: a\n")
    with pytest.raises(BadInput, match="circular extends"):
        load(tmp_path)
    write(tmp_path / "compose.yaml", "services:\n  a:\n    extends: nope\n")
    with pytest.raises(BadInput, match="extends 'nope', which is not a service"):
        load(tmp_path)


def test_yaml_1_2_booleans_as_in_compose(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n  api:\n    build:\n      args: {A: yes, B: off, C: True, D: false}\n",
    )
    build = load(tmp_path).service("api").build
    assert build is not None
    assert build.args == (("A", "yes"), ("B", "off"), ("C", "true"), ("D", "false"))


# --- depends_on ------------------------------------------------------------------------------

DEPENDS = """\
services:
  db:
    image: postgres:16
  prestart:
    image: app
    depends_on: [db]
  backend:
    image: app
    depends_on:
      db: {condition: service_healthy}
      prestart:
        condition: service_completed_successfully
      cache: {}
"""


def test_depends_on_in_both_forms_and_the_one_shot_services(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", DEPENDS)
    project = load(tmp_path)
    assert project.service("prestart").depends_on == (("db", "service_started"),)
    assert project.service("backend").depends_on == (
        ("db", "service_healthy"),
        ("prestart", "service_completed_successfully"),
        ("cache", "service_started"),
    )
    assert [project.one_shot(s) for s in ("db", "prestart", "backend")] == [False, True, False]


@pytest.mark.parametrize("value", ["db", "{db: {condition: 3}}", "[{db: x}]"])
def test_a_malformed_depends_on_is_one_line(tmp_path: Path, value: str) -> None:
    write(tmp_path / "compose.yaml", f"services:\n  web:\n    image: x\n    depends_on: {value}\n")
    with pytest.raises(BadInput, match=r"^compose.yaml: services.web.depends_on"):
        load(tmp_path)
