"""The README's tables are checked against the code they document."""

from __future__ import annotations

import re
from pathlib import Path

from imagecheck.errors import ExitCode

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    assert text.count(f"\n## {title}\n") == 1, f"one '## {title}' section"
    body = text.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def test_exit_code_table_is_the_enum_and_printed_once() -> None:
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", _section("Exit codes"), flags=re.MULTILINE)
    codes = [int(code) for code, _ in rows]
    assert sorted(codes) == sorted(code.value for code in ExitCode)
    assert len(codes) == len(set(codes)), "each exit code documented once"
    assert README.read_text().count("| code | meaning |") == 1, "one exit-code table"
