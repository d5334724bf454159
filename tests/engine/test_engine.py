"""The spine against a real engine: images read in place, through the export, and saved."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import Options, inventory
from imagecheck.engine import connect
from imagecheck.errors import ImageNotFound
from imagecheck.image.imagefs import ImageFS
from imagecheck.image.sources.base import no_progress
from imagecheck.image.sources.daemon import DaemonSource
from imagecheck.model import Inventory
from tests.helpers import run_cli

pytestmark = pytest.mark.engine

SYS = "/usr/local/lib/python3.11/dist-packages"
VENV = "/opt/venv/lib/python3.11/site-packages"


def _scan(target: str, cache: Path | None, mode: str = "auto") -> Inventory:
    return inventory(
        target, Options(cache_dir=cache, use_cache=cache is not None, engine_read=mode)
    )


def _essence(inv: Inventory) -> tuple[Any, ...]:
    """What must not depend on how the image was read."""
    return (
        inv.image.id,
        inv.image.diff_ids,
        inv.python,
        inv.removed,
        inv.debian,
        inv.libraries,
        inv.layers,
        inv.interpreter,
        inv.environments,
    )


def test_pinned_image_in_place(pinned_image: str, tmp_path: Path) -> None:
    inv = _scan(f"docker:{pinned_image}", tmp_path / "cache")
    assert "layers read in place from the engine's overlay2 folders" in inv.notes
    dists = {d.name: d for d in inv.python if d.environment == SYS}
    assert (dists["numpy"].version, dists["scipy"].version) == ("1.26.4", "1.15.3")
    pip_layer = dists["numpy"].layer
    assert "pip install" in pip_layer.created_by
    assert dists["scipy"].layer == pip_layer
    assert inv.image.history[pip_layer.index].created_by == pip_layer.created_by
    magic = next(p for p in inv.debian if p.name == "libmagic1")
    assert "apt-get install" in magic.layer.created_by
    assert magic.layer.index > 0
    numpy_so = [lib for lib in inv.libraries if lib.path.startswith(f"{SYS}/numpy/core/")]
    assert any("libc.so.6" in lib.needed for lib in numpy_so)
    scipy_so = [lib for lib in inv.libraries if lib.path.startswith(f"{SYS}/scipy/")]
    assert any("numpy._core._multiarray_umath" in lib.markers for lib in scipy_so)
    # The COPYed wheels were deleted by the pip layer: that layer's bytes are waste.
    copy_layer = next(
        s
        for s in inv.layers
        if "COPY dir:" in s.entry.created_by or "COPY wheels" in s.entry.created_by
    )
    assert copy_layer.wasted_bytes >= copy_layer.size * 0.99 > 10_000_000
    # Empty history entries (ENV, WORKDIR, CMD, LABEL) keep their rows.
    assert any(s.entry.empty_layer and "ENV APP_HOME" in s.entry.created_by for s in inv.layers)
    pip_row = inv.layers[pip_layer.index]
    assert {(c.name, c.action) for c in pip_row.changes} >= {("numpy", "added"), ("scipy", "added")}


def test_same_inventory_in_place_export_and_archive(
    pinned_image: str, tmp_path: Path, save: Callable[[str], Path]
) -> None:
    direct = _scan(f"docker:{pinned_image}", None)
    exported = _scan(f"docker:{pinned_image}", None, mode="export")
    assert any("export stream" in n for n in exported.notes)
    archive = _scan(f"docker-archive:{save(pinned_image)}", None)
    assert _essence(direct) == _essence(exported)
    assert (direct.python, direct.debian, direct.libraries) == (
        archive.python,
        archive.debian,
        archive.libraries,
    )


def test_warm_run_reads_nothing(pinned_image: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = _scan(f"docker:{pinned_image}", cache, mode="export")
    warm = _scan(f"docker:{pinned_image}", cache, mode="export")
    assert "every layer was indexed before: nothing read from the engine" in warm.notes
    assert not any("export stream" in n for n in warm.notes)
    assert _essence(cold) == _essence(warm)


def test_pip_list_agrees(pinned_image: str, run_in: Callable[[str, list[str]], str]) -> None:
    """The inventory of the live environments is what pip itself lists in the container."""
    listed = json.loads(run_in(pinned_image, ["python3", "-m", "pip", "list", "--format", "json"]))
    ours = {
        (d.name.lower().replace("_", "-"), d.version)
        for d in _scan(pinned_image, None).python
        if d.live
    }
    assert {(p["name"].lower().replace("_", "-"), p["version"]) for p in listed} == ours


def test_venv_from_a_multistage_build(venv_image: str) -> None:
    inv = _scan(venv_image, None)
    assert inv.interpreter is not None
    assert inv.interpreter.venv == "/opt/venv"
    assert inv.interpreter.sys_path == (VENV,)
    assert inv.interpreter.reason == "cmd"
    envs = {e.path: e for e in inv.environments}
    assert envs[VENV].kind == "venv"
    assert envs[VENV].on_runtime_path
    assert not envs["/usr/lib/python3/dist-packages"].on_runtime_path
    numpy = next(d for d in inv.python if d.name == "numpy")
    assert (numpy.environment, numpy.live) == (VENV, True)
    assert "COPY --from=builder" in numpy.layer.created_by or "COPY dir:" in numpy.layer.created_by


def test_duplicate_dist_info_matches_what_python_imports(
    duplicate_image: str, run_in: Callable[[str, list[str]], str]
) -> None:
    inv = _scan(duplicate_image, None)
    pk = {d.version: d for d in inv.python if d.name == "packaging"}
    assert set(pk) == {"23.2", "24.1"}
    imported = run_in(
        duplicate_image, ["python", "-c", "import packaging; print(packaging.__version__)"]
    ).strip()
    assert imported == "24.1"
    assert pk["24.1"].live
    assert not pk["23.2"].live
    assert pk["23.2"].shadowed_by == pk["24.1"].path


def test_uninstalled_by_a_later_layer(uninstall_image: str, tmp_path: Path) -> None:
    for mode in ("auto", "export"):
        inv = _scan(uninstall_image, None, mode=mode)
        names = {d.name for d in inv.python if d.environment == SYS}
        assert "idna" in names
        assert "six" not in names
        six = next(r for r in inv.removed if r.name == "six")
        assert "pip install" in six.added_by.created_by
        assert "pip uninstall" in six.removed_by.created_by
        row = inv.layers[six.removed_by.index]
        assert [(c.action, c.name) for c in row.changes if c.kind == "python"] == [
            ("removed", "six")
        ]
        assert row.files_removed > 0


@pytest.mark.parametrize("mode", ["auto", "export"])
def test_overlay_semantics_match_the_kernel(
    whiteout_image: str, mode: str, run_in: Callable[[str, list[str]], str]
) -> None:
    """Our squashed view of /data is what a container of the image sees."""
    engine = connect()
    source = DaemonSource(engine, whiteout_image, _nocache(), no_progress, direct=mode == "auto")
    try:
        info = source.image()
        fs = ImageFS(info.history, list(source.index_layers(info.diff_ids, no_progress)))
    finally:
        source.close()
    ours = sorted(fs.walk_files(["/data"]))
    theirs = sorted(run_in(whiteout_image, ["find", "/data", "-not", "-type", "d"]).split())
    assert ours == theirs
    assert fs.listdir("/data/a") == ["new.txt"]
    assert fs.resolve("/data/link/keep") == "/data/b/keep"
    pos = len(fs.layers) - 1
    assert fs.stats[pos].files_removed >= 4  # x.txt, sub/y.txt, z.txt, big (and sub itself)
    assert fs.stats[pos - 1].wasted_bytes >= 100_000


def _nocache() -> Any:
    from imagecheck.image.cache import Cache

    return Cache(None)


def test_image_not_found(tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound, match="no image"):
        _scan("docker:imagecheck-test/does-not-exist:nope", None)
    result = run_cli("inventory", "imagecheck-test/does-not-exist:nope")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no image" in result.stderr


def test_cli_json_through_the_engine(uninstall_image: str, tmp_path: Path) -> None:
    result = run_cli(
        "inventory", f"docker:{uninstall_image}", "--format", "json", "--cache-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["image"]["ref"] == f"docker:{uninstall_image}"
    assert [r["name"] for r in doc["removed"] if r["kind"] == "python"] == ["six"]


def test_concurrent_disk_usage_queries_all_answer() -> None:
    """The engine answers one ``/system/df`` at a time and refuses the others ("a disk
    usage operation is already running"); two imagecheck runs at once (parallel CI jobs)
    must both get their answer."""
    from concurrent.futures import ThreadPoolExecutor

    def query(_: int) -> bool:
        engine = connect()
        try:
            return all(isinstance(engine.build_cache(), tuple) for _ in range(3))
        finally:
            engine.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(query, range(4)))


def test_inspect_image_answers_a_dataclass(pinned_image: str, client: Any) -> None:
    """The engine's JSON is read in engine.py only: its answer carries what callers use."""
    raw = client.api.inspect_image(pinned_image)
    engine = connect()
    try:
        image = engine.inspect_image(pinned_image)
        info = engine.info()
    finally:
        engine.close()
    assert (image.id, image.diff_ids) == (raw["Id"], tuple(raw["RootFS"]["Layers"]))
    assert pinned_image in image.repo_tags
    assert (image.working_dir, image.cmd) == ("/app", ("python3", "-c", "import scipy"))
    assert "APP_HOME=/app" in image.env
    assert ("imagecheck.test", "1") in image.labels
    assert image.size == raw["Size"] > 0
    assert image.graph_driver == raw["GraphDriver"]["Name"]
    if image.graph_driver == "overlay2":
        assert image.layer_dirs[-1] == raw["GraphDriver"]["Data"]["UpperDir"]
        assert len(image.layer_dirs) == len(image.diff_ids)
    assert info.server_version == client.version()["Version"]


def test_a_container_removed_between_list_and_inspect_is_left_out(
    base_image: str, client: Any
) -> None:
    """The listing race, made certain: the engine lists two compose containers, one is
    removed for real before it is inspected; the survivor is reported, nothing fails."""
    import uuid

    from imagecheck.triage.diagnose import PROJECT_LABEL, SERVICE_LABEL, service_containers

    project = f"icrace{uuid.uuid4().hex[:8]}"
    labels = {"imagecheck.test": "1", PROJECT_LABEL: project, SERVICE_LABEL: "web"}
    made = [
        client.containers.create(base_image, ["true"], labels=labels, name=f"{project}-web-{n}")
        for n in (1, 2)
    ]
    engine = connect()
    listed = engine.container_ids

    def list_then_remove(wanted: list[str]) -> tuple[str, ...]:
        ids = listed(wanted)
        made[0].remove(force=True)
        return ids

    try:
        engine.container_ids = list_then_remove  # type: ignore[method-assign, assignment]
        states = service_containers(engine, project, "web")
        assert [s.name.lstrip("/") for s in states] == [f"{project}-web-2"]
    finally:
        engine.close()
        for container in made:
            with contextlib.suppress(Exception):
                container.remove(force=True)
