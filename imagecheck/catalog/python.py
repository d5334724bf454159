"""Python distributions, the folders they live in, and the interpreter the image runs.

Every site folder holding a ``.dist-info`` or ``.egg-info`` is an environment; venvs
are found by ``pyvenv.cfg``. The runtime interpreter is worked out from the image's
Entrypoint, Cmd and PATH as the kernel and ``site.py`` would, and its ``sys.path``
decides which copy of a name is live: a folder earlier on the path shadows a later
one, and of two dist-info of one name in one folder the live one is the one whose
RECORD matches the files present.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..image import ImageFS
from ..model import (
    Change,
    ImageInfo,
    Interpreter,
    LayerRef,
    PythonDist,
    PythonEnvironment,
    Removed,
    canonical,
)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SITE_NAMES = ("site-packages", "dist-packages")
_PY_LIB = re.compile(r"^(?P<prefix>.*?)/lib(?:64)?/python(?P<ver>\d+\.\d+)/(site|dist)-packages$")
_PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)?)?$")
_SHELLS = ("sh", "bash", "dash", "ash", "zsh")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Metadata:
    name: str
    version: str
    requires_dist: tuple[str, ...]
    requires_python: str | None


def parse_metadata(data: bytes) -> Metadata | None:
    """Core metadata headers (RFC 822 style); the body is never needed."""
    text = data.decode("utf-8", "replace")
    fields: dict[str, list[str]] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t" and last is not None:
            fields[last][-1] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip().lower()
        fields.setdefault(last, []).append(value.strip())
    name = (fields.get("name") or [""])[0]
    if not name:
        return None
    return Metadata(
        name=name,
        version=(fields.get("version") or [""])[0],
        requires_dist=tuple(fields.get("requires-dist", ())),
        requires_python=fields["requires-python"][0] if "requires-python" in fields else None,
    )


def egg_requires(data: bytes) -> tuple[str, ...]:
    """``requires.txt`` sections (``[extra]``, ``[:marker]``) as Requires-Dist strings."""
    out: list[str] = []
    marker = ""
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            extra, _, cond = section.partition(":")
            parts = ([f'extra == "{extra}"'] if extra else []) + ([f"({cond})"] if cond else [])
            marker = " and ".join(parts)
            continue
        out.append(f"{line}; {marker}" if marker else line)
    return tuple(out)


def record_paths(data: bytes) -> list[tuple[str, int | None]]:
    """RECORD rows: path and size (None when the row gives none)."""
    rows = []
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        if line.startswith('"'):
            path, _, rest = line[1:].partition('"')
            rest = rest.lstrip(",")
        else:
            path, _, rest = line.partition(",")
        size_text = rest.rpartition(",")[2].strip()
        rows.append((path, int(size_text) if size_text.isdigit() else None))
    return rows


def import_names(top_level: bytes | None, record: bytes | None) -> tuple[str, ...]:
    """Top-level import names: ``top_level.txt``, else derived from RECORD."""
    if top_level:
        names = [n.strip().replace("/", ".") for n in top_level.decode("utf-8", "replace").split()]
        return tuple(sorted({n for n in names if n}))
    found: set[str] = set()
    for path, _ in record_paths(record or b""):
        if path.startswith(("../", "/")) or "__pycache__" in path:
            continue
        head, sep, _ = path.partition("/")
        if sep:
            if head.endswith((".dist-info", ".data", ".egg-info")) or not _IDENT.match(head):
                continue
            found.add(head)
        elif head.endswith(".py"):
            stem = head[:-3]
            if _IDENT.match(stem) and not stem.startswith(("__editable__", "_editable_impl_")):
                found.add(stem)  # an editable's finder is not the project's module
        elif ".so" in head or head.endswith(".pyd"):
            stem = head.split(".", 1)[0]
            if _IDENT.match(stem):
                found.add(stem)
    return tuple(sorted(found))


# Files beside a project's sources that are not its import names: importing setup.py
# runs the build, and tests/docs folders are not what the application imports.
_NOT_PROJECT_MODULES = frozenset(
    {"setup", "conftest", "noxfile", "tasks", "fabfile", "manage", "tests", "test", "docs"}
    | {"doc", "examples", "example", "benchmarks", "scripts", "build", "dist", "venv"}
)


def _mapped_names(source: bytes) -> set[str]:
    """Top-level names an editable finder maps, read with ``ast`` without running it:
    setuptools' ``MAPPING``/``NAMESPACES`` dicts, and ``editables``' (hatchling's)
    ``map_module('name', path)`` calls."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        mapping = isinstance(target, ast.Name) and target.id in ("MAPPING", "NAMESPACES")
        if mapping and isinstance(value, ast.Dict):
            names.update(
                k.value.split(".")[0]
                for k in value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            )
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "map_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return {n for n in names if _IDENT.match(n)}


def _folder_names(fs: ImageFS, folder: str) -> set[str]:
    """Packages (folders with ``__init__.py``) and modules a ``.pth`` folder provides."""
    names: set[str] = set()
    for name in fs.listdir(folder):
        path = f"{folder}/{name}"
        if fs.is_dir(path):
            if _IDENT.match(name) and fs.exists(f"{path}/__init__.py"):
                names.add(name)
        elif name.endswith(".py") and _IDENT.match(name[:-3]):
            names.add(name[:-3])
        elif ".so" in name and _IDENT.match(name.split(".", 1)[0]):
            names.add(name.split(".", 1)[0])
    return names - _NOT_PROJECT_MODULES


def editable_names(fs: ImageFS, site: str, record: bytes | None) -> tuple[str, ...]:
    """Import names of an editable install, whose RECORD lists only a ``.pth`` file and
    perhaps a finder module: the finder's mapping, or what the ``.pth`` folders hold."""
    found: set[str] = set()
    for path, _ in record_paths(record or b""):
        if "/" in path:
            continue
        if path.endswith(".py") and path.startswith(("__editable__", "_editable_impl_")):
            found |= _mapped_names(fs.read(f"{site}/{path}") or b"")
        if not path.endswith(".pth"):
            continue
        for raw in (fs.read(f"{site}/{path}") or b"").decode("utf-8", "replace").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(("import ", "import\t")):
                for module in re.findall(r"import\s+([A-Za-z_][A-Za-z0-9_]*)", line):
                    found |= _mapped_names(fs.read(f"{site}/{module}.py") or b"")
                continue
            folder = fs.resolve(posixpath.normpath(posixpath.join(site, line)))
            if folder and fs.is_dir(folder):
                found |= _folder_names(fs, folder)
    return tuple(sorted(found))


def _dir_info(direct_url: bytes | None) -> dict[str, object] | None:
    """PEP 610's ``dir_info`` of a distribution built from a local folder (``pip install
    .`` or ``-e .``: a ``file://`` URL), else None."""
    if not direct_url:
        return None
    try:
        data = json.loads(direct_url)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not str(data.get("url", "")).startswith("file://"):
        return None
    info = data.get("dir_info")
    return info if isinstance(info, dict) else None


def mark_applications(dists: Iterable[PythonDist], names: Iterable[str]) -> tuple[PythonDist, ...]:
    """The distributions named (canonical) as the application by its pyproject or lock."""
    wanted = {canonical(n) for n in names}
    return tuple(
        replace(d, application=True) if canonical(d.name) in wanted and not d.application else d
        for d in dists
    )


def wheel_tags(data: bytes | None) -> tuple[str, ...]:
    """``Tag:`` lines of a WHEEL file."""
    if not data:
        return ()
    return tuple(
        line.partition(":")[2].strip()
        for line in data.decode("utf-8", "replace").splitlines()
        if line.lower().startswith("tag:")
    )


# -- environments ----------------------------------------------------------------------


def _env_kind(site: str, fs: ImageFS) -> tuple[str, str | None, str | None]:
    """(kind, python version, venv root) of a site folder."""
    m = _PY_LIB.match(site)
    version = m.group("ver") if m else None
    if site == "/usr/lib/python3/dist-packages":
        return "system", None, None
    if m:
        prefix = m.group("prefix") or "/"
        if fs.read(posixpath.join(prefix, "pyvenv.cfg")) is not None:
            return "venv", version, prefix
        if prefix in ("/usr", "/usr/local", "/opt/conda"):
            return "system", version, None
        if "/.local" in prefix:
            return "user", version, None
    return "other", version, None


def find_site_dirs(fs: ImageFS) -> set[str]:
    """Folders that hold distributions, plus each venv's site folder."""
    sites: set[str] = set()
    for path in fs.captured():
        parent, _, base = path.rpartition("/")
        if parent.endswith((".dist-info", ".egg-info")) and base in ("METADATA", "PKG-INFO"):
            site = parent.rpartition("/")[0]
        elif base.endswith(".egg-info"):
            site = parent
        elif base == "pyvenv.cfg":
            for lib in ("lib", "lib64"):
                libdir = f"{parent}/{lib}"
                for name in fs.listdir(libdir):
                    if _PYTHON_NAME.match(name):
                        candidate = f"{libdir}/{name}/site-packages"
                        if fs.is_dir(candidate):
                            sites.add(fs.resolve(candidate) or candidate)
            continue
        else:
            continue
        if fs.is_dir(site):
            sites.add(fs.resolve(site) or site)
    return sites


# -- interpreter -----------------------------------------------------------------------


def _which(fs: ImageFS, name: str, path_var: str) -> str | None:
    if "/" in name:
        return name if fs.exists(name) else None
    for folder in path_var.split(":"):
        if folder and fs.exists(posixpath.join(folder, name)):
            candidate = posixpath.join(folder, name)
            if not fs.is_dir(candidate):
                return candidate
    return None


def _command(info: ImageInfo) -> list[str]:
    argv = [*info.entrypoint, *info.cmd]
    # "sh -c 'exec uvicorn app:app'" and "sh -c 'python -m app'": the command inside.
    if len(argv) >= 3 and posixpath.basename(argv[0]) in _SHELLS and argv[1] == "-c":
        try:
            words = shlex.split(argv[2])
        except ValueError:
            words = argv[2].split()
        while words and (words[0] in ("exec", "env") or "=" in words[0]):
            words.pop(0)
        return words
    return argv


def _python_from_shebang(fs: ImageFS, script: str, path_var: str) -> str | None:
    line = fs.shebang(script)
    if not line:
        return None
    words = line.split()
    if not words:
        return None
    if posixpath.basename(words[0]) == "env":
        rest = [w for w in words[1:] if not w.startswith("-")]
        return _which(fs, rest[0], path_var) if rest else None
    return words[0] if _PYTHON_NAME.match(posixpath.basename(words[0])) else None


def find_interpreter(fs: ImageFS, info: ImageInfo) -> tuple[str, str] | None:
    """(interpreter path as invoked, reason), following Entrypoint, Cmd, shebangs, PATH."""
    path_var = info.env_value("PATH") or DEFAULT_PATH
    argv = _command(info)
    if argv:
        exe = argv[0]
        found = _which(fs, exe, path_var)
        source = "entrypoint" if info.entrypoint else "cmd"
        if found and _PYTHON_NAME.match(posixpath.basename(exe)):
            return found, source
        if found:
            via = _python_from_shebang(fs, found, path_var)
            if via:
                return via, f"shebang of {found} ({source})"
    for name in ("python3", "python"):
        found = _which(fs, name, path_var)
        if found:
            return found, "PATH"
    return None


def _version_of(fs: ImageFS, real: str) -> str | None:
    m = re.search(r"python(\d+\.\d+)$", real)
    if m:
        return m.group(1)
    prefix = posixpath.dirname(posixpath.dirname(real))
    versions = [n[6:] for n in fs.listdir(f"{prefix}/lib") if re.match(r"^python\d+\.\d+$", n)]
    return max(versions, key=lambda v: tuple(int(x) for x in v.split("."))) if versions else None


def _pyvenv(fs: ImageFS, exe: str) -> tuple[str, dict[str, str]] | None:
    bindir = posixpath.dirname(exe)
    for root in (bindir, posixpath.dirname(bindir)):
        data = fs.read(posixpath.join(root, "pyvenv.cfg"))
        if data is not None:
            cfg: dict[str, str] = {}
            for line in data.decode("utf-8", "replace").splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    cfg[key.strip().lower()] = value.strip()
            return root, cfg
    return None


def _base_sites(prefix: str, version: str, fs: ImageFS) -> list[str]:
    sites = [f"{prefix}/lib/python{version}/site-packages"]
    if prefix == "/usr" and fs.is_dir("/usr/lib/python3/dist-packages"):
        # Debian's site.py: no site-packages, three dist-packages folders instead.
        sites = [
            f"/usr/local/lib/python{version}/dist-packages",
            "/usr/lib/python3/dist-packages",
            f"/usr/lib/python{version}/dist-packages",
        ]
    return sites


def _home(info: ImageInfo) -> str:
    home = info.env_value("HOME")
    if home:
        return home
    user = info.user.split(":")[0]
    return "/root" if user in ("", "root", "0") else f"/home/{user}"


def runtime_interpreter(fs: ImageFS, info: ImageInfo) -> Interpreter | None:
    found = find_interpreter(fs, info)
    if found is None:
        return None
    exe, reason = found
    real = fs.resolve(exe) or exe
    version = _version_of(fs, real)
    venv = _pyvenv(fs, exe)
    pythonpath = [p for p in (info.env_value("PYTHONPATH") or "").split(":") if p]
    sites: list[str] = []
    if version:
        base_prefix = posixpath.dirname(posixpath.dirname(real))
        user_site = f"{_home(info)}/.local/lib/python{version}/site-packages"
        if venv is not None:
            root, cfg = venv
            sites.append(f"{root}/lib/python{version}/site-packages")
            if cfg.get("include-system-site-packages", "false").lower() == "true":
                sites.extend(_base_sites(base_prefix, version, fs))
        else:
            if info.env_value("PYTHONNOUSERSITE") is None:
                sites.append(user_site)
            sites.extend(_base_sites(base_prefix, version, fs))
    resolved = []
    for site in [*pythonpath, *sites]:
        real_site = fs.resolve(site)
        if real_site and fs.is_dir(real_site) and real_site not in resolved:
            resolved.append(real_site)
            resolved.extend(_pth_dirs(fs, real_site, resolved))
    return Interpreter(
        path=exe,
        real_path=real,
        version=version,
        venv=venv[0] if venv else None,
        reason=reason,
        sys_path=tuple(resolved),
    )


def _pth_dirs(fs: ImageFS, site: str, seen: list[str]) -> list[str]:
    """Folders that ``.pth`` files in ``site`` add to the path (``import`` lines skipped)."""
    out = []
    for name in fs.listdir(site):
        if not name.endswith(".pth"):
            continue
        for line in (fs.read(f"{site}/{name}") or b"").decode("utf-8", "replace").splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "import ", "import\t")):
                continue
            folder = fs.resolve(posixpath.normpath(posixpath.join(site, line)))
            if folder and fs.is_dir(folder) and folder not in seen and folder not in out:
                out.append(folder)
    return out


