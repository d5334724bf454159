"""Shared libraries: every ELF shared object the layers hold, with its dynamic section."""

from __future__ import annotations

import fnmatch
import posixpath

from ..image import ImageFS
from ..model import SharedLibrary


def catalog_libraries(fs: ImageFS) -> tuple[SharedLibrary, ...]:
    libs = [
        SharedLibrary(
            path=path,
            soname=info.soname,
            needed=info.needed,
            runpath=info.runpath,
            rpath=info.rpath,
            machine=info.machine,
            layer=layer,
            markers=info.markers,
            py_init=info.py_init,
        )
        for path, info, layer in fs.elf_files()
        if info.elf_type == "ET_DYN" and info.error is None
    ]
    libs.sort(key=lambda lib: lib.path)
    return tuple(libs)


def ld_so_conf_paths(fs: ImageFS, path: str = "/etc/ld.so.conf", depth: int = 0) -> tuple[str, ...]:
    """Folders ``/etc/ld.so.conf`` (and what it includes) add to the loader's search."""
    data = fs.read(path)
    if data is None or depth > 4:
        return ()
    out: list[str] = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include "):
            pattern = line.split(None, 1)[1]
            if not pattern.startswith("/"):
                pattern = posixpath.join(posixpath.dirname(path), pattern)
            folder, _, glob = pattern.rpartition("/")
            for name in fs.listdir(folder):
                if fnmatch.fnmatch(name, glob):
                    out.extend(ld_so_conf_paths(fs, f"{folder}/{name}", depth + 1))
        elif line.startswith("/"):
            out.append(fs.resolve(line) or line)
    return tuple(dict.fromkeys(out))
