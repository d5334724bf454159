"""IC2xx: native code, seen without running anything.

Wheel tags against the image's platform; every NEEDED of an extension module
resolved as the loader would; libraries loaded through ctypes that no ELF names;
the NumPy C-API generation each extension module was built against; system needs.
"""

from __future__ import annotations

import posixpath
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from ..codes import IC201, IC202, IC203, IC204, IC205, IC206, IC207, IC208
from ..image import MARKERS
from ..model import DebianPackage, Finding, PythonDist, SharedLibrary, canonical
from ..tomlfile import load_toml_text

if TYPE_CHECKING:
    from ..checks import Context

NUMPY1, NUMPY2 = (m.decode() for m in MARKERS)


@dataclass(frozen=True, slots=True)
class CtypesLibrary:
    distribution: str
    soname: str
    debian: str
    unless: tuple[str, ...] = ()


def load_ctypes_map(extra: str | None = None) -> list[CtypesLibrary]:
    texts = [resources.files("imagecheck.native").joinpath("ctypes_libraries.toml").read_text()]
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
                yield IC201.finding(
                    subject=dist.name,
                    message=f"{dist.name} {dist.version} is a wheel for {plat}, the image is "
                    f"{ctx.inventory.image.platform}",
                    hint="download wheels for the image's platform (pip download --platform ...) "
                    "or build inside the image",
                    layer=dist.layer,
                )
                break
            if py and python.startswith("cp") and abi not in ("abi3", "none") and python != py:
                yield IC201.finding(
                    subject=dist.name,
                    message=f"{dist.name} {dist.version} is a wheel for {python}, the runtime "
                    f"interpreter is Python {interp.version if interp else '?'}",
                    hint="install wheels built for the image's Python version",
                    layer=dist.layer,
                )
                break


@dataclass(frozen=True, slots=True)
class HostLibrary:
    """A library the host's NVIDIA driver provides: mounted at run time, never shipped."""

    prefix: str  # of the file name, as libnvidia-container matches it
    why: str


def load_host_libraries() -> tuple[HostLibrary, ...]:
    text = resources.files("imagecheck.native").joinpath("host_libraries.toml").read_text()
    return tuple(
        HostLibrary(item["prefix"], item.get("why", ""))
        for item in load_toml_text(text).get("library", [])
    )


def host_library(soname: str, table: tuple[HostLibrary, ...]) -> HostLibrary | None:
    return next((h for h in table if soname.startswith(h.prefix)), None)


_TOKEN = re.compile(r"\$(?:(ORIGIN|LIB|PLATFORM)\b|\{(ORIGIN|LIB|PLATFORM)\})")
_64BIT = frozenset({"x86_64", "aarch64", "ppc64le", "s390x", "riscv64"})


def expand_path(path: str, origin: str, lib: str, platform: str) -> str | None:
    """A RUNPATH/RPATH entry with ld.so's tokens replaced; None when it is relative (to
    the process's working folder, which no static look can know)."""
    values = {"ORIGIN": origin, "LIB": lib, "PLATFORM": platform}
    out = _TOKEN.sub(lambda m: values[m.group(1) or m.group(2)], path)
    return posixpath.normpath(out) if out.startswith("/") else None


def is_python_module(lib: SharedLibrary) -> bool:
    """An extension module defines PyInit_<the name it is imported by>; a plugin or a
    bundled library (``libtorch_cuda.so``, ``nvshmem_transport_ucx.so.3``) does not."""
    return posixpath.basename(lib.path).split(".", 1)[0] in lib.py_init


