"""``registry:HOST/REPO[:TAG|@DIGEST]``: an image read over the OCI distribution API.

No engine is involved. The manifest (or the index, and then the platform's manifest)
and the config are fetched first; a layer's blob is fetched only when its diff_id is
not in the layer cache, and it is streamed through the same reader as every other
source (never written to disk), its bytes counted and hashed as they pass: a blob
whose size or digest is not the one its manifest names fails before anything of it
is cached.

HTTP is stdlib ``http.client``: a registry client needs redirects followed by hand
(blobs are often served from another host, which must not see our credentials),
the Bearer token flow and a streamed body; ``urllib`` would hide the first two and a
third-party client would add a dependency for no gain.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import ipaddress
import json
import os
import re
import socket
import ssl
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from ...errors import BadInput, CorruptArchive, ImageNotFound
from ...model import Platform, short
from ..cache import Cache
from ..layerindex import LayerIndex
from .base import ProgressFn, load_json
from .oci import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Resolved,
    StoreSource,
    _matches,
    _platform_of,
    blob_path,
    from_manifest,
    host_platform,
)

DOCKER_HUB = "docker.io"
_HUB_API = "registry-1.docker.io"
_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
ACCEPT = ", ".join(sorted(INDEX_TYPES | MANIFEST_TYPES))
MAX_MANIFEST = 4 << 20  # the reference registry's own limit
MAX_REDIRECTS = 8
DEFAULT_TIMEOUT = 30.0
RETRIES = 3  # after the first try, on 429, 5xx and dropped connections
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is reported, not waited for
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
_CHUNK = 1 << 20

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Reference:
    """A registry image reference: where, which repository, and which tag or digest."""

    host: str  # as the user wrote it (``docker.io``, ``127.0.0.1:5000``)
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        return _HUB_API if self.host == DOCKER_HUB else self.host

    @property
    def reference(self) -> str:
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        at = f"@{self.digest}" if self.digest else f":{self.tag or 'latest'}"
        return f"{self.host}/{self.repository}{at}"


def parse_reference(text: str) -> Reference:
    """``HOST/REPO[:TAG|@DIGEST]``, spelled as ``docker pull`` spells it: a first part
    with no dot, colon or ``localhost`` is a Docker Hub repository."""
    rest, _, digest = text.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = DOCKER_HUB, rest
    tag = None
    name, colon, maybe_tag = path.rpartition(":")
    if colon and "/" not in maybe_tag:
        path, tag = name, maybe_tag
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not _NAME.match(path):
        raise BadInput(f"registry:{text}: {path or 'nothing'!r} is not a repository name")
    if tag is not None and not _TAG.match(tag):
        raise BadInput(f"registry:{text}: {tag!r} is not a tag")
    if digest and not _DIGEST.match(digest):
        raise BadInput(f"registry:{text}: {digest!r} is not a sha256 digest")
    return Reference(host, path, tag, digest or None)


# -- credentials -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credential:
    """A user name and secret, and where they came from (the secret is never shown)."""

    username: str
    secret: str = field(repr=False)
    origin: str

    def describe(self) -> str:
        who = "an identity token" if self.username == "<token>" else f"user {self.username!r}"
        return f"{who} from {self.origin}"


def docker_config_path() -> Path:
    folder = os.environ.get("DOCKER_CONFIG")
    return Path(folder) / "config.json" if folder else Path.home() / ".docker" / "config.json"


def _key_host(key: str) -> str:
    """``https://index.docker.io/v1/`` and ``myreg:5000`` alike: the host part."""
    if "://" in key:
        key = key.split("://", 1)[1]
    return key.split("/", 1)[0]


def _auth_host(host: str) -> str:
    return "index.docker.io" if host in (DOCKER_HUB, _HUB_API, "index.docker.io") else host


