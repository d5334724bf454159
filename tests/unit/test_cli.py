"""The command line as users run it: reports on stdout, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.builders import Layer, make_image, truncate_file
from tests.helpers import run_cli, validate
from tests.unit.image.test_sources import CONFIG, HISTORY


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, timeout=120)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return make_image(
        tmp_path, HISTORY, layout="docker-oci", compression="gzip", config=CONFIG
    ).path


@pytest.mark.parametrize("command", ["inventory", "layers"])
def test_json_follows_the_shipped_schema(archive: Path, tmp_path: Path, command: str) -> None:
    result = run(command, str(archive), "--format", "json", "--cache-dir", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    validate(doc, "inventory")
    assert doc["schema_version"] == 1
    assert doc["image"]["ref"] == str(archive)
    assert [d["name"] for d in doc["python"]] == ["idna"]
    assert doc["python"][0]["layer"] == {
        "index": 0,
        "created_by": "/bin/sh -c #(nop) ADD file:abc in / ",
        "diff_id": doc["image"]["layers"][0]["diff_id"],
    }
    assert doc["removed"][0]["name"] == "six"


def test_schema_rejects_a_document_missing_a_promised_field(archive: Path) -> None:
    doc = json.loads(run("inventory", str(archive), "--format", "json", "--no-cache").stdout)
    del doc["python"][0]["layer"]
    with pytest.raises(jsonschema.ValidationError):
        validate(doc, "inventory")


def test_json_is_deterministic(archive: Path, tmp_path: Path) -> None:
    cold = run("inventory", str(archive), "--format", "json", "--cache-dir", str(tmp_path / "c"))
    warm = run("inventory", str(archive), "--format", "json", "--cache-dir", str(tmp_path / "c"))
    assert (cold.returncode, warm.returncode) == (0, 0), cold.stderr + warm.stderr
    assert json.loads(cold.stdout)["image"]["ref"] == str(archive)  # two failed runs agree too
    assert cold.stdout == warm.stdout


def test_tables_for_people(archive: Path) -> None:
    layers = run("layers", str(archive), "--no-cache", "-v")
    assert layers.returncode == 0
    assert "pip uninstall -y six" in layers.stdout
    assert "-six 1.16.0" in layers.stdout
    assert "read from docker save archive" in layers.stdout
    inv = run("inventory", str(archive), "--no-cache")
    assert inv.returncode == 0
    assert "idna" in inv.stdout
    assert "Removed by a later layer" in inv.stdout
    assert "\x1b[" not in inv.stdout  # NO_COLOR and a pipe: no escape codes


def test_output_file(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run("inventory", str(archive), "--format", "json", "-o", str(out), "--no-cache")
    assert result.returncode == 0
    assert result.stdout == ""
    assert json.loads(out.read_text())["schema_version"] == 1


def _assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("imagecheck:")
    assert text in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_inputs_are_one_line_and_exit_2(tmp_path: Path) -> None:
    _assert_one_line_error(run("inventory", str(tmp_path / "x.tar")), 2, "no such file")
    built = make_image(tmp_path, [Layer([])], layout="docker-legacy")
    truncate_file(built.path, 0.3)
    _assert_one_line_error(
        run("inventory", f"docker-archive:{built.path}", "--no-cache"),
        2,
        f"{built.path} is not a readable tar archive",
    )
    _assert_one_line_error(
        run("inventory", str(tmp_path), "--no-cache"), 2, "not an OCI image layout"
    )
    _assert_one_line_error(
        run("inventory", "x", "--platform", "linux"), 2, "--platform wants os/arch"
    )


def test_engine_unreachable_is_exit_3() -> None:
    result = run("inventory", "docker:backend", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    _assert_one_line_error(result, 3, "cannot reach the Docker engine")
    tcp = run("inventory", "docker:backend", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    _assert_one_line_error(tcp, 3, "cannot reach the Docker engine")


def test_usage_errors() -> None:
    bare = run()
    assert bare.returncode == 2
    assert bare.stderr.startswith("usage: imagecheck [-h] [--version] COMMAND ...")
    # exit 2 for the option itself, before the missing image "x" (also exit 2) is looked at
    xml = run("inventory", "--format", "xml", "x")
    assert xml.returncode == 2
    assert "argument --format: invalid choice: 'xml'" in xml.stderr
    version = run("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("imagecheck ")


def test_check_exit_codes_json_and_junit(tmp_path: Path) -> None:
    from tests.unit.test_suite import PY, dist

    built = make_image(
        tmp_path,
        [Layer(PY), Layer(dist("passlib", "1.7.4") + dist("bcrypt", "4.2.0"))],
        layout="oci-dir",
        config={"Cmd": ["python3"]},
    )
    pins = tmp_path / "pins.txt"
    pins.write_text("passlib==1.7.4\nbcrypt==4.2.0\n")
    base = [str(built.path), "-c", str(pins), "--no-cache"]
    ok = run(*base, "--format", "json")  # plain ``imagecheck TARGET`` is ``check``
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    validate(doc, "report")
    assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("IC301", "warning")]
    assert run("check", *base, "--fail-on", "warning").returncode == 1
    assert run("check", *base, "--ignore", "IC3", "--fail-on", "warning").returncode == 0
    xml = run("check", *base, "--format", "junit", "--fail-on", "warning")
    assert xml.returncode == 1
    assert "<testsuites>" in xml.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text("passlib==1.7.4\n===\n")
    _assert_one_line_error(run("check", str(built.path), "-c", str(bad)), 2, "bad.txt:2")


def test_options_before_the_command(archive: Path, tmp_path: Path) -> None:
    """Global options anywhere, as docker and git users type them."""
    after = run("inventory", str(archive), "--format", "json", "--no-cache")
    assert after.returncode == 0, after.stderr
    for argv in (
        ("--format", "json", "inventory", str(archive), "--no-cache"),
        ("--format=json", "--no-cache", "inventory", str(archive)),
        ("--no-cache", "inventory", "--format", "json", str(archive)),
    ):
        before = run(*argv)
        assert before.returncode == 0, (argv, before.stderr)
        assert before.stdout == after.stdout
    # an option whose value is a command word takes that word as its value
    out = tmp_path / "check"
    written = run("-o", str(out), "--format", "json", "layers", str(archive), "--no-cache")
    assert written.returncode == 0, written.stderr
    assert json.loads(out.read_text())["schema_version"] == 1
    # without a command word it is ``imagecheck TARGET``: check, options first
    implicit = run("--format", "json", "--no-smoke", str(archive), "--no-cache")
    usual = run(str(archive), "--format", "json", "--no-smoke", "--no-cache")
    assert (implicit.returncode, implicit.stderr) == (usual.returncode, usual.stderr)
    assert json.loads(implicit.stdout)["image"]["ref"] == str(archive)
    # compose options before triage reach triage (here: a compose file that is not there)
    missing = tmp_path / "nope.yml"
    _assert_one_line_error(run("-f", str(missing), "triage", "backend"), 2, "nope.yml")
    # an option the command does not have is still refused, naming it
    wrong = run("--tail", "5", "layers", str(archive))
    assert wrong.returncode == 2
    assert "--tail" in wrong.stderr


NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent.sock"}


def run_in(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=folder, env=env, timeout=120)


def _project(tmp_path: Path) -> Path:
    """compose.yaml at the root, backend/ holding the backend's build context."""
    (tmp_path / "compose.yaml").write_text(
        "name: shop\nservices:\n  backend:\n    build: ./backend\n  db:\n    image: postgres:16\n"
    )
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    return tmp_path


