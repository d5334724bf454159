"""The bug-report bundle without an engine: redaction by key, URL, header and flag, and of
learnt values everywhere; a real compose project's resolved config; the tarball written
atomically, never over a file, its manifest valid. Secrets are planted in every place and
every byte of the written tarball (gzip-decompressed) is scanned for them."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from pathlib import Path

import pytest

from imagecheck.cli import main
from imagecheck.errors import BadInput
from imagecheck.model import Finding, Inventory, Report, TriageRun
from imagecheck.triage import Member, Redactor, evidence, load_config, write_bundle
from imagecheck.triage.bundle import MANIFEST, bounded
from imagecheck.triage.redact import (
    DESCRIBING_WORDS,
    MARK,
    PUBLIC_KEYS,
    SECRET_SUFFIXES,
    SECRET_WORDS,
    secret_key,
)
from tests.helpers import validate

#: One secret per place it is planted; none may reach the bundle.
SECRETS = {
    "env_file": "EnvFilePw-8d1f",
    "environment": "ComposeEnvSecret-4c2a",
    "dot_env": "DotEnvToken-77b0",
    "url": "UrlOnlyPw-a9e3",  # only ever inside a DSN (DATABASE_URL's key says nothing)
    "command": "CmdFlagKey-51c6",
    "label": "LabelSecret-0e4d",
    "compose_secret": "ComposeSecretFile-6f12",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.BearerTok-3b8a",
    "container_env": "InspectOnlyPw-2d95",
    "image_env": "ImageEnvKey-c07e",
}
#: Values that look like the secrets' neighbours and must survive.
KEPT = ("appdb", "appuser", "db-host", "ACCESS_TOKEN_EXPIRE_MINUTES=11520", "bookworm-slim")


def _members() -> list[Member]:
    """What evidence() gathers from a running stack, as the engine would answer."""
    inspect = {
        "Id": "c0ffee",
        "Name": "/demo-backend-1",
        "Config": {
            "Env": [
                f"POSTGRES_PASSWORD={SECRETS['container_env']}",
                "POSTGRES_DB=appdb",
                "ACCESS_TOKEN_EXPIRE_MINUTES=11520",
            ],
            "Labels": {"com.example.api-token": SECRETS["label"], "tier": "db-host"},
            "Cmd": ["app", "--api-key", SECRETS["command"], "--db", "appdb"],
        },
        "Args": [f"postgresql://appuser:{SECRETS['url']}@db-host/appdb"],
    }
    logs = "\n".join(
        [
            "INFO:     Started server process [1]",
            f"connecting to postgresql://appuser:{SECRETS['url']}@db-host:5432/appdb",
            f"DEBUG: got Authorization: Bearer {SECRETS['bearer']}",
            f"the database password is {SECRETS['container_env']} (do not log this)",
            f"retrying with key {SECRETS['command']}",
            # values only the compose files say are secrets, printed by a careless app
            f"started as {SECRETS['compose_secret']}",
            f"env: {SECRETS['env_file']} {SECRETS['dot_env']} {SECRETS['environment']}",
            f"labels say {SECRETS['label']}; the image says {SECRETS['image_env']}",
            'psycopg2.OperationalError: FATAL:  password authentication failed for user "appuser"',
        ]
    )
    return [
        Member("containers/demo-backend-1/inspect.json", "inspect", inspect, "json"),
        Member("containers/demo-backend-1/logs.txt", "logs", logs + "\n", limit=(1000, 1 << 18)),
        Member(
            "image/inspect.json",
            "image",
            {"Config": {"Env": [f"SECRET_KEY={SECRETS['image_env']}", "BASE=bookworm-slim"]}},
            "json",
        ),
    ]


def _tarball(path: Path) -> tuple[bytes, dict[str, bytes]]:
    raw = gzip.decompress(path.read_bytes())
    with tarfile.open(path, "r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    return raw, files


def _assert_clean(raw: bytes, files: dict[str, bytes]) -> None:
    for where, secret in SECRETS.items():
        for name, data in files.items():
            assert secret.encode() not in data, f"the {where} secret is in {name}"
        assert secret.encode() not in raw, f"the {where} secret is in the tarball"
        # no half of it either, from a cut or a wrap
        assert secret[: len(secret) // 2 + 2].encode() not in raw, where


def _project(tmp_path: Path) -> Path:
    tmp_path.mkdir()
    (tmp_path / ".env").write_text(
        f"API_TOKEN={SECRETS['dot_env']}\nDB_NAME=appdb\nDSN_PW={SECRETS['url']}\n"
    )
    (tmp_path / "backend.env").write_text(f"POSTGRES_PASSWORD={SECRETS['env_file']}\n")
    (tmp_path / "db_password.txt").write_text(SECRETS["compose_secret"] + "\n")
    (tmp_path / "compose.yaml").write_text(
        f"""\
