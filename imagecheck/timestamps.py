"""Engine timestamps as aware datetimes.

The engine writes RFC 3339 with nanoseconds (``2024-01-01T10:00:00.123456789Z``), more
digits than ``datetime`` takes; history entries, container states and BuildKit's cache
records all use it, so triage and the staleness checks read them with this one parser.
"""

from __future__ import annotations

import re
from datetime import datetime

_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?")


def parse_timestamp(value: str | None) -> datetime | None:
    """``value`` as an aware datetime (UTC when it names no zone); None if it is not one."""
    match = _RFC3339.match(value or "")
    if match is None:
        return None
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    zone = match.group(3) if match.group(3) not in (None, "Z") else "+00:00"
    return datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}")
