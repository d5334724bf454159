"""The wheel carries every file the package reads at run time (data tables, schemas):
an install from a wheel, as the README's CI snippets do, must work like the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_has_every_file_of_the_package(tmp_path: Path) -> None:
    # Built from a copy of the working tree: an in-tree build/ folder would hide a
    # missing package-data pattern behind what an earlier build left there.
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".git", "build", "*.egg-info", "*_cache", "__pycache__", "wheels"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            *("-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"),
            *("-w", str(tmp_path / "dist"), str(src)),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("imagecheck-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        packed = {n for n in zf.namelist() if n.startswith("imagecheck/")}
    tracked = subprocess.run(
        ["git", "ls-files", "imagecheck"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split()
    assert tracked, "git lists the package's files"
    assert sorted(set(tracked) - packed) == []
