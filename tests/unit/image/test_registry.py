"""``registry:`` targets against the reference registry (no auth, htpasswd, token auth)
and against a server that misbehaves on purpose."""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagecheck.api import Options, inventory
from imagecheck.errors import BadInput, CorruptArchive, ImageNotFound
from imagecheck.image import Cache
from imagecheck.image.sources.registry import find_credential, parse_challenge, parse_reference
from imagecheck.model import Inventory, Platform
from tests.builders import SITE, Empty, F, Layer, make_image, make_multiplatform, metadata
from tests.helpers import run_cli
from tests.registries import (
    BASIC_PORT,
    IDENTITY_TOKEN,
    PASSWORD,
    PLAIN_PORT,
    TOKEN_PORT,
    TOKEN_SERVICE_PORT,
    USER,
    Hostile,
    Registry,
    TokenService,
    docker_config,
    htpasswd,
    layout_files,
    run_hostile,
    run_registry,
    run_token_service,
    token_auth,
)

BASE = Layer(
    [
        F("var/lib/dpkg/status", b"Package: libc6\nStatus: install ok installed\nVersion: 2.36\n"),
        F("usr/local/bin/python3.11", b"\x7fELF"),
        F("usr/local/bin/python3", kind="symlink", link="python3.11"),
        F("data/base.bin", os.urandom(200_000)),  # incompressible: the bytes count shows it
    ],
    created_by="/bin/sh -c #(nop) ADD file:base in / ",
)


def _app(name: str, version: str) -> Layer:
    return Layer(
        [F(f"{SITE}/{name}-{version}.dist-info/METADATA", metadata(name, version))],
        created_by=f"/bin/sh -c pip install {name}=={version}",
    )


HISTORY: list[Layer | Empty] = [BASE, Empty("/bin/sh -c #(nop)  ENV A=1"), _app("six", "1.16.0")]


WRONG = "wrong-s3cret"  # a password the registries refuse


def _python(inv: Inventory) -> set[tuple[str, str]]:
    return {(d.name, d.version) for d in inv.python}


@pytest.fixture(autouse=True)
def _no_docker_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's own ``~/.docker/config.json`` never leaks into a test."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with run_registry(tmp_path_factory.mktemp("plain"), PLAIN_PORT) as reg:
        yield reg


def _layout(tmp: Path, history: list[Layer | Empty], compression: str = "gzip") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    return make_image(tmp, history, layout="oci-dir", compression=compression).path


# -- the reference registry, no auth ------------------------------------------------------


@pytest.mark.registry
@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_registry_reads_as_the_layout_does(
    plain: Registry, tmp_path: Path, compression: str
) -> None:
    layout = _layout(tmp_path / "img", HISTORY, compression)
    plain.push(layout, f"same/{compression}:v1")
    cache = tmp_path / "cache"
    got = inventory(f"registry:{plain.host}/same/{compression}:v1", Options(cache_dir=cache))
    want = inventory(f"oci-dir:{layout}", Options(use_cache=False))
    assert _python(got) == _python(want) == {("six", "1.16.0")}
    assert [p.name for p in got.debian] == [p.name for p in want.debian] == ["libc6"]
    assert got.image.id == want.image.id
    assert any("from http://127.0.0.1" in n for n in got.notes)


