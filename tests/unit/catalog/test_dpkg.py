"""Debian and Alpine packages, attributed to the layer that installed their version."""

from __future__ import annotations

from imagecheck.catalog.dpkg import catalog_debian, parse_status
from tests.fsbuild import image_fs


def _status(*pkgs: tuple[str, str], removed: tuple[str, ...] = ()) -> bytes:
    out = []
    for name, version in pkgs:
        state = "deinstall ok config-files" if name in removed else "install ok installed"
        out.append(
            f"Package: {name}\nStatus: {state}\nArchitecture: amd64\nVersion: {version}\n"
            f"Description: the {name} package\n with a continuation line\n"
        )
    return "\n".join(out).encode()


def test_attribution_follows_the_version() -> None:
    fs = image_fs(
        [("f", "var/lib/dpkg/status", _status(("libc6", "2.36"), ("zlib1g", "1.2.13")))],
        [
            (
                "f",
                "var/lib/dpkg/status",
                _status(("libc6", "2.36"), ("zlib1g", "1.2.13"), ("libmagic1", "5.44")),
            )
        ],
        [("f", "var/lib/dpkg/status", _status(("libc6", "2.37"), ("libmagic1", "5.44")))],
    )
    packages, removed, changes = catalog_debian(fs)
    layers = {p.name: (p.version, p.layer.index) for p in packages}
    assert layers == {"libc6": ("2.37", 2), "libmagic1": ("5.44", 1)}
    assert [(r.name, r.added_by.index, r.removed_by.index) for r in removed] == [("zlib1g", 0, 2)]
    assert {(c.action, c.name) for c in changes[2]} == {("changed", "libc6"), ("removed", "zlib1g")}
    assert [(c.action, c.name) for c in changes[1]] == [("added", "libmagic1")]


def test_config_files_only_is_not_installed() -> None:
    parsed = parse_status(_status(("a", "1"), ("b", "2"), removed=("b",)))
    assert set(parsed) == {"a"}
    assert parsed["a"] == ("1", "amd64", None)


def test_distroless_status_d_and_apk() -> None:
    apk = b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\n\n"
    fs = image_fs(
        [("f", "var/lib/dpkg/status.d/libssl3", _status(("libssl3", "3.0.11")))],
        [("f", "lib/apk/db/installed", apk)],
    )
    packages, _, _ = catalog_debian(fs)
    found = {(p.name, p.version, p.source, p.layer.index) for p in packages}
    assert found == {
        ("libssl3", "3.0.11", "status.d", 0),
        ("musl", "1.2.4-r2", "apk", 1),
        ("busybox", "1.36.1-r5", "apk", 1),
    }
