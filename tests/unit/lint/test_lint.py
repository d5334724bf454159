"""``imagecheck lint`` on real files in a temporary folder: IC401 to IC404, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from imagecheck.errors import BadInput
from imagecheck.lint import discover, lint_files
from imagecheck.lint.dockerfile import check_dockerfile, instructions
from imagecheck.model import Finding, LintReport
from imagecheck.pins.constraints import load_constraints
from tests.builders import write_wheel
from tests.helpers import run_cli, validate

PINS = "numpy==1.26.4\nbcrypt==4.0.1\nscipy<2\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test works in its own folder: files are written relative to it."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project folder with ``constraints/requirements.txt``."""
    write("constraints/requirements.txt", PINS)
    return tmp_path


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def lint(*names: str, resolve: bool = False, select: tuple[str, ...] = ()) -> LintReport:
    pins = load_constraints([], cwd=Path())
    return lint_files([Path(n) for n in names], pins, resolve=resolve, select=select)


def codes(report: LintReport) -> list[tuple[str, str | None]]:
    return [(f.code, f.location) for f in report.findings]


def dockerfile(text: str) -> list[Finding]:
    path = write("Dockerfile", text)
    return list(check_dockerfile(path))


# IC401: requirements against the constraints' pins


def test_a_range_that_rules_out_the_pin_fails(repo: Path) -> None:
    write("requirements.txt", "fastapi==0.115.6\nnumpy>=2\n")
    report = lint("requirements.txt")
    assert codes(report) == [("IC401", "requirements.txt:2")]
    f = report.findings[0]
    assert f.severity == "error"
    assert f.subject == "numpy"
    assert "numpy>=2 rules out numpy==1.26.4" in f.message
    assert "constraints/requirements.txt:1" in f.message


@pytest.mark.parametrize("line", ["numpy", "NumPy", "numpy>=1.20", "numpy!=1.25.0"])
def test_no_upper_bound_lets_pip_take_the_newest(repo: Path, line: str) -> None:
    write("requirements.txt", f"{line}\n")
    report = lint("requirements.txt")
    assert codes(report) == [("IC401", "requirements.txt:1")]
    assert "sets no upper bound" in report.findings[0].message
    assert "-c constraints/requirements.txt" in report.findings[0].hint


@pytest.mark.parametrize("line", ["numpy==1.26.4", "numpy<2", "numpy~=1.26.0", "numpy>=1.20,<2"])
def test_requirements_that_keep_to_the_pin_pass(repo: Path, line: str) -> None:
    write("requirements.txt", f"{line}\nrequests\n")  # requests is not pinned: not our business
    assert lint("requirements.txt").findings == ()


def test_a_file_that_applies_the_constraints_itself_may_leave_names_bare(repo: Path) -> None:
    write("requirements.txt", "-c constraints/requirements.txt\nnumpy\nbcrypt\n")
    assert lint("requirements.txt").findings == ()
    write("requirements.txt", "-c constraints/requirements.txt\nnumpy>=2\n")
    assert codes(lint("requirements.txt")) == [("IC401", "requirements.txt:2")]


def test_a_range_pin_rules_out_an_exact_requirement(repo: Path) -> None:
    write("requirements.txt", "scipy==2.1.0\n")
    report = lint("requirements.txt")
    assert codes(report) == [("IC401", "requirements.txt:1")]
    assert "rules out scipy<2" in report.findings[0].message


def test_a_bare_name_in_a_compiled_in_file_is_left_to_its_txt(repo: Path) -> None:
    write("requirements.in", "numpy\nbcrypt\n")
    write("requirements.txt", "numpy==2.0.0\n    # via -r requirements.in\nbcrypt==4.0.1\n")
    report = lint("requirements.in")  # its .txt comes along
    assert report.files == ("requirements.in", "requirements.txt")
    assert codes(report) == [("IC401", "requirements.txt:1")]


def test_the_constraints_are_not_linted_against_themselves(repo: Path) -> None:
    report = lint("constraints/requirements.txt")
    assert report.findings == ()
    assert report.constraints_files == ("constraints/requirements.txt",)


def test_a_changed_constraints_file_relints_the_tree(repo: Path) -> None:
    write("requirements.txt", "numpy==1.26.4\n")
    write("services/api/requirements.txt", "bcrypt==4.0.1\n")
    assert lint("constraints/requirements.txt").findings == ()
    write("constraints/requirements.txt", "numpy==2.0.0\nbcrypt==4.0.1\n")
    report = lint("constraints/requirements.txt")
    assert codes(report) == [("IC401", "requirements.txt:1")]
    assert "services/api/requirements.txt" in report.files


