"""Container log lines as their writers meant them: the level a line states, and wrapped
lines joined back.

Triage quotes a line as the cause of a crash only when the line says it is an error, the
way the common formats write their level, never because a word of it looks like one (a
logger called ``uvicorn.error`` logs at INFO). A CLI that wraps its output at the
terminal's width (rich's traceback box, typer, ``fastapi run``) cuts a long exception
message over several lines; quoting one of them quotes half a sentence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

#: How bad each written level is; PostgreSQL's STATEMENT/DETAIL/HINT... lines add to the
#: entry before them ("detail").
_LEVELS = {
    "trace": "debug",
    "debug": "debug",
    "info": "info",
    "information": "info",
    "log": "info",
    "notice": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "err": "error",
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "panic": "critical",
    "alert": "critical",
    "emerg": "critical",
    "emergency": "critical",
    "statement": "detail",
    "detail": "detail",
    "hint": "detail",
    "context": "detail",
    "query": "detail",
    "location": "detail",
}
#: pino/bunyan write numbers.
_NUMERIC = {10: "debug", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "critical"}
_WORDS = "TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|CRITICAL|FATAL|PANIC"
_PG_WORDS = (
    "DEBUG[1-5]?|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|STATEMENT|DETAIL|HINT|CONTEXT|QUERY"
    "|LOCATION"
)
_STAMP = r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:\s?(?:[A-Z]{2,5}|Z|[+-]\d\d:?\d\d))?"
#: (format, pattern): each names the ``level`` and the ``message``.
_FORMATS = (
    # 2024-01-01 00:00:00.000 UTC [42] ERROR:  column "x" does not exist (log_line_prefix %m [%p])
    (
        "postgresql",
        re.compile(
            rf"^(?P<stamp>{_STAMP})\s+(?:\[\d+\]\s+)?(?:\S+@\S+\s+)?"
            rf"(?P<level>{_PG_WORDS}):\s\s(?P<message>.*)$"
        ),
    ),
    # [2024-01-01 00:00:00 +0000] [1] [INFO] Booting worker with pid: 7
    (
        "gunicorn",
        re.compile(rf"^\[{_STAMP}\]\s+\[\d+\]\s+\[(?P<level>[A-Za-z]+)\]\s(?P<message>.*)$"),
    ),
    # [2024-01-01 00:00:00,112: INFO/MainProcess] Connected (celery)
    (
        "bracketed",
        re.compile(rf"^\[{_STAMP}:\s(?P<level>[A-Za-z]+)(?:/[\w-]+)?\]\s?(?P<message>.*)$"),
    ),
    # INFO:uvicorn.error:Application startup complete. (Python logging's BASIC_FORMAT)
    (
        "python",
        re.compile(r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):[^\s:]+:(?P<message>.*)$"),
    ),
    # INFO:     Started server process [1] (uvicorn); FATAL: config missing
    ("uvicorn", re.compile(rf"^(?P<level>{_WORDS}):\s+(?P<message>.*)$")),
    # INFO  [alembic.runtime.migration] Running upgrade
    ("alembic", re.compile(rf"^(?P<level>{_WORDS})\s+\[[^\]\s]+\]\s(?P<message>.*)$")),
    # 2024-01-01 00:00:00,123 - app.db - ERROR - message; 2024-01-01T00:00:00Z ERROR message
    (
        "timestamped",
        re.compile(
            rf"^\[?{_STAMP}\]?\s+(?:-\s+)?(?:[\w.]+\s+-\s+)?\[?(?P<level>{_WORDS})\]?"
            rf"(?:\s+-\s+|:?\s+)(?P<message>.*)$",
            re.IGNORECASE,
        ),
    ),
)
_LOGFMT = re.compile(r'(?:^|\s)level=(?P<level>"?\w+"?)(?:\s|$)')
_LOGFMT_MSG = re.compile(r'(?:^|\s)msg=(?P<message>"(?:[^"\\]|\\.)*"|\S+)')
_JSON_LEVEL = ("level", "levelname", "severity", "log.level", "lvl", "loglevel")
_JSON_MESSAGE = ("message", "msg", "event", "error")
#: A line that says no level but is an exception's last line, or starts with "error:".
_EXCEPTIONISH = re.compile(
    r"^\s*(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Exit|Failure|Warning)(?::|$)"
    r"|^\s*(?i:error|fatal|panic|critical)(?::|\s)"
)
#: rich's frame characters: a traceback box and its wrapped frame lines.
_BOX = "╭│╰"
#: A line a console wrapped, when no box says the width: most of a narrow terminal's.
_NARROWEST = 60


@dataclass(frozen=True, slots=True)
class Level:
    """The level a log line states, normalised: debug, info, warning, error, critical,
    or detail (a PostgreSQL line adding to the entry before it)."""

    level: str
    written: str  # as the line writes it: "INFO", "ERROR", "LOG", "50"
    format: (
        str  # postgresql, gunicorn, bracketed, python, uvicorn, alembic, timestamped, json, logfmt
    )
    message: str
    stamp: str | None = None  # the line's own date, where the format leads with one

    @property
    def error(self) -> bool:
        return self.level in ("error", "critical")

    @property
    def client_error(self) -> bool:
        """A database server's record of a client's failed statement or session (PostgreSQL's
        ERROR aborts one command, FATAL one session): the client's failure, not the server's."""
        return self.format == "postgresql" and self.written in ("ERROR", "FATAL")


def level_of(line: str) -> Level | None:
    """The level ``line`` states in one of the common formats; None when it states none."""
    text = line.strip()
    if text.startswith("{") and text.endswith("}"):
        return _json_level(text)
    for name, pattern in _FORMATS:
        m = pattern.match(text)
        if m is None:
            continue
        level = _LEVELS.get(m["level"].lower().rstrip("12345") or "")
        if level is not None:
            return Level(level, m["level"], name, m["message"], m.groupdict().get("stamp"))
    m = _LOGFMT.search(text)
    if m is not None:
        written = m["level"].strip('"')
        level = _LEVELS.get(written.lower())
        if level is not None:
            found = _LOGFMT_MSG.search(text)
            message = found["message"].strip('"') if found else text
            return Level(level, written, "logfmt", message)
    return None


def _json_level(text: str) -> Level | None:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    for key in _JSON_LEVEL:
        value = doc.get(key)
        if isinstance(value, dict):  # {"log": {"level": ...}} is spelt flat as well
            continue
        if isinstance(value, bool):
            continue
        level = _NUMERIC.get(value) if isinstance(value, int) else None
        if isinstance(value, str):
            level = _LEVELS.get(value.lower())
        if level is not None:
            message = next((str(doc[k]) for k in _JSON_MESSAGE if k in doc), text)
            return Level(level, str(value), "json", message)
    return None


def looks_like_error(line: str) -> bool:
    """A line at error level or above, or, saying no level, an exception's last line."""
    level = level_of(line)
    if level is not None:
        return level.error
    return bool(_EXCEPTIONISH.match(line))