@pytest.mark.registry
def test_second_tag_fetches_only_its_new_layer(plain: Registry, tmp_path: Path) -> None:
    one = _layout(tmp_path / "one", [BASE, _app("six", "1.16.0")])
    two = _layout(tmp_path / "two", [BASE, _app("idna", "3.7")])
    plain.push(one, "share/app:one")
    plain.push(two, "share/app:two")
    blobs = {
        p.name: p.stat().st_size
        for layout in (one, two)
        for p in (layout / "blobs/sha256").iterdir()
    }
    options = Options(cache_dir=tmp_path / "cache")

    plain.mark()
    inventory(f"registry:{plain.host}/share/app:one", options)
    cold = plain.blob_gets()
    assert len(cold) == 3  # config, base, app
    assert sum(a.size for a in cold) > 200_000

    plain.mark()
    inv = inventory(f"registry:{plain.host}/share/app:two", options)
    second = plain.blob_gets()
    fetched = {a.path.rsplit(":", 1)[1] for a in second}
    two_manifest = json.loads((two / "index.json").read_text())["manifests"][0]["digest"]
    layers = json.loads((two / "blobs/sha256" / two_manifest[7:]).read_text())["layers"]
    config = json.loads((two / "blobs/sha256" / two_manifest[7:]).read_text())["config"]
    assert fetched == {config["digest"][7:], layers[1]["digest"][7:]}  # not the base
    assert sum(a.size for a in second) == blobs[config["digest"][7:]] + layers[1]["size"]
    assert ("idna", "3.7") in _python(inv)
    assert any("1 of 2 layers fetched" in n for n in inv.notes)

    plain.mark()
    again = inventory(f"registry:{plain.host}/share/app:two", options)
    assert plain.blob_gets() == []  # the config is cached too: only the manifest is asked
    assert [a.method for a in plain.access() if "/manifests/" in a.path] == ["GET"]
    assert _python(again) == _python(inv)


@pytest.mark.registry
def test_index_platforms_and_digest_references(plain: Registry, tmp_path: Path) -> None:
    multi = make_multiplatform(
        tmp_path,
        {"linux/amd64": [_app("six", "1.16.0")], "linux/arm64/v8": [_app("idna", "3.7")]},
        attestation=True,
        nested=True,  # skopeo copies the one index that the layout's index.json names
    )
    plain.push(multi, "multi/app:latest", all_platforms=True)
    ref = f"registry:{plain.host}/multi/app"
    arm = inventory(ref, Options(use_cache=False, platform=Platform("linux", "arm64")))
    assert _python(arm) == {("idna", "3.7")}
    assert any("platform linux/arm64/v8 chosen from an index of 2" in n for n in arm.notes)
    amd = inventory(ref, Options(use_cache=False, platform=Platform("linux", "amd64")))
    assert _python(amd) == {("six", "1.16.0")}
    with pytest.raises(ImageNotFound, match=r"linux/s390x.*it has: linux/amd64, linux/arm64/v8"):
        inventory(ref, Options(use_cache=False, platform=Platform("linux", "s390x")))
    # by digest: the index's own digest, as skopeo pushed it
    # By digest: the index skopeo pushed as it was, then the platform's own manifest.
    index = json.loads((multi / "index.json").read_text())["manifests"][0]["digest"]
    by_index = inventory(
        f"{ref}@{index}", Options(use_cache=False, platform=Platform("linux", "arm64"))
    )
    assert _python(by_index) == {("idna", "3.7")}
    amd_manifest = next(n for n in amd.notes if n.startswith("manifest ")).split()[1]
    assert amd_manifest.startswith("sha256:")
    assert amd_manifest != index
    by_digest = inventory(f"{ref}@{amd_manifest}", Options(use_cache=False))
    assert _python(by_digest) == {("six", "1.16.0")}
    assert not any("chosen from an index" in n for n in by_digest.notes)


@pytest.mark.registry
def test_missing_tag_and_repository(plain: Registry, tmp_path: Path) -> None:
    plain.push(_layout(tmp_path / "img", HISTORY), "lost/app:v1")
    with pytest.raises(ImageNotFound, match=r"has no tag 'v2' in lost/app \(it has: v1\)"):
        inventory(f"registry:{plain.host}/lost/app:v2", Options(use_cache=False))
    with pytest.raises(ImageNotFound, match="has no repository 'lost/nothing'"):
        inventory(f"registry:{plain.host}/lost/nothing:v1", Options(use_cache=False))


