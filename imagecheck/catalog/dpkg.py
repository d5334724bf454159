"""Debian packages (``/var/lib/dpkg/status``, distroless ``status.d/``) and Alpine's db.

The status file is rewritten whole by every layer that installs or removes a
package, so the layer that installed a package is the first layer, in an unbroken
run up to the top, whose status lists it at its current version. Comparing each
layer's status with the one before gives the layer view's added/removed/changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..image import ImageFS
from ..model import Change, DebianPackage, LayerRef, Removed

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"
APK_DB = "/lib/apk/db/installed"


def _stanzas(data: bytes) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    last = ""
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, last = {}, ""
            continue
        if line[0] in " \t":
            continue  # continuation lines (descriptions, conffiles): not needed
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            fields[last] = value.strip()
    if fields:
        yield fields


def parse_status(data: bytes) -> dict[str, tuple[str, str, str | None]]:
    """Installed packages: name -> (version, architecture, source package)."""
    out: dict[str, tuple[str, str, str | None]] = {}
    for st in _stanzas(data):
        status = st.get("Status", "install ok installed")
        name = st.get("Package")
        if not name or not status.endswith(" installed"):
            continue
        arch = st.get("Architecture", "")
        key = f"{name}:{arch}" if arch not in ("", "all") and name in out else name
        source = st.get("Source", "").split(" ")[0] or None
        out[key] = (st.get("Version", ""), arch, source)
    return out


def parse_apk(data: bytes) -> dict[str, tuple[str, str, str | None]]:
    out: dict[str, tuple[str, str, str | None]] = {}
    fields: dict[str, str] = {}
    for line in [*data.decode("utf-8", "replace").splitlines(), ""]:
        if not line.strip():
            if "P" in fields:
                out[fields["P"]] = (fields.get("V", ""), fields.get("A", ""), fields.get("o"))
            fields = {}
            continue
        key, sep, value = line.partition(":")
        if sep and len(key) == 1:
            fields[key] = value
    return out


Parser = Callable[[bytes], dict[str, tuple[str, str, str | None]]]


def _timeline_packages(
    fs: ImageFS, path: str, source: str, parser: Parser
) -> tuple[list[DebianPackage], list[Removed], dict[int, list[Change]]]:
    current: dict[str, tuple[str, str, str | None, LayerRef]] = {}
    removed: dict[str, Removed] = {}
    changes: dict[int, list[Change]] = {}
    for state in fs.timeline(path):
        ref = fs.layers[state.layer]
        new = parser(state.data) if state.data is not None else {}
        out = changes.setdefault(ref.index, [])
        for name, (ver, arch, src) in new.items():
            old = current.get(name)
            if old is None:
                out.append(Change("debian", "added", name, None, ver, "dpkg"))
                current[name] = (ver, arch, src, ref)
                removed.pop(name, None)
            elif old[0] != ver:
                out.append(Change("debian", "changed", name, old[0], ver, "dpkg"))
                current[name] = (ver, arch, src, ref)
        for name in [n for n in current if n not in new]:
            ver, _, _, added_by = current.pop(name)
            out.append(Change("debian", "removed", name, ver, None, "dpkg"))
            removed[name] = Removed("debian", name, ver, path, added_by, ref)
        if not out:
            del changes[ref.index]
    packages = [
        DebianPackage(name.split(":")[0], ver, arch, ref, source, src)
        for name, (ver, arch, src, ref) in sorted(current.items())
    ]
    return packages, list(removed.values()), changes


def catalog_debian(
    fs: ImageFS,
) -> tuple[tuple[DebianPackage, ...], tuple[Removed, ...], dict[int, list[Change]]]:
    packages: list[DebianPackage] = []
    removed: list[Removed] = []
    changes: dict[int, list[Change]] = {}
    sources: tuple[tuple[str, str, Parser], ...] = (
        (STATUS, "status", parse_status),
        (APK_DB, "apk", parse_apk),
    )
    for path, source, parser in sources:
        if fs.timeline(path):
            pkgs, gone, events = _timeline_packages(fs, path, source, parser)
            packages.extend(pkgs)
            removed.extend(gone)
            for k, v in events.items():
                changes.setdefault(k, []).extend(v)
    # Distroless images: one status file per package, each written by its own layer.
    for name in fs.listdir(STATUS_D):
        path = f"{STATUS_D}/{name}"
        data = fs.read(path)
        layer = fs.layer_of(path)
        if data is None or layer is None:
            continue
        for pkg, (ver, arch, src) in parse_status(data).items():
            packages.append(DebianPackage(pkg, ver, arch, layer, "status.d", src))
    packages.sort(key=lambda p: (p.name, p.architecture))
    return tuple(packages), tuple(removed), changes
