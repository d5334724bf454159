"""Python environments, the runtime interpreter, live and shadowed distributions, removals."""

from __future__ import annotations

from imagecheck.catalog.python import (
    catalog_python,
    egg_requires,
    import_names,
    parse_metadata,
    python_events,
)
from imagecheck.model import ImageInfo, Platform
from tests.builders import dist_info
from tests.fsbuild import Spec, image_fs

SYS = "usr/local/lib/python3.11/dist-packages"
DEB = "usr/lib/python3/dist-packages"
VENV = "opt/venv/lib/python3.11/site-packages"


def _info(
    entrypoint: tuple[str, ...] = (), cmd: tuple[str, ...] = (), env: tuple[str, ...] = ()
) -> ImageInfo:
    return ImageInfo(
        ref="test",
        id="sha256:" + "0" * 64,
        created=None,
        platform=Platform("linux", "amd64"),
        entrypoint=entrypoint,
        cmd=cmd,
        env=env or ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
        working_dir="",
        user="",
        history=(),
        diff_ids=(),
    )


def dist(
    site: str,
    name: str,
    version: str,
    files: dict[str, bytes] | None = None,
    *,
    top_level: str | None = None,
    requires: tuple[str, ...] = (),
) -> list[Spec]:
    """A dist-info with METADATA, RECORD (sizes of ``files``), INSTALLER, then the files."""
    files = files if files is not None else {f"{name}/__init__.py": b"# " + version.encode()}
    info = dist_info(
        name,
        version,
        files,
        requires=requires,
        top_level=top_level,
        record=True,
        installer="pip",
        body="Long description.\n",
    )
    return [("f", f"{site}/{p}", d) for p, d in info.items()]


BASE: list[Spec] = [
    ("f", "usr/bin/python3.11", b"\x7fELF..."),
    ("l", "usr/bin/python3", "python3.11"),
    ("d", "usr/lib/python3.11", b""),
    ("d", DEB, b""),
    ("d", "usr/local/bin", b""),
    *dist(DEB, "pip", "23.0.1"),
]


def test_debian_system_python_sees_both_dist_packages() -> None:
    fs = image_fs(BASE, dist(SYS, "numpy", "1.26.4"))
    envs, interp, dists = catalog_python(fs, _info(cmd=("python3",)))
    assert interp is not None
    assert (interp.path, interp.real_path, interp.version, interp.reason) == (
        "/usr/bin/python3",
        "/usr/bin/python3.11",
        "3.11",
        "cmd",
    )
    assert interp.sys_path == (f"/{SYS}", f"/{DEB}")
    assert {e.path: e.on_runtime_path for e in envs} == {f"/{SYS}": True, f"/{DEB}": True}
    numpy = next(d for d in dists if d.name == "numpy")
    assert (numpy.version, numpy.live, numpy.environment, numpy.layer.index) == (
        "1.26.4",
        True,
        f"/{SYS}",
        1,
    )
    assert numpy.installer == "pip"
    assert numpy.import_names == ("numpy",)


