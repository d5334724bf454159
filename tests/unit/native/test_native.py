"""IC202/IC207/IC208: NEEDED resolved as ld.so does, on images of synthetic ELF files.

A NEEDED that nothing provides is an error only where an import loads it (an extension
module and its NEEDED closure); a driver library is the host's; a plugin's is info."""

from __future__ import annotations

from pathlib import Path

from imagecheck.api import Options, check
from imagecheck.model import Finding, Report
from tests.builders import SITE, F, Layer, make_image
from tests.elfbuild import elf_so
from tests.unit.test_suite import PY, dist

EXT = ".cpython-311-x86_64-linux-gnu.so"
LIBC = [F("usr/lib/x86_64-linux-gnu/libc.so.6", elf_so(soname="libc.so.6"))]


def scan(tmp_path: Path, *layers: list[F], env: tuple[str, ...] = ()) -> Report:
    tmp_path.mkdir(parents=True, exist_ok=True)
    built = make_image(
        tmp_path,
        [Layer(PY + LIBC), *(Layer(x) for x in layers)],
        layout="oci-dir",
        config={"Cmd": ["python3"], "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", *env]},
    )
    return check(str(built.path), Options(use_cache=False), constraints=[])


def findings(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.code in ("IC202", "IC207", "IC208")]


def native(report: Report) -> list[tuple[str, str, str]]:
    """(code, severity, what the message is about: the library or the name needed)."""
    return sorted(
        (f.code, f.severity, f.message.split(" ", 1)[0].rstrip(",")) for f in findings(report)
    )


def test_a_driver_library_comes_from_the_host(tmp_path: Path) -> None:
    torch = dist(
        "torch",
        "2.14.1",
        files={
            f"torch/_C{EXT}": elf_so(py_module="_C", needed=("libtorch.so",), rpath="$ORIGIN/lib"),
            "torch/lib/libtorch.so": elf_so(
                soname="libtorch.so", needed=("libcuda.so.1", "libnvidia-ml.so.1", "libc.so.6")
            ),
        },
    )
    report = scan(tmp_path, torch)
    assert native(report) == [
        ("IC207", "info", "libcuda.so.1"),
        ("IC207", "info", "libnvidia-ml.so.1"),
    ]
    cuda = next(f for f in findings(report) if f.subject == "libcuda.so.1")
    assert "host's NVIDIA driver at run time" in cuda.message
    assert f"{SITE}/torch/lib/libtorch.so" in cuda.message


def _chain(paths: str) -> list[F]:
    return dist(
        "chain",
        "1.0",
        files={
            f"chain/_ext{EXT}": elf_so(
                py_module="_ext", needed=("libone.so",), **{paths: "$ORIGIN/deps"}
            ),
            "chain/deps/libone.so": elf_so(soname="libone.so", needed=("libtwo.so",)),
            "chain/deps/libtwo.so": elf_so(soname="libtwo.so"),
        },
    )


def test_rpath_serves_what_its_object_loads_runpath_only_its_own_needed(tmp_path: Path) -> None:
    assert native(scan(tmp_path / "rpath", _chain("rpath"))) == []
    broken = scan(tmp_path / "runpath", _chain("runpath"))
    assert native(broken) == [("IC202", "error", f"/{SITE}/chain/deps/libone.so")]
    assert f"_ext{EXT} -> libone.so" in findings(broken)[0].message
    assert "needs libtwo.so" in findings(broken)[0].message


def test_a_loader_with_a_runpath_is_passed_over_not_the_end_of_the_walk(tmp_path: Path) -> None:
    """_ext (RPATH deps) -> libmid (RUNPATH mid) -> libleaf (none) -> libx: ld.so looks
    for libx in libleaf's RPATH, then libmid's (none: it has a RUNPATH), then _ext's."""
    walk = dist(
        "walk",
        "1.0",
        files={
            f"walk/_ext{EXT}": elf_so(
                py_module="_ext", needed=("libmid.so",), rpath="$ORIGIN/deps"
            ),
            "walk/deps/libmid.so": elf_so(
                soname="libmid.so", needed=("libleaf.so",), runpath="$ORIGIN/../mid"
            ),
            "walk/mid/libleaf.so": elf_so(soname="libleaf.so", needed=("libx.so",)),
            "walk/deps/libx.so": elf_so(soname="libx.so"),
        },
    )
    assert native(scan(tmp_path, walk)) == []


def test_tokens_and_ld_library_path(tmp_path: Path) -> None:
    mod = dist(
        "tok",
        "1.0",
        files={
            f"tok/_t{EXT}": elf_so(
                py_module="_t",
                needed=("libsib.so", "libplat.so", "liblib.so", "libenv.so"),
                runpath="${ORIGIN}/../sib:/opt/$PLATFORM/lib:/opt/$LIB",
            )
        },
    )
    files = [
        F(f"{SITE}/sib/libsib.so", elf_so(soname="libsib.so")),
        F("opt/x86_64/lib/libplat.so", elf_so(soname="libplat.so")),
        F("opt/lib/x86_64-linux-gnu/liblib.so", elf_so(soname="liblib.so")),
        F("opt/envlib/libenv.so", elf_so(soname="libenv.so")),
    ]
    assert native(scan(tmp_path / "a", mod, files, env=("LD_LIBRARY_PATH=/opt/envlib",))) == []
    without = native(scan(tmp_path / "b", mod, files))
    assert without == [("IC202", "error", f"/{SITE}/tok/_t{EXT}")]


def test_a_plugin_loaded_on_demand_is_info_an_imported_library_an_error(tmp_path: Path) -> None:
    nvshmem = dist(
        "nvidia-nvshmem",
        "3.3.20",
        top="nvidia",
        files={
            "nvidia/nvshmem/lib/nvshmem_transport_ucx.so.3": elf_so(
                soname="nvshmem_transport_ucx.so.3", needed=("libucs.so.0", "libc.so.6")
            ),
        },
    )
    triton = dist(
        "triton",
        "3.5.0",
        files={
            "triton/_C/libtriton.so": elf_so(soname="libtriton.so", py_module="libtriton"),
            # needs libtriton.so, which only the import of triton._C.libtriton loads
            "triton/plugins/libTritonPluginsTestLib.so": elf_so(needed=("libtriton.so",)),
        },
    )
    healthy = scan(tmp_path / "a", nvshmem, triton)
    assert native(healthy) == [
        ("IC208", "info", f"/{SITE}/nvidia/nvshmem/lib/nvshmem_transport_ucx.so.3")
    ]
    assert "libucs.so.0" in findings(healthy)[0].message
    magic = dist(
        "cmagic",
        "1.0",
        files={f"cmagic/_m{EXT}": elf_so(py_module="_m", needed=("libmagic.so.1",))},
    )
    broken = scan(tmp_path / "b", nvshmem, magic)
    assert [f for f in native(broken) if f[1] != "info"] == [
        ("IC202", "error", f"/{SITE}/cmagic/_m{EXT}")
    ]
