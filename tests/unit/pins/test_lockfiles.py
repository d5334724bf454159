"""Lock files as pin sources, on files the real tools wrote (tests/unit/pins/locks/).

``uv lock`` and ``uv export --format pylock.toml`` (uv/), ``pip lock .`` (uv/pylock.pip.toml),
``poetry lock`` (poetry/) and ``pipenv lock`` (pipenv/) ran on the small projects whose
pyproject.toml and Pipfile sit beside the locks: click, tqdm (which needs colorama on
Windows only), idna with a marker, six as an extra and iniconfig as a dev group.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imagecheck.errors import BadInput
from imagecheck.pins.constraints import Constraints, Pin, load_constraints
from imagecheck.pins.lockfiles import poetry_specifier
from tests.builders import Empty, F, Layer, make_image
from tests.helpers import run_cli
from tests.unit.test_suite import PY, codes, dist

LOCKS = Path(__file__).parent / "locks"


def by_name(c: Constraints) -> dict[str, Pin]:
    return {p.name: p for p in c.pins}


def test_uv_lock_main_dependencies_extras_dev_and_its_own_project() -> None:
    loaded = load_constraints([LOCKS / "uv" / "uv.lock"])
    pins = by_name(loaded)
    assert loaded.projects == ("demo-app",)
    assert "demo-app" not in pins  # the application, not a pin
    assert {n: p.exact for n, p in pins.items()} == {
        "click": "8.5.1",
        "colorama": "0.4.6",
        "idna": "3.20",
        "iniconfig": "2.3.1",
        "six": "1.17.0",
        "tqdm": "4.70.1",
    }
    # tqdm needs colorama on Windows only: the edge's marker is the pin's
    assert pins["colorama"].marker == 'sys_platform == "win32"'
    assert not pins["colorama"].constraint_only
    # an extra (six) and a dev group (iniconfig) limit versions, require nothing
    assert pins["six"].constraint_only
    assert pins["iniconfig"].constraint_only
    assert not pins["click"].constraint_only
    assert pins["click"].marker is None
    assert pins["click"].source.endswith("uv.lock:[[package]] click")


def test_uv_lock_markers_follow_the_path_and_extras_an_edge_asks_for(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text(
        "version = 1\n"
        '[[package]]\nname = "app"\nversion = "1.0"\nsource = { virtual = "." }\n'
        'dependencies = [{ name = "a", marker = "python_version < \'3.12\'" },'
        ' { name = "passlib", extra = ["bcrypt"] }]\n'
        '[[package]]\nname = "a"\nversion = "1"\nsource = { registry = "x" }\n'
        'dependencies = [{ name = "b", marker = "sys_platform == \'linux\'" }]\n'
        '[[package]]\nname = "b"\nversion = "2"\nsource = { registry = "x" }\n'
        '[[package]]\nname = "passlib"\nversion = "1.7.4"\nsource = { registry = "x" }\n'
        '[package.optional-dependencies]\nbcrypt = [{ name = "bcrypt" }]\n'
        '[[package]]\nname = "bcrypt"\nversion = "4.0.1"\nsource = { registry = "x" }\n'
    )
    pins = by_name(load_constraints([tmp_path / "uv.lock"]))
    assert pins["b"].marker == 'python_version < "3.12" and sys_platform == "linux"'
    assert not pins["bcrypt"].constraint_only  # asked for through passlib[bcrypt]


@pytest.mark.parametrize("name", ["pylock.toml", "pylock.pip.toml"])
def test_pylock_from_uv_and_pip(name: str) -> None:
    loaded = load_constraints([LOCKS / "uv" / name])
    pins = by_name(loaded)
    assert loaded.projects == ("demo-app",)  # its directory source: the application
    assert pins["click"].exact == "8.5.1"
    assert "demo-app" not in pins
    if name == "pylock.toml":
        assert pins["colorama"].marker == 'sys_platform == "win32"'


def test_pylock_extras_and_groups_are_optional(tmp_path: Path) -> None:
    (tmp_path / "pylock.toml").write_text(
        'lock-version = "1.0"\n'
        '[[packages]]\nname = "pytest"\nversion = "8.0"\nmarker = "\'dev\' in dependency_groups"\n'
    )
    assert by_name(load_constraints([tmp_path / "pylock.toml"]))["pytest"].constraint_only


def test_poetry_lock_groups_optional_and_its_project() -> None:
    loaded = load_constraints([LOCKS / "poetry" / "poetry.lock"])
    pins = by_name(loaded)
    assert loaded.projects == ("poet-app",)  # from the pyproject.toml beside the lock
    assert pins["tqdm"].marker == 'sys_platform == "linux"'
    assert not pins["tqdm"].constraint_only
    assert pins["iniconfig"].constraint_only  # group dev
    assert pins["six"].constraint_only  # optional (the extra fast)
    assert pins["click"].exact == "8.5.1"


def test_pipfile_lock_default_develop_and_the_editable_project() -> None:
    loaded = load_constraints([LOCKS / "pipenv" / "Pipfile.lock"])
    pins = by_name(loaded)
    assert loaded.projects == ("penv-app",)
    assert set(pins) == {"click", "tqdm", "iniconfig"}
    assert pins["tqdm"].exact == "4.70.1"
    assert pins["tqdm"].marker == 'sys_platform == "linux"'
    assert pins["iniconfig"].constraint_only
    assert not pins["click"].constraint_only


def test_pyproject_pep621_and_poetry_dependencies() -> None:
    pep621 = load_constraints([LOCKS / "uv" / "pyproject.toml"])
    assert pep621.projects == ("demo-app",)
    assert {p.name: p.specifier for p in pep621.pins} == {"click": ">=8", "tqdm": "", "idna": ""}
    poetry = load_constraints([LOCKS / "poetry" / "pyproject.toml"])
    assert poetry.projects == ("poet-app",)
    specs = {p.name: p.specifier for p in poetry.pins}
    assert specs == {"click": "<9,>=8.1", "tqdm": ">=4.60", "idna": "==3.*"}  # six: optional
    assert by_name(poetry)["tqdm"].marker == 'sys_platform == "linux"'


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^1.2.3", ">=1.2.3,<2"),
        ("^0.2.3", ">=0.2.3,<0.3"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("~1", ">=1,<2"),
        ("1.2.3", "==1.2.3"),
        ("*", ""),
        (">=1.2 <2", ">=1.2,<2"),
        ("~=1.4", "~=1.4"),
        ("^1 || ^2", None),
    ],
)
def test_poetry_specifier(poetry: str, pep440: str | None) -> None:
    assert poetry_specifier(poetry) == pep440


def test_a_folder_of_constraints_reads_its_locks(tmp_path: Path) -> None:
    shutil.copy(LOCKS / "pipenv" / "Pipfile.lock", tmp_path)
    loaded = load_constraints([tmp_path])
    assert loaded.files == (str(tmp_path / "Pipfile.lock"),)
    assert {(p.name, p.exact) for p in loaded.pins} == {
        ("click", "8.5.1"),
        ("tqdm", "4.70.1"),
        ("iniconfig", "2.3.1"),
    }


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("uv.lock", "[[package]\n", "not valid TOML"),
        ("uv.lock", "version = 1\npackage = 3\n", "not a uv lock file"),
        ("poetry.lock", '[[package]]\nname = "x"\n', "not a Poetry lock file"),
        ("pylock.toml", '[[packages]]\nname = "x"\n', "not a PEP 751 lock file"),
        ("Pipfile.lock", '{"default": ', "not valid JSON"),
        ("Pipfile.lock", '{"default": {"x": 3}}', "default.x is not an object"),
    ],
)
def test_malformed_lock_is_one_line(tmp_path: Path, name: str, text: str, error: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(BadInput, match=error) as info:
        load_constraints([tmp_path / name])
    assert "\n" not in str(info.value)
    assert name in str(info.value)


def test_malformed_lock_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("version = 1\npackage = 3\n")
    done = run_cli("check", "-c", str(tmp_path / "uv.lock"), "x.tar", timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "not a uv lock file" in done.stderr


def test_check_against_uv_lock(tmp_path: Path) -> None:
    """The image holds the lock's main packages and the project itself: no IC101 for the
    Windows-only colorama, the extra or the dev group; a wrong version is IC102."""
    from imagecheck.api import Options, check

    built = make_image(
        tmp_path,
        [
            Layer(PY),
            Layer(
                dist("click", "8.5.1")
                + dist("idna", "3.20")
                + dist("tqdm", "4.69.0")
                + dist("demo-app", "0.1.0", top="demo_app")
            ),
        ],
        layout="oci-dir",
        config={"Cmd": ["python3"]},
    )
    report = check(
        str(built.path), Options(use_cache=False), constraints=[LOCKS / "uv" / "uv.lock"]
    )
    assert codes(report) == [("IC102", "tqdm")]  # demo-app is the lock's own project
    assert [d.name for d in report.inventory.python if d.application] == ["demo-app"]


def test_discover_in_a_build_context(tmp_path: Path) -> None:
    """The compiled file wins over the loose one: requirements.txt over requirements.in,
    a lock over pyproject's ranges (whose project name still counts); dev and
    constraints files limit versions only."""
    from imagecheck.pins.constraints import discover

    (tmp_path / "requirements.in").write_text("six\n")
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    (tmp_path / "requirements-dev.txt").write_text("pytest==8.0.0\n")
    (tmp_path / "constraints.txt").write_text("urllib3<2\n")
    (tmp_path / "docs.in").write_text("sphinx\n")  # not a requirements file
    shutil.copy(LOCKS / "uv" / "uv.lock", tmp_path)
    shutil.copy(LOCKS / "uv" / "pyproject.toml", tmp_path)
    found = discover(tmp_path)
    assert [Path(f).name for f in found.files] == [
        "constraints.txt",
        "requirements-dev.txt",
        "requirements.txt",
        "uv.lock",
    ]
    assert found.projects == ("demo-app",)
    assert found.origin == f"the build context {tmp_path}"
    assert found.notes == (
        "pyproject.toml dependencies not read: uv.lock locks them",
        "requirements.in not read: requirements.txt is its compiled form",
    )
    pins = {(p.name, p.constraint_only) for p in found.pins}
    assert {("six", False), ("pytest", True), ("urllib3", True)} <= pins
    (tmp_path / "requirements.txt").unlink()
    assert "requirements.in" in [Path(f).name for f in discover(tmp_path).files]


def _image(tmp_path: Path, *dists: list[F]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    layers: list[Layer | Empty] = [Layer(PY), *(Layer(d) for d in dists)]
    return make_image(tmp_path, layers, layout="oci-dir", config={"Cmd": ["python3"]}).path


def test_check_finds_the_pins_beside_the_dockerfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No -c and nothing configured: the pins of ./Dockerfile's folder, named in the pins
    check's result; sources that disagree are each reported; -c still wins."""
    from imagecheck.api import Options, check

    image = _image(tmp_path / "img", dist("six", "1.16.0"), dist("idna", "3.7"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (project / "requirements.txt").write_text("six==1.16.0\nidna==3.7\n")
    (project / "Pipfile.lock").write_text(
        '{"default": {"six": {"version": "==1.17.0"}, "idna": {"version": "==3.7"}}}'
    )
    monkeypatch.chdir(project)
    report = check(str(image), Options(use_cache=False))
    result = next(r for r in report.checks if r.name == "pins")
    assert result.status == "failed"
    assert result.reason.endswith(
        f"pins from Pipfile.lock, requirements.txt (the build context {project})"
    )
    assert report.constraints_files == (f"{project}/Pipfile.lock", f"{project}/requirements.txt")
    (finding,) = report.findings
    assert (finding.code, finding.subject) == ("IC102", "six")
    assert f"{project}/Pipfile.lock:default.six pins six==1.17.0" in finding.message
    assert "six==1.16.0 (" in finding.message  # requirements.txt agrees with the image
    assert "agrees with the image" in finding.message
    given = tmp_path / "given.txt"
    given.write_text("six==1.16.0\nidna==3.7\n")
    explicit = check(str(image), Options(use_cache=False), constraints=[given])
    assert explicit.findings == ()
    assert explicit.constraints_files == (str(given),)


def test_given_pins_still_know_the_contexts_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-c`` wins, but the build context's pyproject still names the application: a
    wheel of it built outside the image (no direct_url.json) is not IC103."""
    from rich.console import Console

    from imagecheck.api import Options, check
    from imagecheck.report.terminal import render_inventory

    image = _image(tmp_path / "img", dist("six", "1.16.0"), dist("my-service", "2.0"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM scratch\n")
    (project / "pyproject.toml").write_text('[project]\nname = "My_Service"\n')
    given = tmp_path / "given.txt"
    given.write_text("six==1.16.0\n")
    monkeypatch.chdir(project)
    report = check(str(image), Options(use_cache=False), constraints=[given])
    assert report.findings == ()
    console = Console(record=True, width=200, color_system=None)
    render_inventory(console, report.inventory)
    assert "my-service (application)" in console.export_text()


def test_a_broken_lock_in_the_context_does_not_hide_the_triage(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``imagecheck SERVICE`` still reports the service and its image; the pins check is
    skipped with the one-line reason."""
    from imagecheck.api import triage

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # no engine: the archive is read
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    image = _image(tmp_path / "img", dist("six", "1.16.0"))
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app" / "uv.lock").write_text("version = 1\npackage = 3\n")
    (tmp_path / "compose.yaml").write_text("services:\n  backend:\n    build: ./app\n")
    report = triage("backend", cwd=tmp_path, image=str(image))
    result = next(r for r in report.checks if r.name == "pins")
    assert result.status == "skipped"
    assert result.reason.startswith("no pins found; the build context's pins cannot be read: ")
    assert "uv.lock: not a uv lock file" in result.reason
    assert report.triage is not None
    assert report.triage.service == "backend"


OLD_POETRY_LOCK = """[[package]]
name = "loguru"
version = "0.6.0"
category = "main"
optional = false
python-versions = ">=3.5"

[package.dependencies]
colorama = {version = ">=0.3.4", markers = "sys_platform == \\"win32\\""}
win32-setctime = {version = ">=1.0.0", markers = "sys_platform == \\"win32\\""}

[[package]]
name = "colorama"
version = "0.4.4"
category = "main"
optional = false
python-versions = "*"

[[package]]
name = "win32-setctime"
version = "1.1.0"
category = "main"
optional = false
python-versions = ">=3.5"

[[package]]
name = "pydantic"
version = "1.10.13"
category = "main"
optional = false
python-versions = ">=3.7"

[package.dependencies]
email-validator = {version = ">=1.0.3", optional = true, markers = "python_version >= \\"3.7\\""}
python-dotenv = {version = ">=0.10.4", optional = true}
typing-extensions = ">=4.2.0"

[package.extras]
dotenv = ["python-dotenv (>=0.10.4)"]
email = ["email-validator (>=1.0.3)"]

[[package]]
name = "email-validator"
version = "1.1.3"
category = "main"
optional = false
python-versions = "*"

[[package]]
name = "python-dotenv"
version = "0.19.2"
category = "main"
optional = false
python-versions = "*"

[[package]]
name = "typing-extensions"
version = "4.8.0"
category = "main"
optional = false
python-versions = "*"

[[package]]
name = "pytest"
version = "7.1.0"
category = "dev"
optional = false
python-versions = "*"

[package.dependencies]
colorama = {version = "*", markers = "sys_platform == \\"win32\\""}

[metadata]
lock-version = "1.1"
python-versions = "^3.9"
content-hash = "0"
"""

OLD_POETRY_PROJECT = """[tool.poetry]
name = "realworld"
version = "0.0.0"

[tool.poetry.dependencies]
python = "^3.9"
loguru = "^0.6.0"
pydantic = { version = "^1.9", extras = ["email"] }

[tool.poetry.dev-dependencies]
pytest = "^7.1"
"""


def test_an_old_poetry_lock_takes_its_markers_from_the_edges(tmp_path: Path) -> None:
    """Poetry < 1.5 (lock 1.1) writes markers on dependency edges only: loguru needs
    win32-setctime on Windows only, pydantic's email extra brings email-validator (with
    the edge's own marker), its dotenv extra is not asked for, as a real
    fastapi-realworld-example-app lock has it."""
    (tmp_path / "poetry.lock").write_text(OLD_POETRY_LOCK)
    (tmp_path / "pyproject.toml").write_text(OLD_POETRY_PROJECT)
    pins = by_name(load_constraints([tmp_path / "poetry.lock"]))
    assert pins["win32-setctime"].marker == 'sys_platform == "win32"'
    assert pins["colorama"].marker == 'sys_platform == "win32"'  # pytest's edge is dev
    assert pins["loguru"].marker is None
    assert pins["typing-extensions"].marker is None
    assert pins["email-validator"].marker == 'python_version >= "3.7"'
    assert pins["python-dotenv"].marker is None  # unreached: kept as the lock says
    assert pins["pytest"].constraint_only
    assert not pins["win32-setctime"].constraint_only
