"""``podman:`` and ``containerd:`` on the real stores (issue 16): the image the engine
has, put into podman's store (``docker save | podman load``) and into a containerd of
our own (``ctr images import``), gives the same inventory from each source."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def _podman_store(base_image: str, driver: str) -> Iterator[Path]:
    """A podman store of our own with ``driver``, holding the base image: its storage.conf."""
    _need("podman")
    folder = Path(f"/tmp/stores-podman-{driver}-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    conf = folder / "storage.conf"
    conf.write_text(
        f'[storage]\ndriver = "{driver}"\ngraphroot = "{folder}/root"\nrunroot = "{folder}/run"\n'
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
def podman_conf(base_image: str) -> Iterator[Path]:
    """An overlay store: read in place."""
    yield from _podman_store(base_image, "overlay")


@pytest.fixture(scope="session")
def podman_vfs_conf(base_image: str) -> Iterator[Path]:
    """A vfs store (each layer a whole copy of the filesystem, not its diff): nothing to
    read in place."""
    yield from _podman_store(base_image, "vfs")


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


def test_a_vfs_podman_store_is_read_through_podman_image_save(
    base_image: str,
    podman_vfs_conf: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing to read in place: the image is streamed from ``podman image save``
    (docker-archive to a pipe, never to disk), with the same inventory as the engine's,
    and ``-v`` says so."""
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(podman_vfs_conf))
    options = Options(use_cache=False)
    docker = inventory(f"docker:{base_image}", options)
    podman = inventory(f"podman:{base_image}", options)
    assert _comparable(podman) == _comparable(docker)
    assert podman.image.id == docker.image.id
    assert podman.image.repo_tags == (f"localhost/{base_image}",)
    (how,) = [n for n in podman.notes if "podman image save" in n]
    assert "uses the vfs driver" in how
    assert main(["inventory", f"podman:{base_image}", "--no-cache", "-v"]) == 0
    assert "layers read from podman image save, streamed" in " ".join(
        capsys.readouterr().out.split()
    )
    # Unknown name: bad input, one line, as from the store read in place.
    assert main(["inventory", "podman:imagecheck-test/none:here", "--no-cache"]) == 2
    assert "podman's store has no image" in capsys.readouterr().err


@pytest.fixture(scope="session")
def rootless_user(base_image: str) -> Iterator[str]:
    """An unprivileged user of our own with the base image in its rootless podman store
    (podman picks vfs here: no rootless overlay); the user and its store removed after."""
    _need("podman")
    _need("useradd")
    if os.geteuid() != 0:
        pytest.skip("making a user for rootless podman needs root")
    user = f"icpm{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "-m", user], check=True, capture_output=True)
    as_user = ["su", "-", user, "-c"]
    try:
        _pipe(["docker", "save", base_image], [*as_user, "podman load"])
        yield user
    finally:
        subprocess.run([*as_user, "podman system reset -f"], capture_output=True, check=False)
        subprocess.run(["userdel", "-r", user], capture_output=True, check=False)


def _as_user(user: str, target: str, docker: Inventory, answer: Any) -> None:
    """In a forked child, as ``user`` (the code already loaded: the interpreter's own
    folder may not be readable to it): whether the inventory is the engine's, and how."""
    import pwd

    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
    for name in ("XDG_RUNTIME_DIR", "CONTAINERS_STORAGE_CONF", "XDG_DATA_HOME"):
        os.environ.pop(name, None)
    os.chdir(entry.pw_dir)
    try:
        inv = inventory(target, Options(use_cache=False))
        answer.put((_comparable(inv) == _comparable(docker), inv.notes))
    except BaseException as exc:  # noqa: BLE001 - the parent asserts on what it was
        answer.put((False, (repr(exc),)))


def test_a_rootless_podman_store_of_an_unprivileged_user(
    base_image: str, rootless_user: str
) -> None:
    """The user's own store (``~/.local/share/containers/storage``, files owned by the
    user namespace's ids), read as that user: through ``podman image save``."""
    docker = inventory(f"docker:{base_image}", Options(use_cache=False))
    import imagecheck.image.sources.podman  # noqa: F401 - loaded before the child drops root

    ctx = multiprocessing.get_context("fork")
    answer = ctx.Queue()
    child = ctx.Process(
        target=_as_user, args=(rootless_user, f"podman:{base_image}", docker, answer)
    )
    child.start()
    same, notes = answer.get(timeout=300)
    child.join(timeout=60)
    assert same, notes
    home = f"/home/{rootless_user}/.local/share/containers/storage"
    assert any("podman image save" in n and home in n for n in notes), notes


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
