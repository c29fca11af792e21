"""Spans of event time: every hold phase, interval and listing is half-open, [start, end)."""

from datetime import datetime


def covers(start: datetime, end: datetime | None, t: datetime) -> bool:
    """Whether `t` falls in [start, end); an end of None is open."""
    return start <= t and (end is None or t < end)