name: demo
services:
  backend:
    image: demo/backend:latest
    command: ["app", "--api-key", "{SECRETS["command"]}", "--db", "${{DB_NAME}}"]
    env_file: [backend.env]
    environment:
      POSTGRES_DB: ${{DB_NAME}}
      SESSION_SECRET: {SECRETS["environment"]}
      DATABASE_URL: postgresql://appuser:${{DSN_PW}}@db-host/appdb
      UPSTREAM_TOKEN: ${{API_TOKEN}}
      ACCESS_TOKEN_EXPIRE_MINUTES: "11520"
    labels:
      com.example.api-token: {SECRETS["label"]}
    secrets: [db_password]
    depends_on: [db]
  db:
    image: postgres:16
    environment: ["POSTGRES_USER=appuser", "POSTGRES_PASSWORD_FILE=/run/secrets/db_password"]
secrets:
  db_password:
    file: ./db_password.txt
"""
    )
    return tmp_path


def _report(text: str) -> Report:
    inv = Inventory.placeholder("demo/backend:latest", "not read")
    run = TriageRun("backend", "demo", ("compose.yaml",), "crashlooping", text, log_tail=text)
    finding = Finding("IC702", "error", "backend", f"crashed: {text}", "read the log")
    return Report(inv, (finding,), (), triage=run)


# --- which keys are secrets' -----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "POSTGRES_PASSWORD",
        "PGPASSWORD",
        "MYSQL_ROOT_PASSWORD",
        "SECRET_KEY",
        "SECRET_KEY_BASE",
        "API_KEY",
        "apiKey",
        "GITHUB_TOKEN",
        "SENTRY_DSN",
        "AWS_SECRET_ACCESS_KEY",
        "com.example.api-token",
        "db-password",
        "REDIS_CREDENTIALS",
    ],
)
def test_secret_keys(key: str) -> None:
    assert secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "POSTGRES_DB",
        "POSTGRES_USER",
        "DATABASE_URL",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        "POSTGRES_PASSWORD_FILE",
        "PWD",
        "GPG_KEY",
        "PATH",
        "HOSTNAME",
        "MONKEY_BUSINESS",
    ],
)
def test_keys_that_are_no_secrets(key: str) -> None:
    assert not secret_key(key)


@pytest.mark.parametrize(
    ("line", "gone", "kept"),
    [
        ("postgresql://u:hunter2pw@h/db", "hunter2pw", "postgresql://u:[REDACTED]@h/db"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi", "Authorization: Bearer [REDACTED]"),
        ('{"authorization": "Basic dXNlcjpw"}', "dXNlcjpw", '"Basic [REDACTED]"'),
        ("app --db-password s3cr3tpw -v", "s3cr3tpw", "--db-password [REDACTED] -v"),
        ("msg=password=zzzz9999 ok", "zzzz9999", "msg=password=[REDACTED] ok"),
        ('{"password": "hunter22"}', "hunter22", '{"password": "[REDACTED]"}'),
        ('{"api_key":"k-0123456"}', "k-0123456", '{"api_key":"[REDACTED]"}'),
        ('export DB_PASSWORD="correct horse"', "horse", 'DB_PASSWORD="[REDACTED]"'),
        ("{'SECRET_KEY': 'a b c d', 'DEBUG': '1'}", "a b c d", "'DEBUG': '1'"),
        ("ENV SECRET_KEY=abc123 POSTGRES_DB=app", "abc123", "POSTGRES_DB=app"),
    ],
)
def test_patterns_in_text(line: str, gone: str, kept: str) -> None:
    out = Redactor().text(line)
    assert gone not in out
    assert kept in out


@pytest.mark.parametrize(
    "line",
    [
        'FATAL:  password authentication failed for user "app"',
        'print("GET /me Authorization: Bearer " + token)',  # the scheme is no credential
        "pulled docker:example/app-secret:7f06d203 from cache:5000",  # name:tag, host:port
    ],
)
def test_lines_about_secrets_are_kept(line: str) -> None:
    r = Redactor()
    assert r.text(line) == line
    assert r.known == 0


def test_a_redacted_value_is_redacted_once() -> None:
    r = Redactor()
    assert r.text("authorization: abcdef123") == "authorization: [REDACTED]"
    assert r.text("password: [REDACTED] x") == "password: [REDACTED] x"
    assert r.known == 1


def test_a_learnt_value_goes_everywhere_but_short_literals_do_not() -> None:
    r = Redactor()
    r.learn({"Env": ["DB_PASSWORD=Tr0ub4dor", "SECRET_ENABLED=true", "TOKEN=abc"]})
    assert r.text("login with Tr0ub4dor: true") == f"login with {MARK}: true"
    assert r.scrub(("TOKEN", "abc")) == ("TOKEN", MARK)  # still redacted at its key


def test_a_reference_is_no_value_to_search_for() -> None:
    r = Redactor()
    script = 'master_key=$(echo "$x")\nSECRET=${DB_PASSWORD}\napi_key=$master_key\n'
    assert r.text(script) == f'master_key=$(echo "$x")\nSECRET=${{DB_PASSWORD}}\napi_key={MARK}\n'
    assert r.known == 0
    assert r.text("echo $(date)") == "echo $(date)"


def test_an_environment_item_goes_whole_a_text_line_by_line() -> None:
    r = Redactor()
    pem = "PRIVATE_KEY=-----BEGIN KEY-----\nMIIEvQ-0123\n-----END KEY-----"
    assert r.scrub([pem, "A=1"]) == [f"PRIVATE_KEY={MARK}", "A=1"]
    assert "MIIEvQ-0123" not in r.text("the key was MIIEvQ-0123")
    script = "SECRET=Sc-01234567 ./run\necho done\n"
    assert r.text(script) == f"SECRET={MARK} ./run\necho done\n"


def test_a_report_dataclass_is_rebuilt_without_the_secret() -> None:
    report = _report("connect postgresql://app:Pw-0123456@db/app failed")
    clean = Redactor().scrub(report)
    assert isinstance(clean, Report)
    assert clean.triage is not None
    assert "Pw-0123456" not in repr(clean)
    assert "postgresql://app:[REDACTED]@db/app" in clean.findings[0].message


def test_the_readme_lists_every_pattern() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme.split("\n## Bug-report bundle\n", 1)[1].split("\n## ", 1)[0]
    for word in {*SECRET_WORDS, *SECRET_SUFFIXES, *DESCRIBING_WORDS, *PUBLIC_KEYS}:
        spelt = (f"`{word}`", f"`{word}(s)`", f"`{word.removesuffix('s')}(s)`")
        assert any(s in section for s in spelt), word


# --- the tarball -----------------------------------------------------------------------------


def test_no_planted_secret_reaches_any_member(tmp_path: Path) -> None:
    folder = _project(tmp_path / "project")
    config = load_config(folder, environ={})
    redactor = Redactor()
    found, notes = evidence(None, config, "backend", None, redactor, engine_error="down")
    report = _report(f"postgresql://appuser:{SECRETS['url']}@db-host/appdb refused")
    clean = redactor.scrub(report)
    text = Member("report.txt", "the report", repr(clean))
    out = tmp_path / "bug.tar.gz"
    done = write_bundle(out, [text, *_members(), *found], redactor, notes=notes)

    raw, files = _tarball(out)
    _assert_clean(raw, files)
    for value in KEPT:
        assert value.encode() in raw, f"{value} was over-redacted"
    assert next(iter(files)) == MANIFEST
    doc = json.loads(files[MANIFEST])
    validate(doc, "bundle")
    assert [m["name"] for m in doc["members"]] == list(files)[1:]
    assert {m["name"]: m["size"] for m in doc["members"]} == {
        n: len(b) for n, b in files.items() if n != MANIFEST
    }
    assert doc["redaction"]["count"] == done.redacted > 0
    assert {"POSTGRES_PASSWORD", "SESSION_SECRET", "com.example.api-token", "api-key"} <= set(
        doc["redaction"]["keys"]
    )
    assert "no Docker engine (down)" in doc["notes"][0]
    config_yaml = files["compose/config.yaml"].decode()
    assert "POSTGRES_DB: appdb" in config_yaml
    assert "file: ./db_password.txt" in config_yaml
    assert "postgresql://appuser:[REDACTED]@db-host/appdb" in config_yaml
    logs = files["containers/demo-backend-1/logs.txt"].decode()
    assert "connecting to postgresql://appuser:[REDACTED]@db-host:5432/appdb" in logs
    assert 'password authentication failed for user "appuser"' in logs
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_a_log_is_cut_after_the_scrub_and_the_manifest_says_so(tmp_path: Path) -> None:
    secret = "LongSecretValue-9911"  # noqa: S105 - planted to be redacted
    redactor = Redactor()
    redactor.know(secret)
    lines = [f"line {n} {secret}" for n in range(50)]
    member = Member("logs.txt", "logs", "\n".join(lines) + "\n", limit=(10, 120), longer=True)
    write_bundle(tmp_path / "b.tar.gz", [member], redactor)
    raw, files = _tarball(tmp_path / "b.tar.gz")
    assert b"LongSecret" not in raw
    assert b"Value-9911" not in raw
    text = files["logs.txt"].decode()
    assert len(text.encode()) <= 120
    assert text.startswith("line ")  # cut at a line, never mid-line
    assert text.endswith("line 49 [REDACTED]\n")
    entry = json.loads(files[MANIFEST])["members"][0]
    assert entry["cut"] == "the last 10 lines and the last 114 bytes (at most 120)"


def test_bounded_keeps_a_short_text_whole() -> None:
    assert bounded("a\nb\n", 10, 100) == ("a\nb\n", ())


def test_never_over_an_existing_file_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    out.write_text("mine")
    member = Member("x.txt", "x", "x")
    with pytest.raises(BadInput, match="exists; remove it or pass --force"):
        write_bundle(out, [member], Redactor())
    assert out.read_text() == "mine"
    write_bundle(out, [member], Redactor(), force=True)
    assert "x.txt" in _tarball(out)[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz"]  # no temporary left


def test_an_unwritable_folder_is_bad_input(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: every folder is writable")
        with pytest.raises(BadInput, match="is not writable"):
            write_bundle(locked / "b.tar.gz", [Member("x", "x", "x")], Redactor())
    finally:
        locked.chmod(0o700)


def test_a_missing_folder_or_a_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no folder"):
        write_bundle(tmp_path / "nowhere" / "b.tar.gz", [], Redactor())
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput, match="no folder"):
        write_bundle(tmp_path / "file" / "b.tar.gz", [], Redactor())
    with pytest.raises(BadInput, match="is a folder"):
        write_bundle(tmp_path, [], Redactor(), force=True)


def test_the_cli_refuses_an_existing_bundle_before_it_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.tar.gz"
    out.write_text("mine")
    code = main(["check", str(tmp_path / "no-such-image.tar"), "--bundle", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "exists; remove it or pass --force" in err
    assert len(err.strip().splitlines()) == 1
    assert out.read_text() == "mine"


def test_with_the_engine_down_the_bundle_has_what_compose_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path / "project")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    for name in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "bug.tar.gz"
    code = main(["backend", "--bundle", str(out), "--no-smoke", "--format", "json"])
    stdout, err = capsys.readouterr()
    assert code == 3  # as without --bundle: the engine is down
    assert f"bundle written to {out}" in err
    raw, files = _tarball(out)
    _assert_clean(raw, files)
    assert set(files) == {
        MANIFEST,
        "report.txt",
        "report.json",
        "compose/config.yaml",
        "versions.json",
    }
    doc = json.loads(files[MANIFEST])
    validate(doc, "bundle")
    assert any("no Docker engine" in note for note in doc["notes"])
    assert json.loads(files["report.json"])["findings"] == json.loads(stdout)["findings"]
    assert json.loads(files["versions.json"])["engine"] is None
