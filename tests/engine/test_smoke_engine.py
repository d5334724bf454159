"""Smoke tests against the real engine: one throwaway container per run, removed always."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import Options, check, smoke
from imagecheck.smoke.run import LABEL, SmokeOptions
from tests.builders import dist_info
from tests.helpers import run_cli

from .conftest import Builder

pytestmark = pytest.mark.engine

SITE = "usr/local/lib/python3.11/dist-packages"
MODULES = {
    "sm_good": "X = 1\n",
    "sm_bad": (
        "import sm_good\nraise ImportError('failed to find libmagic.  Check your installation')\n"
    ),
    "sm_hang": "import time\ntime.sleep(600)\n",
    "sm_segv": "import ctypes\nctypes.string_at(0)\n",
    "sm_noisy": (
        "import sys\nsys.stderr.write('noisy: configuration file not found, using defaults\\n')\n"
    ),
    "sm_after": "import sm_good\n",
}
SMOKE = """\
FROM BASE
LABEL imagecheck.test=1
COPY site/ /usr/local/lib/python3.11/dist-packages/
USER nobody
CMD ["python3", "-c", "import sm_good"]
"""


@pytest.fixture(scope="session")
def smoke_image(build: Builder) -> str:
    """A distribution whose modules fail, hang, crash, write to stderr and work."""
    files = {f"site/{name}.py": code for name, code in MODULES.items()}
    info = dist_info("smokefix", "1.0", top_level="\n".join(MODULES) + "\n")
    files.update({f"site/{path}": data.decode() for path, data in info.items()})
    return build("smoke", SMOKE, [], files=files)


def _containers(client: Any, image: str) -> list[Any]:
    """Smoke containers of ``image`` (not another test's or another run's): listed sparse,
    so a container removed between the list and an inspect cannot fail the listing."""
    found = client.containers.list(
        all=True, sparse=True, filters={"label": f"{LABEL}=1", "ancestor": image}
    )
    return list(found)


def test_each_import_on_its_own(smoke_image: str, client: Any) -> None:
    report = smoke(
        f"docker:{smoke_image}",
        Options(use_cache=False),
        SmokeOptions(module_timeout=3, probes=False),
    )
    assert report.smoke is not None
    assert report.smoke.status == "ran"
    status = {r.name: r.status for r in report.smoke.results if r.name.startswith("sm_")}
    assert status == {
        "sm_after": "ok",
        "sm_bad": "error",
        "sm_good": "ok",
        "sm_hang": "timeout",
        "sm_noisy": "ok",
        "sm_segv": "crash",
    }
    codes = {(f.code, f.subject) for f in report.findings}
    assert codes == {
        ("IC501", "sm_bad"),
        ("IC502", "sm_hang"),
        ("IC503", "sm_segv"),
        ("IC504", "sm_noisy"),
    }
    noisy = next(r for r in report.smoke.results if r.name == "sm_noisy")
    assert noisy.output == "noisy: configuration file not found, using defaults\n"
    bad = next(f for f in report.findings if f.code == "IC501")
    assert "failed to find libmagic" in bad.message
    assert not _containers(client, smoke_image)


def test_the_container_is_locked_down(smoke_image: str, tmp_path: Path) -> None:
    """Kept: the image's USER. Taken away: network, capabilities, new privileges."""
    probe = tmp_path / "probes.toml"
    probe.write_text(
        '[[probe]]\nname = "lockdown"\ndistributions = ["smokefix"]\nimports = []\n'
        'code = """\nimport os, socket\n'
        "status = open('/proc/self/status').read()\n"
        "caps = [l for l in status.splitlines() if l.startswith('CapEff')][0]\n"
        "nnp = [l for l in status.splitlines() if l.startswith('NoNewPrivs')][0]\n"
        "ifaces = sorted(n for _, n in socket.if_nameindex())\n"
        "raise RuntimeError(f'uid={os.getuid()} {caps.split()[1]} {nnp.split()[1]} {ifaces}')\n"
        '"""\n'
    )
    report = smoke(
        f"docker:{smoke_image}",
        Options(use_cache=False),
        SmokeOptions(module_timeout=3, skip=("sm_hang",), probe_files=(probe,)),
    )
    assert report.smoke is not None
    (result,) = [r for r in report.smoke.results if r.name == "lockdown"]
    assert result.last_line == "RuntimeError: uid=65534 0000000000000000 1 ['lo']"


def test_venv_interpreter(venv_image: str) -> None:
    report = smoke(f"docker:{venv_image}", Options(use_cache=False), SmokeOptions())
    assert report.smoke is not None
    assert report.smoke.interpreter == "/opt/venv/bin/python"
    imports = {r.name: r.status for r in report.smoke.results if r.kind == "import"}
    assert imports["numpy"] == "ok"
    assert set(imports.values()) <= {"ok", "skipped"}
    assert {(r.name, r.status) for r in report.smoke.results if r.kind == "probe"} == {
        ("numpy-linalg", "ok")
    }
    assert report.findings == ()


