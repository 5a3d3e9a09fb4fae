"""Time: the one place that reads the clock. Honours LEADSHARE_NOW so tests and replays are exact.

It also knows working time: a team's time zone, working hours, public holidays and leave. All
wall-clock reasoning happens in the team zone; durations are real elapsed time, so a shift that
spans a daylight-saving change counts the hours that actually passed.
"""

from __future__ import annotations

import math
import os
import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadshare.errors import LeadshareError
from leadshare.models import Agent, Interval, Team, WeeklyHours

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$", re.IGNORECASE)
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

NOW_ENV = "LEADSHARE_NOW"
UTC = timezone.utc
_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # fixed, whatever the locale
HORIZON_DAYS = 400  # how far ahead to look for working time before giving up

_WHEN_HINT = "write a date (2026-11-25), a datetime (2026-11-25T09:00) or a span back from now (30m, 24h, 7d, 4w)"


def parse_duration(text: str) -> timedelta:
    """'30m', '4h', '7d', '4w' -> timedelta."""
    m = _DURATION.match(str(text))
    if not m:
        raise LeadshareError(f"'{text}' is not a duration", "write a number and a unit: 30m, 4h, 7d or 4w")
    try:
        return timedelta(**{_UNIT[m.group(2).lower()]: float(m.group(1))})
    except OverflowError:
        raise LeadshareError(f"'{text}' is far too long a duration", "write a number and a unit: 30m, 4h, 7d or 4w") from None


# --- zones and conversions -------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a LeadshareError naming it."""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise LeadshareError(
            f"unknown time zone '{name}'", "use an IANA name such as Asia/Kuala_Lumpur or Europe/London"
        ) from None


def localize(naive: datetime, tz: tzinfo) -> datetime:
    """Attach `tz` to a wall-clock time. An ambiguous time (clocks going back) is its first
    occurrence; a time that does not exist (clocks going forward) becomes the moment the clocks
    jumped, the first instant at which the wall clock has passed it."""
    aware = naive.replace(tzinfo=tz, fold=0)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
        return aware
    a = naive.replace(tzinfo=tz, fold=1).timestamp()
    b = aware.timestamp()
    lo, hi = math.floor(min(a, b)), math.ceil(max(a, b))
    # the wall clock reads before `naive` at lo and after it at hi; the jump is a whole second
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, tz)


