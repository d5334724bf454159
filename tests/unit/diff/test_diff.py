"""``imagecheck diff`` on real archives built in tmp_path: each kind of change, the JSON
schema, Markdown, the exit codes, and what an unchanged kind shows (nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from imagecheck.api import Options, diff
from imagecheck.cli import main
from imagecheck.diff import FileState, command_key, compare_debian, compare_files
from imagecheck.model import FileChange, ImageDiff
from imagecheck.report import diff_document, diff_markdown, render_diff
from tests.builders import SITE, BuiltImage, Empty, F, Layer, dist_info, make_image, under
from tests.elfbuild import elf_so
from tests.helpers import schema, validate

BASE_CMD = "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / "
STATUS = """\
Package: libc6
Status: install ok installed
Version: {libc}
Architecture: amd64

Package: zlib1g
Status: install ok installed
Version: 1:1.2.13.dfsg-1
Architecture: amd64
{extra}"""
SSL_STATUS = (
    "\nPackage: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1\nArchitecture: amd64\n"
)
INI = "[alembic]\nscript_location = migrations\n"
VENV = "opt/venv/lib/python3.11/site-packages"


def revision(rev: str, down: str | None, message: str) -> bytes:
    text = (
        f'"""{message}\n\nRevision ID: {rev}\n"""\nrevision = {rev!r}\ndown_revision = {down!r}\n'
    )
    return text.encode()


def base_layer(libc: str = "2.36-9", extra: str = "") -> Layer:
    status = STATUS.format(libc=libc, extra=extra).encode()
    return Layer(
        [
            F("var/lib/dpkg/status", status),
            F("usr/lib/x86_64-linux-gnu/libz.so.1.2.13", elf_so(soname="libz.so.1")),
            F("usr/lib/x86_64-linux-gnu/libz.so.1", kind="symlink", link="libz.so.1.2.13"),
        ],
        BASE_CMD,
    )


def build(
    folder: Path,
    layers: list[Layer | Empty],
    config: dict[str, object] | None = None,
    layout: str = "docker-legacy",
) -> BuiltImage:
    folder.mkdir()
    return make_image(folder, layers, config=config, layout=layout)


def run_diff(old: BuiltImage, new: BuiltImage, tmp_path: Path) -> ImageDiff:
    return diff(str(old.path), str(new.path), Options(cache_dir=tmp_path / "cache"))


def test_two_builds_of_one_dockerfile(tmp_path: Path) -> None:
    """Every kind in one pair: a pip step rebuilt with other versions, a layer added and
    one removed, a Debian upgrade, a library added, the app's files, the config, alembic."""
    pip_old = under(SITE, dist_info("requests", "2.31.0") | dist_info("idna", "3.4"))
    pip_old += under(SITE, dist_info("six", "1.16.0") | dist_info("urllib3", "2.0.0"))
    pip_old += under(VENV, dist_info("requests", "2.30.0")) + under(SITE, dist_info("odd", "1-x"))
    pip_new = under(SITE, dist_info("requests", "2.32.3") | dist_info("idna", "3.4"))
    pip_new += under(SITE, dist_info("urllib3", "1.26.18") | dist_info("fastapi", "0.111.0"))
    pip_new += under(VENV, dist_info("requests", "2.30.0")) + under(SITE, dist_info("odd", "1-y"))
    app_old = [
        F("app/main.py", b"print('one')\n"),
        F("app/requirements.txt", b"requests==2.31.0\n"),
        F("app/same.py", b"x = 1\n"),
        F("app/gone.py", b"y = 1\n"),
        F("app/alembic.ini", INI.encode()),
        F("app/migrations/versions/a1.py", revision("a1a1", None, "add users")),
        F("app/__pycache__/main.cpython-311.pyc", b"\0" * 10),
        F("app/current", kind="symlink", link="main.py"),
    ]
    app_new = [
        F("app/main.py", b"print('two')\n"),  # same size, other bytes: sha256 says
        F("app/requirements.txt", b"requests==2.32.3\n"),  # kept bytes say
        F("app/same.py", b"x = 1\n"),
        F("app/new.py", b"z = 1\n"),
        F("app/alembic.ini", INI.encode()),
        F("app/migrations/versions/a1.py", revision("a1a1", None, "add users")),
        F("app/migrations/versions/b2.py", revision("b2b2", "a1a1", "add role column")),
        F("app/__pycache__/main.cpython-311.pyc", b"\1" * 20),
        F("app/current", kind="symlink", link="same.py"),
    ]
    ssl = [F("usr/lib/x86_64-linux-gnu/libssl.so.3", elf_so(soname="libssl.so.3"))]
    old = build(
        tmp_path / "old",
        [
            base_layer(),
            Layer(pip_old, "/bin/sh -c pip install -r requirements.txt"),
            Layer([F("tmp/build-only", b"x")], "/bin/sh -c touch /tmp/build-only"),
            Layer(app_old, "/bin/sh -c #(nop) COPY dir:" + "b" * 64 + " in /app "),
            Empty('/bin/sh -c #(nop)  CMD ["python3", "main.py"]'),
        ],
        {
            "Cmd": ["python3", "main.py"],
            "Env": ["PATH=/usr/bin", "MODE=dev", "GONE=1"],
            "WorkingDir": "/app",
            "ExposedPorts": {"8000/tcp": {}},
            "Labels": {"org.opencontainers.image.version": "1.0", "team": "web"},
        },
    )
    new = build(
        tmp_path / "new",
        [
            base_layer(
                libc="2.36-9+deb12u4",
                extra=SSL_STATUS,
            ),
            Layer(ssl, "/bin/sh -c apt-get install -y libssl3"),
            Layer(pip_new, "/bin/sh -c pip install -r requirements.txt"),
            Layer(app_new, "/bin/sh -c #(nop) COPY dir:" + "c" * 64 + " in /app "),
        ],
        {
            "Entrypoint": ["/app/entrypoint.sh"],
            "Cmd": ["uvicorn", "app.main:app"],
            "Env": ["PATH=/usr/bin", "MODE=prod", "NEW=1"],
            "WorkingDir": "/app",
            "User": "app",
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"org.opencontainers.image.version": "1.1", "team": "web"},
        },
    )
    d = run_diff(old, new, tmp_path)

    assert [(x.status, command_key(x.created_by)) for x in d.layers] == [
        ("rebuilt", "ADD file: in /"),
        ("added", "/bin/sh -c apt-get install -y libssl3"),
        ("rebuilt", "/bin/sh -c pip install -r requirements.txt"),
        ("removed", "/bin/sh -c touch /tmp/build-only"),
        ("rebuilt", "COPY dir: in /app"),
    ]
    site = "/" + SITE
    assert [(c.name, c.change, c.old_version, c.new_version, c.where) for c in d.python] == [
        ("fastapi", "added", None, "0.111.0", site),
        ("odd", "changed", "1-x", "1-y", site),  # no PEP 440 version: no order
        ("requests", "upgraded", "2.31.0", "2.32.3", site),
        ("six", "removed", "1.16.0", None, site),
        ("urllib3", "downgraded", "2.0.0", "1.26.18", site),
    ]  # idna kept, and the venv's requests unchanged in its own environment
    assert [(c.name, c.change, c.old_version, c.new_version) for c in d.debian] == [
        ("libc6", "upgraded", "2.36-9", "2.36-9+deb12u4"),
        ("libssl3", "added", None, "3.0.11-1"),
    ]
    assert [(c.soname, c.change, c.new_paths) for c in d.libraries] == [
        ("libssl.so.3", "added", ("/usr/lib/x86_64-linux-gnu/libssl.so.3",)),
    ]
    assert [(f.path, f.change, f.basis) for f in d.files] == [
        ("/app/current", "changed", "link"),
        ("/app/gone.py", "removed", ""),
        ("/app/main.py", "changed", "sha256"),
        ("/app/migrations/versions/b2.py", "added", ""),
        ("/app/new.py", "added", ""),
        ("/app/requirements.txt", "changed", "bytes"),
    ]  # same.py, alembic.ini, a1.py unchanged; byte code never compared
    assert d.file_roots == ("/app", "/opt")  # /opt holds only a site folder here
    assert d.files_unverified == 0
    assert [(c.field, c.key, c.old, c.new) for c in d.config] == [
        ("entrypoint", "", None, '["/app/entrypoint.sh"]'),
        ("cmd", "", '["python3", "main.py"]', '["uvicorn", "app.main:app"]'),
        ("user", "", None, "app"),
        ("env", "GONE", "1", None),
        ("env", "MODE", "dev", "prod"),
        ("env", "NEW", None, "1"),
        ("labels", "org.opencontainers.image.version", "1.0", "1.1"),
        ("exposed_ports", "8000/tcp", "exposed", None),
        ("exposed_ports", "8080/tcp", None, "exposed"),
    ]
    [alembic] = d.alembic
    assert alembic.config == "/app/alembic.ini"
    assert (alembic.old_heads, alembic.new_heads) == (
        ("a1a1 (add users)",),
        ("b2b2 (add role column)",),
    )
    assert (alembic.added, alembic.removed) == (("b2b2 (add role column)",), ())

    doc = json.loads(json.dumps(diff_document(d)))
    validate(doc, "diff")
    assert doc["counts"]["python"] == {
        "added": 1,
        "changed": 1,
        "downgraded": 1,
        "removed": 1,
        "upgraded": 1,
    }
    assert doc["counts"]["layers"] == {"added": 1, "rebuilt": 3, "removed": 1}
    text = diff_markdown(d)
    assert "| upgraded | requests | 2.31.0 | 2.32.3 |" in text
    assert "### Alembic: 1 configs" in text


