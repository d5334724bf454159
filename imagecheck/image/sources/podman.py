"""``podman:NAME``: an image in podman's containers-storage, read in place.

containers-storage keeps, under its graph root, the images (``overlay-images/
images.json``: names, top layer; each image's config as a "big data" file beside it),
the layers (``overlay-layers/layers.json``: parent, ``diff-digest``, which is the
diff_id) and each layer's files unpacked in ``overlay/<layer id>/diff``, whiteouts as
0/0 character devices: what the engine source reads in Docker's overlay2 folders, read
here the same way, nothing exported. The graph root is the one podman uses:
``$CONTAINERS_STORAGE_CONF`` (else ``/etc/containers/storage.conf``, rootless
``~/.config/containers/storage.conf``), else containers-storage's defaults
(``/var/lib/containers/storage``; ``~/.local/share/containers/storage`` rootless).

"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from ...errors import BadInput, CorruptArchive, EnvironmentProblem, ImageNotFound
from ...model import ImageInfo, Platform, short
from ...tomlfile import load_toml_file
from ..layerindex import LayerIndex, index_directory, read_folder, sha256_of
from .base import Progress, ProgressFn, image_info, load_json
from .daemon import index_save_stream

_T = TypeVar("_T")


def _conf_files() -> list[Path]:
    env = os.environ.get("CONTAINERS_STORAGE_CONF")
    if env:
        return [Path(env)]
    files = [Path("/etc/containers/storage.conf"), Path("/usr/share/containers/storage.conf")]
    if os.geteuid() != 0:
        config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        files.insert(0, config / "containers" / "storage.conf")
    return files


def graph_root() -> tuple[Path, str, str]:
    """(graph root, driver, where that was found) as podman would use them."""
    for conf in _conf_files():
        if not conf.is_file():
            continue
        try:
            data = load_toml_file(conf)
        except (BadInput, OSError, UnicodeDecodeError) as exc:
            raise EnvironmentProblem(f"podman: cannot read {conf}: {exc}") from None
        found = data.get("storage")
        storage: dict[str, Any] = found if isinstance(found, dict) else {}
        key = "graphroot" if os.geteuid() == 0 else "rootless_storage_path"
        root = storage.get(key)
        if root:
            return Path(str(root)), str(storage.get("driver") or "overlay"), str(conf)
    if os.geteuid() == 0:
        return Path("/var/lib/containers/storage"), "overlay", "the default"
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "containers" / "storage", "overlay", "the rootless default"


def _images_folders(root: Path) -> list[Path]:
    try:
        return [p for p in root.iterdir() if p.name.endswith("-images") and p.is_dir()]
    except OSError:
        return []


def _read_json(path: Path, what: str) -> Any:
    try:
        return load_json(path.read_bytes(), what)
    except FileNotFoundError:
        raise EnvironmentProblem(f"podman's store has no {what} ({path})") from None
    except OSError as exc:
        raise EnvironmentProblem(f"podman's store is unreadable: {exc}") from None


def _names_for(name: str) -> list[str]:
    """``name`` as typed and as podman stores short names (``localhost/x:latest`` for
    a local build, ``docker.io/library/x:latest`` for a pull)."""
    last = name.rsplit("/", 1)[-1]
    tagged = name if ":" in last or "@" in name else name + ":latest"
    first = tagged.split("/", 1)[0]
    out = [name, tagged]
    if not ("." in first or ":" in first or first == "localhost") or "/" not in tagged:
        out += ["localhost/" + tagged, "docker.io/" + tagged]
        if "/" not in tagged:
            out.append("docker.io/library/" + tagged)
    return list(dict.fromkeys(out))


def _find_image(images: list[dict[str, Any]], name: str) -> dict[str, Any]:
    wanted = _names_for(name)
    for candidate in wanted:
        for image in images:
            if candidate in (image.get("names") or []):
                return image
    bare = name.removeprefix("sha256:")
    by_id = [i for i in images if len(bare) >= 12 and str(i.get("id", "")).startswith(bare)]
    if len(by_id) == 1:
        return by_id[0]
    raise ImageNotFound(f"podman's store has no image {name!r}")


def _big_data(folder: Path, key: str) -> bytes:
    """An image's "big data" item: its file is ``=`` and the key in base64."""
    path = folder / ("=" + base64.b64encode(key.encode()).decode())
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EnvironmentProblem(f"podman's store: cannot read {key} of the image: {exc}") from None