# -- distributions ---------------------------------------------------------------------


@dataclass(slots=True)
class _Found:
    dist: PythonDist
    record: bytes | None


def _dists_in(fs: ImageFS, site: str) -> list[_Found]:
    found: list[_Found] = []
    for name in fs.listdir(site):
        path = f"{site}/{name}"
        if name.endswith(".dist-info"):
            meta_bytes = fs.read(f"{path}/METADATA")
            kind, record = "dist-info", fs.read(f"{path}/RECORD")
            requires_extra: tuple[str, ...] = ()
            meta_path = f"{path}/METADATA"
        elif name.endswith(".egg-info"):
            if fs.is_dir(path):
                meta_bytes = fs.read(f"{path}/PKG-INFO")
                meta_path = f"{path}/PKG-INFO"
                req = fs.read(f"{path}/requires.txt")
                requires_extra = egg_requires(req) if req else ()
            else:
                meta_bytes, meta_path, requires_extra = fs.read(path), path, ()
            kind, record = "egg-info", None
        else:
            continue
        if meta_bytes is None:
            continue
        meta = parse_metadata(meta_bytes)
        layer = fs.layer_of(meta_path)
        if meta is None or layer is None:
            continue
        installer = fs.read(f"{path}/INSTALLER") if kind == "dist-info" else None
        wheel = fs.read(f"{path}/WHEEL") if kind == "dist-info" else None
        top = fs.read(f"{path}/top_level.txt")
        local = _dir_info(fs.read(f"{path}/direct_url.json")) if kind == "dist-info" else None
        names = import_names(top, record)
        if not names or (local or {}).get("editable"):
            names = tuple(sorted({*names, *editable_names(fs, site, record)}))
        dist = PythonDist(
            name=meta.name,
            version=meta.version,
            path=path,
            environment=site,
            live=True,
            layer=layer,
            kind=kind,
            installer=installer.decode("utf-8", "replace").strip() or None if installer else None,
            requires_dist=meta.requires_dist or requires_extra,
            requires_python=meta.requires_python,
            import_names=names,
            wheel_tags=wheel_tags(wheel),
            application=local is not None,
        )
        found.append(_Found(dist, record))
    return found