def test_one_image_in_two_layouts_has_no_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A docker archive and an OCI layout of the same layers: every layer kept, no section
    shown but the line that says so; exit 0."""
    layers: list[Layer | Empty] = [
        base_layer(),
        Layer(under(SITE, dist_info("requests", "2.31.0")), "/bin/sh -c pip install requests"),
        Layer([F("srv/app.py", b"print(1)\n")], "COPY app.py /srv/app.py # buildkit"),
    ]
    config: dict[str, object] = {"Cmd": ["python3", "/srv/app.py"]}
    old = build(tmp_path / "old", layers, config)
    new = build(tmp_path / "new", layers, config, layout="oci-dir")
    d = run_diff(old, new, tmp_path)
    assert not d.changed
    assert {x.status for x in d.layers} == {"kept"}
    assert d.files_compared == 1
    code = main(["diff", str(old.path), f"oci-dir:{new.path}", "--cache-dir", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert code == 0
    assert "no changes" in out
    assert "Python distributions" not in out
    assert "Layers" not in out


def test_the_cli_writes_json_and_exits_zero_on_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = build(tmp_path / "old", [base_layer()], {"Cmd": ["a"]})
    new = build(tmp_path / "new", [base_layer(libc="2.37-1")], {"Cmd": ["b"]})
    code = main(["diff", str(old.path), str(new.path), "--format", "json", "--no-cache"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    validate(doc, "diff")
    assert doc["schema_version"] == 1
    assert [c["name"] for c in doc["debian"]] == ["libc6"]
    assert doc["config"] == [{"field": "cmd", "key": "", "old": '["a"]', "new": '["b"]'}]
    assert main(["diff", str(old.path), str(new.path), "--format", "sarif"]) == 2
    assert "table, json or markdown" in capsys.readouterr().err


def test_a_bad_target_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = build(tmp_path / "old", [base_layer()])
    assert main(["diff", str(old.path), str(tmp_path / "missing.tar"), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "missing.tar" in err
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a tar at all" * 100)
    assert main(["diff", f"docker-archive:{broken}", str(old.path), "--no-cache"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_the_workdir_under_usr_is_the_applications(tmp_path: Path) -> None:
    """WORKDIR /usr/src/app holds the app; the rest of /usr and the venv are not compared."""
    old = build(
        tmp_path / "old",
        [
            Layer(
                [F("usr/src/app/main.py", b"a"), F("usr/bin/tool", b"1"), F("opt/venv/bin/x", b"1")]
            )
        ],
        {"WorkingDir": "/usr/src/app"},
    )
    new = build(
        tmp_path / "new",
        [
            Layer(
                [
                    F("usr/src/app/main.py", b"ab"),
                    F("usr/bin/tool", b"22"),
                    F("opt/venv/bin/x", b"22"),
                    F("opt/venv/pyvenv.cfg", b"home = /usr/bin\n"),
                ]
            )
        ],
        {"WorkingDir": "/usr/src/app"},
    )
    d = run_diff(old, new, tmp_path)
    assert d.file_roots == ("/opt", "/usr/src/app")
    assert [(f.path, f.change, f.basis) for f in d.files] == [
        ("/usr/src/app/main.py", "changed", "size")
    ]


def state(size: int, layer: str, sha: str | None = None, kind: str = "f") -> FileState:
    return FileState(kind, size, 0o644, "", layer, sha, "sha256" if sha else "")


def test_files_nothing_can_tell_apart_are_counted_unverified() -> None:
    """Equal sizes in other layers without a digest (an engine read by export): unchanged,
    but counted, never shown as a change."""
    old = {"/app/a": state(5, "sha256:1"), "/app/b": state(5, "sha256:1", "x")}
    new = {"/app/a": state(5, "sha256:2"), "/app/b": state(5, "sha256:2", "x")}
    assert compare_files(old, new) == ((), 2, 1)
    new["/app/b"] = state(5, "sha256:2", "y")
    changes, _, _ = compare_files(old, new)
    assert [(c.path, c.basis) for c in changes] == [("/app/b", "sha256")]


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        ("1.0", "1.0", 0),
        ("1.0~rc1", "1.0", -1),  # a tilde sorts before the end
        ("1:1.0", "2.0", 1),  # the epoch first
        ("2.36-9", "2.36-9+deb12u4", -1),
        ("1.2.13.dfsg-1", "1.2.3-1", 1),  # numbers as numbers
        ("1.0a", "1.0+", -1),  # letters before other characters
        ("3.0.11-1", "3.0.11-1~deb12u2", 1),
    ],
)
def test_debian_version_order(a: str, b: str, order: int) -> None:
    assert compare_debian(a, b) == order
    assert compare_debian(b, a) == -order


def test_commands_match_across_builders_and_copied_content() -> None:
    legacy = "/bin/sh -c #(nop) COPY file:" + "e" * 64 + " in /app/main.py "
    assert command_key(legacy) == "COPY file: in /app/main.py"
    assert command_key("RUN |1 V=2 /bin/sh -c make # buildkit") == "RUN /bin/sh -c make"


def test_the_triage_reports_changes_are_the_diff_document() -> None:
    """report.schema.json's ``triage.changes`` is diff.schema.json without its header: the
    two copies cannot drift apart."""
    diff_schema = schema("diff")
    changes = schema("report")["properties"]["triage"]["properties"]["changes"]
    header = {"schema_version", "tool"}
    assert changes["properties"] == {
        k: v for k, v in diff_schema["properties"].items() if k not in header
    }
    assert changes["required"] == [r for r in diff_schema["required"] if r not in header]


def test_a_long_file_list_is_cut_without_verbose() -> None:
    files = tuple(FileChange(f"/app/f{n:02}.py", "added", "", None, 1) for n in range(60))
    d = ImageDiff("a", "sha256:1", "b", "sha256:2", (), (), (), (), files, (), ())
    console = Console(width=120, record=True, no_color=True)
    render_diff(console, d)
    text = console.export_text()
    assert "/app/f49.py" in text
    assert "/app/f50.py" not in text
    assert "10 more: -v lists them" in text
    render_diff(console, d, verbose=True)
    assert "/app/f59.py" in console.export_text()