def test_interrupted_run_leaves_no_container(smoke_image: str, client: Any) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagecheck", "smoke", smoke_image, "--module-timeout", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while not [c for c in _containers(client, smoke_image) if c.status == "running"]:
            assert time.monotonic() < deadline, "the smoke container never started"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(1)  # well inside sm_hang's import
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "interrupted" in err
    assert not _containers(client, smoke_image)


def test_no_engine_skips_smoke_but_checks_the_archive(
    smoke_image: str, save: Any, tmp_path: Path
) -> None:
    archive = save(smoke_image)
    (tmp_path / "none.txt").write_text("")
    result = run_cli(
        *("check", str(archive), "--format", "json", "-c", str(tmp_path / "none.txt")),
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["verdict"], doc["findings"]) == ("pass", [])
    smoke_check = next(c for c in doc["checks"] if c["name"] == "smoke tests")
    assert smoke_check["status"] == "skipped"
    assert "no Docker engine" in smoke_check["reason"]
    assert doc["smoke"]["status"] == "skipped"
    # the archive's own checks ran without the engine; pins (none given) and the
    # engine's (compose containers, build cache) did not
    assert {c["name"] for c in doc["checks"] if c["status"] == "passed"} == {
        "NumPy C-API generation",
        "catalog files read",
        "duplicate dist-info",
        "known incompatibilities",
        "libraries loaded through ctypes",
        "requirements of installed distributions",
        "shared libraries resolve",
        "system needs",
        "wheel tags",
    }


def test_check_joins_static_and_smoke(smoke_image: str, tmp_path: Path) -> None:
    pins = tmp_path / "requirements.txt"
    pins.write_text("smokefix==1.0\n")
    report = check(
        f"docker:{smoke_image}",
        Options(use_cache=False),
        constraints=[pins],
        smoke=SmokeOptions(module_timeout=3, skip=("sm_hang", "sm_segv")),
    )
    assert {f.code for f in report.findings} == {"IC501", "IC504"}
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["pins"] == "passed"
    assert statuses["smoke tests"] == "failed"


@pytest.mark.parametrize("transport", ["socket", "docker-py"])
def test_throwaway_run_on_both_transports(smoke_image: str, client: Any, transport: str) -> None:
    """The local socket is spoken with the standard library; TCP/TLS engines through
    docker-py. Same container, same answer, removed either way."""
    from imagecheck.engine import Engine, Throwaway, connect

    engine = connect() if transport == "socket" else Engine(client=client)
    spec = Throwaway(
        image=smoke_image,
        entrypoint=("python3",),
        command=(
            "-c",
            "import sys; print('one'); print('two'); sys.stderr.write('err\\n'); sys.exit(3)",
        ),
        timeout=60,
        labels={LABEL: "1"},
    )
    lines: list[str] = []
    result = engine.run_throwaway(spec, lines.append)
    assert lines == ["one", "two"]
    assert (result.exit_code, result.timed_out, result.oom_killed) == (3, False, False)
    assert "err" in result.stderr_tail
    slow = Throwaway(
        smoke_image,
        ("python3",),
        ("-c", "import time; time.sleep(60)"),
        timeout=2,
        labels={LABEL: "1"},
    )
    assert engine.run_throwaway(slow, lines.append).timed_out
    assert not _containers(client, smoke_image)


def test_two_smoke_runs_and_a_removal_at_once(smoke_image: str, client: Any) -> None:
    """Two runs of the same image at once (parallel CI jobs), while another labelled
    container is removed: each run gets its own answer, and none is left behind."""
    from concurrent.futures import ThreadPoolExecutor

    other = client.containers.create(smoke_image, ["true"], labels={LABEL: "1"})

    def run(_: int) -> dict[str, str]:
        report = smoke(
            f"docker:{smoke_image}", Options(use_cache=False), SmokeOptions(module_timeout=3)
        )
        assert report.smoke is not None
        return {r.name: r.status for r in report.smoke.results if r.name.startswith("sm_")}

    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = [pool.submit(run, i) for i in range(2)]
        deadline = time.monotonic() + 60
        while not _containers(client, smoke_image)[1:]:  # `other` and a run's container
            assert time.monotonic() < deadline, "no smoke container started"
            time.sleep(0.05)
        pool.submit(other.remove, force=True).result()
        results = [r.result() for r in runs]
    assert results[0] == results[1]
    assert results[0]["sm_good"] == "ok"
    assert results[0]["sm_bad"] == "error"
    assert not _containers(client, smoke_image)
