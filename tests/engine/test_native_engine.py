"""IC202 on a real image: a library numpy's extension modules NEED, deleted by a later
layer, is an error, and the import fails in the image the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from imagecheck.api import Options, check

from .conftest import Builder

NO_OPENBLAS = """\
FROM BASE
LABEL imagecheck.test=1
COPY wheels /wheels
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-index --find-links /wheels \\
    numpy==1.26.4 && rm -rf /wheels
RUN rm /opt/venv/lib/python3.11/site-packages/numpy.libs/libopenblas*
ENV PATH=/opt/venv/bin:$PATH
CMD ["python", "-c", "import numpy"]
"""


def test_a_library_an_import_loads_removed_by_a_later_layer(
    build: Builder, tmp_path: Path, run_in: Callable[..., str]
) -> None:
    tag = build("no-openblas", NO_OPENBLAS, ["numpy"])
    pins = tmp_path / "requirements.txt"
    pins.write_text("numpy==1.26.4\n")
    report = check(f"docker:{tag}", Options(use_cache=False), constraints=[pins], smoke=None)
    missing = [f for f in report.findings if f.code == "IC202"]
    assert missing
    assert {f.severity for f in missing} == {"error"}
    assert {f.subject for f in missing} == {"numpy"}
    assert all("libopenblas" in f.message for f in missing)
    out = run_in(tag, ["sh", "-c", "python -c 'import numpy' 2>&1 || true"])
    assert "libopenblas" in out
    assert "cannot open shared object file" in out
