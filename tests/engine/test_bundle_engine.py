"""``--bundle`` against the real engine: a compose v1 stack (PostgreSQL from Debian's
package, a backend that prints its DSN, its password and a bearer token, then crashes),
real logs, real inspect output; and ``check docker:IMAGE --bundle`` of an image with a
secret in its ENV. Every byte of every member (gzip-decompressed) is scanned for each
planted secret. The stack is taken down (``down -v``) and the image removed at the end."""

from __future__ import annotations

import gzip
import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imagecheck.cli import main
from tests.helpers import validate

from .conftest import Builder
from .test_triage_engine import _compose, _up_until

pytestmark = pytest.mark.engine

SECRETS = {
    "env_file": "EnvFileDbPw-5e21",  # the database's password, from its env_file
    "dot_env": "DotEnvUrlPw-03ad",  # .env, interpolated into the backend's DSN only
    "environment": "SessionSecret-9b7c",
    "command": "CmdFlagKey-d410",
    "label": "LabelToken-77e2",
    "compose_secret": "SecretFileTok-1a6f",
}
#: Prints every secret it has, as careless start-up code does, then crashes on the DSN.
SCRIPT = """\
import os, sys
dsn = os.environ["DATABASE_URL"]
token = open("/run/secrets/api_token").read().strip()
print("INFO:     connecting to", dsn, flush=True)
print("DEBUG: GET /me Authorization: Bearer " + token, flush=True)
print("the session secret is", os.environ["SESSION_SECRET"], "and my args", sys.argv[1:])
print("database", os.environ["POSTGRES_DB"], "as", os.environ["POSTGRES_USER"], flush=True)
raise RuntimeError("cannot connect to " + dsn)
"""
STACK = """\
version: "3.9"
services:
  db:
    image: {postgres}
    labels: {{imagecheck.test: "1"}}
    env_file: [db.env]
    environment: {{POSTGRES_USER: appuser, POSTGRES_DB: appdb}}
    healthcheck:
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "appuser", "-d", "appdb"]
      interval: 1s
      retries: 60
  backend:
    image: {base}
    labels:
      imagecheck.test: "1"
      com.example.api-token: {label}
    command: ["python3", "-c", {script}, "--api-key", "{command}"]
    environment:
      DATABASE_URL: postgresql://appuser:${{DB_PASSWORD}}@db/appdb
      SESSION_SECRET: {environment}
      POSTGRES_DB: appdb
      POSTGRES_USER: appuser
    secrets: [api_token]
    depends_on:
      db: {{condition: service_healthy}}
secrets:
  api_token:
    file: ./api_token.txt
"""


def _members(path: Path) -> tuple[bytes, dict[str, bytes]]:
    raw = gzip.decompress(path.read_bytes())
    with tarfile.open(path, "r:gz") as tar:
        files = {}
        for member in tar:
            handle = tar.extractfile(member)
            assert handle is not None
            files[member.name] = handle.read()
    return raw, files


def _no_secret(raw: bytes, files: dict[str, bytes], secrets: dict[str, str]) -> None:
    for where, secret in secrets.items():
        for name, data in files.items():
            assert secret.encode() not in data, f"the {where} secret reached {name}"
        assert secret.encode() not in raw, f"the {where} secret reached the tarball"


@pytest.fixture
def crashed_stack(
    client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_image: str,
    base_image: str,
) -> Iterator[tuple[str, Path]]:
    """The stack up; yielded once the backend has crashed with its whole log written."""
    project = f"icbundle{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "stack"
    folder.mkdir()
    (folder / ".env").write_text(f"DB_PASSWORD={SECRETS['dot_env']}\n")
    (folder / "db.env").write_text(f"POSTGRES_PASSWORD={SECRETS['env_file']}\n")
    (folder / "api_token.txt").write_text(SECRETS["compose_secret"] + "\n")
    (folder / "docker-compose.yml").write_text(
        STACK.format(
            postgres=postgres_image,
            base=base_image,
            script=json.dumps(SCRIPT),
            **SECRETS,
        )
    )
    monkeypatch.chdir(folder)
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", project)

    def crashed(backend: Any) -> bool:  # and its whole log written
        return backend.status == "exited" and b"RuntimeError" in backend.logs()

    try:
        _up_until(client, project, folder, crashed, 120)
        yield project, folder
    finally:
        _compose(project, folder, "down", "-v")