@pytest.mark.registry
def test_cli_says_source_and_path(plain: Registry, tmp_path: Path) -> None:
    plain.push(_layout(tmp_path / "img", HISTORY), "cli/app:v1")
    done = run_cli(
        "inventory", f"registry:{plain.host}/cli/app:v1", "-v", "--no-cache", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["image"]["ref"] == f"registry:{plain.host}/cli/app:v1"
    done = run_cli("inventory", f"registry:{plain.host}/cli/app:v1", "-v", "--no-cache")
    assert f"read from registry {plain.host}/cli/app" in done.stdout
    assert f"from http://{plain.host}" in done.stdout


def test_network_failures_are_one_line() -> None:
    done = run_cli("inventory", "registry:no-such-host.invalid/app:v1")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "imagecheck: unknown registry host 'no-such-host.invalid' (Name or service not known)",
    )
    done = run_cli("inventory", "registry:127.0.0.1:5108/app:v1")  # nothing listens there
    assert done.returncode == 2
    assert done.stderr.strip() == "imagecheck: registry 127.0.0.1:5108 refused the connection"


# -- htpasswd basic auth -------------------------------------------------------------------


@pytest.fixture(scope="module")
def basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("basic")
    auth = {
        "htpasswd": {
            "realm": "imagecheck-test",
            "path": str(htpasswd(root / "htpasswd", USER, PASSWORD)),
        }
    }
    with run_registry(root, BASIC_PORT, auth) as reg:
        reg.creds = f"{USER}:{PASSWORD}"
        reg.push(_layout(root / "img", HISTORY), "private/app:v1")
        yield reg


@pytest.mark.registry
def test_basic_auth_with_docker_login(
    basic: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = f"registry:{basic.host}/private/app:v1"
    with pytest.raises(
        BadInput, match=rf"wants credentials .* has none for {basic.host}: docker login"
    ):
        inventory(ref, Options(use_cache=False))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "good", basic.host)))
    inv = inventory(ref, Options(use_cache=False))
    assert ("six", "1.16.0") in _python(inv)
    assert any(f"signed in as user {USER!r}" in n for n in inv.notes)
    bad = docker_config(tmp_path / "bad", f"http://{basic.host}", password=WRONG)
    monkeypatch.setenv("DOCKER_CONFIG", str(bad))
    done = run_cli("inventory", ref, "--no-cache")
    assert done.returncode == 2
    line = done.stderr.strip()
    assert f"refused user {USER!r} from {bad}/config.json auths" in line
    assert WRONG not in line
    assert "\n" not in line


@pytest.mark.registry
def test_credential_helper(
    basic: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``credHelpers`` runs docker-credential-NAME get, server URL on stdin."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-imagecheck-test"
    log = tmp_path / "asked"
    helper.write_text(
        "#!/bin/sh\n"
        f'read server; echo "$1 $server" >> {log}\n'
        f'echo \'{{"ServerURL": "\'$server\'", "Username": "{USER}", "Secret": "{PASSWORD}"}}\'\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    folder = tmp_path / "docker"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"credsStore": "missing-store", "credHelpers": {basic.host: "imagecheck-test"}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    inv = inventory(f"registry:{basic.host}/private/app:v1", Options(use_cache=False))
    assert ("six", "1.16.0") in _python(inv)
    assert log.read_text() == f"get {basic.host}\n"
    assert any("docker-credential-imagecheck-test" in n for n in inv.notes)


def test_docker_hub_credential_key(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": "dTpw"}}})  # u:p
    )
    cred = find_credential("docker.io", config)
    assert cred is not None
    assert (cred.username, cred.secret) == ("u", "p")
    assert "secret=" not in repr(cred)
    assert find_credential("ghcr.io", config) is None


# -- token auth ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, TokenService]]:
    root = tmp_path_factory.mktemp("token")
    with (
        run_token_service(root / "tokens", TOKEN_SERVICE_PORT) as service,
        run_registry(root / "registry", TOKEN_PORT, token_auth(service)) as reg,
    ):
        reg.creds = f"{USER}:{PASSWORD}"
        reg.push(_layout(root / "img", HISTORY, "zstd"), "team/app:v1")
        yield reg, service


@pytest.mark.registry
def test_token_auth(
    token: tuple[Registry, TokenService], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, service = token
    ref = f"registry:{reg.host}/team/app:v1"
    with pytest.raises(BadInput, match=rf"wants credentials .*: docker login {reg.host}"):
        inventory(ref, Options(use_cache=False))
    assert service.issued[-1] == "anonymous"  # the flow was followed, and gave no access
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "good", reg.host)))
    inv = inventory(ref, Options(use_cache=False))
    assert ("six", "1.16.0") in _python(inv)
    assert service.issued[-1] == USER
    monkeypatch.setenv(
        "DOCKER_CONFIG", str(docker_config(tmp_path / "bad", reg.host, password=WRONG))
    )
    with pytest.raises(
        BadInput, match=rf"token service 127.0.0.1:{TOKEN_SERVICE_PORT} .* refused user 'alice'"
    ) as err:
        inventory(ref, Options(use_cache=False))
    assert WRONG not in str(err.value)
    folder = tmp_path / "oauth"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"auths": {reg.host: {"auth": "PHRva2VuPjo=", "identitytoken": IDENTITY_TOKEN}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    inv = inventory(ref, Options(use_cache=False))
    assert ("six", "1.16.0") in _python(inv)
    assert service.issued[-1] == "identity-token"
    assert any("signed in as an identity token from" in n for n in inv.notes)


def test_challenge_parsing() -> None:
    assert parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/python:pull"'
    ) == (
        "bearer",
        {
            "realm": "https://auth.docker.io/token",
            "service": "registry.docker.io",
            "scope": "repository:library/python:pull",
        },
    )