class NotInPlace(EnvironmentProblem):
    """The store is there but cannot be read in place: ``podman image save`` can."""


class PodmanSource:
    def __init__(self, name: str, *, ref: str) -> None:
        root, driver, where = graph_root()
        if not root.exists():  # not there, or a folder on its way we may not look into
            raise EnvironmentProblem(f"podman's store at {root} ({where}) is missing or unreadable")
        if driver == "overlay" and not (root / "overlay-images").exists():
            # no storage.conf: podman chose the driver (vfs where rootless overlay is not
            # supported); its images folder says which
            used = sorted(p.name.removesuffix("-images") for p in _images_folders(root))
            driver = used[0] if used else driver
        if driver != "overlay":
            raise NotInPlace(
                f"podman's store at {root} uses the {driver} driver; only overlay is read in place"
            )
        if not os.access(root / "overlay-images", os.R_OK | os.X_OK):
            raise NotInPlace(f"podman's store at {root} ({where}) is not readable here")
        images = _read_json(root / "overlay-images" / "images.json", "images.json")
        layers = _read_json(root / "overlay-layers" / "layers.json", "layers.json")
        if not isinstance(images, list) or not isinstance(layers, list):
            raise CorruptArchive(f"podman's store at {root}: images.json or layers.json is no list")
        image = _find_image([i for i in images if isinstance(i, dict)], name)
        image_id = str(image.get("id", ""))
        config = _big_data(root / "overlay-images" / image_id, f"sha256:{image_id}")
        if hashlib.sha256(config).hexdigest() != image_id:
            raise CorruptArchive(f"podman's store: the config of image {image_id[:12]} is damaged")
        tags = tuple(str(n) for n in image.get("names") or [])
        self._info = image_info(
            load_json(config, "image config"),
            ref=ref,
            image_id=f"sha256:{image_id}",
            repo_tags=tags,
        )
        by_id = {str(x.get("id")): x for x in layers if isinstance(x, dict)}
        chain: list[dict[str, Any]] = []
        top = by_id.get(str(image.get("layer") or ""))
        while top is not None and len(chain) <= len(by_id):
            chain.append(top)
            top = by_id.get(str(top.get("parent") or ""))
        chain.reverse()
        diff_ids = tuple(str(x.get("diff-digest", "")) for x in chain)
        if diff_ids != self._info.diff_ids:
            raise CorruptArchive(
                f"podman's store: the layers of image {image_id[:12]} are not the ones its "
                "config names"
            )
        self._dirs = {
            d: str(root / "overlay" / str(x["id"]) / "diff")
            for d, x in zip(diff_ids, chain, strict=True)
        }
        self._notes = [
            f"podman image {image_id[:12]} ({', '.join(tags) or 'untagged'}) in {root} ({where})",
        ]

    def image(self) -> ImageInfo:
        return self._info

    def notes(self) -> tuple[str, ...]:
        return tuple(self._notes)

    def stamps(self) -> dict[str, str]:
        """None: podman's store verified its layers when it pulled or built them."""
        return {}

    def index_layers(self, diff_ids: Iterable[str], progress: ProgressFn) -> Iterator[LayerIndex]:
        wanted = list(dict.fromkeys(diff_ids))
        if wanted:
            self._notes.append("layers read in place from podman's overlay folders")
        for n, diff_id in enumerate(wanted):
            progress(Progress("index", n, len(wanted), short(diff_id)))
            folder = self._dirs[diff_id]
            if not os.access(folder, os.R_OK | os.X_OK):
                raise EnvironmentProblem(f"podman's layer folder {folder} is unreadable")
            yield index_directory(folder, diff_id)
        progress(Progress("index", len(wanted), len(wanted)))

    def file_digests(self, diff_id: str, paths: set[str]) -> dict[str, str]:
        return self.read_files(diff_id, paths, sha256_of)

    def read_files(
        self, diff_id: str, paths: set[str], read: Callable[[IO[bytes]], _T]
    ) -> dict[str, _T]:
        folder = self._dirs.get(diff_id)
        return {} if folder is None else read_folder(folder, paths, read)

    def close(self) -> None:
        return None