def test_pins_named_in_pyproject_and_a_changed_pyproject(repo: Path) -> None:
    write("pins/prod.txt", "numpy==1.26.4\n")
    write("pyproject.toml", '[tool.imagecheck]\nconstraints = ["pins/prod.txt"]\n')
    write("requirements.txt", "numpy>=2\n")
    report = lint("pyproject.toml")  # the pins may have changed: everything is linted
    assert report.constraints_files == ("pins/prod.txt",)
    assert codes(report) == [("IC401", "requirements.txt:1")]
    assert "pins/prod.txt:1 pins" in report.findings[0].message


def test_without_pins_ic401_is_skipped() -> None:
    write("requirements.txt", "numpy>=2\n")
    report = lint("requirements.txt")
    assert report.findings == ()
    assert report.checks[0].status == "skipped"
    assert report.checks[0].reason == "no pins found"


def test_a_malformed_requirement_is_bad_input_naming_file_and_line(repo: Path) -> None:
    write("requirements.txt", "numpy\nnot a requirement!\n")
    with pytest.raises(BadInput, match=r"requirements.txt:2: not a requirement"):
        lint("requirements.txt")


# IC402: requirements.txt against requirements.in

TXT = """\
#
# This file is autogenerated by pip-compile with Python 3.11
#
bcrypt==4.0.1 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
    # via
    #   -r requirements.in
    #   passlib
numpy==1.26.4
    # via -r requirements.in
passlib[bcrypt]==1.7.4
    # via -r requirements.in
"""


def test_a_fresh_pair_passes(repo: Path) -> None:
    write("requirements.in", "numpy<2\npasslib[bcrypt]\nbcrypt<4.1\n")
    write("requirements.txt", TXT)
    report = lint("requirements.txt")
    assert report.findings == ()
    assert [c.status for c in report.checks] == ["passed", "passed", "skipped", "skipped"]


@pytest.mark.parametrize(
    ("source", "given", "where", "says"),
    [
        pytest.param(
            "numpy<2\npasslib[bcrypt]\nbcrypt<4.1\nfastapi\n",
            "requirements.in",
            "requirements.in:4",
            "fastapi is in requirements.in but not in requirements.txt",
            id="added",
        ),
        pytest.param(
            "numpy>=2\npasslib[bcrypt]\nbcrypt<4.1\n",
            "requirements.in",
            "requirements.in:1",
            "asks for numpy>=2 but requirements.txt:10 pins numpy==1.26.4",
            id="range changed",
        ),
        pytest.param(
            "passlib[bcrypt]\nbcrypt<4.1\n",
            "requirements.txt",
            "requirements.txt:10",
            "still says numpy is there '# via -r requirements.in'",
            id="removed",
        ),
    ],
)
def test_an_in_file_changed_but_not_compiled(
    repo: Path, source: str, given: str, where: str, says: str
) -> None:
    write("requirements.in", source)
    write("requirements.txt", TXT)
    report = lint(given, select=("IC402",))  # either file of the pair brings the other
    assert codes(report) == [("IC402", where)]
    assert says in report.findings[0].message
    assert report.findings[0].hint == "pip-compile requirements.in and commit both files"


def test_requirements_for_other_platforms_need_not_be_compiled(repo: Path) -> None:
    write(
        "requirements.in",
        'numpy<2\npasslib[bcrypt]\nbcrypt<4.1\npywin32; sys_platform == "win32"\n',
    )
    write("requirements.txt", TXT)
    assert lint("requirements.in").findings == ()


def test_unreachable_index_is_one_warning_not_a_crash(repo: Path) -> None:
    write("requirements.in", "-i http://127.0.0.1:9/simple\nnumpy<2\npasslib[bcrypt]\nbcrypt<4.1\n")
    write("requirements.txt", TXT)
    report = lint("requirements.in", resolve=True)
    assert codes(report) == [("IC404", None)]
    f = report.findings[0]
    assert f.severity == "warning"
    assert "pip-compile cannot reach the package index http://127.0.0.1:9/simple" in f.message
    assert "offline only" in f.message


@pytest.fixture
def local_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip sees only a folder of wheels: no config files, no index."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "alpha", "1.0", ("beta>=1",))
    write_wheel(wheels, "beta", "1.0")
    write_wheel(wheels, "beta", "2.0")
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return wheels