def _parse_iso(text: str) -> datetime | None:
    s = text.strip()
    if not s:
        return None
    if s[-1] in "zZ":
        s = s[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return None


def now(tz: str = "UTC") -> datetime:
    """The current time, aware, in zone `tz`; LEADSHARE_NOW (ISO 8601) replaces the real clock.
    A naive LEADSHARE_NOW is a wall-clock time in `tz`."""
    where = zone(tz)
    raw = os.environ.get(NOW_ENV, "")
    if not raw.strip():
        return datetime.now(where)
    parsed = _parse_iso(raw)
    if parsed is None:
        raise LeadshareError(
            f"{NOW_ENV}='{raw}' is not an ISO 8601 date-time",
            f"set it like 2026-11-25T09:00 (the team time zone), 2026-11-25T01:00:00Z or "
            f"2026-11-25T09:00+08:00, or unset {NOW_ENV} to use the real clock",
        )
    if parsed.tzinfo is None:
        return localize(parsed, where)
    return parsed.astimezone(where)


def parse_when(text: str, now: datetime) -> datetime:
    """WHEN of the contract, aware, in `now`'s zone: a date (the start of that day), a datetime
    (naive means `now`'s zone), a span back from now (30m, 24h, 7d, 4w), or now/today/yesterday.
    Day and week spans step back on the calendar (same wall-clock time), hour and minute spans
    in real time."""
    tz = now.tzinfo
    if tz is None:
        raise ValueError("parse_when needs an aware `now`")
    s = str(text).strip()
    low = s.lower()
    if low == "now":
        return now
    if low in ("today", "yesterday"):
        day = now.date() - (_DAY if low == "yesterday" else _ZERO)
        return localize(datetime.combine(day, time()), tz)
    m = _DURATION.match(s)
    if m:
        span = parse_duration(s)
        try:
            if m.group(2).lower() in "dw":
                return localize(now.replace(tzinfo=None) - span, tz)
            return (now.astimezone(UTC) - span).astimezone(tz)
        except OverflowError:
            raise LeadshareError(f"'{text}' goes back before the year 1", _WHEN_HINT) from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        try:
            day = date.fromisoformat(s)
        except ValueError:
            raise LeadshareError(f"'{text}' is not a valid date", _WHEN_HINT) from None
        return localize(datetime.combine(day, time()), tz)
    parsed = _parse_iso(s) if re.match(r"\d{4}-\d{2}-\d{2}", s) else None
    if parsed is None:
        raise LeadshareError(f"'{text}' is not a date, a datetime or a span", _WHEN_HINT)
    if parsed.tzinfo is None:
        return localize(parsed, tz)
    return parsed.astimezone(tz)


_DAY_ONLY = re.compile(r"\s*(\d{4}-\d{2}-\d{2}|today|yesterday)\s*", re.IGNORECASE)


def period_end(text: str, now: datetime) -> datetime:
    """--until WHEN: a bare date (or today, yesterday) means the end of that day, so
    `--since 2026-11-01 --until 2026-11-30` covers the whole of November 30."""
    start = parse_when(text, now)
    if _DAY_ONLY.fullmatch(text):
        nxt = localize(start.replace(tzinfo=None) + _DAY, start.tzinfo)
        return nxt - timedelta(seconds=1)
    return start


def period(since: str | None, until: str | None, now: datetime) -> tuple[datetime | None, datetime | None]:
    """--since and --until as moments; a span given with --until counts back from it, not from
    now (`--since 7d --until 2026-06-30` is the last week of June)."""
    end = period_end(until, now) if until else None
    start = parse_when(since, end if end is not None and is_span(since) else now) if since else None
    if start is not None and end is not None and end <= start:
        raise LeadshareError(f"--since {since} is not before --until {until}", "give a period that starts before it ends")
    return start, end


def to_utc_iso(dt: datetime) -> str:
    """The storage form: UTC, seconds precision, '2026-11-25T07:00:00+00:00'."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"to_utc_iso needs an aware datetime, got {dt!r}")
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def wall_clock(iso: str | None, tz: str | None) -> str:
    """A stored timestamp as the team's wall clock to the minute ('2026-11-25 14:00'), for people;
    without the team's time zone (no rules at hand) it says that the time is UTC."""
    if not iso:
        return ""
    at = from_iso(iso)
    return at.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M") if tz else at.strftime("%Y-%m-%d %H:%M UTC")


# A stored UTC timestamp inside free text (a note written by an SLA sweep, say).
_UTC_IN_TEXT = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\+00:00|Z)")


def wall_clock_in_text(text: str, tz: str | None) -> str:
    """Text with every UTC timestamp in it shown on the team's wall clock, like the columns beside it."""
    if not tz or "T" not in text:
        return text
    return _UTC_IN_TEXT.sub(lambda m: wall_clock(m.group(0), tz), text)


def is_span(text: str) -> bool:
    """WHEN given as a span back (7d, 24h), rather than a moment."""
    return bool(_DURATION.match(str(text)))


def from_iso(text: str) -> datetime:
    """The inverse of to_utc_iso, aware. Any ISO 8601 offset is accepted; naive means UTC."""
    parsed = _parse_iso(str(text))
    if parsed is None:
        raise LeadshareError(f"'{text}' is not an ISO 8601 timestamp", "write it like 2026-11-25T07:00:00+00:00")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# --- working hours ---------------------------------------------------------------------------

Span = tuple[datetime, datetime]  # [start, end) in UTC


@lru_cache(maxsize=1024)
def _normal_week(hours: WeeklyHours) -> tuple[tuple[Interval, ...], ...]:
    """Exactly seven days, each with sorted, merged, valid intervals."""
    days = []
    for i in range(7):
        raw = hours[i] if i < len(hours) else ()
        ivs = sorted((max(0, int(a)), min(1440, int(b))) for a, b in raw)
        merged: list[list[int]] = []
        for a, b in ivs:
            if b <= a:
                continue
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        days.append(tuple((a, b) for a, b in merged))
    return tuple(days)


@lru_cache(maxsize=65536)
def _day_spans(intervals: tuple[Interval, ...], tz_key: str, day: date) -> tuple[Span, ...]:
    """The day's wall-clock intervals as real [start, end) instants in UTC."""
    if not intervals:
        return ()
    tz = ZoneInfo(tz_key)
    midnight = datetime.combine(day, time())
    spans: list[Span] = []
    for a, b in intervals:
        start = localize(midnight + timedelta(minutes=a), tz).astimezone(UTC)
        end = localize(midnight + timedelta(minutes=b), tz).astimezone(UTC)
        if end <= start:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return tuple(spans)


