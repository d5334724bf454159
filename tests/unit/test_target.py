"""What the user typed becomes the right kind of target."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagecheck.errors import BadInput, CorruptArchive
from imagecheck.target import (
    DOCKER_ARCHIVE,
    ENGINE,
    OCI_ARCHIVE,
    OCI_DIR,
    REGISTRY,
    parse_target,
)
from tests.builders import write_tar


def _tar(path: Path, names: list[str]) -> Path:
    return write_tar(path, dict.fromkeys(names, b"{}"))


@pytest.mark.parametrize(
    ("text", "kind", "location"),
    [
        ("docker:backend", ENGINE, "backend"),
        ("docker:registry.local:5000/app:1.2", ENGINE, "registry.local:5000/app:1.2"),
        ("backend:latest", ENGINE, "backend:latest"),
        ("sha256:" + "a" * 64, ENGINE, "sha256:" + "a" * 64),
        ("docker-archive:/x/y.tar", DOCKER_ARCHIVE, "/x/y.tar"),
        ("oci-dir:/x/layout", OCI_DIR, "/x/layout"),
        ("oci-archive:/x/img.tar", OCI_ARCHIVE, "/x/img.tar"),
        ("registry:ghcr.io/o/app:1.2", REGISTRY, "ghcr.io/o/app:1.2"),
        (
            "registry:localhost:5000/app@sha256:" + "b" * 64,
            REGISTRY,
            "localhost:5000/app@sha256:" + "b" * 64,
        ),
    ],
)
def test_prefixes(text: str, kind: str, location: str) -> None:
    target = parse_target(text)
    assert (target.kind, target.location, target.text) == (kind, location, text)


def test_archive_tag_after_at(tmp_path: Path) -> None:
    target = parse_target(f"docker-archive:{tmp_path}/two.tar@app:2")
    assert (target.location, target.tag) == (f"{tmp_path}/two.tar", "app:2")


def test_bare_paths_are_sniffed(tmp_path: Path) -> None:
    legacy = _tar(tmp_path / "a.tar", ["abc/layer.tar", "manifest.json"])
    oci = _tar(tmp_path / "b.tar", ["oci-layout", "index.json"])
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "index.json").write_text("{}")
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    assert parse_target(str(legacy)).kind == DOCKER_ARCHIVE
    assert parse_target(str(oci)).kind == OCI_ARCHIVE
    assert parse_target(str(layout)).kind == OCI_DIR


def test_bare_paths_that_are_not_images(tmp_path: Path) -> None:
    plain = _tar(tmp_path / "plain.tar", ["etc/passwd"])
    with pytest.raises(CorruptArchive, match="not an image archive"):
        parse_target(str(plain))
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar at all" * 40)
    with pytest.raises(CorruptArchive, match="is not a readable image archive"):
        parse_target(str(junk))
    with pytest.raises(BadInput, match="not an OCI image layout"):
        parse_target(str(tmp_path))
    with pytest.raises(BadInput, match="no such file"):
        parse_target(str(tmp_path / "missing.tar"))
    with pytest.raises(BadInput, match="names no image after docker:"):
        parse_target("docker:")
    with pytest.raises(BadInput, match="no image given"):
        parse_target("  ")


def test_a_folder_is_a_layout_only_with_index_and_oci_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project folder with an index.json of its own is no image; a bare word naming a
    folder (``backend``, a build context) is an engine image, a path spelled as one an error."""
    monkeypatch.chdir(tmp_path)
    backend = tmp_path / "backend"
    backend.mkdir()
    (backend / "index.json").write_text("{}")
    assert (parse_target("backend").kind, parse_target("backend").location) == (ENGINE, "backend")
    for spelled in ("./backend", "backend/", str(backend)):
        with pytest.raises(BadInput, match=r"no index\.json and oci-layout"):
            parse_target(spelled)
    (backend / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    assert parse_target("backend").kind == OCI_DIR
    assert parse_target("oci-dir:backend").location == "backend"
