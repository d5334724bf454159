"""``podman:`` and ``containerd:`` on the real stores (issue 16): the image the engine
has, put into podman's store (``docker save | podman load``) and into a containerd of
our own (``ctr images import``), gives the same inventory from each source."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagecheck.api import Options, inventory
from imagecheck.cli import main
from imagecheck.model import Inventory

pytestmark = pytest.mark.engine


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"no {tool} here (scripts/setup.sh installs it)")


def _pipe(save: list[str], load: list[str], env: dict[str, str] | None = None) -> None:
    with subprocess.Popen(save, stdout=subprocess.PIPE) as producer:
        done = subprocess.run(
            load, stdin=producer.stdout, capture_output=True, text=True, check=False, env=env
        )
    assert producer.returncode == 0
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def podman_conf(base_image: str) -> Iterator[Path]:
    """A podman store of our own holding the base image: its storage.conf."""
    _need("podman")
    folder = Path(f"/tmp/stores-podman-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    conf = folder / "storage.conf"
    conf.write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{folder}/root"\nrunroot = "{folder}/run"\n'
    )
    env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf)}
    try:
        _pipe(["docker", "save", base_image], ["podman", "load"], env)
        yield conf
    finally:
        subprocess.run(
            ["podman", "system", "reset", "-f"], env=env, capture_output=True, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def containerd_address(base_image: str) -> Iterator[str]:
    """A containerd of our own (its own root, state and socket), the base image imported
    into namespace ``imagecheck-test``: its socket."""
    _need("containerd")
    _need("ctr")
    folder = Path(f"/tmp/stores-ctd-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    sock = folder / "ctd.sock"
    (folder / "config.toml").write_text(
        f'version = 2\nroot = "{folder}/root"\nstate = "{folder}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n'
    )
    with (folder / "log").open("wb") as log:
        daemon = subprocess.Popen(
            ["containerd", "--config", str(folder / "config.toml")], stdout=log, stderr=log
        )
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.1)
        ctr = ["ctr", "--address", str(sock), "--namespace", "imagecheck-test"]
        _pipe(["docker", "save", base_image], [*ctr, "images", "import", "-"])
        yield str(sock)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _comparable(inv: Inventory) -> Inventory:
    """What must be the same whichever store the image was read from."""
    image = dataclasses.replace(inv.image, ref="", repo_tags=())
    return dataclasses.replace(inv, image=image, notes=())


def test_podman_store_gives_the_docker_inventory(
    base_image: str, podman_conf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(podman_conf))
    options = Options(use_cache=False)
    docker = inventory(f"docker:{base_image}", options)
    podman = inventory(f"podman:{base_image}", options)
    assert _comparable(podman) == _comparable(docker)
    assert podman.python  # pip and friends: something was catalogued
    assert podman.image.repo_tags == (f"localhost/{base_image}",)  # as podman load names it
    assert any("podman's overlay folders" in n for n in podman.notes)
    # Unknown name: bad input, one line.
    assert main(["inventory", "podman:imagecheck-test/none:here", "--no-cache"]) == 2
    # The store gone: the environment, exit 3.
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(tmp_path / "absent.conf"))
    (tmp_path / "absent.conf").write_text(f'[storage]\ngraphroot = "{tmp_path}/no"\n')
    assert main(["inventory", f"podman:{base_image}", "--no-cache"]) == 3


def test_containerd_store_gives_the_docker_inventory(
    base_image: str,
    containerd_address: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONTAINERD_ADDRESS", containerd_address)
    options = Options(use_cache=False)
    docker = inventory(f"docker:{base_image}", options)
    ours = inventory(f"containerd:imagecheck-test/{base_image}", options)
    assert _comparable(ours) == _comparable(docker)
    assert ours.image.id == docker.image.id
    assert any("namespace imagecheck-test" in n for n in ours.notes)
    # Not in the default namespace: bad input, naming what that namespace has.
    assert main(["inventory", f"containerd:{base_image}", "--no-cache"]) == 2
    assert "has no image" in capsys.readouterr().err
    monkeypatch.setenv("CONTAINERD_ADDRESS", "/tmp/stores-no-such.sock")
    assert main(["inventory", f"containerd:{base_image}", "--no-cache"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "no containerd at /tmp/stores-no-such.sock" in err