@lru_cache(maxsize=256)
def _holiday_year(country: str, subdiv: str | None, year: int) -> dict[date, str]:
    import holidays  # heavy; only when a holiday is first asked about

    try:
        probe = holidays.country_holidays(country, subdiv=subdiv)
    except NotImplementedError as e:
        raise LeadshareError(
            f"holidays: {e}",
            "use an ISO 3166 country code and one of its subdivisions, e.g. {country: MY, subdiv: KUL}",
        ) from None
    # Names in English when the package has them, never chosen by the machine's locale, so the
    # recorded reasons are the same wherever a decision is made or replayed.
    supported = tuple(getattr(probe, "supported_languages", ()) or ())
    default = getattr(probe, "default_language", None)
    if default and default.startswith("en"):
        language = default
    elif "en_US" in supported:
        language = "en_US"
    else:
        language = next((lang for lang in supported if lang.startswith("en")), default)
    found = holidays.country_holidays(country, subdiv=subdiv, years=year, language=language)
    return {d: name for d, name in found.items() if d.year == year}


def _holiday_place(country: str | None, subdiv: str | None) -> tuple[str | None, str | None]:
    return (country.strip().upper() if country else None, subdiv.strip().upper() if subdiv else None)


def holiday_years(team: Team, years: Iterable[int]) -> dict[int, dict[date, str]]:
    """The team's public holidays in each of `years` (none when the team keeps no holidays)."""
    country, subdiv = _holiday_place(team.holiday_country, team.holiday_subdiv)
    if country is None:
        return {}
    return {year: _holiday_year(country, subdiv, year) for year in years}


class _Holidays:
    """A team's public holidays, looked up a year at a time (and only when first asked about)."""

    def __init__(self, country: str | None, subdiv: str | None, known: Mapping[int, Mapping[date, str]]):
        self._country, self._subdiv = _holiday_place(country, subdiv)
        self._years: dict[int, Mapping[date, str]] = dict(known)

    def name_on(self, day: date) -> str | None:
        if self._country is None:
            return None
        names = self._years.get(day.year)
        if names is None:
            names = self._years[day.year] = _holiday_year(self._country, self._subdiv, day.year)
        return names.get(day)


def _end_of_leave_block(ranges: list[tuple[date, date]], day: date) -> date:
    """The last day of the run of sorted, overlapping or touching leave `ranges` that holds `day`."""
    block_start, block_end = ranges[0]
    for a, b in ranges[1:]:
        if a <= block_end + _DAY:
            block_end = max(block_end, b)
            continue
        if block_start <= day <= block_end:
            return block_end
        block_start, block_end = a, b
    return block_end


def _spend(spans: tuple[Span, ...], t: datetime, left: timedelta) -> tuple[datetime, timedelta, bool]:
    """Work through one day's `spans` from `t` until `left` is used up.

    Returns where the work stopped, the time still left (zero when done) and whether any span of
    the day was worked in.
    """
    worked = False
    for s, e in spans:
        if e <= t:
            continue
        t = max(t, s)
        worked = True
        if left <= e - t:
            return t + left, _ZERO, True
        left -= e - t
        t = e
    return t, left, worked