def test_references_as_docker_spells_them() -> None:
    hub = parse_reference("python:3.12-slim")
    assert (hub.host, hub.repository, hub.tag, hub.api_host) == (
        "docker.io",
        "library/python",
        "3.12-slim",
        "registry-1.docker.io",
    )
    local = parse_reference("localhost:5000/team/app@sha256:" + "a" * 64)
    assert (local.host, local.repository, local.tag, local.reference) == (
        "localhost:5000",
        "team/app",
        None,
        "sha256:" + "a" * 64,
    )
    assert parse_reference("ghcr.io/o/r").reference == "latest"
    with pytest.raises(BadInput, match="not a repository name"):
        parse_reference("ghcr.io/Upper/Case")
    with pytest.raises(BadInput, match="not a sha256 digest"):
        parse_reference("ghcr.io/o/r@sha256:zz")


# -- a registry that misbehaves --------------------------------------------------------------

HOSTILE_PORT = 5105


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[Hostile, dict[str, str]]]:
    layout = _layout(tmp_path / "img", HISTORY)
    files, types = layout_files(layout, "bad/app", "v1")
    manifest = json.loads(files["/v2/bad/app/manifests/v1"])
    paths = {
        "manifest": "/v2/bad/app/manifests/v1",
        "config": f"/v2/bad/app/blobs/{manifest['config']['digest']}",
        "base": f"/v2/bad/app/blobs/{manifest['layers'][0]['digest']}",
    }
    with run_hostile(Hostile(HOSTILE_PORT, files, types)) as server:
        yield server, paths


def _cached_layers(cache: Path) -> list[Path]:
    return list(cache.rglob("*.idx")) if cache.exists() else []


def _bad(hostile: Hostile, cache: Path, **options: object) -> str:
    with pytest.raises((BadInput, CorruptArchive)) as err:
        inventory(
            f"registry:{hostile.host}/bad/app:v1",
            Options(cache_dir=cache, **options),  # type: ignore[arg-type]
        )
    return str(err.value)


def test_wrong_content_for_a_digest_is_not_cached(
    hostile: tuple[Hostile, dict[str, str]], tmp_path: Path
) -> None:
    server, paths = hostile
    server.faults[paths["base"]] = "wrong-content"
    message = _bad(server, tmp_path / "cache")
    assert "sent wrong content for blob sha256:" in message
    assert _cached_layers(tmp_path / "cache") == []
    server.faults.clear()
    inv = inventory(f"registry:{server.host}/bad/app:v1", Options(cache_dir=tmp_path / "cache"))
    assert ("six", "1.16.0") in _python(inv)
    assert len(_cached_layers(tmp_path / "cache")) == 2


