"""``imagecheck lint --resolve``: ask pip-compile whether requirements.txt is still what it
would write for requirements.in (IC402), and say so in one line when no index answers (IC404).

pip-compile runs on a copy of the ``.txt`` (it keeps the pins it finds there), so
nothing in the checkout is written. Before it runs, the index it would use is probed
once: pip's retries against an index that is not there take minutes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from ..codes import IC402, IC404
from ..errors import EnvironmentProblem
from ..model import Finding
from ..pins import read_requirements

PYPI = "https://pypi.org/simple"
PROBE_TIMEOUT = 5.0
COMPILE_TIMEOUT = 600
_NETWORK = re.compile(
    r"NewConnectionError|Max retries exceeded|Failed to establish a new connection|"
    r"Temporary failure in name resolution|Name or service not known|Connection refused|"
    r"Read timed out|Could not fetch URL|Network is unreachable",
    re.IGNORECASE,
)


def _pip_config_index() -> str | None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    found = None
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".index-url"):
            found = value.strip().strip("'\"")
    return found


def index_url(source: Path) -> str | None:
    """The index pip-compile would use for ``source``; None with ``--no-index``."""
    if os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        return None
    for line in source.read_text(encoding="utf-8").splitlines():
        words = line.split("#")[0].replace("=", " ").split()
        if words[:1] == ["--no-index"]:
            return None
        if words[:1] in (["-i"], ["--index-url"]) and len(words) > 1:
            return words[1]
    return os.environ.get("PIP_INDEX_URL") or _pip_config_index() or PYPI


def unreachable(url: str) -> str | None:
    """Why ``url`` cannot be reached, or None when something answers there."""
    if url.startswith("file://"):
        folder = Path(urllib.request.url2pathname(url[len("file://") :]))
        return None if folder.is_dir() else f"{folder} is not a folder"
    if not url.startswith(("http://", "https://")):
        return None
    probe = url.rstrip("/") + "/pip/"
    try:
        request = urllib.request.Request(probe, method="HEAD")  # noqa: S310 - http(s) only
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT):  # noqa: S310
            return None
    except urllib.error.HTTPError:
        return None  # the server answered: it is there
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return str(reason) or type(exc).__name__


def no_index(url: str, why: str, sources: list[Path]) -> Finding:
    names = ", ".join(str(s) for s in sources)
    return IC404.finding(
        subject="pip-compile",
        message=f"pip-compile cannot reach the package index {url} ({why}): {names} compared with "
        "the .txt offline only (direct requirements and '# via' lines)",
        hint="run where the index is reachable, or set PIP_INDEX_URL to a mirror",
    )


def _pins(path: Path) -> dict[str, str]:
    return {
        p.name: p.exact or p.specifier for p in read_requirements(path) if not p.constraint_only
    }


def compile_check(source: Path, compiled: Path, url: str) -> Iterator[Finding]:
    """IC402 from pip-compile's own answer, or IC404 when it could not reach an index."""
    if importlib.util.find_spec("piptools") is None:
        raise EnvironmentProblem(
            "--resolve needs pip-tools: pip install pip-tools "
            "(pre-commit: the imagecheck-pip-compile hook installs it)"
        )
    with tempfile.TemporaryDirectory(prefix="imagecheck-lint-") as tmp:
        out = Path(tmp) / compiled.name
        shutil.copyfile(compiled, out)
        command = [
            sys.executable,
            "-m",
            "piptools",
            "compile",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--strip-extras",
            "--no-emit-index-url",
            "--no-emit-find-links",
            "--output-file",
            str(out),
            source.name,
        ]
        try:
            result = subprocess.run(
                command,
                cwd=source.parent,
                capture_output=True,
                text=True,
                check=False,
                timeout=COMPILE_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            yield no_index(url, f"pip-compile ran over {COMPILE_TIMEOUT} s", [source])
            return
        if result.returncode != 0:
            lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
            network = next((ln for ln in lines if _NETWORK.search(ln)), None)
            if network:
                yield no_index(url, network, [source])
                return
            error = next(
                (ln for ln in lines if ln.startswith("ERROR:")), lines[-1] if lines else ""
            )
            yield IC402.finding(
                subject=str(source),
                message=f"pip-compile cannot resolve {source}: {error}",
                hint="make the requirements agree (the pins and ranges named above)",
                location=str(source),
            )
            return
        wanted, have = _pins(out), _pins(compiled)
    changes = [
        f"{name} {have.get(name) or '(missing)'} -> {wanted.get(name) or '(dropped)'}"
        for name in sorted(set(wanted) | set(have))
        if wanted.get(name) != have.get(name)
    ]
    if changes:
        shown = "; ".join(changes[:8]) + (
            f"; and {len(changes) - 8} more" if len(changes) > 8 else ""
        )
        yield IC402.finding(
            subject=str(compiled),
            message=f"pip-compile {source} would change {compiled}: {shown}",
            hint=f"pip-compile {source} and commit both files",
            location=str(compiled),
        )
