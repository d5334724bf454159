"""IC2xx: native code, seen without running anything.

Wheel tags against the image's platform; every NEEDED of an extension module
resolved as the loader would; libraries loaded through ctypes that no ELF names;
the NumPy C-API generation each extension module was built against; system needs.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from packaging.version import InvalidVersion, Version

from ..constraints import canonical
from ..elf import MARKERS
from ..model import DebianPackage, Finding, PythonDist, SharedLibrary
from ..tomlfile import load_toml_text
from .context import Context

NUMPY1, NUMPY2 = (m.decode() for m in MARKERS)


@dataclass(frozen=True, slots=True)
class CtypesLibrary:
    distribution: str
    soname: str
    debian: str
    unless: tuple[str, ...] = ()


def load_ctypes_map(extra: str | None = None) -> list[CtypesLibrary]:
    texts = [resources.files("imagecheck").joinpath("data/ctypes_libraries.toml").read_text()]
    if extra:
        texts.append(extra)
    out = []
    for text in texts:
        for item in load_toml_text(text).get("library", []):
            out.append(
                CtypesLibrary(
                    canonical(item["distribution"]),
                    item["soname"],
                    item.get("debian", ""),
                    tuple(canonical(u) for u in item.get("unless", [])),
                )
            )
    return out


def _owner(lib: SharedLibrary, dists: list[PythonDist]) -> PythonDist | None:
    """The distribution whose top-level package (or ``.libs`` folder) holds ``lib``."""
    for dist in dists:
        prefix = dist.environment + "/"
        if not lib.path.startswith(prefix):
            continue
        top = lib.path[len(prefix) :].split("/", 1)[0]
        stem = top.split(".", 1)[0]
        if (
            stem in dist.import_names
            or top in dist.import_names
            or (
                top.endswith(".libs")
                and top[:-5].replace("-", "_")
                in {
                    n.replace("-", "_")
                    for n in (canonical(dist.name), dist.name, *dist.import_names)
                }
            )
        ):
            return dist
    return None


def _extension_modules(ctx: Context) -> list[tuple[SharedLibrary, PythonDist]]:
    out = []
    for lib in ctx.inventory.libraries:
        owner = _owner(lib, ctx.runtime)
        if owner is not None:
            out.append((lib, owner))
    return out


def check_wheel_tags(ctx: Context) -> Iterator[Finding]:
    """IC201: a wheel built for another architecture or Python."""
    interp = ctx.inventory.interpreter
    py = f"cp{interp.version.replace('.', '')}" if interp and interp.version else None
    for dist in ctx.runtime:
        for tag in dist.wheel_tags:
            parts = tag.split("-")
            if len(parts) != 3:
                continue
            python, abi, plat = parts
            if plat != "any" and not any(p.endswith(ctx.machine) for p in plat.split(".")):
                yield Finding(
                    "IC201",
                    "error",
                    dist.name,
                    f"{dist.name} {dist.version} is a wheel for {plat}, the image is "
                    f"{ctx.inventory.image.platform}",
                    "download wheels for the image's platform (pip download --platform ...) "
                    "or build inside the image",
                    dist.layer,
                )
                break
            if py and python.startswith("cp") and abi not in ("abi3", "none") and python != py:
                yield Finding(
                    "IC201",
                    "error",
                    dist.name,
                    f"{dist.name} {dist.version} is a wheel for {python}, the runtime "
                    f"interpreter is Python {interp.version if interp else '?'}",
                    "install wheels built for the image's Python version",
                    dist.layer,
                )
                break


def _expand(path: str, origin: str) -> str:
    return posixpath.normpath(re.sub(r"\$(ORIGIN|\{ORIGIN\})", origin, path))


def check_needed(ctx: Context) -> Iterator[Finding]:
    """IC202: a NEEDED of an extension module that does not resolve inside the image."""
    for lib, owner in _extension_modules(ctx):
        origin = posixpath.dirname(lib.path)
        search = tuple(_expand(p, origin) for p in (*lib.rpath, *lib.runpath))
        if origin.endswith(".libs"):
            # auditwheel's vendored folder is loaded as a set: its members find each other
            # already loaded by SONAME, whatever their own RUNPATH says.
            search = (*search, origin)
        for needed in lib.needed:
            if "/" in needed or needed.startswith("ld-linux"):
                continue
            if ctx.find_library(needed, search) is None:
                yield Finding(
                    "IC202",
                    "error",
                    owner.name,
                    f"{lib.path} needs {needed}, which the loader will not find in the image "
                    f"(import fails with 'ImportError: {needed}: cannot open shared object file')",
                    f"install the Debian package that ships {needed} "
                    f"(apt-get install -y --no-install-recommends <package>; "
                    f"'apt-file search {needed}' names it)",
                    owner.layer,
                )


def check_ctypes(ctx: Context, extra_map: str | None = None) -> Iterator[Finding]:
    """IC203: a library a distribution loads through ctypes is missing."""
    for item in load_ctypes_map(extra_map):
        dist = ctx.by_key.get(item.distribution)
        if dist is None or any(u in ctx.by_key for u in item.unless):
            continue
        if ctx.find_library(item.soname) is None:
            yield Finding(
                "IC203",
                "error",
                dist.name,
                f"{dist.name} loads {item.soname} at run time (ctypes), and the image has no "
                f"{item.soname}: import fails (python-magic says 'failed to find libmagic')",
                f"add 'apt-get install -y --no-install-recommends {item.debian}' to the "
                "Dockerfile; if it is there already, the layer came from a stale cache: "
                "rebuild with --no-cache",
                dist.layer,
            )


def numpy_mismatches(
    ctx: Context,
) -> tuple[PythonDist, int, dict[str, tuple[PythonDist, list[str]]]]:
    """numpy, its major version, and per distribution the extension modules built for
    the other major (an empty mapping when numpy is absent or all agree)."""
    affected: dict[str, tuple[PythonDist, list[str]]] = {}
    numpy = ctx.by_key.get("numpy")
    if numpy is None:
        raise LookupError("numpy is not installed")
    try:
        major = Version(numpy.version).major
    except InvalidVersion as exc:
        raise LookupError(f"numpy {numpy.version} is not a PEP 440 version") from exc
    for lib, owner in _extension_modules(ctx):
        if canonical(owner.name) == "numpy":
            continue
        old_only = NUMPY1 in lib.markers and NUMPY2 not in lib.markers
        new_only = NUMPY2 in lib.markers and NUMPY1 not in lib.markers
        if (major >= 2 and old_only) or (major < 2 and new_only):
            affected.setdefault(owner.name, (owner, []))[1].append(lib.path)
    return numpy, major, affected


def check_numpy_abi(ctx: Context) -> Iterator[Finding]:
    """IC204: extension modules built for one NumPy major run against the other."""
    try:
        numpy, major, affected = numpy_mismatches(ctx)
    except LookupError:
        return
    for name, (owner, paths) in sorted(affected.items()):
        built = "NumPy 1.x" if major >= 2 else "NumPy 2"
        error = (
            "'A module that was compiled using NumPy 1.x cannot be run in NumPy 2' / "
            "'ValueError: numpy.dtype size changed, may indicate binary incompatibility'"
            if major >= 2
            else "'ImportError: numpy.core.multiarray failed to import'"
        )
        yield Finding(
            "IC204",
            "error",
            name,
            f"{len(paths)} extension module(s) of {name} {owner.version} were built against "
            f"{built} but numpy {numpy.version} is installed (layer #{numpy.layer.index}): "
            f"import fails with {error}; e.g. {paths[0]}",
            (
                f"pin numpy<2 (the constraints' numpy pin) or upgrade {name} to a release built "
                "for NumPy 2"
            )
            if major >= 2
            else f"upgrade numpy to 2.x or pin {name} to a release built for NumPy 1.x",
            numpy.layer,
        )


def check_system_needs(ctx: Context) -> Iterator[Finding]:
    """IC205 a library the constraints need is missing; IC206 a Debian package is."""
    debian: dict[str, DebianPackage] = {p.name: p for p in ctx.inventory.debian}
    for need in ctx.constraints.system:
        if need.kind == "library" and ctx.find_library(need.name) is None:
            yield Finding(
                "IC205",
                "error",
                need.name,
                f"{need.name} is needed ({need.source}{': ' + need.why if need.why else ''}) "
                "but no folder the loader searches has it",
                f"apt-get install -y --no-install-recommends {need.debian or '<package>'}, "
                "then rebuild without the cache",
            )
        elif need.kind == "debian" and need.name not in debian:
            yield Finding(
                "IC206",
                "error",
                need.name,
                f"Debian package {need.name} is needed ({need.source}) but not installed",
                f"apt-get install -y --no-install-recommends {need.name}, then rebuild "
                "without the cache (docker build --no-cache)",
            )