def test_resolve_asks_pip_compile_what_it_would_change(repo: Path, local_index: Path) -> None:
    write("requirements.in", "alpha\n")
    write("requirements.txt", "alpha==1.0\n    # via -r requirements.in\n")
    assert lint("requirements.in").findings == ()  # offline, it looks fine
    report = lint("requirements.in", resolve=True)
    assert codes(report) == [("IC402", "requirements.txt")]
    assert "beta (missing) -> 2.0" in report.findings[0].message
    assert Path("requirements.txt").read_text() == "alpha==1.0\n    # via -r requirements.in\n"
    write("requirements.txt", "alpha==1.0\nbeta==1.0\n")  # an older beta is kept: still fresh
    assert lint("requirements.in", resolve=True).findings == ()


def test_resolve_reports_a_conflict_pip_compile_cannot_resolve(
    repo: Path, local_index: Path
) -> None:
    write("requirements.in", "alpha\nbeta<1\n")
    write("requirements.txt", "alpha==1.0\nbeta==0.5\n")
    report = lint("requirements.in", resolve=True)
    assert codes(report) == [("IC402", "requirements.in")]
    assert "pip-compile cannot resolve requirements.in" in report.findings[0].message


# IC403: Dockerfiles install only what they copy


def test_installing_a_file_never_copied_fails() -> None:
    found = dockerfile("FROM python:3.11\nWORKDIR /app\nRUN pip install -r requirements.txt\n")
    assert [(f.code, f.location, f.subject) for f in found] == [
        ("IC403", "Dockerfile:3", "requirements.txt")
    ]
    assert "/app/requirements.txt" in found[0].message
    assert "COPY requirements.txt /app/requirements.txt" in found[0].hint


@pytest.mark.parametrize(
    "text",
    [
        "WORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt",
        "WORKDIR /app\nCOPY requirements.txt /app\nRUN pip install -r requirements.txt",
        "WORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt",
        "COPY requirements.txt /tmp/\nRUN pip install --no-cache-dir -r /tmp/requirements.txt",
        "COPY requirements.txt /tmp/r.txt\nRUN pip install --requirement=/tmp/r.txt",
        "COPY requirements/ /req/\nRUN pip install -r/req/prod.txt",
        (
            "COPY requirements*.txt constraints.txt /src/\n"
            "RUN cd /src && pip install -r requirements-dev.txt -c constraints.txt"
        ),
        'COPY ["requirements.txt", "/app/"]\nRUN ["pip", "install", "-r", "/app/requirements.txt"]',
        (
            "RUN --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \\\n"
            "    pip install -r /tmp/requirements.txt"
        ),
        "RUN --mount=type=bind,target=/ctx pip install -r /ctx/requirements.txt",
        (
            "COPY <<EOF /app/requirements.txt\nnumpy==1.26.4\nEOF\n"
            "RUN python3 -m pip install -r /app/requirements.txt"
        ),
        (
            "ENV APP=/srv\nWORKDIR $APP\nCOPY requirements.txt ${APP}/\n"
            "RUN uv pip install --system -r requirements.txt"
        ),
        "ARG REQS\nRUN pip install -r $REQS",  # unknown at lint time: not judged
        "RUN curl -fsSLo /tmp/r.txt https://example.com/r.txt && pip install -r /tmp/r.txt",
        "RUN echo numpy==1.26.4 > /tmp/r.txt\nRUN pip install -r /tmp/r.txt",
        "ADD https://example.com/requirements.txt /tmp/\nRUN pip install -r /tmp/requirements.txt",
        "ONBUILD RUN pip install -r requirements.txt",
        "# escape=`\nCOPY requirements.txt /app/\nRUN pip install `\n  -r /app/requirements.txt",
    ],
)
def test_installs_of_copied_files_pass(text: str) -> None:
    assert dockerfile(f"FROM python:3.11\n{text}\n") == []


def test_stages_inherit_files_and_copy_from_each_other() -> None:
    text = """\
FROM python:3.11 AS builder
WORKDIR /app
COPY requirements.txt .
RUN pip wheel -r requirements.txt -w /wheels

FROM builder AS test
RUN pip install -r requirements.txt

FROM python:3.11 AS final
COPY --from=builder /app/requirements.txt /app/requirements.txt
RUN pip install --no-index -f /wheels -r /app/requirements.txt

FROM python:3.11
RUN pip install -r /app/requirements.txt
"""
    found = dockerfile(text)
    assert [f.location for f in found] == ["Dockerfile:14"]
    assert "stage 3" in found[0].message


