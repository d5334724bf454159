"""Real images, built on the real engine for this session, and removed at its end.

Every image is labelled ``imagecheck.test=1``; the session finaliser removes the
tagged images and the dangling intermediates the legacy builder leaves. Wheels are
downloaded on the host once (containers cannot reach PyPI) and COPYed in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

BASE = "imagecheck-test/base:bookworm"
LABEL = {"imagecheck.test": "1"}
WHEELS = {
    "numpy": "numpy==1.26.4",
    "scipy": "scipy==1.15.3",
    "packaging-old": "packaging==23.2",
    "packaging-new": "packaging==24.1",
    "six": "six==1.16.0",
    "idna": "idna==3.7",
    "numpy2": "numpy==2.0.2",
    "pandas": "pandas==2.0.3",
    "dateutil": "python-dateutil==2.9.0.post0",
    "pytz": "pytz==2024.1",
    "tzdata": "tzdata==2024.1",
    "magic": "python-magic==0.4.27",
    "passlib": "passlib==1.7.4",
    "bcrypt5": "bcrypt==5.0.0",
    "bcrypt43": "bcrypt==4.3.0",
    # build backends for editable installs, inside containers that cannot reach PyPI
    "setuptools": "setuptools==84.2.1",
    "hatchling": "hatchling==1.33.0",
    "hatch-packaging": "packaging==26.4",
    "pathspec": "pathspec==1.1.1",
    "pluggy": "pluggy==1.7.0",
    "tomlkit": "tomlkit==0.15.3",
    "trove-classifiers": "trove-classifiers==2026.9.21.13",
    "editables": "editables==0.6",
}
WHEEL_CACHE = Path.home() / ".cache" / "imagecheck-test-wheels"
REPO = Path(__file__).resolve().parents[2]

Builder = Callable[..., str]  # (name, dockerfile, wheel keys, files={path: text}) -> tag


@pytest.fixture(scope="session")
def client() -> Iterator[Any]:
    import docker

    c = docker.from_env(timeout=600)
    yield c
    c.close()


@pytest.fixture(scope="session")
def base_image(client: Any) -> str:
    import docker.errors

    try:
        client.images.get(BASE)
    except docker.errors.ImageNotFound:
        subprocess.run(["bash", str(REPO / "scripts" / "make-base-image.sh"), BASE], check=True)
    return BASE


def download_wheels(folder: Path, *requirements: str) -> None:
    """``pip download`` for the image's Python (3.11, x86_64) into ``folder``, no
    dependencies: containers cannot reach PyPI, so the tests bring the wheels."""
    folder.mkdir(parents=True, exist_ok=True)
    platforms = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "any")
    subprocess.run(
        [
            sys.executable,
            *("-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"),
            *("--python-version", "3.11"),
            *(arg for platform in platforms for arg in ("--platform", platform)),
            *("-d", str(folder), *requirements),
        ],
        check=True,
    )


def _wheel(spec: str) -> Path:
    name, _, version = spec.partition("==")
    folder = WHEEL_CACHE / spec
    found = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if not found:
        download_wheels(folder, f"{name}=={version}")
        found = sorted(folder.glob("*.whl"))
    return found[0]


@pytest.fixture(scope="session")
def build_dir(client: Any) -> Iterator[Callable[[Path, str], str]]:
    """``build_dir(context, name) -> tag``: build a prepared context; removed at the end."""
    tags: list[str] = []

    def _build(context: Path, name: str) -> str:
        import docker.errors

        tag = f"imagecheck-test/{name}:{uuid.uuid4().hex[:8]}"
        for attempt in (1, 2, 3):
            try:
                client.images.build(path=str(context), tag=tag, labels=LABEL, rm=True, forcerm=True)
                break
            except docker.errors.BuildError as exc:
                # The engine is shared: another session's finaliser can prune a dangling
                # intermediate this build's cache had just picked or made ("unknown parent
                # image ID", "No such image: sha256:..."); building again rebuilds that step.
                gone = ("unknown parent image ID", "No such image: sha256:", "unable to find image")
                if attempt == 3 or not any(message in str(exc) for message in gone):
                    raise
        tags.append(tag)
        return tag

    yield _build
    for tag in tags:
        client.images.remove(tag, force=True)
    client.images.prune(filters={"dangling": True, "label": "imagecheck.test=1"})


@pytest.fixture(scope="session")
def build_kit(client: Any) -> Iterator[Callable[[Path, str], str]]:
    """``build_dir``'s twin with BuildKit (``DOCKER_BUILDKIT=1 docker build``)."""
    tags: list[str] = []

    def _build(context: Path, name: str) -> str:
        tag = f"imagecheck-test/{name}-kit:{uuid.uuid4().hex[:8]}"
        command = ["/usr/bin/docker", "build", "-q", "-t", tag, "--label", "imagecheck.test=1"]
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        done = subprocess.run(
            [*command, str(context)], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        tags.append(tag)
        return tag

    yield _build
    for tag in tags:
        client.images.remove(tag, force=True)


@pytest.fixture(params=["legacy", "buildkit"])
def any_builder(
    request: pytest.FixtureRequest,
    build_dir: Callable[[Path, str], str],
    build_kit: Callable[[Path, str], str],
) -> Callable[[Path, str], str]:
    """Each test that takes it runs once per builder: ``any_builder(context, name)``."""
    return build_dir if request.param == "legacy" else build_kit


STACKS = Path(__file__).resolve().parent / "stacks"


@pytest.fixture(scope="session")
def postgres_image(build_dir: Callable[[Path, str], str]) -> str:
    """PostgreSQL 15 from Debian's package (stacks/postgres), configured like the official
    image: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB; ``pg_isready`` for health checks."""
    return build_dir(STACKS / "postgres", "postgres")


@pytest.fixture(scope="session")
def mariadb_image(build_dir: Callable[[Path, str], str]) -> str:
    """MariaDB 10.11 from Debian's package (stacks/mariadb), configured like the official
    image: MARIADB_/MYSQL_ROOT_PASSWORD, _DATABASE, _USER, _PASSWORD; ``mariadb-admin ping``."""
    return build_dir(STACKS / "mariadb", "mariadb")


@pytest.fixture(scope="session")
def build(
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
    build_dir: Callable[[Path, str], str],
) -> Builder:
    """``build(name, dockerfile, wheel_keys) -> tag``: a labelled image, removed at the end."""

    def _build(
        name: str, dockerfile: str, wheels: list[str], files: dict[str, str] | None = None
    ) -> str:
        context = tmp_path_factory.mktemp(name)
        for rel, text in (files or {}).items():
            (context / rel).parent.mkdir(parents=True, exist_ok=True)
            (context / rel).write_text(text)
        (context / "wheels").mkdir()
        for key in wheels:
            shutil.copy(_wheel(WHEELS[key]), context / "wheels")
        (context / "Dockerfile").write_text(dockerfile.replace("BASE", base_image))
        (context / "requirements.txt").write_text("numpy==1.26.4\nscipy==1.15.3\n")
        return build_dir(context, name)

    return _build


PINNED = """\
FROM BASE
LABEL imagecheck.test=1
RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 \\
    && rm -rf /var/lib/apt/lists/*
ENV APP_HOME=/app
WORKDIR /app
COPY wheels /wheels
RUN pip install --no-index --find-links /wheels --break-system-packages \\
    numpy==1.26.4 scipy==1.15.3 && rm -rf /wheels
COPY requirements.txt .
CMD ["python3", "-c", "import scipy"]
"""

VENV = """\
FROM BASE AS builder
LABEL imagecheck.test=1
COPY wheels /wheels
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-index --find-links /wheels numpy

FROM BASE
LABEL imagecheck.test=1
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
CMD ["python", "-c", "import numpy"]
"""

DUPLICATE = """\
FROM BASE AS old
LABEL imagecheck.test=1
COPY wheels /wheels
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-index --find-links /wheels \\
    packaging==23.2

FROM BASE AS new
LABEL imagecheck.test=1
COPY wheels /wheels
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-index --find-links /wheels \\
    packaging==24.1

FROM BASE
LABEL imagecheck.test=1
COPY --from=old /opt/venv /opt/venv
COPY --from=new /opt/venv/lib/python3.11/site-packages /opt/venv/lib/python3.11/site-packages
ENV PATH=/opt/venv/bin:$PATH
"""

UNINSTALL = """\
FROM BASE
LABEL imagecheck.test=1
COPY wheels /wheels
RUN pip install --no-index --find-links /wheels --break-system-packages six==1.16.0 idna==3.7
RUN pip uninstall -y --break-system-packages six
"""

WHITEOUT = """\
FROM BASE
LABEL imagecheck.test=1
RUN mkdir -p /data/a/sub /data/b && echo x > /data/a/x.txt && echo y > /data/a/sub/y.txt \\
    && echo z > /data/b/z.txt && echo keep > /data/b/keep && ln /data/b/keep /data/b/keep-link \\
    && ln -s /data/b /data/link && head -c 100000 /dev/zero > /data/b/big
RUN rm -rf /data/a && mkdir /data/a && echo new > /data/a/new.txt && rm /data/b/z.txt \\
    && rm /data/b/big
"""


@pytest.fixture(scope="session")
def pinned_image(build: Builder) -> str:
    """libmagic1 by apt; numpy 1.26.4 and scipy 1.15.3 by pip in one RUN; wheels wasted."""
    return build("pinned", PINNED, ["numpy", "scipy"])


@pytest.fixture(scope="session")
def venv_image(build: Builder) -> str:
    """A venv made in a builder stage and COPYed into the final one (lib64 -> lib)."""
    return build("venv", VENV, ["numpy"])


@pytest.fixture(scope="session")
def duplicate_image(build: Builder) -> str:
    """packaging 24.1's site-packages copied over 23.2's: two dist-info, 24.1's files."""
    return build("duplicate", DUPLICATE, ["packaging-old", "packaging-new"])


@pytest.fixture(scope="session")
def uninstall_image(build: Builder) -> str:
    """six and idna installed, then six uninstalled by a later layer."""
    return build("uninstall", UNINSTALL, ["six", "idna"])


@pytest.fixture(scope="session")
def whiteout_image(build: Builder) -> str:
    """An opaque folder, a whiteout, a hard link and a symlinked folder, made by overlay2."""
    return build("whiteout", WHITEOUT, [])


@pytest.fixture
def run_in(client: Any) -> Callable[[str, list[str]], str]:
    """Run a command in a throwaway container of an image; return its stdout."""

    def _run(image: str, command: list[str]) -> str:
        out: bytes = client.containers.run(
            image, command, remove=True, network_disabled=True, labels=LABEL, entrypoint=[]
        )
        return out.decode()

    return _run


@pytest.fixture
def save(client: Any, tmp_path: Path) -> Callable[[str], Path]:
    """``docker save`` an image into tmp_path, streamed."""

    def _save(image: str) -> Path:
        path = tmp_path / "saved.tar"
        with path.open("wb") as fh:
            for chunk in client.images.get(image).save(chunk_size=1 << 20):
                fh.write(chunk)
        return path

    return _save


@pytest.fixture
def engine_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The real engine connections opened while the test runs (each is a ping): a
    pipeline that opens one per step shows up here as several."""
    import imagecheck.engine

    opened: list[Any] = []
    real = imagecheck.engine.connect

    def counting(timeout: int = 60) -> imagecheck.engine.Engine:
        engine = real(timeout)
        opened.append(engine)
        return engine

    monkeypatch.setattr(imagecheck.engine, "connect", counting)
    return opened


Leftovers = Callable[[tuple[str, ...]], tuple[list[str], list[str]]]


@pytest.fixture
def migration_leftovers(client: Any, monkeypatch: pytest.MonkeyPatch) -> Leftovers:
    """``leftovers(images) -> (containers, networks)`` a migration run of this test left in
    the engine: containers labelled ``imagecheck.migrations`` created from ``images``, and networks
    this process made that still exist. Other sessions share the engine and the label, so
    a bare label filter would see their runs too."""
    from imagecheck.app import LABEL as RUN_LABEL
    from imagecheck.engine import Engine

    made: list[str] = []
    real = Engine.create_network

    def create_network(self: Engine, name: str, labels: dict[str, str]) -> str:
        made.append(name)
        return real(self, name, labels)

    monkeypatch.setattr(Engine, "create_network", create_network)

    def _left(images: tuple[str, ...]) -> tuple[list[str], list[str]]:
        # what each container was created from, as given: the run starts the image by its
        # id and the database by its tag. Not ImageID: every session's postgres_image is
        # one id (the same build, cached) under its own tag.
        given = {*images, *(client.images.get(image).id for image in images)}
        # the low-level list: no inspect per container, which another session's removal races
        found = client.api.containers(all=True, filters={"label": RUN_LABEL})
        containers = [str(c["Id"]) for c in found if c.get("Image") in given]
        networks = [n for n in made if client.networks.list(names=[n])]
        return containers, networks

    return _left
