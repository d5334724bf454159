"""Shared libraries: every ELF shared object the layers hold, with its dynamic section."""

from __future__ import annotations

from ..imagefs import ImageFS
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
        )
        for path, info, layer in fs.elf_files()
        if info.elf_type == "ET_DYN" and info.error is None
    ]
    libs.sort(key=lambda lib: lib.path)
    return tuple(libs)
