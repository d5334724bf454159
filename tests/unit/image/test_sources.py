"""Every archive layout and compression, multi-platform indexes, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import Options, inventory
from imagecheck.errors import BadInput, CorruptArchive, ImageNotFound
from imagecheck.image.cache import Cache
from imagecheck.image.sources import oci
from imagecheck.image.sources.base import Progress
from imagecheck.model import Platform
from tests.builders import (
    SITE,
    BuiltImage,
    Empty,
    F,
    Layer,
    compress,
    layer_blob,
    layer_tar,
    make_image,
    make_multiplatform,
    metadata,
    read_member,
    remove_member,
    replace_member,
    rewrite_manifest,
    truncate_file,
)

HISTORY: list[Layer | Empty] = [
    Layer(
        [
            F("usr/local/bin/python3.11", b"\x7fELF"),
            F("usr/local/bin/python3", kind="symlink", link="python3.11"),
            F(f"{SITE}/six-1.16.0.dist-info/METADATA", metadata("six", "1.16.0")),
            F(f"{SITE}/six.py", b"x = 1\n"),
            F(f"{SITE}/idna-3.7.dist-info/METADATA", metadata("idna", "3.7")),
            F(
                "var/lib/dpkg/status",
                b"Package: libc6\nStatus: install ok installed\nVersion: 2.36\n",
            ),
            F("usr/lib/x86_64-linux-gnu", kind="dir"),
            F("data/old.bin", b"z" * 1000),
        ],
        created_by="/bin/sh -c #(nop) ADD file:abc in / ",
    ),
    Empty("/bin/sh -c #(nop)  ENV LANG=C.UTF-8"),
    Layer(
        [
            F(f"{SITE}/six-1.16.0.dist-info", kind="whiteout"),
            F(f"{SITE}/six.py", kind="whiteout"),
            F("data/old.bin", kind="whiteout"),
        ],
        created_by="/bin/sh -c pip uninstall -y six",
    ),
    Empty('/bin/sh -c #(nop)  CMD ["python3"]'),
]
CONFIG = {"Cmd": ["python3"], "WorkingDir": "/app"}
LAYOUTS = [
    ("docker-legacy", "none"),
    ("docker-oci", "none"),
    ("docker-oci", "gzip"),
    ("docker-oci", "zstd"),
    ("oci-dir", "none"),
    ("oci-dir", "gzip"),
    ("oci-dir", "zstd"),
    ("oci-archive", "gzip"),
    ("oci-archive", "zstd"),
]


@pytest.mark.parametrize(("layout", "compression"), LAYOUTS)
def test_every_layout_gives_the_same_inventory(
    tmp_path: Path, layout: str, compression: str
) -> None:
    built = make_image(tmp_path, HISTORY, layout=layout, compression=compression, config=CONFIG)
    inv = inventory(str(built.path), Options(use_cache=False))
    assert inv.image.id == built.image_id
    assert inv.image.diff_ids == tuple(built.diff_ids)
    assert inv.image.cmd == ("python3",)
    assert [h.empty_layer for h in inv.image.history] == [False, True, False, True]
    assert [(d.name, d.version, d.layer.index) for d in inv.python] == [("idna", "3.7", 0)]
    assert [(r.name, r.added_by.index, r.removed_by.index) for r in inv.removed] == [("six", 0, 2)]
    assert [(p.name, p.version) for p in inv.debian] == [("libc6", "2.36")]
    assert inv.interpreter is not None
    assert inv.interpreter.path == "/usr/local/bin/python3"
    assert inv.layers[0].wasted_bytes == 1000 + len(b"x = 1\n") + len(metadata("six", "1.16.0"))
    assert inv.layers[2].files_removed == 3


def _damage_layer_blobs(built: BuiltImage) -> None:
    assert built.manifest_digest is not None
    blobs = built.path / "blobs" / "sha256"
    manifest = json.loads((blobs / built.manifest_digest.split(":")[1]).read_text())
    for layer in manifest["layers"]:
        (blobs / layer["digest"].split(":")[1]).write_bytes(b"damaged")


def _no_layer_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("a layer was read")

    monkeypatch.setattr(oci, "_index_blob", refuse)


def test_explicit_prefixes_and_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = make_image(tmp_path, HISTORY, layout="oci-archive", compression="gzip")
    cache = tmp_path / "cache"
    first = inventory(f"oci-archive:{built.path}", Options(cache_dir=cache))
    assert len(list(cache.rglob("*.idx"))) == 2
    (tmp_path / "again").mkdir()
    again = make_image(tmp_path / "again", HISTORY, layout="oci-dir", compression="zstd")
    second = inventory(f"oci-dir:{again.path}", Options(cache_dir=cache))
    assert first.python == second.python
    # Unchanged blobs, verified before: nothing is read again.
    with monkeypatch.context() as m:
        _no_layer_reads(m)
        assert inventory(f"oci-dir:{again.path}", Options(cache_dir=cache)).python == first.python
    # A warm cache does not hide a damaged blob: its fingerprint changed, it is read again.
    _damage_layer_blobs(again)
    with pytest.raises(CorruptArchive, match="its blob is 7 bytes, not the"):
        inventory(f"oci-dir:{again.path}", Options(cache_dir=cache))
    with pytest.raises(CorruptArchive, match="its manifest names"):
        inventory(f"oci-dir:{again.path}", Options(use_cache=False))


def test_the_catalog_is_cached_by_image_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = make_image(tmp_path, HISTORY, layout="oci-dir", compression="gzip")
    cache = tmp_path / "cache"
    fresh = inventory(str(built.path), Options(use_cache=False))
    first = inventory(str(built.path), Options(cache_dir=cache))
    (stored,) = cache.rglob("*.inv")
    # With the layer indexes gone and no layer read allowed, only the cached catalog
    # can answer: the same answer.
    for idx in cache.rglob("*.idx"):
        idx.unlink()
    with monkeypatch.context() as m:
        _no_layer_reads(m)
        second = inventory(str(built.path), Options(cache_dir=cache))
    assert second == first == fresh
    # A damaged entry, or one holding another image's catalog, is a miss: the layers are read.
    good = stored.read_bytes()
    (tmp_path / "other").mkdir()
    other = make_image(tmp_path / "other", HISTORY[:1], layout="oci-archive")
    inventory(str(other.path), Options(cache_dir=cache))
    (theirs,) = (p for p in cache.rglob("*.inv") if p != stored)
    for idx in cache.rglob("*.idx"):
        idx.unlink()
    for bad in (good[:40], theirs.read_bytes()):
        stored.write_bytes(bad)
        with monkeypatch.context() as m:
            _no_layer_reads(m)
            with pytest.raises(AssertionError, match="a layer was read"):
                inventory(str(built.path), Options(cache_dir=cache))
    stored.write_bytes(good)
    with monkeypatch.context() as m:
        _no_layer_reads(m)
        assert inventory(str(built.path), Options(cache_dir=cache)) == fresh
    # A blob changed under a warm cache is noticed all the same.
    _damage_layer_blobs(built)
    with pytest.raises(CorruptArchive, match="its manifest names"):
        inventory(str(built.path), Options(cache_dir=cache))


def test_docker_archive_with_two_images_needs_a_tag(tmp_path: Path) -> None:
    built = make_image(tmp_path, HISTORY, layout="docker-legacy", repo_tag="app:1")
    manifest = json.loads(read_member(built.path, "manifest.json"))
    second = dict(manifest[0], RepoTags=["app:2"])
    replace_member(built.path, "manifest.json", json.dumps([*manifest, second]).encode())
    with pytest.raises(BadInput, match="holds 2 images"):
        inventory(str(built.path), Options(use_cache=False))
    inv = inventory(f"docker-archive:{built.path}@app:2", Options(use_cache=False))
    assert inv.image.repo_tags == ("app:2",)
    with pytest.raises(ImageNotFound, match="app:3"):
        inventory(f"docker-archive:{built.path}@app:3", Options(use_cache=False))


def _platform_history(arch: str) -> list[Layer | Empty]:
    return [Layer([F(f"{SITE}/pkg_{arch}-1.dist-info/METADATA", metadata(f"pkg-{arch}", "1"))])]


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("layout", ["oci-dir", "oci-archive"])
def test_multiplatform_choice(tmp_path: Path, layout: str, nested: bool) -> None:
    path = make_multiplatform(
        tmp_path,
        {"linux/arm64/v8": _platform_history("arm64"), "linux/amd64": _platform_history("amd64")},
        layout=layout,
        nested=nested,
        attestation=True,
    )
    amd = inventory(str(path), Options(use_cache=False, platform=Platform("linux", "amd64")))
    assert [d.name for d in amd.python] == ["pkg-amd64"]
    assert any("platform linux/amd64 chosen" in n for n in amd.notes)
    arm = inventory(str(path), Options(use_cache=False, platform=Platform("linux", "arm64", "v8")))
    assert [d.name for d in arm.python] == ["pkg-arm64"]
    assert str(arm.image.platform) == "linux/arm64/v8"
    with pytest.raises(ImageNotFound, match=r"no image for platform linux/s390x.*linux/amd64"):
        inventory(str(path), Options(use_cache=False, platform=Platform("linux", "s390x")))


def test_host_platform_is_the_default(tmp_path: Path) -> None:
    from imagecheck.image.sources.oci import host_platform

    host = host_platform()
    other = "linux/s390x"
    path = make_multiplatform(
        tmp_path, {other: _platform_history("s390x"), str(host): _platform_history("host")}
    )
    inv = inventory(str(path), Options(use_cache=False))
    assert [d.name for d in inv.python] == ["pkg-host"]


@pytest.mark.parametrize(
    ("layout", "compression"), [("docker-legacy", "none"), ("oci-dir", "gzip")]
)
def test_layers_indexed_in_parallel_give_the_same_inventory(
    tmp_path: Path, layout: str, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big images index their layers in forked workers; the inventory must not change."""
    built = make_image(tmp_path, HISTORY, layout=layout, compression=compression, config=CONFIG)
    serial = inventory(str(built.path), Options(use_cache=False))
    monkeypatch.setattr(oci, "PARALLEL_MIN_BYTES", 0)
    events: list[Progress] = []
    parallel = inventory(str(built.path), Options(use_cache=False), progress=events.append)
    assert parallel == serial
    # Two layers to read, two workers: both reported done, the second with the count at 2.
    done = [e for e in events if e.stage == "index" and e.detail]
    assert sorted(e.done for e in done) == [1, 2]