def _helper(name: str, server: str, origin: str) -> Credential | None:
    program = f"docker-credential-{name}"
    try:
        done = subprocess.run(
            [program, "get"], input=server.encode(), capture_output=True, timeout=30, check=False
        )
    except FileNotFoundError as exc:
        raise BadInput(f"{origin} names {program}, which is not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise BadInput(f"{program} did not answer within 30 s") from exc
    if done.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        data = json.loads(done.stdout)
        return Credential(str(data["Username"]), str(data["Secret"]), f"{origin} ({program})")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{program} answered something that is not a credential") from exc


def find_credential(host: str, config_path: Path | None = None) -> Credential | None:
    """The credential ``docker login`` stored for ``host``: a helper named for it in
    ``credHelpers``, else the ``credsStore``, else ``auths``."""
    path = config_path or docker_config_path()
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read the Docker config {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise BadInput(f"the Docker config {path} is not a JSON object")
    want = _auth_host(host)
    server = _HUB_AUTH_KEY if want == "index.docker.io" else host
    helpers = doc.get("credHelpers") or {}
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if _key_host(str(key)) == want:
                return _helper(str(name), server, f"{path} credHelpers")
    auths = doc.get("auths") or {}
    entry = (
        next(
            (v for k, v in auths.items() if _key_host(str(k)) == want and isinstance(v, dict)),
            None,
        )
        if isinstance(auths, dict)
        else None
    )
    store = doc.get("credsStore")
    if isinstance(store, str) and store:
        found = _helper(store, server, f"{path} credsStore")
        if found is not None:
            return found
    if entry is None:
        return None
    origin = f"{path} auths"
    if entry.get("identitytoken"):
        return Credential("<token>", str(entry["identitytoken"]), origin)
    if entry.get("auth"):
        try:
            user, _, secret = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput(f"the auth entry for {host} in {path} is not base64") from exc
        return Credential(user, secret, origin)
    if entry.get("username"):
        return Credential(str(entry["username"]), str(entry.get("password", "")), origin)
    return None


# -- HTTP --------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    name = urllib.parse.urlsplit(f"//{host}").hostname or host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE.findall(rest))


def _error_codes(body: bytes) -> set[str]:
    try:
        doc = json.loads(body)
        return {str(e.get("code")) for e in doc.get("errors", []) if isinstance(e, dict)}
    except (ValueError, AttributeError):
        return set()


class Client:
    """One registry, one repository: connections kept per host, the auth header learnt
    from the first challenge and reused."""

    def __init__(
        self,
        ref: Reference,
        *,
        insecure: Iterable[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = RETRIES,
        credential: Callable[[str], Credential | None] = find_credential,
    ) -> None:
        self.ref = ref
        self.host = ref.api_host
        self.timeout = timeout
        self.retries = retries
        self.insecure = (
            _is_loopback(self.host) or self.host in set(insecure) or (ref.host in set(insecure))
        )
        self.scheme = "https"
        self._scheme_known = not self.insecure
        self._credential_fn = credential
        self._credential: Credential | None = None
        self._credential_looked = False
        self._auth: str | None = None  # the Authorization header for self.host
        self._pool: dict[tuple[str, str], http.client.HTTPConnection] = {}
        self._pid = os.getpid()
        self.last_origin = ("https", self.host)  # where the last 200 came from

    # connections -----------------------------------------------------------------------

    def _connection(self, scheme: str, host: str) -> http.client.HTTPConnection:
        if self._pid != os.getpid():  # a forked worker: the parent's sockets are not ours
            self._pool = {}
            self._pid = os.getpid()
        conn = self._pool.get((scheme, host))
        if conn is None:
            if scheme == "https":
                if self.insecure and host == self.host:
                    ctx = ssl._create_unverified_context()  # noqa: S323 - --insecure-registry
                else:
                    ctx = ssl.create_default_context()
                conn = http.client.HTTPSConnection(host, timeout=self.timeout, context=ctx)
            else:
                conn = http.client.HTTPConnection(host, timeout=self.timeout)
            self._pool[(scheme, host)] = conn
        return conn

    def _drop(self, scheme: str, host: str) -> None:
        conn = self._pool.pop((scheme, host), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for conn in self._pool.values():
            conn.close()
        self._pool.clear()

    def _once(
        self,
        scheme: str,
        host: str,
        method: str,
        target: str,
        headers: dict[str, str],
        *,
        body: bytes | None = None,
    ) -> http.client.HTTPResponse:
        """One request on a kept connection; a kept connection the server closed is
        opened again once (that is not a failure of the registry)."""
        for attempt in (0, 1):
            conn = self._connection(scheme, host)
            try:
                conn.request(method, target, body=body, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(scheme, host)
                if attempt:
                    raise
            except BaseException:
                self._drop(scheme, host)
                raise
        raise AssertionError("unreachable")

    def _where(self, host: str) -> str:
        return f"registry {host}" if host == self.host else f"{host} (redirected from {self.host})"

    def _send(
        self,
        scheme: str,
        host: str,
        method: str,
        target: str,
        headers: dict[str, str],
        *,
        body: bytes | None = None,
    ) -> http.client.HTTPResponse:
        """``_once`` with the network's failures turned into one line each, and
        retries with backoff on those that pass (429, 5xx, a dropped connection)."""
        delay = 0.5
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                resp = self._once(scheme, host, method, target, headers, body=body)
            except socket.gaierror as exc:
                name = host.rsplit(":", 1)[0]
                raise BadInput(f"unknown registry host {name!r} ({exc.strerror})") from exc
            except ssl.SSLCertVerificationError as exc:
                raise BadInput(
                    f"TLS failure talking to {self._where(host)}: {exc.verify_message}; "
                    f"for a registry you trust without TLS, --insecure-registry {host}"
                ) from exc
            except ssl.SSLError as exc:
                raise BadInput(f"TLS failure talking to {self._where(host)}: {exc.reason}") from exc
            except TimeoutError as exc:
                raise BadInput(
                    f"{self._where(host)} did not answer within {self.timeout:g} s "
                    "(--registry-timeout)"
                ) from exc
            except ConnectionRefusedError as exc:
                raise BadInput(f"{self._where(host)} refused the connection") from exc
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                if last:
                    raise BadInput(f"{self._where(host)} dropped the connection: {exc}") from exc
                time.sleep(delay)
                delay *= 2
                continue
            if resp.status not in _TRANSIENT or last:
                return resp
            wait = delay
            if resp.status == 429:
                wait = _retry_after(resp.getheader("Retry-After"), delay)
                if wait > MAX_RETRY_AFTER:
                    return resp
            resp.read()
            time.sleep(wait)
            delay *= 2
        raise AssertionError("unreachable")

    # requests --------------------------------------------------------------------------

    def request(
        self, method: str, path: str, accept: str = "", *, start: int = 0
    ) -> http.client.HTTPResponse:
        """A response with status 200 (its body unread; 206 too when ``start`` asks for
        the body from that byte on), every other answer an error line: redirects
        followed (credentials only to the registry's own host), a 401 answered with the
        challenge's scheme once."""
        headers = {"User-Agent": "imagecheck", "Accept": accept or "*/*"}
        if start:
            headers["Range"] = f"bytes={start}-"
        self._pick_scheme()
        scheme, host, target = self.scheme, self.host, path
        seen: set[str] = set()
        authed = False
        while True:
            url = f"{scheme}://{host}{target}"
            if url in seen:
                raise BadInput(f"{self._where(host)} redirects in a loop ({url})")
            seen.add(url)
            if len(seen) > MAX_REDIRECTS:
                raise BadInput(f"{self._where(self.host)} redirected {MAX_REDIRECTS} times: {url}")
            sent = dict(headers)
            if host == self.host and self._auth:
                sent["Authorization"] = self._auth
            resp = self._send(scheme, host, method, target, sent)
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.getheader("Location") or ""
                resp.read()
                if not location:
                    raise BadInput(f"{self._where(host)} redirects without a Location")
                nxt = urllib.parse.urlsplit(urllib.parse.urljoin(url, location))
                if nxt.scheme not in ("http", "https") or not nxt.netloc:
                    raise BadInput(f"{self._where(host)} redirects to {location!r}")
                scheme, host = nxt.scheme, nxt.netloc
                target = nxt.path + (f"?{nxt.query}" if nxt.query else "")
                continue
            if resp.status == 401 and host == self.host and not authed:
                challenge = resp.getheader("WWW-Authenticate") or ""
                resp.read()
                self._authenticate(challenge)
                authed = True
                seen.discard(url)
                continue
            if resp.status == 200 or (start and resp.status == 206):
                self.last_origin = (scheme, host)
                return resp
            self._fail(resp, path)

    def _pick_scheme(self) -> None:
        """Insecure registries (loopback, ``--insecure-registry``) are tried over HTTPS
        first, as Docker does, then over plain HTTP."""
        if self._scheme_known:
            return
        self._scheme_known = True
        try:
            resp = self._once("https", self.host, "GET", "/v2/", {"User-Agent": "imagecheck"})
            resp.read()
        except (ssl.SSLError, ConnectionError, OSError, http.client.HTTPException):
            self._drop("https", self.host)
            self.scheme = "http"

    def _fail(self, resp: http.client.HTTPResponse, path: str) -> None:
        body = resp.read(64 << 10)
        if not resp.isclosed():  # a long error body: the connection cannot be reused
            self._drop(self.scheme, self.host)
        codes = _error_codes(body)
        where = f"{self.ref.host}/{self.ref.repository}"
        if resp.status == 401:
            raise BadInput(self._refused(resp.getheader("WWW-Authenticate") or ""))
        if resp.status == 403:
            raise BadInput(f"registry {self.host} denies access to {where} ({self._tried()})")
        if resp.status == 404:
            if "NAME_UNKNOWN" in codes:
                raise ImageNotFound(
                    f"registry {self.host} has no repository {self.ref.repository!r}"
                )
            if "/manifests/" in path:
                what = "digest" if "/manifests/sha256:" in path else "tag"
                raise ImageNotFound(
                    f"registry {self.host} has no {what} {path.rsplit('/', 1)[1]!r} in "
                    f"{self.ref.repository}{self._tags()}"
                )
            raise ImageNotFound(f"registry {self.host} has no blob {path.rsplit('/', 1)[-1]}")
        if resp.status == 429:
            after = resp.getheader("Retry-After") or "?"
            raise BadInput(
                f"registry {self.host} is rate limiting us (429); it says retry after {after} s"
            )
        raise BadInput(
            f"registry {self.host} answered {resp.status} {resp.reason} for {path}"
            + (f" ({', '.join(sorted(codes))})" if codes else "")
        )

    def _tags(self) -> str:
        """The repository's tags, to say which there are (a registry answers a missing
        repository and a missing tag alike; the tag list tells them apart)."""
        try:
            resp = self.request("GET", f"/v2/{self.ref.repository}/tags/list?n=50")
        except ImageNotFound as exc:
            if "has no repository" in str(exc):
                raise
            return ""
        except BadInput:
            return ""  # no tag list to be had: the message goes without it
        try:
            doc = json.loads(_read_bounded(resp, MAX_MANIFEST, "tag list"))
        except ValueError:
            return ""
        finally:
            resp.close()
        tags = doc.get("tags") if isinstance(doc, dict) else None
        if not isinstance(tags, list) or not tags:
            return " (it has no tags)"
        shown = ", ".join(str(t) for t in tags[:10]) + (", ..." if len(tags) > 10 else "")
        return f" (it has: {shown})"

    # auth ------------------------------------------------------------------------------

    def credential(self) -> Credential | None:
        if not self._credential_looked:
            self._credential_looked = True
            self._credential = self._credential_fn(self.ref.host)
        return self._credential

    def _tried(self) -> str:
        cred = self.credential()
        return (
            f"tried {cred.describe()}"
            if cred
            else f"no credential for {self.ref.host} in {docker_config_path()}"
        )

    def _refused(self, challenge: str) -> str:
        cred = self.credential()
        if cred is None:
            return (
                f"registry {self.host} wants credentials for {self.ref.repository} and "
                f"{docker_config_path()} has none for {self.ref.host}: docker login {self.ref.host}"
            )
        return (
            f"registry {self.host} refused {cred.describe()} for {self.ref.repository} (401); "
            f"docker login {self.ref.host} again"
        )

    def _authenticate(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        cred = self.credential()
        if scheme == "basic":
            if cred is None:
                raise BadInput(self._refused(challenge))
            pair = f"{cred.username}:{cred.secret}".encode()
            self._auth = "Basic " + base64.b64encode(pair).decode()
        elif scheme == "bearer":
            self._auth = "Bearer " + self._token(params, cred)
        else:
            raise BadInput(f"registry {self.host} asks for {scheme or 'an unnamed'} auth")

    def _token(self, params: dict[str, str], cred: Credential | None) -> str:
        realm = params.get("realm", "")
        split = urllib.parse.urlsplit(realm)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise BadInput(f"registry {self.host} names no usable token realm ({realm!r})")
        query = {"scope": params.get("scope") or f"repository:{self.ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        headers = {"User-Agent": "imagecheck", "Accept": "application/json"}
        path = (split.path or "/") + (f"?{split.query}" if split.query else "")
        form: bytes | None = None
        if cred is not None and cred.username == "<token>":
            # An identity token (``docker login`` with OAuth): exchanged, as Docker does,
            # by POSTing it to the realm as an OAuth2 refresh token.
            method, target = "POST", path
            form = urllib.parse.urlencode(
                {
                    **query,
                    "grant_type": "refresh_token",
                    "refresh_token": cred.secret,
                    "client_id": "imagecheck",
                }
            ).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            if cred is not None:
                query["account"] = cred.username
                pair = f"{cred.username}:{cred.secret}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            sep = "&" if "?" in path else "?"
            method, target = "GET", path + sep + urllib.parse.urlencode(query)
        resp = self._send(split.scheme, split.netloc, method, target, headers, body=form)
        body = resp.read(1 << 20)
        if resp.status in (401, 403):
            who = cred.describe() if cred else "no credential"
            raise BadInput(
                f"the token service {split.netloc} of registry {self.host} refused {who} "
                f"for {self.ref.repository} ({resp.status})"
                + ("" if cred else f": docker login {self.ref.host}")
            )
        if resp.status != 200:
            raise BadInput(
                f"the token service {split.netloc} of registry {self.host} answered {resp.status}"
            )
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise BadInput(f"the token service {split.netloc} sent no token")
        return token

    # registry objects ------------------------------------------------------------------

    def manifest(self, reference: str) -> tuple[Any, str, str]:
        """The manifest or index named by tag or digest: (document, media type, digest)."""
        path = f"/v2/{self.ref.repository}/manifests/{reference}"
        resp = self.request("GET", path, ACCEPT)
        try:
            body = _read_bounded(resp, MAX_MANIFEST, f"manifest {reference}")
        finally:
            resp.close()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise CorruptArchive(
                f"registry {self.host} sent a manifest for {reference} whose digest is {digest}"
            )
        media = (resp.getheader("Content-Type") or "").split(";")[0].strip()
        doc = load_json(body, f"manifest {reference} from registry {self.host}")
        if isinstance(doc, dict) and doc.get("mediaType"):
            media = str(doc["mediaType"])
        if media in _SCHEMA1 or (isinstance(doc, dict) and doc.get("schemaVersion") == 1):
            raise CorruptArchive(
                f"{self.ref} is a schema 1 manifest (deprecated, unsigned since 2017); "
                "push it again with a current client"
            )
        return doc, media, digest

    def open_blob(self, digest: str, size: int | None) -> VerifiedBlob:
        path = f"/v2/{self.ref.repository}/blobs/{digest}"
        return VerifiedBlob(self.request("GET", path), digest, size, self, path)


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default  # an HTTP date: wait our own backoff


def _read_bounded(resp: http.client.HTTPResponse, limit: int, what: str) -> bytes:
    length = resp.getheader("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise CorruptArchive(f"{what} is {length} bytes, more than the {limit} a manifest may be")
    try:
        body = resp.read(limit + 1)
    except http.client.IncompleteRead as exc:
        raise CorruptArchive(f"{what} was cut short after {len(exc.partial)} bytes") from exc
    except TimeoutError as exc:
        raise BadInput(f"the registry stalled while sending {what}") from exc
    if len(body) > limit:
        raise CorruptArchive(f"{what} is more than the {limit} bytes a manifest may be")
    return body


class VerifiedBlob(io.RawIOBase):
    """A blob's body, counted and hashed as it is read. Its end is checked against the
    descriptor (size, digest); leaving the ``with`` block reads what the reader left
    (a tar's end padding) so the whole blob is always checked."""

    def __init__(
        self,
        resp: http.client.HTTPResponse,
        digest: str,
        size: int | None,
        client: Client,
        path: str,
    ) -> None:
        self._resp = resp
        self._digest = digest
        self._size = size
        self._client = client
        self._hash = hashlib.sha256()
        self._count = 0
        self._done = False
        self._failed = False  # this stream's own error: nothing more is read
        self._origin = client.last_origin
        self._path = path
        self._resumes = 0
        length = resp.getheader("Content-Length")
        if size is not None and length and length.isdigit() and int(length) != size:
            resp.close()
            raise CorruptArchive(
                f"blob {short(digest)} is {length} bytes on registry {client.host}, "
                f"but its manifest says {size}"
            )

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            return self._readinto(b)
        except (BadInput, CorruptArchive):
            self._failed = True
            raise

    def _readinto(self, b: Any) -> int:
        if self._done:
            return 0
        while True:
            try:
                n = self._resp.readinto(b)
                if n or not self._resp.length:
                    break
                # The body ended before its Content-Length (http.client says so by
                # returning 0 with ``length`` left).
                raise http.client.IncompleteRead(b"", self._resp.length)
            except TimeoutError as exc:
                raise BadInput(
                    f"registry {self._client.host} stalled mid-blob: no data for "
                    f"{self._client.timeout:g} s after {self._count} bytes of "
                    f"{short(self._digest)} (--registry-timeout)"
                ) from exc
            except (ConnectionError, OSError, http.client.HTTPException) as exc:
                if not self._resume():
                    why = "" if isinstance(exc, http.client.IncompleteRead) else f": {exc}"
                    raise CorruptArchive(self._short_message() + why) from exc
        if n:
            self._hash.update(memoryview(b)[:n])
            self._count += n
            if self._size is not None and self._count > self._size:
                raise CorruptArchive(
                    f"blob {short(self._digest)} from registry {self._client.host} is longer "
                    f"than the {self._size} bytes its manifest says"
                )
            return n
        self._done = True
        self._verify()
        return 0

    def _resume(self) -> bool:
        """A connection dropped mid-blob: ask for the rest (``Range``), with backoff,
        up to the client's retries. A registry that will not serve a range, or
        serves another one, ends it."""
        if self._resumes >= self._client.retries or not self._count:
            return False
        time.sleep(0.5 * 2**self._resumes)
        self._resumes += 1
        self._client._drop(*self._origin)
        try:
            resp = self._client.request("GET", self._path, start=self._count)
        except (BadInput, CorruptArchive):
            return False
        span = resp.getheader("Content-Range") or ""
        if resp.status != 206 or not span.startswith(f"bytes {self._count}-"):
            resp.close()
            return False
        self._resp.close()
        self._resp = resp
        self._origin = self._client.last_origin
        return True

    def _short_message(self) -> str:
        want = f" of {self._size}" if self._size is not None else ""
        return (
            f"blob {short(self._digest)} from registry {self._client.host} is truncated: "
            f"it ended after {self._count}{want} bytes"
        )

    def _verify(self) -> None:
        if self._size is not None and self._count != self._size:
            raise CorruptArchive(self._short_message())
        got = "sha256:" + self._hash.hexdigest()
        if got != self._digest:
            raise CorruptArchive(
                f"registry {self._client.host} sent wrong content for blob {self._digest} "
                f"(its sha256 is {got}); nothing of it was used"
            )

    def finish(self) -> None:
        """Read and check the rest: a reader may stop at the tar's end marker."""
        while not self._done:
            chunk = bytearray(_CHUNK)
            self.readinto(chunk)

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        """Check the whole blob; when the reader failed on what it read (a bad tar, bad
        gzip), check it too: a wrong digest is then the truer of the two errors."""
        try:
            if exc_type is None or (
                isinstance(exc_type, type)
                and issubclass(exc_type, CorruptArchive)
                and not self._failed
            ):
                self.finish()
        finally:
            self.close()

    def close(self) -> None:
        if not self._done:  # left mid-body: the kept connection holds the rest of it
            self._client._drop(*self._origin)
        self._resp.close()
        super().close()


# -- the source --------------------------------------------------------------------------


class RegistryStore:
    """The blob store of one repository: ``blobs/sha256/HEX`` paths, as an OCI layout
    names them, fetched over HTTP and verified."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.name = f"{client.ref.host}/{client.ref.repository}"
        self.sizes: dict[str, int | None] = {}

    @staticmethod
    def _digest(path: str) -> str:
        algo, hexpart = path.split("/")[1:3]
        return f"{algo}:{hexpart}"

    def read(self, path: str, what: str) -> bytes:
        with self.open(path, what)[0] as stream:
            return stream.read()

    def open(self, path: str, what: str) -> tuple[IO[bytes], bool]:
        digest = self._digest(path)
        return cast(IO[bytes], self.client.open_blob(digest, self.sizes.get(path))), False

    def exists(self, path: str) -> bool:
        return True

    def stamp(self, path: str) -> str:
        return ""  # a blob is named by its digest: nothing to fingerprint

    @property
    def parallel_safe(self) -> bool:
        return True  # each forked worker opens connections of its own

    def close(self) -> None:
        self.client.close()


class RegistrySource(StoreSource):
    def __init__(self, store: RegistryStore, resolved: Resolved) -> None:
        super().__init__(store, resolved, "registry")
        self._fetched: set[str] = set()

    def notes(self) -> tuple[str, ...]:
        """What was fetched (forked workers count their own bytes: sum the manifest's)."""
        layers = self._resolved.layers
        if not self._fetched:
            return (*super().notes(), "no layer fetched: every layer was indexed before")
        size = sum(b.size or 0 for b in layers if b.diff_id in self._fetched)
        amount = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size} bytes"
        read = f"{len(self._fetched)} of {len(layers)} layers fetched ({amount})"
        return (*super().notes(), read)

    def stamps(self) -> dict[str, str]:
        """None: a registry serves blobs by digest, each checked as it streams; a layer
        cached under its diff_id was verified when it was fetched."""
        return {}

    def index_layers(self, diff_ids: Iterable[str], progress: ProgressFn) -> Iterator[LayerIndex]:
        for index in super().index_layers(diff_ids, progress):
            self._fetched.add(index.diff_id)
            yield index


def _choose(
    client: Client, doc: Any, platform: Platform | None, where: str
) -> tuple[dict[str, Any], str]:
    """The manifest descriptor for the platform wanted (the host's by default)."""
    manifests = doc.get("manifests") if isinstance(doc, dict) else None
    if not isinstance(manifests, list):
        raise CorruptArchive(f"the image index of {where} has no manifests list")
    candidates = []
    for desc in manifests:
        if not isinstance(desc, dict) or "digest" not in desc:
            continue
        annotations = desc.get("annotations") or {}
        if isinstance(annotations, dict) and annotations.get("vnd.docker.reference.type"):
            continue  # attestations
        plat = _platform_of(desc)
        if plat is None or plat.os == "unknown":
            continue
        candidates.append((desc, plat))
    want = platform or host_platform()
    for desc, plat in candidates:
        if _matches(plat, want):
            return desc, f"platform {plat} chosen from an index of {len(candidates)}"
    listed = ", ".join(str(p) for _, p in candidates) or "none named"
    raise ImageNotFound(
        f"{where} has no image for platform {want} (it has: {listed}); choose one with --platform"
    )


def open_registry(
    text: str,
    *,
    cache: Cache,
    platform: Platform | None,
    insecure: Iterable[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = RETRIES,
) -> RegistrySource:
    ref = parse_reference(text)
    client = Client(ref, insecure=insecure, timeout=timeout, retries=retries)
    store = RegistryStore(client)
    try:
        notes: list[str] = []
        doc, media, digest = client.manifest(ref.reference)
        depth = 0
        while media in INDEX_TYPES or (isinstance(doc, dict) and "manifests" in doc):
            depth += 1
            if depth > 4:
                raise CorruptArchive(f"image indexes of {ref} nest too deep")
            desc, why = _choose(client, doc, platform, str(ref))
            notes.append(why)
            doc, media, digest = client.manifest(str(desc["digest"]))
        if media and media not in MANIFEST_TYPES:
            raise CorruptArchive(f"{ref} is a {media!r}, not an image manifest")

        def config(digest: str) -> bytes:
            cached = cache.get_blob(digest)
            if cached is not None and "sha256:" + hashlib.sha256(cached).hexdigest() == digest:
                notes.append("config from the cache")
                return cached
            data = store.read(blob_path(digest), "image config")
            cache.put_blob(digest, data)
            return data

        resolved = from_manifest(
            doc,
            config,
            where=str(ref),
            ref=f"registry:{text}",
            repo_tags=(str(ref),) if not ref.digest else (),
            media_type=media,
        )
        for blob in resolved.layers:
            store.sizes[blob.path] = blob.size
        cred = client.credential() if client._auth else None
        notes.insert(0, f"manifest {digest} from {client.scheme}://{client.host}")
        if cred is not None:
            notes.append(f"signed in as {cred.describe()}")
        resolved = Resolved(resolved.info, resolved.layers, tuple(notes))
    except BaseException:
        store.close()
        raise
    return RegistrySource(store, resolved)