def _record_score(fs: ImageFS, site: str, record: bytes | None) -> float:
    """Share of RECORD files present with the recorded size: 1.0 means these files are live."""
    rows = [
        (p, s) for p, s in record_paths(record or b"") if s is not None and ".dist-info/" not in p
    ]
    if not rows:
        return 0.0
    hits = 0
    for path, size in rows:
        node = fs.node(posixpath.normpath(posixpath.join(site, path)))
        if node is not None and node.entry.size == size:
            hits += 1
    return hits / len(rows)


def _mark_duplicates(fs: ImageFS, found: list[_Found]) -> list[PythonDist]:
    by_key: dict[str, list[_Found]] = {}
    for item in found:
        by_key.setdefault(canonical(item.dist.name), []).append(item)
    out: list[PythonDist] = []
    for items in by_key.values():
        if len(items) == 1:
            out.append(items[0].dist)
            continue
        ranked = sorted(
            items,
            key=lambda f: (_record_score(fs, f.dist.environment, f.record), f.dist.layer.index),
            reverse=True,
        )
        winner = ranked[0].dist
        out.append(winner)
        out.extend(replace(f.dist, live=False, shadowed_by=winner.path) for f in ranked[1:])
    return out


def catalog_python(
    fs: ImageFS, info: ImageInfo
) -> tuple[tuple[PythonEnvironment, ...], Interpreter | None, tuple[PythonDist, ...]]:
    interpreter = runtime_interpreter(fs, info)
    on_path = list(interpreter.sys_path) if interpreter else []
    sites = find_site_dirs(fs) | {s for s in on_path if _is_site(s)}
    order = {s: i for i, s in enumerate(on_path)}
    environments = []
    dists: list[PythonDist] = []
    for site in sorted(sites, key=lambda s: (order.get(s, len(order)), s)):
        kind, version, venv = _env_kind(site, fs)
        if site in (info.env_value("PYTHONPATH") or "").split(":") and kind == "other":
            kind = "pythonpath"
        environments.append(PythonEnvironment(site, kind, version, venv, site in order))
        dists.extend(_mark_duplicates(fs, _dists_in(fs, site)))
    # A name found earlier on the runtime path shadows the same name further down.
    first: dict[str, str] = {}
    final = []
    for dist in sorted(dists, key=lambda d: (order.get(d.environment, len(order)), d.path)):
        key = canonical(dist.name)
        if dist.environment in order and dist.live:
            if key in first:
                dist = replace(dist, live=False, shadowed_by=first[key])
            else:
                first[key] = dist.path
        final.append(dist)
    final.sort(key=lambda d: (canonical(d.name), d.environment, d.path))
    return tuple(environments), interpreter, tuple(final)


