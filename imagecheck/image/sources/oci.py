"""OCI image layouts, as a folder or a tar, and the blob stores both archive kinds share.

A blob store answers "give me the bytes (or a stream) of this path"; the layout logic
(index -> manifest -> config and layers, platform choice) is written once on top.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing
import os
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from ...errors import BadInput, CorruptArchive, EnvironmentProblem, ImageNotFound
from ...model import ImageInfo, Platform, short
from ..layerindex import LayerIndex, index_tar, read_members, sha256_of
from ..streams import Digesting, FileWindow, VerifiedLayer, decompressed, sniff
from .base import MAX_DOCUMENT, Progress, ProgressFn, image_info, load_json

_T = TypeVar("_T")

MAX_MANIFESTS = 4096  # descriptors an index (and the indexes it nests) may list

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
LAYER_TYPES = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    }
)
_ATTESTATION = "attestation-manifest"


class BlobStore(Protocol):
    name: str

    def read(self, path: str, what: str) -> bytes: ...

    def open(self, path: str, what: str) -> tuple[IO[bytes], bool]:
        """A stream of the file and whether it can be seeked cheaply."""
        ...

    def exists(self, path: str) -> bool: ...

    def stamp(self, path: str) -> str:
        """A cheap fingerprint of the file at ``path`` (where it is, its size, times and
        inode): when it is what it was, so are the bytes that were verified."""
        ...

    @property
    def parallel_safe(self) -> bool:
        """Whether forked processes may read layers from this store at once."""
        ...

    def close(self) -> None: ...


def blob_path(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if not hexpart or "/" in hexpart or "/" in algo:
        raise CorruptArchive(f"not a content digest: {digest!r}")
    return f"blobs/{algo}/{hexpart}"


def _stat_stamp(path: Path, st: os.stat_result) -> str:
    return (
        f"{path.resolve()}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    )


class DirStore:
    """An OCI layout folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = str(root)

    def _full(self, path: str) -> Path:
        return self.root / path

    def read(self, path: str, what: str) -> bytes:
        try:
            if self._full(path).stat().st_size > MAX_DOCUMENT:
                raise CorruptArchive(f"{what} in {self.name} is too big for an image document")
            return self._full(path).read_bytes()
        except FileNotFoundError as exc:
            raise CorruptArchive(f"{what} is missing from {self.name} ({path})") from exc
        except OSError as exc:
            raise CorruptArchive(f"cannot read {what} from {self.name}: {exc}") from exc

    def open(self, path: str, what: str) -> tuple[IO[bytes], bool]:
        try:
            return open(self._full(path), "rb"), True
        except FileNotFoundError as exc:
            raise CorruptArchive(f"{what} is missing from {self.name} ({path})") from exc

    def exists(self, path: str) -> bool:
        return self._full(path).is_file()

    def stamp(self, path: str) -> str:
        try:
            st = self._full(path).stat()
        except OSError as exc:
            raise CorruptArchive(f"{path} is missing from {self.name}: {exc}") from exc
        return _stat_stamp(self._full(path), st)

    @property
    def parallel_safe(self) -> bool:
        return True

    def close(self) -> None:
        return None


WINDOW_BUFFER = 64 << 10  # small: the indexer seeks past most of what it could buffer