def open_podman(text: str, *, ref: str, platform: Platform | None) -> PodmanSource:
    """In place from the store's overlay folders; where they cannot be read (another
    driver, a rootless store whose files belong to the user namespace's ids), streamed
    from ``podman image save``."""
    if not text:
        raise BadInput("podman: names no image")
    del platform  # a store holds one platform's image under a name
    try:
        return PodmanSource(text, ref=ref)
    except NotInPlace as exc:
        if shutil.which("podman") is None:
            raise EnvironmentProblem(f"{exc}, and no podman command to save it") from None
        return PodmanSaveSource(text, ref=ref, why=str(exc))


_SAVE_TIMEOUT = 60.0  # seconds ``podman image inspect`` may take (a locked store)


def _podman(*args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["podman", *args], capture_output=True, check=False, timeout=_SAVE_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(
            f"podman {args[0]} did not answer in {_SAVE_TIMEOUT:.0f} s"
        ) from None
    except OSError as exc:
        raise EnvironmentProblem(f"podman cannot run: {exc}") from None


def _last_line(data: bytes) -> str:
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"


class PodmanSaveSource(PodmanSource):
    """``podman image save`` read as one stream (docker-archive to a pipe, never to
    disk), every layer indexed on the way, as the engine source reads ``docker save``;
    the rest as ``PodmanSource`` (its store is not read)."""

    def __init__(self, name: str, *, ref: str, why: str) -> None:  # its store is not read
        found = _podman("image", "inspect", "--format", "{{.Id}} {{json .RepoTags}}", name)
        if found.returncode != 0:
            message = _last_line(found.stderr)
            if "image not known" in message or "no such image" in message.lower():
                raise ImageNotFound(f"podman's store has no image {name!r}")
            raise EnvironmentProblem(f"{why}; podman image inspect {name}: {message}")
        given_id, _, names = found.stdout.decode().strip().partition(" ")
        image_id = "sha256:" + given_id.removeprefix("sha256:")
        try:
            tags = tuple(str(t) for t in json.loads(names or "[]") or [])
        except ValueError:
            tags = ()
        self._name, self._id, self._why = name, image_id, why
        self._notes = [
            f"podman image {image_id[7:19]} ({', '.join(tags) or 'untagged'})",
            f"layers read from podman image save, streamed ({why})",
        ]
        config, self._indexes = self._save()
        self._info = image_info(
            load_json(config, "image config"), ref=ref, image_id=image_id, repo_tags=tags
        )

    def _save(self) -> tuple[bytes, dict[str, LayerIndex]]:
        command = ["podman", "image", "save", "-q", "--format", "docker-archive", self._id]
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise EnvironmentProblem(f"podman cannot run: {exc}") from None
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE
        try:
            with proc.stdout:
                found = index_save_stream(proc.stdout, self._id, "podman image save", _ignore)
        except CorruptArchive:
            proc.kill()
            proc.wait()
            if proc.returncode not in (0, -9) and proc.stderr is not None:
                message = _last_line(proc.stderr.read())
                raise EnvironmentProblem(f"{self._why}; podman image save: {message}") from None
            raise
        finally:
            if proc.poll() is None:
                proc.wait(timeout=_SAVE_TIMEOUT)
        if proc.returncode != 0:
            message = _last_line(proc.stderr.read() if proc.stderr is not None else b"")
            raise EnvironmentProblem(f"{self._why}; podman image save: {message}")
        return found

    def index_layers(self, diff_ids: Iterable[str], progress: ProgressFn) -> Iterator[LayerIndex]:
        for diff_id in dict.fromkeys(diff_ids):
            found = self._indexes.get(diff_id)
            if found is None:
                raise CorruptArchive(f"podman image save lacks layer {short(diff_id)}")
            yield found

    def read_files(
        self, diff_id: str, paths: set[str], read: Callable[[IO[bytes]], _T]
    ) -> dict[str, _T]:
        """Nothing: the stream is read once, and keeps only the index."""
        return {}


def _ignore(_: int, __: str) -> None:
    return None
