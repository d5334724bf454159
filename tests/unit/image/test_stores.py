"""podman: and containerd: targets without a store: names, and the one-line exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagecheck.cli import main
from imagecheck.image.sources.containerd import _candidates, split_reference
from imagecheck.image.sources.podman import _names_for, graph_root
from imagecheck.target import CONTAINERD, PODMAN, parse_target


def test_targets_keep_names_with_digests_whole() -> None:
    t = parse_target("containerd:k8s.io/registry.k8s.io/pause@sha256:" + "a" * 64)
    assert (t.kind, t.location, t.tag) == (
        CONTAINERD,
        "k8s.io/registry.k8s.io/pause@sha256:" + "a" * 64,
        None,
    )
    p = parse_target("podman:backend:latest")
    assert (p.kind, p.location) == (PODMAN, "backend:latest")


def test_namespaces_and_short_names() -> None:
    have = ("default", "moby", "k8s.io")
    assert split_reference("moby/backend:1", have) == ("moby", "backend:1")
    assert split_reference("library/python:3", have) == ("default", "library/python:3")
    assert split_reference("backend", have) == ("default", "backend")
    assert _candidates("backend") == ["backend", "docker.io/library/backend:latest"]
    assert _candidates("me/app:1") == ["me/app:1", "docker.io/me/app:1"]
    assert _candidates("ghcr.io/me/app") == ["ghcr.io/me/app", "ghcr.io/me/app:latest"]
    assert _names_for("app") == [
        "app",
        "app:latest",
        "localhost/app:latest",
        "docker.io/app:latest",
        "docker.io/library/app:latest",
    ]
    assert _names_for("quay.io/x/y:2") == ["quay.io/x/y:2"]


def test_the_podman_store_is_the_one_its_config_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "storage.conf"
    conf.write_text('[storage]\ndriver = "overlay"\ngraphroot = "/srv/podman"\n')
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
    assert graph_root() == (Path("/srv/podman"), "overlay", str(conf))


def test_missing_stores_are_one_line_and_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ngraphroot = "{tmp_path}/gone"\n')
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
    assert main(["inventory", "podman:backend", "--no-cache"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"podman's store at {tmp_path}/gone" in err
    assert "missing or unreadable" in err
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path}"\n')
    assert main(["inventory", "podman:backend", "--no-cache"]) == 3
    assert "uses the vfs driver" in capsys.readouterr().err
    monkeypatch.setenv("CONTAINERD_ADDRESS", str(tmp_path / "none.sock"))
    assert main(["inventory", "containerd:backend", "--no-cache"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no containerd at" in err