def test_a_corrupt_layer_in_a_worker_is_still_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = make_image(tmp_path, HISTORY, layout="docker-legacy")
    manifest = json.loads(read_member(built.path, "manifest.json"))
    replace_member(built.path, manifest[0]["Layers"][1], b"\x01" * 2048)
    monkeypatch.setattr(oci, "PARALLEL_MIN_BYTES", 0)
    with pytest.raises(CorruptArchive, match="layer sha256:"):
        inventory(str(built.path), Options(use_cache=False))


# -- bad input: each a clear ImagecheckError, never anything else -----------------------------


def _built(tmp_path: Path, layout: str, compression: str = "none") -> Path:
    return make_image(tmp_path, HISTORY, layout=layout, compression=compression).path


def test_truncated_archive(tmp_path: Path) -> None:
    path = _built(tmp_path, "docker-legacy")
    truncate_file(path, 0.5)
    with pytest.raises(CorruptArchive, match="is not a readable image archive"):
        inventory(str(path), Options(use_cache=False))


def _layer_blob(tmp_path: Path, compression: str) -> tuple[Path, bytes, str]:
    """An OCI layout, its first layer's blob bytes, and how errors name that layer."""
    built = make_image(tmp_path, HISTORY, layout="oci-dir", compression=compression)
    name = f"layer {built.diff_ids[0][:19]}"
    return built.path, layer_blob(built.path, 0).read_bytes(), name


