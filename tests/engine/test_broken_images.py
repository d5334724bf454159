"""The crashloop's causes, built for real: each found statically by ``check`` and
confirmed by the smoke run inside the image; a healthy image gives no error."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from imagecheck.api import Options, check
from imagecheck.model import Finding, Report
from imagecheck.smoke.run import SmokeOptions
from tests.helpers import run_cli

from .conftest import Builder

pytestmark = pytest.mark.engine

BROKEN = """\
FROM BASE
LABEL imagecheck.test=1
COPY wheels /wheels
RUN pip install --no-index --find-links /wheels --break-system-packages --no-deps \\
    numpy==2.0.2 pandas==2.0.3 python-dateutil six pytz tzdata python-magic==0.4.27 \\
    passlib==1.7.4 bcrypt==5.0.0 && rm -rf /wheels
CMD ["python3", "-c", "import pandas"]
"""
HARMLESS = """\
FROM BASE
LABEL imagecheck.test=1
COPY wheels /wheels
RUN pip install --no-index --find-links /wheels --break-system-packages \\
    passlib==1.7.4 bcrypt==4.3.0 && rm -rf /wheels
CMD ["python3"]
"""
PINS = """\
numpy==1.26.4
pandas==2.0.3
python-dateutil==2.9.0.post0
six==1.16.0
pytz==2024.1
tzdata==2024.1
python-magic==0.4.27
passlib==1.7.4
bcrypt==4.0.1
"""


@pytest.fixture(scope="session")
def broken_image(build: Builder) -> str:
    """numpy 2 under pandas built for 1.x, python-magic without libmagic, bcrypt 5."""
    keys = ["numpy2", "pandas", "dateutil", "six", "pytz", "tzdata", "magic", "passlib", "bcrypt5"]
    return build("broken", BROKEN, keys)


@pytest.fixture(scope="session")
def harmless_image(build: Builder) -> str:
    return build("harmless", HARMLESS, ["passlib", "bcrypt43"])


@pytest.fixture(scope="session")
def broken_report(broken_image: str, tmp_path_factory: pytest.TempPathFactory) -> Report:
    pins = tmp_path_factory.mktemp("pins") / "requirements.txt"
    pins.write_text(PINS)
    return check(
        f"docker:{broken_image}",
        Options(use_cache=False),
        constraints=[pins],
        smoke=SmokeOptions(module_timeout=60),
    )


def _by(report: Report, code: str) -> dict[str, Finding]:
    return {f.subject: f for f in report.findings if f.code == code}


def test_numpy_2_breaks_pandas_built_for_1x(
    broken_report: Report, run_in: Callable[..., str]
) -> None:
    static = _by(broken_report, "IC204")["pandas"]
    assert "numpy 2.0.2" in static.message
    assert _by(broken_report, "IC102")["numpy"].severity == "error"  # pin 1.26.4, got 2.0.2
    smoke = _by(broken_report, "IC501")["pandas"]
    assert "numpy.dtype size changed" in smoke.message or "NumPy 1.x" in smoke.message
    assert "pandas 2.0.3" in smoke.hint
    assert "numpy 2.0.2" in smoke.hint
    # The truth, from the image itself.
    out = run_in(
        broken_report.inventory.image.id, ["sh", "-c", "python3 -c 'import pandas' 2>&1 || true"]
    )
    assert "numpy.dtype size changed" in out or "compiled using NumPy 1.x" in out


def test_python_magic_without_libmagic(broken_report: Report, run_in: Callable[..., str]) -> None:
    assert _by(broken_report, "IC203")["python-magic"].severity == "error"
    smoke = _by(broken_report, "IC501")["magic"]
    assert "failed to find libmagic" in smoke.message
    assert "libmagic1" in smoke.hint
    out = run_in(
        broken_report.inventory.image.id, ["sh", "-c", "python3 -c 'import magic' 2>&1 || true"]
    )
    assert "failed to find libmagic" in out


def test_bcrypt_5_breaks_passlib_hashing(broken_report: Report) -> None:
    assert _by(broken_report, "IC302")["passlib"].severity == "error"
    probe = _by(broken_report, "IC505")["passlib-bcrypt-hash"]
    assert "password cannot be longer than 72 bytes" in probe.message
    assert "bcrypt<5" in probe.hint
    # The probe whose import failed is skipped, not failed twice.
    assert broken_report.smoke is not None
    magic_probe = next(r for r in broken_report.smoke.results if r.name == "python-magic-identify")
    assert magic_probe.status == "skipped"


def test_bcrypt_4_3_is_harmless(harmless_image: str, tmp_path: Path) -> None:
    pins = tmp_path / "requirements.txt"
    pins.write_text("passlib==1.7.4\nbcrypt==4.3.0\n")
    result = run_cli(harmless_image, "-c", str(pins), "--format", "junit")
    assert result.returncode == 0, result.stdout + result.stderr  # warnings only
    root = ET.fromstring(result.stdout)  # noqa: S314 - our own report
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["passlib-bcrypt-hash"].find("failure") is None
    json_run = run_cli(harmless_image, "-c", str(pins), "--format", "json")
    doc = json.loads(json_run.stdout)
    codes = {(f["code"], f["severity"]) for f in doc["findings"]}
    assert ("IC301", "warning") in codes  # static: known harmless pair
    assert ("IC506", "warning") in codes  # smoke: the trapped message, seen and called harmless
    assert not [f for f in doc["findings"] if f["severity"] == "error"]
    harmless = next(f for f in doc["findings"] if f["code"] == "IC506")
    assert "harmless" in harmless["message"]


def test_broken_image_cli_exit_code_and_junit(broken_image: str, tmp_path: Path) -> None:
    pins = tmp_path / "requirements.txt"
    pins.write_text(PINS)
    out = tmp_path / "report.xml"
    result = run_cli("check", broken_image, "-c", str(pins), "--format", "junit", "-o", str(out))
    assert result.returncode == 1, result.stderr
    root = ET.parse(out).getroot()  # noqa: S314 - our own report
    smoke_suite = next(s for s in root.iter("testsuite") if "smoke" in (s.get("name") or ""))
    failed = {c.get("name") for c in smoke_suite.iter("testcase") if c.find("failure") is not None}
    assert {"pandas", "magic", "passlib-bcrypt-hash"} <= failed


def test_healthy_image_has_no_error(pinned_image: str, tmp_path: Path) -> None:
    pins = tmp_path / "requirements.txt"
    pins.write_text("numpy==1.26.4\nscipy==1.15.3\n")
    report = check(
        f"docker:{pinned_image}", Options(use_cache=False), constraints=[pins], smoke=SmokeOptions()
    )
    assert report.smoke is not None
    assert report.smoke.status == "ran"
    assert [f for f in report.findings if f.severity == "error"] == []
    assert {r.name: r.status for r in report.smoke.results if r.kind == "import"}["scipy"] == "ok"


def test_pinned_package_removed_by_a_later_layer(uninstall_image: str, tmp_path: Path) -> None:
    pins = tmp_path / "requirements.txt"
    pins.write_text("six==1.16.0\nidna==3.7\n")
    report = check(f"docker:{uninstall_image}", Options(use_cache=False), constraints=[pins])
    missing = _by(report, "IC101")["six"]
    assert missing.severity == "error"
    assert "idna" not in _by(report, "IC101")
    assert [
        (r.name, r.removed_by.created_by) for r in report.inventory.removed if r.kind == "python"
    ] == [
        (
            "six",
            next(
                h.created_by for h in report.inventory.image.history if "uninstall" in h.created_by
            ),
        )
    ]