class Loader:
    """The dynamic loader's search, on the image's files (ld.so(8)): for each NEEDED,
    the RPATH of the object and then of the objects that loaded it (unless the object
    has a RUNPATH; a loader's RPATH counts only if that loader has none), then
    LD_LIBRARY_PATH from the image's environment, the object's own RUNPATH, then
    ld.so.conf's and the default folders. A name already loaded into the process (by
    SONAME) is found without a search."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.by_name: dict[str, dict[str, SharedLibrary]] = {}
        for lib in ctx.inventory.libraries:
            folder, _, base = lib.path.rpartition("/")
            names = self.by_name.setdefault(folder, {})
            names.setdefault(base, lib)
            if lib.soname:
                names.setdefault(lib.soname, lib)
        multiarch = f"{ctx.machine}-linux-gnu"
        if any(f in self.by_name for f in (f"/usr/lib/{multiarch}", f"/lib/{multiarch}")):
            self.dst_lib = f"lib/{multiarch}"  # Debian's and Ubuntu's glibc
        elif ctx.machine in _64BIT and any(f in self.by_name for f in ("/usr/lib64", "/lib64")):
            self.dst_lib = "lib64"
        else:
            self.dst_lib = "lib"
        env = ctx.inventory.image.env_value("LD_LIBRARY_PATH") or ""
        self.env_dirs = tuple(
            d
            for d in (posixpath.normpath(p) for p in env.replace(";", ":").split(":") if p)
            if d.startswith("/")
        )

    def _expand(self, lib: SharedLibrary, paths: tuple[str, ...]) -> list[str]:
        origin = posixpath.dirname(lib.path)
        out = (expand_path(p, origin, self.dst_lib, self.ctx.machine) for p in paths)
        return [p for p in out if p]

    def search(self, lib: SharedLibrary, loaders: tuple[SharedLibrary, ...]) -> list[str]:
        dirs: list[str] = []
        if not lib.runpath:  # an object's own DT_RUNPATH turns the walk off
            for obj in (lib, *reversed(loaders)):
                if not obj.runpath:  # ... and the DT_RPATH of an object that has one
                    dirs += self._expand(obj, obj.rpath)
        dirs += self.env_dirs
        dirs += self._expand(lib, lib.runpath)
        origin = posixpath.dirname(lib.path)
        if origin.endswith(".libs"):
            # auditwheel's vendored folder is loaded as a set: its members find each other
            # already loaded by SONAME, whatever their own RUNPATH says.
            dirs.append(origin)
        dirs += self.ctx.lib_dirs
        return dirs

    def find(self, soname: str, dirs: list[str]) -> SharedLibrary | None:
        for folder in dirs:
            hit = self.by_name.get(posixpath.normpath(folder), {}).get(soname)
            if hit is not None:
                return hit
        return None


@dataclass(frozen=True, slots=True)
class Unresolved:
    lib: SharedLibrary
    needed: str
    loaders: tuple[SharedLibrary, ...]  # the extension module first, ``lib``'s loader last


def _skipped(needed: str) -> bool:
    return "/" in needed or needed.startswith("ld-linux")


def load_closure(
    loader: Loader, roots: list[SharedLibrary]
) -> tuple[dict[str, SharedLibrary], list[Unresolved]]:
    """What importing ``roots`` in one process loads (by path), breadth first as ld.so
    does, and the NEEDED names nothing provides."""
    loaded: dict[str, SharedLibrary] = {}
    names: set[str] = set()
    pending: list[Unresolved] = []
    queue: deque[tuple[SharedLibrary, tuple[SharedLibrary, ...]]] = deque((r, ()) for r in roots)
    while queue:
        lib, loaders = queue.popleft()
        if lib.path in loaded:
            continue
        loaded[lib.path] = lib
        names.update(n for n in (posixpath.basename(lib.path), lib.soname) if n)
        dirs = loader.search(lib, loaders)
        for needed in lib.needed:
            if _skipped(needed):
                continue
            dep = loader.find(needed, dirs)
            if dep is None:
                pending.append(Unresolved(lib, needed, loaders))
            elif dep.path not in loaded:
                queue.append((dep, (*loaders, lib)))
    return loaded, [u for u in pending if u.needed not in names]


def check_needed(ctx: Context) -> Iterator[Finding]:
    """IC202: a library an importable extension module loads (itself or through its
    NEEDED closure) needs a name that resolves nowhere in the image: the import fails.
    IC207: the name is a driver library the NVIDIA container runtime mounts from the
    host (info). IC208: a library no extension module loads, a plugin opened on demand,
    needs a missing name (info: it matters only when that plugin is used)."""
    loader = Loader(ctx)
    host = load_host_libraries()
    owned = _extension_modules(ctx)
    groups: dict[str, tuple[PythonDist, list[SharedLibrary]]] = {}
    for lib, owner in owned:
        if is_python_module(lib):
            groups.setdefault(owner.name, (owner, []))[1].append(lib)
    in_closure: set[str] = set()
    loaded_names: set[str] = set()
    from_host: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for owner, roots in groups.values():
        loaded, missing = load_closure(loader, roots)
        in_closure.update(loaded)
        loaded_names.update(
            n for lib in loaded.values() for n in (posixpath.basename(lib.path), lib.soname) if n
        )
        for miss in missing:
            if host_library(miss.needed, host) is not None:
                from_host.setdefault(miss.needed, []).append(miss.lib.path)
                continue
            if (miss.lib.path, miss.needed) in seen:
                continue
            seen.add((miss.lib.path, miss.needed))
            via = (
                f" ({' -> '.join(posixpath.basename(x.path) for x in (*miss.loaders, miss.lib))})"
                if miss.loaders
                else ""
            )
            yield IC202.finding(
                subject=owner.name,
                message=f"{miss.lib.path} needs {miss.needed}, which the loader will not find "
                "in the "
                f"image{via} (import fails with 'ImportError: {miss.needed}: cannot open "
                "shared object file')",
                hint=f"install the Debian package that ships {miss.needed} "
                f"(apt-get install -y --no-install-recommends <package>; "
                f"'apt-file search {miss.needed}' names it)",
                layer=owner.layer,
            )
    plugins: list[tuple[SharedLibrary, PythonDist, list[str]]] = []
    for lib, owner in owned:
        if lib.path in in_closure:
            continue
        folder = posixpath.dirname(lib.path)
        dirs = loader.search(lib, ())
        absent = []
        for needed in lib.needed:
            if _skipped(needed) or needed in loaded_names:
                continue  # whatever opens the plugin has loaded it already
            if host_library(needed, host) is not None:
                from_host.setdefault(needed, []).append(lib.path)
            elif loader.find(needed, [*dirs, folder]) is None:
                absent.append(needed)
        if absent:
            plugins.append((lib, owner, absent))
    for soname, users in sorted(from_host.items()):
        users = sorted(set(users))
        kind = host_library(soname, host)
        more = f" and {len(users) - 1} more" if len(users) > 1 else ""
        yield IC207.finding(
            subject=soname,
            message=f"{soname}, {kind.why if kind else 'a driver library'}, needed by "
            f"{users[0]}{more}, "
            "comes from the host's NVIDIA driver at run time: the NVIDIA container runtime "
            "mounts it into a container started with GPUs, so no image ships it",
            hint="run the container with GPUs (docker run --gpus all, compose "
            "deploy.resources.reservations.devices); without them CUDA finds no driver",
        )
    for lib, owner, absent in plugins:
        yield IC208.finding(
            subject=owner.name,
            message=f"{lib.path} is a plugin loaded on demand (no extension module's NEEDED "
            "closure "
            f"reaches it) and needs {', '.join(absent)}, missing from the image: fine unless "
            "you use it",
            hint=f"if you use it, install the Debian packages that ship {', '.join(absent)} "
            "('apt-file search NAME' names them)",
            layer=owner.layer,
        )


def check_ctypes(ctx: Context, extra_map: str | None = None) -> Iterator[Finding]:
    """IC203: a library a distribution loads through ctypes is missing."""
    for item in load_ctypes_map(extra_map):
        dist = ctx.by_key.get(item.distribution)
        if dist is None or any(u in ctx.by_key for u in item.unless):
            continue
        if ctx.find_library(item.soname) is None:
            yield IC203.finding(
                subject=dist.name,
                message=f"{dist.name} loads {item.soname} at run time (ctypes), and the image "
                "has no "
                f"{item.soname}: import fails (python-magic says 'failed to find libmagic')",
                hint=f"add 'apt-get install -y --no-install-recommends {item.debian}' to the "
                "Dockerfile; if it is there already, the layer came from a stale cache: "
                "rebuild with --no-cache",
                layer=dist.layer,
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
        yield IC204.finding(
            subject=name,
            message=f"{len(paths)} extension module(s) of {name} {owner.version} were built "
            "against "
            f"{built} but numpy {numpy.version} is installed (layer #{numpy.layer.index}): "
            f"import fails with {error}; e.g. {paths[0]}",
            hint=(
                f"pin numpy<2 (the constraints' numpy pin) or upgrade {name} to a release built "
                "for NumPy 2"
            )
            if major >= 2
            else f"upgrade numpy to 2.x or pin {name} to a release built for NumPy 1.x",
            layer=numpy.layer,
        )


def check_system_needs(ctx: Context) -> Iterator[Finding]:
    """IC205 a library the constraints need is missing; IC206 a Debian package is."""
    debian: dict[str, DebianPackage] = {p.name: p for p in ctx.inventory.debian}
    for need in ctx.constraints.system:
        if need.kind == "library" and ctx.find_library(need.name) is None:
            yield IC205.finding(
                subject=need.name,
                message=f"{need.name} is needed ({need.source}"
                f"{': ' + need.why if need.why else ''}) "
                "but no folder the loader searches has it",
                hint=f"apt-get install -y --no-install-recommends {need.debian or '<package>'}, "
                "then rebuild without the cache",
            )
        elif need.kind == "debian" and need.name not in debian:
            yield IC206.finding(
                subject=need.name,
                message=f"Debian package {need.name} is needed ({need.source}) but not installed",
                hint=f"apt-get install -y --no-install-recommends {need.name}, then rebuild "
                "without the cache (docker build --no-cache)",
            )
