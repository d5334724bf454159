"""Engine timestamps: nanoseconds, ``Z``, offsets, and what is not a timestamp."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from imagecheck.timestamps import parse_timestamp


def test_engine_timestamps() -> None:
    utc = timezone.utc
    assert parse_timestamp("2024-01-01T10:00:00.123456789Z") == datetime(
        2024, 1, 1, 10, 0, 0, 123456, tzinfo=utc
    )
    assert parse_timestamp("2024-01-01T10:00:00Z") == datetime(2024, 1, 1, 10, tzinfo=utc)
    assert parse_timestamp("2024-01-01T10:00:00") == datetime(2024, 1, 1, 10, tzinfo=utc)
    assert parse_timestamp("2024-01-01T12:00:00.5+02:00") == datetime(
        2024, 1, 1, 12, 0, 0, 500000, tzinfo=timezone(timedelta(hours=2))
    )
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None