def _is_site(path: str) -> bool:
    return posixpath.basename(path) in _SITE_NAMES


# -- history: what each layer did ------------------------------------------------------


def _meta_at(data: bytes | None) -> Metadata | None:
    return parse_metadata(data) if data else None


def python_events(
    fs: ImageFS, present: Iterable[PythonDist]
) -> tuple[tuple[Removed, ...], dict[int, list[Change]]]:
    """Distributions removed by a later layer, and each layer's added/removed/changed list."""
    present_keys = {(d.environment, canonical(d.name)) for d in present}
    raw: dict[
        int, list[tuple[str, str, str, str, str]]
    ] = {}  # layer -> (action, site, key, name, ver)
    removed: list[Removed] = []
    for path in fs.captured():
        parent, _, base = path.rpartition("/")
        if parent.endswith((".dist-info", ".egg-info")) and base in ("METADATA", "PKG-INFO"):
            site = parent.rpartition("/")[0]
        elif base.endswith(".egg-info") and not parent.endswith(".egg-info"):
            site = parent
        else:
            continue
        versions = fs.timeline(path)
        last: tuple[Metadata, LayerRef] | None = None
        for state in versions:
            ref = fs.layers[state.layer]
            meta = _meta_at(state.data)
            if meta is not None:
                if last is None or last[0].version != meta.version:
                    raw.setdefault(state.layer, []).append(
                        ("added", site, canonical(meta.name), meta.name, meta.version)
                    )
                last = (meta, ref)
            elif last is not None:
                old, added_by = last
                raw.setdefault(state.layer, []).append(
                    ("removed", site, canonical(old.name), old.name, old.version)
                )
                real_site = fs.resolve(site) or site
                if (real_site, canonical(old.name)) not in present_keys and state is versions[-1]:
                    removed.append(Removed("python", old.name, old.version, parent, added_by, ref))
                last = None
    changes: dict[int, list[Change]] = {}
    for pos, events in raw.items():
        ref = fs.layers[pos]
        adds = {(s, k): (n, v) for a, s, k, n, v in events if a == "added"}
        dels = {(s, k): (n, v) for a, s, k, n, v in events if a == "removed"}
        out = changes.setdefault(ref.index, [])
        for key, (name, ver) in sorted(adds.items()):
            if key in dels:
                out.append(Change("python", "changed", name, dels[key][1], ver, key[0]))
            else:
                out.append(Change("python", "added", name, None, ver, key[0]))
        for key, (name, ver) in sorted(dels.items()):
            if key not in adds:
                out.append(Change("python", "removed", name, ver, None, key[0]))
    return tuple(removed), changes
