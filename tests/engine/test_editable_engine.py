"""``pip install -e .`` of the project itself, in a real image: the inventory shows it as
the application with its real import names (an editable's RECORD lists only a .pth and
a finder), the pin check does not call it unpinned, and the smoke test imports it."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagecheck.api import Options, check, inventory, smoke
from imagecheck.smoke.run import SmokeOptions

from .conftest import Builder

pytestmark = pytest.mark.engine

EDITABLE = """\
FROM BASE
LABEL imagecheck.test=1
COPY wheels /wheels
COPY flat /app/flat
COPY hatch /src/hatch
RUN python3 -m venv /opt/venv \\
    && /opt/venv/bin/pip install --no-index --find-links /wheels six==1.16.0 \\
    && /opt/venv/bin/pip install --no-index --find-links /wheels -e /app/flat -e /src/hatch
ENV PATH=/opt/venv/bin:$PATH
CMD ["python", "-c", "import flatpkg"]
"""
FILES = {
    # setuptools, flat layout: an __editable__ finder with a MAPPING
    "flat/pyproject.toml": (
        '[project]\nname = "flat-app"\nversion = "0.1.0"\n'
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[tool.setuptools]\npackages = ["flatpkg"]\npy-modules = ["flatbad"]\n'
    ),
    "flat/flatpkg/__init__.py": "VALUE = 1\n",
    "flat/flatbad.py": "raise ImportError('flatbad: the project module really ran')\n",
    # hatchling: a .pth naming the project folder
    "hatch/pyproject.toml": (
        '[project]\nname = "hatch-app"\nversion = "0.2.0"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    ),
    "hatch/hatch_app/__init__.py": "import flatpkg\n",
    "hatch/tests/__init__.py": "raise RuntimeError('tests are not the application')\n",
}
WHEELS = [
    "six",
    "setuptools",
    "hatchling",
    "hatch-packaging",
    "pathspec",
    "pluggy",
    "tomlkit",
    "trove-classifiers",
    "editables",
]


@pytest.fixture(scope="module")
def editable_image(build: Builder) -> str:
    return build("editable", EDITABLE, WHEELS, files=FILES)


def test_inventory_shows_the_application_and_its_import_names(editable_image: str) -> None:
    inv = inventory(f"docker:{editable_image}", Options(use_cache=False))
    dists = {d.name: d for d in inv.python if d.environment.startswith("/opt/venv")}
    assert dists["flat-app"].application
    assert dists["flat-app"].import_names == ("flatbad", "flatpkg")
    assert dists["hatch-app"].application
    assert dists["hatch-app"].import_names == ("hatch_app",)  # not tests/
    assert not dists["six"].application


def test_not_unpinned_and_imported_by_the_smoke_test(editable_image: str, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    report = check(
        f"docker:{editable_image}",
        Options(use_cache=False),
        constraints=[tmp_path / "requirements.txt"],
        smoke=SmokeOptions(probes=False),
    )
    unpinned = [f.subject for f in report.findings if f.code == "IC103"]
    assert unpinned == []  # the setuptools and hatchling installs are the application
    run = smoke(f"docker:{editable_image}", Options(use_cache=False), SmokeOptions(probes=False))
    results = {r.name: r for r in run.smoke.results} if run.smoke else {}
    assert results["flatpkg"].status == "ok"
    assert results["hatch_app"].status == "ok"
    assert results["flatpkg"].distribution == "flat-app"
    # the import really ran in the container: the failing module is reported with its message
    assert results["flatbad"].status == "error"
    assert results["flatbad"].last_line == "ImportError: flatbad: the project module really ran"
    assert "tests" not in results
