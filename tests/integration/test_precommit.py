"""The hooks of ``.pre-commit-hooks.yaml`` as users run them: the real pre-commit, installed
into a temporary git repository, refusing and accepting real commits.

pre-commit clones the hooks repository at a commit and ``pip install``s it into its own
environment (from PyPI: reachable here and in CI). The repository it clones is this
checkout's working tree as it is now, committed into a temporary repository, so what is
tested is the code under test, committed or not. Skipped only where git is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")

PINS = "numpy==1.26.4\nbcrypt==4.0.1\n"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "GIT_DIR")}
    return env | {
        "GIT_AUTHOR_NAME": "imagecheck tests",
        "GIT_AUTHOR_EMAIL": "tests@imagecheck.invalid",
        "GIT_COMMITTER_NAME": "imagecheck tests",
        "GIT_COMMITTER_EMAIL": "tests@imagecheck.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,  # no hooksPath or signing from the machine's config
        "GIT_CONFIG_NOSYSTEM": "1",
        "PRE_COMMIT_HOME": str(home),
        "PRE_COMMIT_COLOR": "never",
        "NO_COLOR": "1",
    }


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Output and errors together in ``stdout``, in the order a terminal shows them."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Path]]:
    """(hooks repository, its commit, PRE_COMMIT_HOME): the working tree under test."""
    base = tmp_path_factory.mktemp("pre-commit")
    shadow, home = base / "imagecheck", base / "home"
    env = _env(home)
    git_dir = f"--git-dir={shadow / '.git'}"
    for args in (
        ("git", "init", "-q", shadow),
        ("git", git_dir, f"--work-tree={ROOT}", "add", "-A"),  # ROOT's .gitignore applies
        ("git", git_dir, "commit", "-q", "-m", "the working tree under test"),
    ):
        done = run(*args, cwd=base, env=env)
        assert done.returncode == 0, done.stdout
    sha = run("git", git_dir, "rev-parse", "HEAD", cwd=base, env=env).stdout.strip()
    started = time.monotonic()
    yield shadow, sha, home
    print(f"\npre-commit tests: {time.monotonic() - started:.1f} s")


class User:
    """A user's repository with the imagecheck hook installed."""

    def __init__(self, path: Path, hooks: tuple[Path, str, Path]) -> None:
        repo, sha, home = hooks
        self.path = path
        self.env = _env(home)
        config = (
            f"repos:\n  - repo: {repo}\n    rev: {sha}\n    hooks:\n      - id: imagecheck-lint\n"
        )
        self.write(".pre-commit-config.yaml", config)
        self.write("constraints/requirements.txt", PINS)
        for args in (("git", "init", "-q"), (sys.executable, "-m", "pre_commit", "install")):
            done = run(*args, cwd=path, env=self.env)
            assert done.returncode == 0, done.stdout
        first = self.commit("pins")
        assert first.returncode == 0, first.stdout

    def write(self, name: str, text: str) -> None:
        (self.path / name).parent.mkdir(parents=True, exist_ok=True)
        (self.path / name).write_text(text)

    def commit(self, message: str) -> subprocess.CompletedProcess[str]:
        run("git", "add", "-A", cwd=self.path, env=self.env)
        return run("git", "commit", "-m", message, cwd=self.path, env=self.env)

    def commits(self) -> int:
        out = run("git", "rev-list", "--count", "HEAD", cwd=self.path, env=self.env).stdout
        return int(out)


@pytest.fixture
def user(tmp_path: Path, hooks: tuple[Path, str, Path]) -> User:
    return User(tmp_path / "user", hooks)


def test_numpy_2_against_the_pin_is_refused_and_the_pinned_one_committed(user: User) -> None:
    user.write("requirements.txt", "fastapi==0.115.6\nnumpy>=2\n")
    refused = user.commit("numpy 2")
    output = refused.stdout
    assert refused.returncode != 0, output
    assert "imagecheck lint" in output
    assert "Failed" in output
    assert "requirements.txt:2: IC401 error numpy: numpy>=2 rules out numpy==1.26.4" in output
    assert user.commits() == 1

    user.write("requirements.txt", "fastapi==0.115.6\nnumpy\n")
    unpinned = user.commit("numpy, any version")
    assert unpinned.returncode != 0
    assert "IC401 error numpy: numpy sets no upper bound" in unpinned.stdout

    user.write("requirements.txt", "fastapi==0.115.6\nnumpy==1.26.4\n")
    clean = user.commit("numpy as pinned")
    assert clean.returncode == 0, clean.stdout
    assert "imagecheck lint" in clean.stdout
    assert "Passed" in clean.stdout
    assert user.commits() == 2


def test_a_dockerfile_that_installs_an_uncopied_file_is_refused(user: User) -> None:
    user.write("requirements.txt", "numpy==1.26.4\n")
    user.write(
        "Dockerfile", "FROM python:3.11-slim\nWORKDIR /app\nRUN pip install -r requirements.txt\n"
    )
    refused = user.commit("no COPY")
    assert refused.returncode != 0
    assert "Dockerfile:3: IC403 error requirements.txt" in refused.stdout
    assert "/app/requirements.txt" in refused.stdout

    user.write(
        "Dockerfile",
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
        "RUN pip install -r requirements.txt\n",
    )
    clean = user.commit("COPY first")
    assert clean.returncode == 0, clean.stdout


def test_new_pins_relint_files_the_commit_does_not_touch(user: User) -> None:
    user.write("requirements.txt", "numpy==1.26.4\n")
    user.write("README.md", "# a service\n")
    assert user.commit("requirements").returncode == 0

    user.write("README.md", "# a service, described\n")
    skipped = user.commit("docs only")
    assert skipped.returncode == 0
    assert "(no files to check)Skipped" in skipped.stdout

    user.write("constraints/requirements.txt", "numpy==2.0.0\nbcrypt==4.0.1\n")
    refused = user.commit("numpy 2 in the pins only")
    assert refused.returncode != 0
    assert "requirements.txt:1: IC401 error numpy: numpy==1.26.4 rules out numpy==2.0.0" in (
        refused.stdout
    )
