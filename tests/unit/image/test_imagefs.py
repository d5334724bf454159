"""Overlay semantics of the squashed view, on real layer tars built in memory."""

from __future__ import annotations

import io

from imagecheck.image.imagefs import ImageFS
from imagecheck.image.layerindex import LayerIndex, index_tar
from imagecheck.model import HistoryEntry
from tests.fsbuild import image_fs as _image
from tests.fsbuild import layer_tar as _tar


def test_whiteout_hides_a_file_and_counts_waste() -> None:
    fs = _image(
        [("d", "data", b""), ("f", "data/a.txt", b"x" * 100), ("f", "data/b.txt", b"y" * 10)],
        [("f", "data/.wh.a.txt", b"")],
    )
    assert not fs.exists("/data/a.txt")
    assert fs.exists("/data/b.txt")
    assert fs.stats[0].wasted_bytes == 100
    assert fs.stats[1].hidden_bytes == 100
    assert fs.stats[1].files_removed == 1


def test_opaque_folder_hides_lower_contents_but_keeps_its_own() -> None:
    fs = _image(
        [("f", "data/a/x.txt", b"1"), ("f", "data/a/sub/y.txt", b"22"), ("f", "data/b.txt", b"3")],
        [("d", "data/a", b""), ("f", "data/a/.wh..wh..opq", b""), ("f", "data/a/new.txt", b"4")],
    )
    assert fs.listdir("/data/a") == ["new.txt"]
    assert not fs.exists("/data/a/sub/y.txt")
    assert fs.exists("/data/b.txt")
    assert fs.stats[0].wasted_bytes == 3
    layer = fs.layer_of("/data/a/new.txt")
    assert layer is not None
    assert layer.index == 1


def test_whiteout_of_a_folder_hides_everything_below() -> None:
    fs = _image([("f", "opt/app/x/y/z.txt", b"abc")], [("f", "opt/.wh.app", b"")])
    assert not fs.exists("/opt/app")
    assert not fs.exists("/opt/app/x/y/z.txt")
    assert fs.listdir("/opt") == []


def test_file_replacing_a_folder_hides_its_contents() -> None:
    fs = _image([("f", "srv/conf/a", b"aa")], [("f", "srv/.wh.conf", b""), ("f", "srv/conf", b"f")])
    node = fs.node("/srv/conf")
    assert node is not None
    assert node.entry.kind == "f"
    assert not fs.exists("/srv/conf/a")


def test_overwritten_file_is_wasted_and_changed() -> None:
    fs = _image([("f", "etc/app.conf", b"old" * 10)], [("f", "etc/app.conf", b"new")])
    assert fs.stats[0].wasted_bytes == 30
    assert fs.stats[1].files_changed == 1
    assert fs.stats[1].files_added == 0
    ref = fs.layer_of("/etc/app.conf")
    assert ref is not None
    assert ref.index == 1


def test_relisted_folder_keeps_lower_files() -> None:
    fs = _image(
        [("d", "usr", b""), ("f", "usr/a", b"1")], [("d", "usr", b""), ("f", "usr/b", b"2")]
    )
    assert fs.listdir("/usr") == ["a", "b"]
    assert fs.stats[1].files_changed == 0


def test_symlinked_folders_resolve_like_the_kernel() -> None:
    fs = _image(
        [
            ("d", "usr/lib", b""),
            ("l", "lib", "usr/lib"),
            ("f", "usr/lib/libz.so.1", b"z"),
            ("d", "opt/venv/lib/python3.11/site-packages", b""),
            ("l", "opt/venv/lib64", "lib"),
            ("l", "loop", "loop"),
            ("l", "abs", "/usr/lib"),
            ("l", "dangling", "/nowhere"),
        ]
    )
    assert fs.resolve("/lib/libz.so.1") == "/usr/lib/libz.so.1"
    assert fs.resolve("/opt/venv/lib64/python3.11/site-packages") == (
        "/opt/venv/lib/python3.11/site-packages"
    )
    assert fs.resolve("/abs/libz.so.1") == "/usr/lib/libz.so.1"
    assert fs.resolve("/loop") is None
    assert fs.resolve("/dangling") is None
    assert fs.listdir("/lib") == ["libz.so.1"]


def test_hard_link_reads_its_targets_bytes() -> None:
    fs = _image(
        [
            ("f", "usr/lib/python3/dist-packages/x.dist-info/METADATA", b"Name: x\nVersion: 1\n"),
            (
                "h",
                "usr/lib/python3/dist-packages/y.dist-info/METADATA",
                "usr/lib/python3/dist-packages/x.dist-info/METADATA",
            ),
        ]
    )
    assert (
        fs.read("/usr/lib/python3/dist-packages/y.dist-info/METADATA") == b"Name: x\nVersion: 1\n"
    )


def test_timeline_records_removal_and_readdition() -> None:
    status_v1 = b"Package: a\nStatus: install ok installed\nVersion: 1\n"
    status_v2 = b"Package: a\nStatus: install ok installed\nVersion: 2\n"
    fs = _image(
        [("f", "var/lib/dpkg/status", status_v1)],
        [("f", "var/lib/dpkg/.wh.status", b"")],
        [("f", "var/lib/dpkg/status", status_v2)],
    )
    states = [(v.layer, v.data) for v in fs.timeline("/var/lib/dpkg/status")]
    assert states == [(0, status_v1), (1, None), (2, status_v2)]
    assert fs.read("/var/lib/dpkg/status") == status_v2


def test_empty_history_entries_take_no_layer_position() -> None:
    diff = "sha256:" + "1" * 64
    index = index_tar(io.BytesIO(_tar([("f", "a", b"1")])), diff, seekable=True)
    history = [
        HistoryEntry(0, None, "ENV A=1", "", True, None),
        HistoryEntry(1, None, "COPY a /", "", False, diff),
        HistoryEntry(2, None, "CMD x", "", True, None),
    ]
    fs = ImageFS(history, [index])
    ref = fs.layer_of("/a")
    assert ref is not None
    assert (ref.index, ref.created_by, ref.diff_id) == (1, "COPY a /", diff)
    assert isinstance(index, LayerIndex)