def test_a_copy_after_the_install_says_to_move_it() -> None:
    found = dockerfile(
        "FROM python:3.11\nWORKDIR /app\nRUN pip install -r requirements.txt\nCOPY . .\n"
    )
    assert "line 4 (COPY . .) comes after it" in found[0].message
    assert found[0].hint == "move line 4 before line 3"


def test_a_copy_to_another_folder_is_named() -> None:
    found = dockerfile(
        "FROM python:3.11\nCOPY requirements.txt /tmp/\nWORKDIR /app\n"
        "# the install, continued over lines\n"
        "RUN pip install --upgrade pip \\\n"
        "    # a comment inside the instruction\n"
        "    && pip install -r requirements.txt\n"
    )
    assert [f.location for f in found] == ["Dockerfile:5"]
    assert "line 2 puts requirements.txt at /tmp/requirements.txt" in found[0].message


def test_heredoc_bodies_are_part_of_the_run() -> None:
    text = "FROM python:3.11\nRUN <<EOF\nset -e\npip install -r /src/requirements.txt\nEOF\n"
    assert [f.location for f in dockerfile(text)] == ["Dockerfile:2"]
    assert [i.keyword for i in instructions(text)] == ["FROM", "RUN"]


# The command line and discovery


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("lint", *args, cwd=cwd, timeout=120)


def test_cli_exit_codes_and_formats(repo: Path) -> None:
    write("requirements.txt", "numpy>=2\n")
    write("Dockerfile", "FROM python:3.11\nRUN pip install -r requirements.txt\n")
    bad = run("requirements.txt", "Dockerfile", cwd=repo)
    assert bad.returncode == 1, bad.stderr
    lines = bad.stdout.splitlines()
    assert lines[0].startswith("Dockerfile:2: IC403 error requirements.txt: RUN pip install")
    assert lines[2].startswith("requirements.txt:1: IC401 error numpy: numpy>=2 rules out")
    assert lines[-1].startswith("FAIL 2 finding(s) at or above error in 2 file(s)")

    doc = json.loads(run("--format", "json", cwd=repo).stdout)
    validate(doc, "lint")
    assert doc["verdict"] == "fail"
    assert doc["files"] == ["Dockerfile", "constraints/requirements.txt", "requirements.txt"]
    assert [f["location"] for f in doc["findings"]] == ["Dockerfile:2", "requirements.txt:1"]

    xml = run("requirements.txt", "--format", "junit", "-o", "lint.xml", cwd=repo)
    assert xml.returncode == 1
    text = (repo / "lint.xml").read_text()
    assert '<testsuite name="imagecheck lint" tests="4" failures="1" skipped="3"' in text
    assert "requirements.txt:1: IC401 numpy" in text

    write("requirements.txt", "numpy==1.26.4\n")
    write("Dockerfile", "FROM python:3.11\nCOPY . /app\nRUN pip install -r /app/requirements.txt\n")
    good = run(cwd=repo)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith(
        "PASS 3 file(s) linted (constraints: constraints/requirements.txt)"
    )


def test_cli_bad_input_is_one_line_and_exit_2(repo: Path) -> None:
    write("requirements.txt", "numpy=>2\n")
    result = run("requirements.txt", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith("imagecheck: requirements.txt:1: not a requirement")
    assert len(result.stderr.strip().splitlines()) == 1
    write("README.md", "hello\n")
    other = run("README.md", cwd=repo)
    assert other.returncode == 2
    assert "not a requirements file, Dockerfile, constraints file, pyproject.toml" in other.stderr
    missing = run("missing.txt", cwd=repo)
    assert (missing.returncode, missing.stderr) == (2, "imagecheck: no such file: missing.txt\n")
    folder = run("constraints", cwd=repo)
    assert (folder.returncode, folder.stderr) == (2, "imagecheck: constraints: not a file\n")


def test_discovery_skips_ignored_and_hidden_folders(tmp_path: Path) -> None:
    for name in (
        "requirements.txt",
        "requirements/dev.in",
        "docker/api.Dockerfile",
        "Dockerfile.prod",
        ".venv/lib/requirements.txt",
        "node_modules/x/Dockerfile",
        "notes.txt",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)]
    assert found == [
        "Dockerfile.prod",
        "docker/api.Dockerfile",
        "requirements/dev.in",
        "requirements.txt",
    ]