def test_venv_copied_in_by_a_multistage_build_is_the_runtime() -> None:
    venv: list[Spec] = [
        ("f", "opt/venv/pyvenv.cfg", b"home = /usr/bin\ninclude-system-site-packages = false\n"),
        ("l", "opt/venv/bin/python", "python3"),
        ("l", "opt/venv/bin/python3", "/usr/bin/python3"),
        ("l", "opt/venv/lib64", "lib"),
        ("f", "opt/venv/bin/uvicorn", b"#!/opt/venv/bin/python\nimport uvicorn\n"),
        *dist(VENV, "uvicorn", "0.30.0"),
        *dist(VENV, "numpy", "1.26.4"),
    ]
    fs = image_fs(BASE, dist(SYS, "numpy", "2.0.0"), venv)
    info = _info(
        cmd=("uvicorn", "app:app"),
        env=("PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
    )
    envs, interp, dists = catalog_python(fs, info)
    assert interp is not None
    assert interp.venv == "/opt/venv"
    assert interp.reason == "shebang of /opt/venv/bin/uvicorn (cmd)"
    assert interp.sys_path == (f"/{VENV}",)
    by_path = {e.path: e for e in envs}
    assert by_path[f"/{VENV}"].kind == "venv"
    assert by_path[f"/{VENV}"].on_runtime_path
    assert not by_path[f"/{SYS}"].on_runtime_path
    numpys = {d.environment: d for d in dists if d.name == "numpy"}
    assert numpys[f"/{VENV}"].version == "1.26.4"
    assert numpys[f"/{VENV}"].layer.index == 2
    assert numpys[f"/{SYS}"].live  # not on the runtime path: nothing shadows it there


def test_sh_c_command_and_env_shebang() -> None:
    fs = image_fs(BASE, [("f", "usr/local/bin/serve", b"#!/usr/bin/env python3\nimport app\n")])
    _, interp, _ = catalog_python(fs, _info(cmd=("/bin/sh", "-c", "exec serve --port 80")))
    assert interp is not None
    assert interp.path == "/usr/bin/python3"
    assert interp.reason.startswith("shebang of /usr/local/bin/serve")


def test_no_python_at_all() -> None:
    fs = image_fs([("f", "bin/busybox", b"x")])
    envs, interp, dists = catalog_python(fs, _info(cmd=("busybox",)))
    assert (envs, interp, dists) == ((), None, ())


def test_two_dist_infos_of_one_name_the_record_decides() -> None:
    """site-packages copied over another leaves both; the files present are 24.1's."""
    old_files = {"packaging/__init__.py": b"old"}
    new_files = {"packaging/__init__.py": b"new version!"}
    fs = image_fs(
        BASE,
        dist(SYS, "packaging", "23.2", old_files),
        [*dist(SYS, "packaging", "24.1", new_files)],
    )
    _, _, dists = catalog_python(fs, _info(cmd=("python3",)))
    pk = {d.version: d for d in dists if d.name == "packaging"}
    assert pk["24.1"].live
    assert not pk["23.2"].live
    assert pk["23.2"].shadowed_by == pk["24.1"].path


def test_duplicate_where_the_older_files_win() -> None:
    """The later layer wrote a dist-info but the files on disk match the older RECORD."""
    old_files = {"six.py": b"1234567890"}
    fs = image_fs(
        BASE,
        [*dist(SYS, "six", "1.16.0", old_files)],
        [*dist(SYS, "six", "1.17.0", {"six.py": b"12345"})[:3]],  # metadata only, no files
    )
    _, _, dists = catalog_python(fs, _info(cmd=("python3",)))
    six = {d.version: d for d in dists if d.name == "six"}
    assert six["1.16.0"].live
    assert not six["1.17.0"].live


def test_earlier_folder_on_path_shadows_later() -> None:
    fs = image_fs(BASE, dist(SYS, "pip", "24.0"))
    _, _, dists = catalog_python(fs, _info(cmd=("python3",)))
    pips = {d.environment: d for d in dists if d.name == "pip"}
    assert pips[f"/{SYS}"].live
    assert not pips[f"/{DEB}"].live
    assert pips[f"/{DEB}"].shadowed_by == pips[f"/{SYS}"].path


def test_removed_distribution_is_gone_and_reported() -> None:
    six = dist(SYS, "six", "1.16.0", {"six.py": b"x"})
    whiteouts: list[Spec] = [
        ("f", f"{SYS}/.wh.six-1.16.0.dist-info", b""),
        ("f", f"{SYS}/.wh.six.py", b""),
    ]
    fs = image_fs(BASE, [*six, *dist(SYS, "idna", "3.7")], whiteouts)
    _, _, dists = catalog_python(fs, _info(cmd=("python3",)))
    assert "six" not in {d.name for d in dists}
    removed, changes = python_events(fs, dists)
    assert [(r.name, r.version, r.added_by.index, r.removed_by.index) for r in removed] == [
        ("six", "1.16.0", 1, 2)
    ]
    assert [(c.action, c.name) for c in changes[2]] == [("removed", "six")]
    assert {(c.action, c.name) for c in changes[1]} == {("added", "six"), ("added", "idna")}


def test_upgrade_in_one_layer_is_a_change_not_a_removal() -> None:
    fs = image_fs(
        BASE,
        dist(SYS, "numpy", "1.26.4"),
        [("f", f"{SYS}/.wh.numpy-1.26.4.dist-info", b""), *dist(SYS, "numpy", "2.1.0")],
    )
    _, _, dists = catalog_python(fs, _info(cmd=("python3",)))
    removed, changes = python_events(fs, dists)
    assert removed == ()
    assert [(c.action, c.name, c.old_version, c.new_version) for c in changes[2]] == [
        ("changed", "numpy", "1.26.4", "2.1.0")
    ]


def test_egg_info_folder_and_file() -> None:
    fs = image_fs(
        BASE,
        [
            ("f", f"{DEB}/chardet-5.1.0.egg-info/PKG-INFO", b"Name: chardet\nVersion: 5.1.0\n"),
            ("f", f"{DEB}/chardet-5.1.0.egg-info/requires.txt", b"a>=1\n[socks]\nPySocks\n"),
            ("f", f"{DEB}/chardet-5.1.0.egg-info/top_level.txt", b"chardet\n"),
            ("f", f"{DEB}/lone-1.0.egg-info", b"Metadata-Version: 1.1\nName: lone\nVersion: 1.0\n"),
        ],
    )
    _, _, dists = catalog_python(fs, _info(cmd=("python3",)))
    by_name = {d.name: d for d in dists}
    assert by_name["chardet"].kind == "egg-info"
    assert by_name["chardet"].requires_dist == ("a>=1", 'PySocks; extra == "socks"')
    assert by_name["chardet"].import_names == ("chardet",)
    assert by_name["lone"].version == "1.0"


def test_user_site_and_pythonpath() -> None:
    user = "root/.local/lib/python3.11/site-packages"
    fs = image_fs(BASE, dist(user, "rich", "13.0.0"), dist("app/vendor", "attrs", "23.1.0"))
    envs, interp, _ = catalog_python(
        fs, _info(cmd=("python3",), env=("PATH=/usr/bin", "PYTHONPATH=/app/vendor"))
    )
    assert interp is not None
    assert interp.sys_path[:2] == ("/app/vendor", f"/{user}")
    kinds = {e.path: e.kind for e in envs}
    assert kinds[f"/{user}"] == "user"
    assert kinds["/app/vendor"] == "pythonpath"


def test_metadata_parsing_details() -> None:
    meta = parse_metadata(
        b"Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0\nRequires-Python: >=3.8\n"
        b"Requires-Dist: a; extra == 'x'\nSummary: long\n  continued\n\nName: body-not-header\n"
    )
    assert meta is not None
    assert (meta.name, meta.version, meta.requires_python) == ("Foo.Bar", "1.0", ">=3.8")
    assert meta.requires_dist == ("a; extra == 'x'",)
    assert parse_metadata(b"Version: 1\n") is None
    assert egg_requires(b"x\n[:python_version < '3.8']\ny\n") == (
        "x",
        "y; (python_version < '3.8')",
    )


def test_import_names_from_record() -> None:
    record = (
        b"yaml/__init__.py,sha256=a,10\n_yaml/__init__.py,,\nsix.py,,\n"
        b"_cffi_backend.cpython-311-x86_64-linux-gnu.so,,\n../../../bin/tool,,\n"
        b"PyYAML-6.0.dist-info/RECORD,,\n__pycache__/six.cpython-311.pyc,,\n"
    )
    assert import_names(None, record) == ("_cffi_backend", "_yaml", "six", "yaml")
    assert import_names(b"google/protobuf\n", record) == ("google.protobuf",)


def _editable(name: str, files: dict[str, bytes]) -> list[Spec]:
    """An editable install as pip leaves it: a dist-info whose RECORD lists only ``files``
    (a .pth, perhaps a finder), no top_level.txt, and direct_url.json saying editable."""
    specs = dist(VENV, name, "0.1.0", files)
    url = b'{"dir_info": {"editable": true}, "url": "file:///app"}'
    return [*specs, ("f", f"{VENV}/{name}-0.1.0.dist-info/direct_url.json", url)]


VENV_BASE: list[Spec] = [
    ("f", "opt/venv/pyvenv.cfg", b"home = /usr/bin\n"),
    ("l", "opt/venv/bin/python", "/usr/bin/python3"),
]
APP: list[Spec] = [
    ("f", "app/pyproject.toml", b"[project]\nname = 'x'\n"),
    ("f", "app/setup.py", b"import setuptools; setuptools.setup()\n"),
    ("f", "app/flatpkg/__init__.py", b""),
    ("f", "app/flatmod.py", b""),
    ("f", "app/tests/__init__.py", b""),
    ("f", "app/notes/readme.txt", b""),
    ("f", "app/src/srcpkg/__init__.py", b""),
    ("f", "app/src/srcpkg.egg-info/PKG-INFO", b"Name: src-app\nVersion: 0.1.0\n"),
]


def _names(*layers: list[Spec]) -> dict[str, tuple[str, ...]]:
    fs = image_fs(BASE, VENV_BASE, APP, *layers)
    _, _, dists = catalog_python(fs, _info(cmd=("/opt/venv/bin/python",)))
    return {d.name: d.import_names for d in dists if d.environment == f"/{VENV}"}


def test_editable_setuptools_finder_mapping_read_without_running_it() -> None:
    finder = (
        b"from __future__ import annotations\nimport sys\n"
        b"MAPPING: dict[str, str] = {'flatmod': '/app/flatmod', 'flatpkg': '/app/flatpkg'}\n"
        b"NAMESPACES: dict[str, list[str]] = {}\n"
        b"raise SystemExit('never run')\n"
    )
    pth = b"import __editable___flat_app_0_1_0_finder; __editable___flat_app_0_1_0_finder.install()"
    layer = _editable(
        "flat_app",
        {
            "__editable__.flat_app-0.1.0.pth": pth,
            "__editable___flat_app_0_1_0_finder.py": finder,
        },
    )
    assert _names(layer) == {"flat_app": ("flatmod", "flatpkg")}


def test_editable_pth_folder_lists_its_packages() -> None:
    """setuptools' src layout writes the src folder into a .pth; hatchling the project
    root (``_editable_impl_NAME.pth``, older ``_NAME.pth``): its packages and modules,
    not setup.py, tests or plain folders."""
    src = _editable("src_app", {"__editable__.src_app-0.1.0.pth": b"/app/src\n"})
    hatch = _editable("hatch_app", {"_editable_impl_hatch_app.pth": b"/app"})
    assert _names(src, hatch) == {"src_app": ("srcpkg",), "hatch_app": ("flatmod", "flatpkg")}


def test_editables_redirector_map_module() -> None:
    impl = (
        b"from editables.redirector import RedirectingFinder as F\nF.install()\n"
        b"F.map_module('hatch_app', '/app/hatch_app/__init__.py')\n"
    )
    layer = _editable(
        "hatch_app",
        {
            "_editable_impl_hatch_app.pth": b"import _editable_impl_hatch_app",
            "_editable_impl_hatch_app.py": impl,
        },
    )
    assert _names(layer) == {"hatch_app": ("hatch_app",)}


def test_a_regular_dist_with_a_pth_keeps_its_record_names() -> None:
    layer = dist(VENV, "six", "1.16.0", {"six.py": b"", "extra.pth": b"/app\n"})
    assert _names(layer) == {"six": ("six",)}
