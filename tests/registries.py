"""Real registries for the tests: Debian's ``docker-registry`` (the reference
distribution server) on loopback, with no auth, htpasswd basic auth, or token auth
against a small token service run here; images pushed with skopeo."""

from __future__ import annotations

import base64
import datetime
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Ports 5101-5109 are this suite's (5101 plain, 5102 basic, 5103/5104 token, 5105-5107
# hostile servers, 5108 nothing listens).
PLAIN_PORT, BASIC_PORT, TOKEN_PORT, TOKEN_SERVICE_PORT = 5101, 5102, 5103, 5104
USER, PASSWORD = "alice", "s3cret-pass"
IDENTITY_TOKEN = "identity-t0ken"  # noqa: S105 - what an OAuth docker login stores
_ACCESS = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d+) (?P<size>\d+)'
)


def missing_tools() -> str | None:
    for tool in ("docker-registry", "skopeo", "htpasswd"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/setup.sh installs it)"
    return None


@dataclass(frozen=True)
class Access:
    method: str
    path: str
    status: int
    size: int


@dataclass
class Registry:
    port: int
    root: Path
    process: subprocess.Popen[bytes]
    creds: str | None = None  # user:password for skopeo
    _mark: int = field(default=0)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def access(self) -> list[Access]:
        """Requests the registry logged since the last ``mark()``."""
        lines = (self.root / "access.log").read_text().splitlines()[self._mark :]
        found = [_ACCESS.search(line) for line in lines]
        return [
            Access(m["method"], m["path"], int(m["status"]), int(m["size"])) for m in found if m
        ]

    def mark(self) -> None:
        self._mark = len((self.root / "access.log").read_text().splitlines())

    def blob_gets(self) -> list[Access]:
        return [a for a in self.access() if a.method == "GET" and "/blobs/" in a.path]

    def push(self, layout: Path, ref: str, *, all_platforms: bool = False) -> None:
        """``skopeo copy`` an OCI layout folder into ``HOST/ref``, blobs as they are."""
        args = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        if self.creds:
            args += ["--dest-creds", self.creds]
        if all_platforms:
            args.append("--all")
        subprocess.run([*args, f"oci:{layout}", f"docker://{self.host}/{ref}"], check=True)
        self.mark()


def _wait_up(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(100):
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # 401: it is up, and wants auth
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"docker-registry on {port} did not come up")


@contextmanager
def run_registry(root: Path, port: int, auth: dict[str, Any] | None = None) -> Iterator[Registry]:
    """``docker-registry serve`` with a config of our own, in ``root``; its access log
    (stdout) is kept in ``root/access.log``."""
    root.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "imagecheck-tests"},
    }
    if auth:
        config["auth"] = auth
    (root / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    out = (root / "access.log").open("wb")
    err = (root / "registry.log").open("wb")
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(root / "config.yml")], stdout=out, stderr=err
    )
    try:
        _wait_up(port, proc, root / "registry.log")
        yield Registry(port, root, proc)
    finally:
        proc.terminate()
        proc.wait(10)
        out.close()
        err.close()


def htpasswd(path: Path, user: str, password: str) -> Path:
    subprocess.run(["htpasswd", "-Bbc", str(path), user, password], check=True, capture_output=True)
    return path