def test_truncated_blob(hostile: tuple[Hostile, dict[str, str]], tmp_path: Path) -> None:
    server, paths = hostile
    server.faults[paths["base"]] = "truncated"
    message = _bad(server, tmp_path / "cache")
    assert "is truncated: it ended after" in message
    assert _cached_layers(tmp_path / "cache") == []


def test_a_dropped_blob_is_resumed_with_a_range(
    hostile: tuple[Hostile, dict[str, str]], tmp_path: Path
) -> None:
    server, paths = hostile
    server.faults[paths["base"]] = "drop-once"
    inv = inventory(f"registry:{server.host}/bad/app:v1", Options(cache_dir=tmp_path / "cache"))
    assert ("six", "1.16.0") in _python(inv)
    assert server.hits.count(paths["base"]) == 2  # the first half, then the rest
    assert len(_cached_layers(tmp_path / "cache")) == 2


def test_manifest_lying_about_a_blob_size(
    hostile: tuple[Hostile, dict[str, str]], tmp_path: Path
) -> None:
    server, paths = hostile
    manifest = json.loads(server.files[paths["manifest"]])
    manifest["layers"][0]["size"] += 1
    server.files[paths["manifest"]] = json.dumps(manifest).encode()
    message = _bad(server, tmp_path / "cache")
    assert "bytes on registry 127.0.0.1:5105, but its manifest says" in message


def test_stalled_server_times_out(hostile: tuple[Hostile, dict[str, str]], tmp_path: Path) -> None:
    server, paths = hostile
    server.faults[paths["base"]] = "stall"
    server.stall = 4.0
    started = time.monotonic()
    message = _bad(server, tmp_path / "cache", registry_timeout=1.0)
    assert time.monotonic() - started < 3.5
    assert "stalled mid-blob: no data for 1 s after" in message


def test_redirect_loop(hostile: tuple[Hostile, dict[str, str]], tmp_path: Path) -> None:
    server, paths = hostile
    server.faults[paths["config"]] = "redirect-loop"
    assert "redirects in a loop" in _bad(server, tmp_path / "cache")


def test_rate_limit_and_transient_errors(
    hostile: tuple[Hostile, dict[str, str]], tmp_path: Path
) -> None:
    server, paths = hostile
    server.faults[paths["manifest"]] = "429:3600"
    assert _bad(server, tmp_path / "c1") == (
        "registry 127.0.0.1:5105 is rate limiting us (429); it says retry after 3600 s"
    )
    server.faults[paths["manifest"]] = "429:once1"  # Retry-After: 1, then the manifest
    server.faults[paths["config"]] = "503-once"
    started = time.monotonic()
    inv = inventory(f"registry:{server.host}/bad/app:v1", Options(cache_dir=tmp_path / "c2"))
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert ("six", "1.16.0") in _python(inv)
    assert server.hits.count(paths["manifest"]) == 3  # 3600, 429 once, then 200
    assert server.hits.count(paths["config"]) == 2  # 503, then 200


def test_tls_failure_names_the_flag(tmp_path: Path) -> None:
    """A registry off loopback with a certificate the system does not trust."""
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=imagecheck-test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    bind = "172.17.0.1"
    server = Hostile(5106, {})
    try:
        with run_hostile(server, bind=bind, tls=ctx):
            ref = f"registry:{bind}:5106/app:v1"
            with pytest.raises(BadInput, match=rf"TLS failure .*--insecure-registry {bind}:5106"):
                inventory(ref, Options(use_cache=False))
            with pytest.raises(ImageNotFound):  # trusted by flag: it answers, and has nothing
                inventory(ref, Options(use_cache=False, insecure_registries=(f"{bind}:5106",)))
    except OSError as exc:  # pragma: no cover - a machine without the docker0 bridge
        pytest.skip(f"cannot listen on {bind}: {exc}")


def test_config_is_verified_before_use(
    hostile: tuple[Hostile, dict[str, str]], tmp_path: Path
) -> None:
    server, paths = hostile
    server.faults[paths["config"]] = "wrong-content"
    assert "sent wrong content for blob" in _bad(server, tmp_path / "cache")
    assert Cache(tmp_path / "cache").get_blob(paths["config"].rsplit("/", 1)[1]) is None
