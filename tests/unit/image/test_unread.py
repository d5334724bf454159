"""Catalog files over the in-memory bound: streamed through a filter, or named (IC210).

Each image is built in tmp_path, as a plain docker archive (members seeked) and as an
OCI layout with gzip layers (read forward, once), since the two read paths differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagecheck.api import Options, inventory
from imagecheck.image.layerindex import MAX_CAPTURE
from tests.builders import SITE, F, Layer, make_image, metadata
from tests.helpers import run_cli

LAYOUTS = [("docker-legacy", "none"), ("oci-dir", "gzip")]


def _status(packages: int, description_lines: int) -> bytes:
    """A dpkg status of ``packages`` stanzas, each with a long description."""
    body = "".join(f" line {n} of a long description, as dpkg keeps it\n" for n in range(40))
    stanzas = [
        f"Package: pkg{n}\nStatus: install ok installed\nArchitecture: amd64\n"
        f"Version: 1.{n}-1\nSource: src{n % 7}\nDescription: package {n}\n"
        + body
        * (description_lines // 40)
        for n in range(packages)
    ]
    return "\n".join(stanzas).encode()


def _image(tmp_path: Path, layout: str, compression: str, files: list[F]) -> str:
    built = make_image(tmp_path, [Layer(files)], layout=layout, compression=compression)
    scheme = "docker-archive" if layout == "docker-legacy" else "oci-dir"
    return f"{scheme}:{built.path}"


@pytest.mark.parametrize(("layout", "compression"), LAYOUTS)
def test_a_status_over_the_bound_is_streamed_and_every_package_listed(
    tmp_path: Path, layout: str, compression: str
) -> None:
    status = _status(3000, 80)
    assert len(status) > MAX_CAPTURE
    target = _image(tmp_path, layout, compression, [F("var/lib/dpkg/status", status)])
    inv = inventory(target, Options(use_cache=False))
    assert len(inv.debian) == 3000
    pkg = next(p for p in inv.debian if p.name == "pkg2999")
    assert (pkg.version, pkg.architecture, pkg.source_package) == ("1.2999-1", "amd64", "src3")
    assert inv.unread == ()


@pytest.mark.parametrize(("layout", "compression"), LAYOUTS)
def test_metadata_with_a_huge_description_keeps_its_headers(
    tmp_path: Path, layout: str, compression: str
) -> None:
    body = "a very long description line\n" * (MAX_CAPTURE // 20)
    meta = metadata("bigdesc", "4.5.6", ("requests>=2",), body=body)
    assert len(meta) > MAX_CAPTURE
    files = [F(f"{SITE}/bigdesc-4.5.6.dist-info/METADATA", meta), F("usr/bin/python3.11")]
    inv = inventory(_image(tmp_path, layout, compression, files), Options(use_cache=False))
    dist = next(d for d in inv.python if d.name == "bigdesc")
    assert (dist.version, dist.requires_dist) == ("4.5.6", ("requests>=2",))
    assert inv.unread == ()


@pytest.mark.parametrize(("layout", "compression"), LAYOUTS)
def test_a_file_still_over_the_bound_is_named_with_its_size_and_layer(
    tmp_path: Path, layout: str, compression: str
) -> None:
    """A RECORD has no filter; a status whose field lines alone pass the bound neither
    fits: both are left unread, the inventory says so and ``check`` reports IC210."""
    record = b"".join(
        f"pkg/module_{n}.py,sha256=abcdefabcdefabcdefabcdef,1234\n".encode()
        for n in range(MAX_CAPTURE // 40)
    )
    status = _status(120_000, 0)  # ~ 14 MiB of field lines, no descriptions
    assert len(record) > MAX_CAPTURE
    assert len(status) > MAX_CAPTURE
    dist = f"{SITE}/huge-1.0.dist-info"
    files = [
        F(f"{dist}/METADATA", metadata("huge", "1.0")),
        F(f"{dist}/RECORD", record),
        F("var/lib/dpkg/status", status),
        F("usr/bin/python3.11"),
    ]
    target = _image(tmp_path, layout, compression, files)
    inv = inventory(target, Options(use_cache=False))
    unread = {u.path: (u.size, u.layer.index) for u in inv.unread}
    assert unread == {
        f"/{dist}/RECORD": (len(record), 0),
        "/var/lib/dpkg/status": (len(status), 0),
    }
    assert any(n.startswith(f"left unread: /{dist}/RECORD") for n in inv.notes)
    assert any(d.name == "huge" for d in inv.python)  # its METADATA was still read

    proc = run_cli("check", target, "--no-smoke", "--format", "json", "--no-cache")
    assert proc.returncode in (0, 1), proc.stderr
    found = [f for f in json.loads(proc.stdout)["findings"] if f["code"] == "IC210"]
    assert {f["subject"] for f in found} == set(unread)
    status_finding = next(f for f in found if f["subject"] == "/var/lib/dpkg/status")
    assert f"{len(status)} bytes" in status_finding["message"]
    assert status_finding["severity"] == "warning"
    assert status_finding["layer"]["index"] == 0


def test_a_file_under_the_bound_is_kept_whole(tmp_path: Path) -> None:
    """The bound itself: MAX_CAPTURE bytes are kept as they are, no filter, no finding."""
    status = _status(1, 0)
    status += b"X-Pad: " + b"p" * (MAX_CAPTURE - len(status) - 8) + b"\n"
    assert len(status) == MAX_CAPTURE
    inv = inventory(
        _image(tmp_path, "oci-dir", "gzip", [F("var/lib/dpkg/status", status)]),
        Options(use_cache=False),
    )
    assert [p.name for p in inv.debian] == ["pkg0"]
    assert inv.unread == ()
