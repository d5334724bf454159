"""Static checks on real archives: pins, duplicates, native libraries, NumPy ABI, known pairs."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from imagecheck.api import Options, check
from imagecheck.errors import BadInput
from imagecheck.model import Report
from imagecheck.pins.constraints import load_constraints, read_requirements
from imagecheck.report.findings import junit, report_document
from tests.builders import SITE, F, Layer, dist_info, make_image, under

PY: list[F] = [
    F("usr/local/bin/python3.11", b"\x7fELF"),
    F("usr/local/bin/python3", kind="symlink", link="python3.11"),
]


def dist(
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
    top: str | None = None,
    files: dict[str, bytes] | None = None,
) -> list[F]:
    top_level = top or name.replace("-", "_")
    return under(SITE, dist_info(name, version, files, requires=requires, top_level=top_level))


def scan(tmp_path: Path, *layers: list[F], pins: str = "", **kw: object) -> Report:
    tmp_path.mkdir(parents=True, exist_ok=True)
    built = make_image(
        tmp_path,
        [Layer(PY), *(Layer(x) for x in layers)],
        layout="oci-dir",
        config={"Cmd": ["python3"]},
    )
    cdir = tmp_path / "constraints"
    cdir.mkdir(exist_ok=True)
    (cdir / "requirements.txt").write_text(pins)
    return check(str(built.path), Options(use_cache=False), constraints=[cdir], **kw)  # type: ignore[arg-type]


def codes(report: Report) -> list[tuple[str, str]]:
    return [(f.code, f.subject) for f in report.findings]


def test_clean_image_has_no_findings(tmp_path: Path) -> None:
    report = scan(
        tmp_path,
        dist("numpy", "1.26.4"),
        dist("six", "1.16.0"),
        pins="numpy==1.26.4\nsix==1.16.0\n",
    )
    assert report.findings == ()
    statuses = {c.name: c.status for c in report.checks}
    assert statuses.pop("smoke tests") == "skipped"  # an archive, and no smoke asked for
    assert statuses.pop("the application's import") == "skipped"  # it runs in the smoke
    assert statuses.pop("stale image and build cache") == "skipped"  # no Dockerfile here
    assert statuses.pop("compose service containers") == "skipped"  # no service triaged
    assert statuses.pop("alembic revisions") == "skipped"  # no alembic.ini
    assert statuses.pop("database revision") == "skipped"  # no service triaged
    assert statuses.pop("the stack's dependencies") == "skipped"  # no service triaged
    assert statuses.pop("models against migrations") == "skipped"  # no --migrations
    assert statuses.pop("build-time values baked in") == "skipped"  # nothing to compare with
    assert set(statuses.values()) == {"passed"}


def test_pins_missing_mismatched_unpinned(tmp_path: Path) -> None:
    report = scan(
        tmp_path,
        dist("numpy", "2.1.0"),
        dist("idna", "3.7"),
        pins="numpy==1.26.4 \\\n    --hash=sha256:abc\n    # via scipy\nscipy==1.15.3\n",
    )
    found = {f.code: f for f in report.findings}
    assert found["IC102"].subject == "numpy"
    assert found["IC102"].layer is not None
    assert found["IC102"].layer.index == 1
    assert "1.26.4" in found["IC102"].message
    assert found["IC101"].subject == "scipy"
    assert (found["IC103"].subject, found["IC103"].severity) == ("idna", "info")
    assert report_document(report, "error")["verdict"] == "fail"


def test_markers_use_the_images_python(tmp_path: Path) -> None:
    pins = "tomli==2.0.1; python_version < '3.11'\nsix==1.16.0\n"
    report = scan(tmp_path, dist("six", "1.16.0"), pins=pins)
    assert codes(report) == []  # python 3.11 in the image: tomli is not needed


def test_requires_dist_unsatisfied(tmp_path: Path) -> None:
    report = scan(
        tmp_path,
        dist("scipy", "1.15.3", requires=("numpy<2.5,>=1.23.5", "pytest; extra == 'test'")),
        dist("numpy", "1.21.0"),
        dist("fastapi", "0.115.6", requires=("starlette<0.42,>=0.40",)),
    )
    assert sorted(codes(report)) == [("IC105", "fastapi"), ("IC105", "scipy")]


def test_passlib_and_bcrypt(tmp_path: Path) -> None:
    warn = scan(tmp_path / "a", dist("passlib", "1.7.4"), dist("bcrypt", "4.2.0"))
    assert [(f.code, f.severity) for f in warn.findings] == [("IC301", "warning")]
    assert "harmless" in warn.findings[0].message.lower()
    err = scan(tmp_path / "b", dist("passlib", "1.7.4"), dist("bcrypt", "5.0.0"))
    assert [(f.code, f.severity) for f in err.findings] == [("IC302", "error")]
    assert "72 bytes" in err.findings[0].message
    quiet = scan(tmp_path / "c", dist("passlib", "1.7.4"), dist("bcrypt", "4.0.1"))
    assert quiet.findings == ()


def test_ctypes_library_missing_then_present(tmp_path: Path) -> None:
    missing = scan(tmp_path / "a", dist("python-magic", "0.4.27", top="magic"))
    assert codes(missing) == [("IC203", "python-magic")]
    assert "apt-get install -y --no-install-recommends libmagic1" in missing.findings[0].hint
    libz = Path("/usr/lib/x86_64-linux-gnu/libz.so.1").resolve().read_bytes()
    present = scan(
        tmp_path / "b",
        dist("python-magic", "0.4.27", top="magic"),
        [F("usr/lib/x86_64-linux-gnu/libmagic.so.1", libz)],  # an ELF with some SONAME
    )
    assert codes(present) == []


def _so(tmp_path: Path, name: str, strings: list[str]) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build an extension module")
    src = tmp_path / f"{name}.c"
    body = "".join(f'const char *s{i} = "{s}";\n' for i, s in enumerate(strings))
    src.write_text(body + "int f(void) { return 0; }\n")
    out = tmp_path / f"{name}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(src)], check=True)
    return out.read_bytes()


def test_numpy_abi(tmp_path: Path) -> None:
    old = _so(tmp_path, "old", ["numpy.core._multiarray_umath"])
    both = _so(tmp_path, "both", ["numpy.core._multiarray_umath", "numpy._core._multiarray_umath"])
    pandas = dist(
        "pandas", "2.0.3", files={"pandas/_libs/lib.cpython-311-x86_64-linux-gnu.so": old}
    )
    scipy = dist(
        "scipy", "1.15.3", files={"scipy/_lib/_ccallback_c.cpython-311-x86_64-linux-gnu.so": both}
    )
    broken = scan(tmp_path / "a", pandas, scipy, dist("numpy", "2.1.0"))
    abi = [f for f in broken.findings if f.code == "IC204"]
    assert [f.subject for f in abi] == ["pandas"]
    assert "numpy 2.1.0" in abi[0].message
    assert "NumPy 1.x" in abi[0].message
    healthy = scan(tmp_path / "b", pandas, scipy, dist("numpy", "1.26.4"))
    assert [f for f in healthy.findings if f.code == "IC204"] == []


def test_select_ignore_and_junit(tmp_path: Path) -> None:
    report = scan(
        tmp_path,
        dist("passlib", "1.7.4"),
        dist("bcrypt", "5.0.0"),
        dist("x", "1"),
        pins="passlib==1.7.4\nbcrypt==5.0.0\n",
        ignore=("IC3",),
    )
    assert codes(report) == [("IC103", "x")]
    only = scan(tmp_path / "o", dist("x", "1"), pins="y==1\n", select=("IC101",))
    assert codes(only) == [("IC101", "y")]
    xml = junit(only, "error")
    root = ET.fromstring(xml.split("\n", 1)[1])  # noqa: S314 - our own output
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "1"
    failures = root.findall(".//failure")
    assert len(failures) == 1
    assert "IC101 y" in (failures[0].get("message") or "")


def test_constraints_files(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("six==1.16.0  # via something\n")
    (tmp_path / "limits.txt").write_text("urllib3<2\n")
    (tmp_path / "req.txt").write_text(
        "-r base.txt\n-c limits.txt\n--index-url https://example.invalid/simple\n"
        "requests[socks]>=2.31 ; python_version >= '3.8'\n"
        "https://example.invalid/pkgs/attrs-23.1.0-py3-none-any.whl\n"
    )
    pins = read_requirements(tmp_path / "req.txt")
    by = {p.name: p for p in pins}
    assert by["six"].exact == "1.16.0"
    assert by["urllib3"].constraint_only
    assert by["requests"].extras == ("socks",)
    assert by["requests"].marker == 'python_version >= "3.8"'
    assert by["attrs"].url is not None
    (tmp_path / "bad.txt").write_text("six==1.16.0\nnot a == requirement!!\n")
    with pytest.raises(BadInput, match=r"bad\.txt:2"):
        read_requirements(tmp_path / "bad.txt")
    (tmp_path / "system.toml").write_text(
        '[[library]]\nsoname = "libmagic.so.1"\ndebian = "libmagic1"\n'
    )
    loaded = load_constraints([tmp_path / "system.toml"])
    assert [(n.kind, n.name, n.debian) for n in loaded.system] == [
        ("library", "libmagic.so.1", "libmagic1")
    ]
    (tmp_path / "broken.toml").write_text("[[library]\n")
    with pytest.raises(BadInput, match=r"broken\.toml: not valid TOML"):
        load_constraints([tmp_path / "broken.toml"])
    (tmp_path / "pyproject.toml").write_text('[tool.imagecheck]\nconstraints = ["base.txt"]\n')
    assert [p.name for p in load_constraints([], cwd=tmp_path).pins] == ["six"]


def test_the_projects_own_editable_install_is_the_application(tmp_path: Path) -> None:
    """``pip install -e .`` of the project: direct_url.json says a local folder, so it is
    not IC103 'installed but not pinned'; a wheel from an index still is."""
    editable = b'{"url": "file:///app", "dir_info": {"editable": true}}'
    from_index = b'{"url": "https://example.invalid/six-1.16.0-py3-none-any.whl", '
    from_index += b'"archive_info": {}}'
    report = scan(
        tmp_path,
        dist("app", "0.1.0", files={"app-0.1.0.dist-info/direct_url.json": editable}),
        dist("six", "1.16.0", files={"six-1.16.0.dist-info/direct_url.json": from_index}),
        dist("idna", "3.7"),
        pins="idna==3.7\n",
    )
    assert codes(report) == [("IC103", "six")]
    apps = {d.name: d.application for d in report.inventory.python}
    assert apps == {"app": True, "six": False, "idna": False}
    from imagecheck.report.json import inventory_document

    assert inventory_document(report.inventory)["python"][0]["application"] is True