def test_a_crashed_services_bundle_has_its_logs_and_inspect_and_no_secret(
    client: Any,
    crashed_stack: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, _ = crashed_stack
    out = tmp_path / "bug.tar.gz"
    args = ["backend", "--bundle", str(out), "--no-smoke", "--cache-dir", str(tmp_path / "c")]
    code = main([*args, "--format", "json"])
    _, stderr = capsys.readouterr()
    assert code == 1, stderr  # the backend exited with an error
    assert f"bundle written to {out}" in stderr
    raw, files = _members(out)
    _no_secret(raw, files, SECRETS)

    backend, db = f"containers/{project}_backend_1", f"containers/{project}_db_1"
    assert set(files) == {
        "MANIFEST.json",
        "report.txt",
        "report.json",
        "compose/config.yaml",
        f"{backend}/inspect.json",
        f"{backend}/logs.txt",
        f"{db}/inspect.json",
        f"{db}/logs.txt",
        "image/inspect.json",
        "versions.json",
    }
    manifest = json.loads(files["MANIFEST.json"])
    validate(manifest, "bundle")
    assert {m["name"]: m["size"] for m in manifest["members"]} == {
        n: len(b) for n, b in files.items() if n != "MANIFEST.json"
    }
    keys = set(manifest["redaction"]["keys"])
    assert {"POSTGRES_PASSWORD", "SESSION_SECRET", "com.example.api-token", "api-key"} <= keys

    logs = files[f"{backend}/logs.txt"].decode()
    assert "INFO:     connecting to postgresql://appuser:[REDACTED]@db/appdb" in logs
    assert "Authorization: Bearer [REDACTED]" in logs
    assert "RuntimeError: cannot connect to postgresql://appuser:[REDACTED]@db/appdb" in logs
    assert "database appdb as appuser" in logs  # no over-redaction
    assert b"database system is ready to accept connections" in files[f"{db}/logs.txt"]

    inspect = json.loads(files[f"{backend}/inspect.json"])
    assert inspect["Name"] == f"/{project}_backend_1"
    assert "POSTGRES_DB=appdb" in inspect["Config"]["Env"]
    assert "SESSION_SECRET=[REDACTED]" in inspect["Config"]["Env"]
    db_env = json.loads(files[f"{db}/inspect.json"])["Config"]["Env"]
    assert "POSTGRES_PASSWORD=[REDACTED]" in db_env

    report = json.loads(files["report.json"])
    validate(report, "report")
    assert report["triage"]["status"] == "exited"
    assert "FAIL" in files["report.txt"].decode()
    assert "\x1b[" not in files["report.txt"].decode()  # no colour
    config = files["compose/config.yaml"].decode()
    assert "DATABASE_URL: postgresql://appuser:[REDACTED]@db/appdb" in config
    assert "file: ./api_token.txt" in config
    versions = json.loads(files["versions.json"])
    assert versions["engine"] == client.version()["Version"]
    assert versions["imagecheck"] == manifest["imagecheck"]

    # a second run never replaces the first unless asked
    assert main([*args]) == 2
    assert "exists; remove it or pass --force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 1
    assert sorted(p.name for p in out.parent.glob("*.tar.gz*")) == ["bug.tar.gz"]  # no .part


PLANTED_DOCKERFILE = """\
FROM BASE
LABEL imagecheck.test=1 com.example.signing-secret=ImgLabelSecret-4f0e
ENV SECRET_KEY=ImgEnvSecret-8c3b APP_NAME=bundle-demo
"""


@pytest.fixture(scope="module")
def secret_image(build: Builder) -> str:
    return build("bundle-secret", PLANTED_DOCKERFILE, [])


def test_check_bundle_of_an_engine_image(
    secret_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "check.tar.gz"
    code = main(["check", f"docker:{secret_image}", "--no-smoke", "--bundle", str(out)])
    assert code in (0, 1), capsys.readouterr().err  # the base image has findings of its own
    raw, files = _members(out)
    _no_secret(raw, files, {"env": "ImgEnvSecret-8c3b", "label": "ImgLabelSecret-4f0e"})
    assert set(files) == {
        "MANIFEST.json",
        "report.txt",
        "report.json",
        "image/inspect.json",
        "versions.json",
    }
    image = json.loads(files["image/inspect.json"])
    assert "APP_NAME=bundle-demo" in image["Config"]["Env"]
    assert "SECRET_KEY=[REDACTED]" in image["Config"]["Env"]
    assert secret_image.encode() in files["report.json"]
    validate(json.loads(files["MANIFEST.json"]), "bundle")