class TarStore:
    """A tar archive read in place: members are windows into the file, never extracted."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        try:
            self._size = os.path.getsize(path)
            self._tar = tarfile.open(path, "r:*")  # noqa: SIM115
            members = self._tar.getmembers()
        except FileNotFoundError as exc:
            raise BadInput(f"no such file: {path}") from exc
        except IsADirectoryError as exc:
            raise BadInput(f"{path} is a folder, not an archive") from exc
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise CorruptArchive(f"{path} is not a readable tar archive: {exc}") from exc
        self._plain = self._tar.fileobj is not None and type(self._tar.fileobj).__name__ in (
            "BufferedReader",
            "FileIO",
        )
        self._members: dict[str, tarfile.TarInfo] = {}
        self._raw_fd: int | None = None
        for m in members:
            name = m.name
            while name.startswith("./"):
                name = name[2:]
            self._members[name.strip("/")] = m

    def _member(self, path: str, what: str) -> tarfile.TarInfo:
        m = self._members.get(path)
        if m is None or not m.isfile():
            raise CorruptArchive(f"{what} is missing from {self.name} ({path})")
        if self._plain and m.offset_data + m.size > self._size:
            raise CorruptArchive(f"{self.name} is truncated: {what} ({path}) is cut short")
        return m

    def read(self, path: str, what: str) -> bytes:
        if self._member(path, what).size > MAX_DOCUMENT:
            raise CorruptArchive(f"{what} in {self.name} is too big for an image document")
        stream, _ = self.open(path, what)
        with stream:
            try:
                data = stream.read()
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise CorruptArchive(f"{self.name} is truncated or damaged: {exc}") from exc
        if len(data) != self._member(path, what).size:
            raise CorruptArchive(f"{self.name} is truncated: {what} ({path}) is cut short")
        return data

    def open(self, path: str, what: str) -> tuple[IO[bytes], bool]:
        member = self._member(path, what)
        if self._plain:
            fd = self._fd()
            window = FileWindow(fd, member.offset_data, member.size)
            return io.BufferedReader(window, WINDOW_BUFFER), True
        stream = self._tar.extractfile(member)
        if stream is None:
            raise CorruptArchive(f"{what} is missing from {self.name} ({path})")
        return stream, self._plain

    def _fd(self) -> int:
        """A descriptor of our own for ``pread``; tarfile's handle keeps its position."""
        if self._raw_fd is None:
            self._raw_fd = os.open(self.name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        return self._raw_fd

    def exists(self, path: str) -> bool:
        return path in self._members

    def size(self, path: str) -> int | None:
        m = self._members.get(path)
        return m.size if m is not None else None

    def stamp(self, path: str) -> str:
        member = self._member(path, path)
        try:
            st = os.stat(self.name)
        except OSError as exc:
            raise CorruptArchive(f"cannot read {self.name}: {exc}") from exc
        return f"{_stat_stamp(Path(self.name), st)}:{member.offset_data}:{member.size}:{path}"

    @property
    def parallel_safe(self) -> bool:
        return self._plain  # compressed archives share one decompressing handle

    def close(self) -> None:
        if self._raw_fd is not None:
            os.close(self._raw_fd)
            self._raw_fd = None
        self._tar.close()


def host_platform() -> Platform:
    import platform as _platform

    machine = _platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    variant = "v8" if arch == "arm64" else ""
    return Platform("linux", arch, variant)


def parse_platform(text: str) -> Platform:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise BadInput(f"--platform wants os/arch[/variant], such as linux/amd64, not {text!r}")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def _platform_of(desc: dict[str, Any]) -> Platform | None:
    plat = desc.get("platform")
    if not isinstance(plat, dict):
        return None
    return Platform(
        str(plat.get("os", "")), str(plat.get("architecture", "")), str(plat.get("variant", ""))
    )


def _matches(have: Platform, want: Platform) -> bool:
    if (have.os, have.architecture) != (want.os, want.architecture):
        return False
    # arm64 images often leave the variant out; v8 is what it means then.
    return not want.variant or have.variant in (want.variant, "")


@dataclass(frozen=True, slots=True)
class LayerBlob:
    diff_id: str
    path: str  # inside the store
    media_type: str | None
    size: int | None  # what the descriptor says (or the store, when there is none)
    digest: str | None = None  # the blob's digest, when a manifest names it


@dataclass(frozen=True, slots=True)
class Resolved:
    info: ImageInfo
    layers: tuple[LayerBlob, ...]
    notes: tuple[str, ...]


def _descriptors(store: BlobStore, doc: Any, what: str) -> list[dict[str, Any]]:
    manifests = doc.get("manifests") if isinstance(doc, dict) else None
    if not isinstance(manifests, list):
        raise CorruptArchive(f"{what} in {store.name} has no manifests list")
    return [m for m in manifests if isinstance(m, dict)]


def resolve_oci(store: BlobStore, *, ref: str, platform: Platform | None) -> Resolved:
    """Follow index.json to one image manifest, choosing the platform when there are several."""
    index = load_json(store.read("index.json", "index.json"), f"index.json in {store.name}")
    candidates: list[tuple[dict[str, Any], Platform | None]] = []
    pending = [(d, 0) for d in _descriptors(store, index, "index.json")]
    seen = len(pending)
    if seen > MAX_MANIFESTS:
        raise CorruptArchive(f"{store.name} lists over {MAX_MANIFESTS} manifests")
    while pending:
        desc, depth = pending.pop(0)
        media = desc.get("mediaType", "")
        annotations = desc.get("annotations") or {}
        if isinstance(annotations, dict) and (
            annotations.get("vnd.docker.reference.type") == _ATTESTATION
        ):
            continue
        plat = _platform_of(desc)
        if plat is not None and plat.os == "unknown":
            continue
        if media in INDEX_TYPES:
            if depth > 4:
                raise CorruptArchive(f"image indexes nest too deep in {store.name}")
            digest = str(desc.get("digest", ""))
            nested = load_json(read_verified(store, digest, "image index"), "image index")
            pending.extend((d, depth + 1) for d in _descriptors(store, nested, "image index"))
            seen += len(pending)
            if seen > MAX_MANIFESTS:
                raise CorruptArchive(f"{store.name} lists over {MAX_MANIFESTS} manifests")
        elif media in MANIFEST_TYPES or not media:
            candidates.append((desc, plat))
        else:
            raise CorruptArchive(f"unknown manifest media type {media!r} in {store.name}")
    if not candidates:
        raise ImageNotFound(f"{store.name} holds no image manifest")
    notes: list[str] = []
    chosen = candidates[0]
    if len(candidates) > 1 or platform is not None:
        want = platform or host_platform()
        present = [c for c in candidates if c[1] is not None and store.exists(_digest_path(c[0]))]
        matching = [c for c in present if c[1] is not None and _matches(c[1], want)]
        if not matching and platform is None and len(candidates) > 1 and not present:
            matching = candidates[:1]
        if not matching:
            listed = ", ".join(str(c[1]) for c in candidates if c[1] is not None) or "none named"
            raise ImageNotFound(
                f"{store.name} has no image for platform {want} (it has: {listed}); "
                "choose one with --platform"
            )
        chosen = matching[0]
        if len(candidates) > 1:
            all_plats = ", ".join(str(c[1]) for c in candidates)
            notes.append(f"platform {chosen[1]} chosen of {all_plats}")
    desc = chosen[0]
    _digest_path(desc)
    manifest_bytes = read_verified(store, str(desc["digest"]), "image manifest")
    manifest = load_json(manifest_bytes, "image manifest")
    annotations = desc.get("annotations") or {}
    name = annotations.get("io.containerd.image.name") or annotations.get(
        "org.opencontainers.image.ref.name"
    )
    return from_manifest(
        manifest,
        lambda digest: read_verified(store, digest, "image config"),
        where=store.name,
        ref=ref,
        repo_tags=(str(name),) if name else (),
        media_type=str(desc.get("mediaType") or ""),
        notes=tuple(notes),
    )


def from_manifest(
    manifest: Any,
    read_config: Callable[[str], bytes],
    *,
    where: str,
    ref: str,
    repo_tags: tuple[str, ...] = (),
    media_type: str = "",
    notes: tuple[str, ...] = (),
) -> Resolved:
    """An image manifest (OCI or Docker v2) and its config, however they were fetched."""
    if not isinstance(manifest, dict):
        raise CorruptArchive(f"image manifest in {where} is not a JSON object")
    media = manifest.get("mediaType") or media_type
    if media and media not in MANIFEST_TYPES:
        raise CorruptArchive(f"unknown manifest media type {media!r} in {where}")
    config_desc = manifest.get("config")
    if not isinstance(config_desc, dict) or "digest" not in config_desc:
        raise CorruptArchive(f"image manifest in {where} names no config")
    config_digest = str(config_desc["digest"])
    config = load_json(read_config(config_digest), "image config")
    info = image_info(config, ref=ref, image_id=config_digest, repo_tags=repo_tags)
    raw_layers = manifest.get("layers")
    if not isinstance(raw_layers, list):
        raise CorruptArchive(f"image manifest in {where} has no layers list")
    if len(raw_layers) != len(info.diff_ids):
        raise CorruptArchive(
            f"image manifest in {where} lists {len(raw_layers)} layers "
            f"but its config has {len(info.diff_ids)}"
        )
    layers = []
    for diff_id, layer in zip(info.diff_ids, raw_layers, strict=True):
        if not isinstance(layer, dict) or "digest" not in layer:
            raise CorruptArchive(f"image manifest in {where} has a layer without a digest")
        media_type = str(layer.get("mediaType", ""))
        if media_type not in LAYER_TYPES:
            raise CorruptArchive(
                f"layer {short(str(layer.get('digest', '?')))} has an unknown media type "
                f"{media_type!r}"
            )
        digest, size = str(layer["digest"]), layer.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise CorruptArchive(f"layer {short(digest)} has no valid size in its descriptor")
        layers.append(LayerBlob(diff_id, blob_path(digest), media_type, size, digest))
    return Resolved(info, tuple(layers), notes)


def read_verified(store: BlobStore, digest: str, what: str, path: str | None = None) -> bytes:
    """A small blob (index, manifest, config) read whole and checked against its digest."""
    data = store.read(path or blob_path(digest), what)
    algo, _, hexpart = digest.partition(":")
    if algo not in ("sha256", "sha512") or hashlib.new(algo, data).hexdigest() != hexpart:
        raise CorruptArchive(
            f"{what} in {store.name} does not match its digest {short(digest)} (changed or damaged)"
        )
    return data


@contextlib.contextmanager
def malformed_documents(name: str) -> Iterator[None]:
    """Index, manifests and configs are input: a field of the wrong type (a list where a
    digest belongs, a string for a size) is a damaged archive, one line, never a crash."""
    try:
        yield
    except (TypeError, KeyError, AttributeError, IndexError, ValueError) as exc:
        if isinstance(exc, CorruptArchive | BadInput):
            raise
        raise CorruptArchive(
            f"{name} holds a malformed index, manifest or config ({type(exc).__name__}: {exc})"
        ) from None


def _digest_path(desc: dict[str, Any]) -> str:
    if "digest" not in desc:
        raise CorruptArchive("a manifest descriptor has no digest")
    return blob_path(str(desc["digest"]))


PARALLEL_MIN_BYTES = 48 << 20  # below this, forking costs more than a second core saves

# What a forked worker reads: the store and the layers, inherited through fork, not pickled.
_FORKED: dict[str, tuple[BlobStore, list[LayerBlob]]] = {}


def _index_blob(store: BlobStore, blob: LayerBlob) -> LayerIndex:
    """Index one layer, every byte of it hashed on the way: an index is returned only
    for content that matches its digests."""
    raw, seekable = store.open(blob.path, f"layer {short(blob.diff_id)}")
    if seekable and sniff(raw.read(4)) == "none":
        raw.close()
        return _index_in_place(store, blob)
    if seekable:
        raw.seek(0)
    with raw:
        layer = VerifiedLayer(
            raw, blob.diff_id, digest=blob.digest, size=blob.size if blob.digest else None
        )
        try:
            try:
                index = index_tar(layer.stream, blob.diff_id)
            except CorruptArchive as exc:
                raise (layer.blob_mismatch() or exc) from exc
            layer.finish()
        finally:
            layer.close()  # the read-ahead thread ends with the layer, however it ends
    return index


def _index_in_place(store: BlobStore, blob: LayerBlob) -> LayerIndex:
    """A plain tar in a file (an uncompressed archive's layer, a plain OCI blob): one
    thread hashes it front to back while the indexer seeks past the data it does not
    keep, on a second handle; the index is returned only once the hash matches, and
    only if the file did not change while it was read (its stamp before and after)."""
    what = f"layer {short(blob.diff_id)}"
    before = store.stamp(blob.path)
    failed: list[BaseException] = []
    hashed, _ = store.open(blob.path, what)
    with hashed:
        digest = Digesting(hashed)

        def drain() -> None:
            try:
                digest.drain()
            except OSError as exc:
                failed.append(exc)

        hasher = threading.Thread(target=drain, name="imagecheck-hash", daemon=True)
        hasher.start()
        index: LayerIndex | None = None
        unreadable: CorruptArchive | None = None
        try:
            raw, _ = store.open(blob.path, what)
            with raw:
                index = index_tar(raw, blob.diff_id, seekable=True)
        except CorruptArchive as exc:
            unreadable = exc  # a changed blob says so first, below
        finally:
            hasher.join()
    if failed:
        raise CorruptArchive(f"{what} cannot be read: {failed[0]}") from failed[0]
    if store.stamp(blob.path) != before:
        raise CorruptArchive(f"{what} changed while it was read ({blob.path} in {store.name})")
    if blob.size is not None and blob.digest is not None and digest.count != blob.size:
        raise CorruptArchive(
            f"{what}: its blob is {digest.count} bytes, not the {blob.size} its manifest "
            "names (changed, damaged or cut short)"
        ) from unreadable
    got = digest.digest()
    if blob.digest is not None and got != blob.digest:
        raise CorruptArchive(
            f"{what}: its blob hashes to {short(got)}, not to the digest {short(blob.digest)} "
            "its manifest names (changed or damaged)"
        ) from unreadable
    if unreadable is not None or index is None:
        raise unreadable or CorruptArchive(f"{what} cannot be read")
    if got != blob.diff_id:
        raise CorruptArchive(
            f"{what} does not match its diff_id in the image config: its content hashes to "
            f"{short(got)}"
        )
    return index


def _index_in_worker(n: int) -> dict[str, Any]:
    store, blobs = _FORKED["job"]
    return _index_blob(store, blobs[n]).to_data()


class StoreSource:
    """A source over a blob store: OCI layouts, and ``docker save`` archives of both eras."""

    def __init__(self, store: BlobStore, resolved: Resolved, kind: str) -> None:
        self._store = store
        self._resolved = resolved
        self._kind = kind

    def image(self) -> ImageInfo:
        return self._resolved.info

    def notes(self) -> tuple[str, ...]:
        return (f"read from {self._kind} {self._store.name}", *self._resolved.notes)

    def index_layers(self, diff_ids: Iterable[str], progress: ProgressFn) -> Iterator[LayerIndex]:
        wanted = set(diff_ids)
        todo: list[LayerBlob] = []
        for blob in self._resolved.layers:
            if blob.diff_id in wanted:
                wanted.discard(blob.diff_id)  # a layer twice in one image is read once
                todo.append(blob)
        progress(Progress("index", 0, len(todo)))
        workers = self._workers(todo)
        if workers > 1:
            yield from self._index_parallel(todo, workers, progress)
        else:
            for n, blob in enumerate(todo):
                progress(Progress("index", n, len(todo), short(blob.diff_id)))
                yield _index_blob(self._store, blob)
        progress(Progress("index", len(todo), len(todo)))

    def _workers(self, todo: list[LayerBlob]) -> int:
        """Layers are independent: index them on every core when there is enough to read
        and the store can be read from forked processes (``pread``, no shared offset)."""
        if len(todo) < 2 or not self._store.parallel_safe:
            return 1
        if "fork" not in multiprocessing.get_all_start_methods():
            return 1
        if sum(b.size or 0 for b in todo) < PARALLEL_MIN_BYTES:
            return 1
        return min(len(todo), os.cpu_count() or 1)

    def _index_parallel(
        self, todo: list[LayerBlob], workers: int, progress: ProgressFn
    ) -> Iterator[LayerIndex]:
        # Biggest first, so that the last layer to start is a small one.
        order = sorted(range(len(todo)), key=lambda n: -(todo[n].size or 0))
        _FORKED["job"] = (self._store, todo)
        try:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = {pool.submit(_index_in_worker, n): n for n in order}
                for done, future in enumerate(as_completed(futures)):
                    index = LayerIndex.from_data(future.result())
                    progress(Progress("index", done + 1, len(todo), short(index.diff_id)))
                    yield index
        except BrokenProcessPool as exc:
            raise EnvironmentProblem(f"a layer indexing process died: {exc}") from exc
        finally:
            _FORKED.clear()

    def stamps(self) -> dict[str, str]:
        return {b.diff_id: self._store.stamp(b.path) for b in self._resolved.layers}

    def file_digests(self, diff_id: str, paths: set[str]) -> dict[str, str]:
        return self.read_files(diff_id, paths, sha256_of)

    def read_files(
        self, diff_id: str, paths: set[str], read: Callable[[IO[bytes]], _T]
    ) -> dict[str, _T]:
        """The layer's blob streamed once, up to the last file wanted."""
        blob = next((b for b in self._resolved.layers if b.diff_id == diff_id), None)
        if blob is None or not paths:
            return {}
        raw, seekable = self._store.open(blob.path, f"layer {short(diff_id)}")
        with raw:
            stream, compression = decompressed(raw)
            return read_members(
                stream, diff_id, paths, read, seekable=seekable and compression == "none"
            )

    def close(self) -> None:
        self._store.close()


def open_oci(path: Path, *, ref: str, platform: Platform | None, archive: bool) -> StoreSource:
    if archive:
        store: BlobStore = TarStore(path)
    else:
        if not path.is_dir():
            raise BadInput(f"{path} is not an OCI layout folder")
        store = DirStore(path)
    try:
        if not store.exists("index.json"):
            raise CorruptArchive(f"{path} is not an OCI image layout (no index.json)")
        with malformed_documents(store.name):
            resolved = resolve_oci(store, ref=ref, platform=platform)
    except BaseException:
        store.close()
        raise
    return StoreSource(store, resolved, "OCI archive" if archive else "OCI layout")
