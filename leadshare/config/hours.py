"""Working hours in a rules file: day keys (`mon-fri`, `sat,sun`, `daily`) and time ranges."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator

from leadshare import models
from leadshare.config.values import shown, suggest

_DAY_NAMES = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}
_DAY_GROUPS = {
    "daily": (0, 1, 2, 3, 4, 5, 6), "everyday": (0, 1, 2, 3, 4, 5, 6),
    "weekdays": (0, 1, 2, 3, 4), "weekend": (5, 6), "weekends": (5, 6),
}
DAY_SHORT = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_days(key: str) -> tuple[int, ...]:
    """'mon-fri' -> (0..4); 'mon,wed' -> (0, 2); 'sun-thu' wraps round the week; 'daily' -> all."""
    days: list[int] = []
    for part in (p.strip().lower() for p in key.split(",")):
        if part in _DAY_GROUPS:
            days.extend(_DAY_GROUPS[part])
            continue
        ends = [e.strip() for e in part.split("-")] if "-" in part else [part]
        for end in ends:
            if end not in _DAY_NAMES:
                raise ValueError(f"unknown day '{end or key}'{suggest(end, list(_DAY_NAMES) + list(_DAY_GROUPS))} "
                                 "in the hours; write mon..sun, a range like mon-fri, a list like mon,wed, or daily")
        if len(ends) > 2:
            raise ValueError(f"'{part}' is not a day range; write it like mon-fri")
        first, last = _DAY_NAMES[ends[0]], _DAY_NAMES[ends[-1]]
        day = first
        while True:
            days.append(day)
            if day == last:
                break
            day = (day + 1) % 7
    seen: set[int] = set()
    for day in days:
        if day in seen:
            raise ValueError(f"'{key}' names {DAY_SHORT[day]} twice")
        seen.add(day)
    return tuple(days)


def _day_key(value: str) -> str:
    parse_days(value)
    return value


_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_RANGE_HELP = 'write a range like "09:00-18:00", a list of such ranges, or "off"'


def _day_value(value: Any) -> tuple[models.Interval, ...]:
    if value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return ()
    items = value if isinstance(value, list) else [value]
    intervals: list[tuple[int, int, str]] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{_RANGE_HELP} (got {shown(item)})")
        m = _RANGE.match(item)
        if not m:
            raise ValueError(f"{shown(item)} is not a time range; {_RANGE_HELP}")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59:
            raise ValueError(f"{shown(item)}: {h1:02d}:{m1:02d} is not a time of day")
        if h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{shown(item)}: {h2:02d}:{m2:02d} is not a time of day (24:00 is the latest end)")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise ValueError(f"{shown(item)}: the end must be after the start (a shift past midnight is two "
                             "ranges: until 24:00 on one day, from 00:00 on the next)")
        intervals.append((start, end, item))
    intervals.sort()
    for (s1, e1, a), (s2, e2, b) in zip(intervals, intervals[1:]):
        if s2 < e1:
            raise ValueError(f"{shown(a)} and {shown(b)} overlap")
    return tuple((s, e) for s, e, _ in intervals)


def _hours_not_empty(value: dict) -> dict:
    if not value:
        raise ValueError('lists no day; write e.g. mon-fri: "09:00-18:00" (or leave `hours` out)')
    return value


Hours = Annotated[
    dict[Annotated[str, AfterValidator(_day_key)], Annotated[Any, AfterValidator(_day_value)]],
    AfterValidator(_hours_not_empty),
]