def test_a_service_beside_its_build_folder_is_the_service(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    result = run_in(folder, "backend", "--format", "json", "--no-cache", env=NO_ENGINE)
    assert result.returncode == 3, result.stderr  # the engine is down: what compose says
    assert "not an OCI image layout" not in result.stderr
    doc = json.loads(result.stdout)
    assert (doc["triage"]["project"], doc["triage"]["service"]) == ("shop", "backend")
    assert doc["triage"]["build_context"] == str(folder / "backend")
    # a word that is no service lists the services, folder or not
    (folder / "frontend").mkdir()
    other = run_in(folder, "frontend", env=NO_ENGINE)
    assert other.returncode == 2
    assert "backend" in other.stderr, other.stderr
    assert "db" in other.stderr, other.stderr
    # a folder spelled as a path is an image or an error, never a service
    path = run_in(folder, "inventory", "./backend", env=NO_ENGINE)
    _assert_one_line_error(path, 2, "not an OCI image layout")


def test_a_service_that_is_also_an_image_says_which_was_chosen(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    (folder / "backend" / "Dockerfile").unlink()
    (folder / "backend").rmdir()
    built = make_image(folder, HISTORY, layout="oci-dir", config=CONFIG)
    built.path.rename(folder / "backend")
    result = run_in(folder, "backend", "--format", "json", "--no-cache", env=NO_ENGINE)
    assert json.loads(result.stdout)["triage"]["service"] == "backend"
    notes = [line for line in result.stderr.splitlines() if "checking the service" in line]
    want = (
        "imagecheck: backend is a service of compose project shop and an OCI layout folder: "
        "checking the service; 'imagecheck check oci-dir:backend' checks the image"
    )
    assert notes == [want], result.stderr
    layout = run_in(folder, "inventory", "oci-dir:backend", "--format", "json", "--no-cache")
    assert layout.returncode == 0, layout.stderr
    assert [d["name"] for d in json.loads(layout.stdout)["python"]] == ["idna"]
    assert layout.stderr == ""


@pytest.fixture
def big_archive(tmp_path: Path) -> Path:
    """An image whose report is far longer than a pipe's buffer (64 kB)."""
    from tests.unit.test_suite import PY, dist

    dists = [f for n in range(1500) for f in dist(f"package-number-{n:04d}", "1.0.0")]
    built = make_image(tmp_path, [Layer(PY), Layer(dists)], layout="docker-oci")
    return built.path


def _piped_into_head(*args: str, cwd: Path) -> tuple[int, str, str]:
    """``imagecheck ARGS | head -3``: the reader takes three lines and goes away."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagecheck", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()  # as head exits: every later write meets a closed pipe
    err = proc.stderr.read()
    code = proc.wait(timeout=120)
    return code, b"".join(head).decode(), err.decode()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("check", "--no-smoke", "-c", "pins.txt"), 0),  # 1499 x IC103 (info): unpinned
        (("check", "--no-smoke", "-c", "pins.txt", "--fail-on", "info"), 1),
        (("check", "--no-smoke", "-c", "pins.txt", "--fail-on", "info", "--format", "json"), 1),
        (("inventory",), 0),
        (("inventory", "--format", "json"), 0),
    ],
)
def test_a_closed_pipe_is_no_failure(
    big_archive: Path, tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    command, *rest = args
    (tmp_path / "pins.txt").write_text("package-number-0000==1.0.0\n")
    full = run_in(tmp_path, command, str(big_archive), *rest, "--no-cache")
    assert full.returncode == code, full.stderr
    assert len(full.stdout) > 100_000  # the pipe fills up: writes after the close fail
    got, head, err = _piped_into_head(command, str(big_archive), *rest, "--no-cache", cwd=tmp_path)
    assert (got, err) == (code, "")  # the verdict's code, nothing said, no traceback
    assert head == "".join(full.stdout.splitlines(keepends=True)[:3])


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """What ``imagecheck ARGS`` writes to a real terminal (a pseudo-terminal)."""
    import pty

    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environ.update({"TERM": "xterm-256color", "COLUMNS": "200", **env})
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagecheck", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=environ,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode()


def _colours(text: str) -> set[int]:
    """The colour codes (SGR 30-38, 40-48, 90-107) among the escape sequences of ``text``."""
    import re

    found = set()
    for params in re.findall(r"\x1b\[([\d;]*)m", text):
        found |= {int(p) for p in params.split(";") if p}
    return {p for p in found if 30 <= p <= 48 or 90 <= p <= 107}


def test_colour_on_a_terminal_unless_no_color(archive: Path) -> None:
    args = ["layers", str(archive), "--no-cache"]  # +idna in green, -six in red
    coloured = _on_a_terminal(args, {})
    assert "idna" in coloured
    assert _colours(coloured)
    plain = _on_a_terminal(args, {"NO_COLOR": "1"})
    assert "idna" in plain
    assert not _colours(plain)  # bold and italic may stay, as NO_COLOR allows