def box_width(lines: list[str]) -> int | None:
    """The width rich drew its traceback box at: the terminal's, where it wraps."""
    for line in lines:
        if line.startswith("╭") and line.rstrip().endswith("╮"):
            return len(line.rstrip())
    return None


def unwrap(lines: list[str]) -> list[str]:
    """The log's lines with the ones a CLI wrapped at the terminal's width joined again.

    A wrapping console (rich) breaks a long line at a space and keeps that space at the
    end of the broken line; no program writes a line ending in a space followed by its
    sentence's continuation on purpose. Where a rich box says how wide the terminal was,
    the broken line must also reach that width (less the word that did not fit).
    """
    width = box_width(lines)
    out: list[str] = []
    for line in lines:
        if out and _continues(out[-1], line, width):
            out[-1] += line
        else:
            out.append(line)
    return out


def _continues(previous: str, line: str, width: int | None) -> bool:
    if not previous.endswith(" ") or not previous.strip() or not line.strip():
        return False
    if previous[:1] in _BOX or line[:1] in _BOX or line[:1].isspace():
        return False
    if "Traceback (most recent call last)" in line or level_of(line) is not None:
        return False
    if _EXCEPTIONISH.match(line):  # a new exception line, never the rest of a sentence
        return False
    word = line.split(maxsplit=1)[0]
    if width is None:  # consoles are 80 columns or more: wrapped lines are long
        return len(previous) >= _NARROWEST
    return len(previous) + len(word) > width


__all__ = ["Level", "box_width", "level_of", "looks_like_error", "unwrap"]