def _relinked(layout: Path, blob: bytes) -> None:
    """Layer 0 replaced by ``blob``, with its descriptor's digest and size to match."""
    rewrite_manifest(layout, lambda _: None, {0: blob})


def test_truncated_gzip_layer(tmp_path: Path) -> None:
    layout, blob, layer = _layer_blob(tmp_path, "gzip")
    _relinked(layout, blob[: len(blob) // 2])
    with pytest.raises(CorruptArchive, match=f"^{layer} cannot be read: compressed data ended"):
        inventory(str(layout), Options(use_cache=False))
    # The same damage under the old digest is named for what it is: not the blob named.
    (tmp_path / "again").mkdir()
    layout, blob, layer = _layer_blob(tmp_path / "again", "gzip")
    layer_blob(layout, 0).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorruptArchive, match=f"^{layer}: its blob is .* bytes, not the"):
        inventory(str(layout), Options(use_cache=False))


@pytest.mark.parametrize(
    ("compression", "says"), [("gzip", "cannot be read: "), ("zstd", "is not valid zstd: ")]
)
def test_garbage_after_compression_magic(tmp_path: Path, compression: str, says: str) -> None:
    layout, blob, layer = _layer_blob(tmp_path, compression)
    _relinked(layout, blob[:4] + b"\x00garbage" * 50)
    with pytest.raises(CorruptArchive, match=f"^{layer} {says}"):
        inventory(str(layout), Options(use_cache=False))


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_a_layer_that_is_not_its_diff_id_is_refused_and_never_cached(
    tmp_path: Path, compression: str
) -> None:
    """A well-formed layer whose tar is not the one the config names (blob digests all
    consistent): refused with one line naming the layer, and nothing enters the cache."""
    built = make_image(tmp_path, HISTORY, layout="oci-dir", compression=compression)
    _relinked(built.path, compress(layer_tar([F("etc/poisoned", b"x")]), compression))
    cache = tmp_path / "cache"
    bottom = built.diff_ids[0]
    with pytest.raises(CorruptArchive, match=f"^layer {bottom[:19]} does not match its diff_id"):
        inventory(str(built.path), Options(cache_dir=cache))
    assert Cache(cache).get_layer(bottom) is None
    assert all(b"etc/poisoned" not in p.read_bytes() for p in cache.rglob("*.idx"))
    assert not list(cache.rglob("*.inv"))


def test_manifest_that_is_not_json(tmp_path: Path) -> None:
    path = _built(tmp_path, "docker-legacy")
    replace_member(path, "manifest.json", b"{not json")
    with pytest.raises(CorruptArchive, match="not valid JSON"):
        inventory(str(path), Options(use_cache=False))


def test_layer_missing_from_archive(tmp_path: Path) -> None:
    built = make_image(tmp_path, HISTORY, layout="docker-legacy")
    manifest = json.loads(read_member(built.path, "manifest.json"))
    remove_member(built.path, manifest[0]["Layers"][1])
    with pytest.raises(CorruptArchive, match="missing"):
        inventory(str(built.path), Options(use_cache=False))


def test_unknown_layer_media_type(tmp_path: Path) -> None:
    built = make_image(tmp_path, HISTORY, layout="oci-dir", compression="gzip")

    def edit(manifest: dict[str, Any]) -> None:
        manifest["layers"][0]["mediaType"] = "application/vnd.example.squashfs"

    rewrite_manifest(built.path, edit)
    with pytest.raises(CorruptArchive, match="unknown media type"):
        inventory(str(built.path), Options(use_cache=False))


def test_a_manifest_or_config_changed_in_place_is_refused(tmp_path: Path) -> None:
    built = make_image(tmp_path, HISTORY, layout="oci-dir", compression="gzip")
    config = built.path / "blobs" / "sha256" / built.image_id.split(":")[1]
    config.write_bytes(config.read_bytes().replace(b"amd64", b"arm64"))
    with pytest.raises(CorruptArchive, match=r"image config in .* does not match its digest"):
        inventory(str(built.path), Options(use_cache=False))
    assert built.manifest_digest is not None
    manifest = built.path / "blobs" / "sha256" / built.manifest_digest.split(":")[1]
    manifest.write_bytes(manifest.read_bytes() + b" ")
    with pytest.raises(CorruptArchive, match=r"image manifest in .* does not match its digest"):
        inventory(str(built.path), Options(use_cache=False))


def test_unknown_manifest_media_type(tmp_path: Path) -> None:
    built = make_image(tmp_path, HISTORY, layout="oci-dir")
    index = json.loads((built.path / "index.json").read_text())
    index["manifests"][0]["mediaType"] = "application/vnd.example.manifest"
    (built.path / "index.json").write_text(json.dumps(index))
    with pytest.raises(CorruptArchive, match="unknown manifest media type"):
        inventory(str(built.path), Options(use_cache=False))


def test_config_and_manifest_disagree(tmp_path: Path) -> None:
    built = make_image(tmp_path, HISTORY, layout="docker-legacy")
    manifest = json.loads(read_member(built.path, "manifest.json"))
    manifest[0]["Layers"] = manifest[0]["Layers"][:1]
    replace_member(built.path, "manifest.json", json.dumps(manifest).encode())
    with pytest.raises(CorruptArchive, match="lists 1 layers"):
        inventory(str(built.path), Options(use_cache=False))


def test_layer_that_is_not_a_tar(tmp_path: Path) -> None:
    built = make_image(tmp_path, HISTORY, layout="docker-legacy")
    manifest = json.loads(read_member(built.path, "manifest.json"))
    replace_member(built.path, manifest[0]["Layers"][0], b"\x01" * 2048)
    layer = f"layer {built.diff_ids[0][:19]}"
    with pytest.raises(CorruptArchive, match=f"^{layer} is not a readable tar: invalid number"):
        inventory(str(built.path), Options(use_cache=False))


def test_prefixed_missing_paths(tmp_path: Path) -> None:
    for text in (f"docker-archive:{tmp_path}/none.tar", f"oci-archive:{tmp_path}/none.tar"):
        with pytest.raises(BadInput, match="no such file"):
            inventory(text, Options(use_cache=False))
    with pytest.raises(BadInput, match="not an OCI layout folder"):
        inventory(f"oci-dir:{tmp_path}/nothing", Options(use_cache=False))
