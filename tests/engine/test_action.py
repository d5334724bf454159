"""action.yml's steps run as a GitHub runner runs a composite action, on a real image.

The runner substitutes ``${{ ... }}`` in each step's ``env`` and ``run``, writes the
script to a file and runs ``bash --noprofile --norc -eo pipefail FILE`` with
``GITHUB_OUTPUT``, ``GITHUB_PATH`` and ``GITHUB_STEP_SUMMARY`` set; a folder a step
appends to ``GITHUB_PATH`` is on ``PATH`` for the steps after it. Only that is faked:
the install step really creates a venv and pip-installs this checkout into it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.engine.conftest import REPO
from tests.unit.report.test_ci_formats import junit_schema, sarif_schema

pytestmark = pytest.mark.engine

_EXPR = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


class Runner:
    """Just enough of a runner for composite steps: expressions, the GITHUB_* files."""

    def __init__(self, tmp: Path, inputs: dict[str, str]) -> None:
        action = yaml.safe_load((REPO / "action.yml").read_text())
        self.action: dict[str, Any] = action
        self.inputs: dict[str, str] = {
            name: spec.get("default", "") for name, spec in action["inputs"].items()
        } | inputs
        missing = [n for n, s in action["inputs"].items() if s.get("required") and n not in inputs]
        assert not missing, f"required inputs not given: {missing}"
        self.tmp = tmp
        self.workspace = tmp / "workspace"
        self.files = {
            name: tmp / f"{name.lower()}.txt"
            for name in ("GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")
        }
        for path in self.files.values():
            path.write_text("")
        (tmp / "runner-temp").mkdir()
        self.outputs: dict[str, dict[str, str]] = {}

    def _value(self, name: str, step_outputs: dict[str, dict[str, str]]) -> str:
        if name.startswith("inputs."):
            return self.inputs[name.removeprefix("inputs.")]
        if name == "github.action_path":
            return str(REPO)
        if name == "github.workspace":
            return str(self.workspace)
        step, _, key = name.removeprefix("steps.").partition(".outputs.")
        return step_outputs.get(step, {}).get(key, "")

    def expand(self, text: str) -> str:
        return _EXPR.sub(lambda m: self._value(m.group(1), self.outputs), text)

    def run(self) -> list[subprocess.CompletedProcess[str]]:
        done = []
        assert self.action["runs"]["using"] == "composite"
        for n, step in enumerate(self.action["runs"]["steps"]):
            assert step["shell"] == "bash"
            script = self.tmp / f"step{n}.sh"
            script.write_text(self.expand(step["run"]))
            paths = [p for p in self.files["GITHUB_PATH"].read_text().splitlines() if p]
            env = {
                **os.environ,
                **{k: str(v) for k, v in self.files.items()},
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace),
                "RUNNER_TEMP": str(self.tmp / "runner-temp"),
                "PATH": os.pathsep.join([*reversed(paths), os.environ["PATH"]]),
                **{k: self.expand(str(v)) for k, v in step.get("env", {}).items()},
            }
            env.pop("PYTHONPATH", None)  # the step must use what it installed
            self.files["GITHUB_OUTPUT"].write_text("")
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=self.workspace,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=900,
            )
            done.append(result)
            lines = self.files["GITHUB_OUTPUT"].read_text().splitlines()
            self.outputs[step.get("id", f"step{n}")] = dict(
                line.split("=", 1) for line in lines if "=" in line
            )
            if result.returncode != 0:
                break
        return done


def test_the_action_annotates_summarises_and_leaves_sarif(
    pinned_image: str, tmp_path: Path
) -> None:
    runner = Runner(
        tmp_path,
        {
            "target": f"docker:{pinned_image}",
            "constraints": "deploy/pins.txt",
            "args": "--no-smoke --unpinned off",
            "sarif": "out/imagecheck.sarif",
        },
    )
    workspace = runner.workspace
    (workspace / "deploy").mkdir(parents=True)
    (workspace / "out").mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    (workspace / "deploy" / "pins.txt").write_text("numpy==1.26.3\nscipy==1.15.3\n")

    install, check = runner.run()
    assert install.returncode == 0, install.stderr
    venv = tmp_path / "runner-temp" / "imagecheck-venv"
    assert runner.files["GITHUB_PATH"].read_text() == f"{venv}/bin\n"
    assert (venv / "bin" / "imagecheck").exists()

    assert check.returncode == 1, check.stderr  # numpy differs from its pin: the step fails
    assert check.stdout.startswith(
        "::error file=deploy/pins.txt,line=1,title=IC102 numpy::docker:" + pinned_image
    ), check.stdout
    summary = runner.files["GITHUB_STEP_SUMMARY"].read_text()
    assert "## :x: imagecheck: FAIL" in summary
    assert "| :x: error | IC102 | numpy |" in summary
    assert runner.outputs["check"] == {"sarif": "out/imagecheck.sarif", "exit-code": "1"}
    sarif = json.loads((workspace / "out" / "imagecheck.sarif").read_text())
    jsonschema.Draft4Validator(sarif_schema()).validate(sarif)
    first = sarif["runs"][0]["results"][0]
    assert first["ruleId"] == "IC102"
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "deploy/pins.txt"

    # clean pins: the step passes and still leaves its SARIF, with no results
    (workspace / "deploy" / "pins.txt").write_text("numpy==1.26.4\nscipy==1.15.3\n")
    runner.inputs["format"] = "junit"
    runner.files["GITHUB_PATH"].write_text(f"{venv}/bin\n")
    again = runner.run()
    assert [r.returncode for r in again] == [0, 0], again[-1].stderr
    junit_schema().validate(again[1].stdout)
    assert (
        json.loads((workspace / "out" / "imagecheck.sarif").read_text())["runs"][0]["results"] == []
    )