class Calendar:
    """Working time for a team: its zone, default hours, public holidays."""

    def __init__(self, team: Team):
        self.team = team
        self.zone = zone(team.timezone)
        self._tz_key = self.zone.key
        self._holidays = _Holidays(team.holiday_country, team.holiday_subdiv, team.holiday_years)
        self._spans: dict[tuple[WeeklyHours, date], tuple[Span, ...]] = {}

    # --- basics ------------------------------------------------------------------------------

    def hours_for(self, agent: Agent) -> WeeklyHours:
        """The agent's own hours when set (they replace the team's entirely), else the team's."""
        return agent.hours if agent.hours is not None else self.team.hours

    def holiday(self, day: date) -> str | None:
        """The public holiday's name on `day`, or None (also when the team has no holidays)."""
        return self._holidays.name_on(day)

    def local(self, at: datetime) -> datetime:
        """`at` in the team zone; a naive `at` is taken as team wall-clock time."""
        if at.tzinfo is None:
            return localize(at, self.zone)
        return at.astimezone(self.zone)

    def _utc(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            return localize(at, self.zone).astimezone(UTC)
        return at.astimezone(UTC)

    def _week(self, agent: Agent) -> tuple[tuple[Interval, ...], ...] | None:
        hours = self.hours_for(agent)
        try:
            week = _normal_week(hours)
        except TypeError:  # lists instead of tuples
            week = _normal_week(tuple(tuple(tuple(iv) for iv in day) for day in hours))
        return week if any(week) else None

    def _spans_on(self, week: tuple[tuple[Interval, ...], ...], day: date) -> tuple[Span, ...]:
        key = (week, day)
        spans = self._spans.get(key)
        if spans is None:
            spans = () if self.holiday(day) is not None else _day_spans(week[day.weekday()], self._tz_key, day)
            if len(self._spans) > 100_000:
                self._spans.clear()
            self._spans[key] = spans
        return spans

    # --- leave -------------------------------------------------------------------------------

    def leave_until(
        self, agent: Agent, at: datetime, extra_leave: Iterable[tuple[date, date]] = ()
    ) -> date | None:
        """The last day of the leave covering `at`'s date in the team zone, or None. YAML leave and
        `extra_leave` (the ledger's) are merged where they overlap or touch, so the answer is the
        day before the agent is back."""
        day = self.local(at).date()
        ranges = [(a, b) for a, b in (*agent.leave, *extra_leave) if a <= b]
        if not any(a <= day <= b for a, b in ranges):
            return None
        return _end_of_leave_block(sorted(ranges), day)

    # --- duty --------------------------------------------------------------------------------

    def next_on_duty(self, agent: Agent, at: datetime) -> datetime | None:
        """`at` itself (in the team zone) when the agent is on duty, else the start of their next
        working interval; None when no working time exists within the horizon."""
        week = self._week(agent)
        if week is None:
            return None
        t = self._utc(at)
        day = t.astimezone(self.zone).date()
        for _ in range(HORIZON_DAYS):
            for start, end in self._spans_on(week, day):
                if t < end:
                    return (t if start <= t else start).astimezone(self.zone)
            day += _DAY
        return None

    def off_duty_reason(self, agent: Agent, at: datetime) -> str | None:
        """None when on duty; otherwise 'public holiday: NAME' or 'off duty until Mon 09:00'
        (with the date when the next start is a week or more of days away)."""
        local = self.local(at)
        name = self.holiday(local.date())
        if name is not None:
            return f"public holiday: {name}"
        nxt = self.next_on_duty(agent, local)
        if nxt is None:
            return "no working hours"
        if nxt.astimezone(UTC) == local.astimezone(UTC):  # same-zone == ignores fold
            return None
        if (nxt.date() - local.date()).days > 6:
            return f"off duty until {_WEEKDAYS[nxt.weekday()]} {nxt:%Y-%m-%d %H:%M}"
        return f"off duty until {_WEEKDAYS[nxt.weekday()]} {nxt:%H:%M}"

    def add_working_time(self, agent: Agent, start: datetime, duration: timedelta) -> datetime | None:
        """The earliest moment by which the agent has been on duty for `duration` since `start`
        (an SLA's due time), in the team zone; None when they never work."""
        if duration < _ZERO:
            raise ValueError("duration must not be negative")
        week = self._week(agent)
        if week is None:
            return None
        t = self._utc(start)
        if not duration:
            return t.astimezone(self.zone)
        left = duration
        day = t.astimezone(self.zone).date()
        idle = 0
        while idle < HORIZON_DAYS:
            t, left, worked = _spend(self._spans_on(week, day), t, left)
            if not left:
                return t.astimezone(self.zone)
            idle = 0 if worked else idle + 1
            day += _DAY
        return None

    def working_time_between(self, agent: Agent, start: datetime, end: datetime) -> timedelta:
        """How long the agent is on duty in [start, end); zero when end is not after start."""
        week = self._week(agent)
        a, b = self._utc(start), self._utc(end)
        if week is None or b <= a:
            return _ZERO
        total = _ZERO
        day = a.astimezone(self.zone).date()
        last = b.astimezone(self.zone).date()
        while day <= last:
            for s, e in self._spans_on(week, day):
                lo, hi = max(s, a), min(e, b)
                if lo < hi:
                    total += hi - lo
            day += _DAY
        return total