# -- token auth --------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenService:
    """Docker's token auth: ``GET /token?service=&scope=`` with basic auth, answered with
    a JWT signed by a key (and self-signed certificate) made for the test run."""

    port: int
    cert_path: Path
    key: Any
    cert_der: bytes
    issued: list[str] = field(default_factory=list)  # the accounts tokens were issued to

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def token(self, service: str, scope: str, subject: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        access = []
        if scope:
            kind, name, actions = scope.split(":", 2)
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {
            "iss": "imagecheck-test-issuer",
            "sub": subject,
            "aud": service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": f"t{now}{len(self.issued)}",
            "access": access,
        }
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{_b64(signature)}"


@contextmanager
def _serving(server: ThreadingHTTPServer) -> Iterator[None]:
    """A test server answering on a thread of its own until the block ends."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _make_key(folder: Path) -> tuple[Any, bytes, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imagecheck test token signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = folder / "token-cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert.public_bytes(serialization.Encoding.DER), path


@contextmanager
def run_token_service(folder: Path, port: int) -> Iterator[TokenService]:
    folder.mkdir(parents=True, exist_ok=True)
    key, der, cert_path = _make_key(folder)
    service = TokenService(port, cert_path, key, der)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            from urllib.parse import parse_qs, urlsplit

            query = parse_qs(urlsplit(self.path).query)
            auth = self.headers.get("Authorization", "")
            subject = ""
            if auth.startswith("Basic "):
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                if (user, pw) != (USER, PASSWORD):
                    self.send_response(401)
                    self.end_headers()
                    return
                subject = user
            scope = query.get("scope", [""])[0] if subject else ""  # anonymous: no access
            service.issued.append(subject or "anonymous")
            body = json.dumps(
                {"token": service.token(query.get("service", [""])[0], scope, subject)}
            ).encode()
            self._answer(body)

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            """OAuth2: an identity token (``refresh_token``) for an access token."""
            from urllib.parse import parse_qs

            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [
                IDENTITY_TOKEN
            ]:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            service.issued.append("identity-token")
            token = service.token(form["service"][0], form["scope"][0], USER)
            self._answer(json.dumps({"access_token": token}).encode())

    with _serving(ThreadingHTTPServer(("127.0.0.1", port), Handler)):
        yield service


def token_auth(service: TokenService) -> dict[str, Any]:
    return {
        "token": {
            "realm": service.realm,
            "service": "imagecheck-test-registry",
            "issuer": "imagecheck-test-issuer",
            "rootcertbundle": str(service.cert_path),
        }
    }


def docker_config(folder: Path, host: str, user: str = USER, password: str = PASSWORD) -> Path:
    """A ``DOCKER_CONFIG`` folder whose ``config.json`` holds a login for ``host``."""
    folder.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return folder


# -- a registry that misbehaves ----------------------------------------------------------


@dataclass
class Hostile:
    """A distribution API of our own over a real image's files, answering some paths
    wrongly on purpose: what the reference registry never does."""

    port: int
    files: dict[str, bytes]  # request path -> body
    types: dict[str, str] = field(default_factory=dict)  # request path -> Content-Type
    faults: dict[str, str] = field(default_factory=dict)  # request path -> fault
    hits: list[str] = field(default_factory=list)
    stall: float = 5.0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextmanager
def run_hostile(hostile: Hostile, bind: str = "127.0.0.1", tls: Any = None) -> Iterator[Hostile]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path
            hostile.hits.append(path)
            fault = hostile.faults.get(path, "")
            if path == "/v2/":
                self._send(200, b"{}")
                return
            if fault == "redirect-loop":
                other = path + "x" if not path.endswith("x") else path[:-1]
                hostile.faults[other] = "redirect-loop"
                self._send(307, b"", {"Location": other})
                return
            if fault.startswith("429"):
                after = fault.partition(":")[2]
                if after.startswith("once"):  # one 429, then the file
                    hostile.faults[path] = ""
                    after = after[4:] or "0"
                self._send(429, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}', {"Retry-After": after})
                return
            if fault == "503-once":
                hostile.faults[path] = ""
                self._send(503, b"busy")
                return
            body = hostile.files.get(path)
            if body is None:
                self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
                return
            headers = {"Content-Type": hostile.types.get(path, "application/octet-stream")}
            if fault == "wrong-content":
                body = bytes(reversed(body))
            start = self.headers.get("Range", "bytes=0-")[6:].split("-")[0]
            if fault == "drop-once" and start == "0":  # half, then a Range request is served
                hostile.faults[path] = "ranges"
                fault = "truncated"
            if fault == "ranges" and start != "0":
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - int(start)))
                self.end_headers()
                self.wfile.write(body[int(start) :])
                return
            if fault in ("truncated", "stall"):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                if fault == "stall":
                    time.sleep(hostile.stall)
                self.close_connection = True
                return
            self._send(200, body, headers)

    server = ThreadingHTTPServer((bind, hostile.port), Handler)
    server.handle_error = lambda *args: None  # type: ignore[method-assign]  # a client left
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    with _serving(server):
        yield hostile


def layout_files(layout: Path, repo: str, tag: str) -> tuple[dict[str, bytes], dict[str, str]]:
    """An OCI layout folder's blobs as a registry serves them, its first manifest as ``tag``."""
    files: dict[str, bytes] = {}
    types: dict[str, str] = {}
    for blob in (layout / "blobs" / "sha256").iterdir():
        files[f"/v2/{repo}/blobs/sha256:{blob.name}"] = blob.read_bytes()
    index = json.loads((layout / "index.json").read_text())
    desc = index["manifests"][0]
    manifest = files[f"/v2/{repo}/blobs/{desc['digest']}"]
    for ref in (tag, desc["digest"]):
        files[f"/v2/{repo}/manifests/{ref}"] = manifest
        types[f"/v2/{repo}/manifests/{ref}"] = desc["mediaType"]
    return files, types
