"""Checks of single values in a rules file, and the annotated types the schema builds from them.

Each check returns the value as the team will hold it or raises ValueError with a message that
names the wrong value and, where it can, the nearest valid one.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import phonenumbers
from pydantic import AfterValidator

from leadshare import models
from leadshare.clock import parse_duration
from leadshare.engine import STRATEGIES
from leadshare.errors import LeadshareError

DEFAULT_STATUSES = ("new", "contacted", "qualified", "won", "lost")
# SLAs and tier periods beyond a year are typos; refusing them also keeps the working-time
# arithmetic bounded (an SLA of 200000w would walk the calendar for ages).
MAX_DURATION = timedelta(days=366)

FALLBACKS = ("next", "queue")
ROLES = ("agent", "manager")
AFTER_HOURS = ("assign", "queue")
ON_BREACH = ("reassign", "notify")


def shown(value: Any) -> str:
    """A value as a message quotes it: short, and in the words the YAML used."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def closest(word: Any, choices: Any) -> str | None:
    """The one of `choices` that `word` was most likely meant to be, or None when none is close."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return match[0] if match else None


def suggest(word: Any, choices: Any) -> str:
    """" (did you mean 'x'?)" for the closest of `choices`, or nothing when none is close."""
    match = closest(word, choices)
    return f" (did you mean '{match}'?)" if match else ""


def not_one_of(name: str, value: Any, choices: Any) -> str:
    """"NAME 'x' is not one of a, b, c; did you mean 'a'?" (the question only when one is close)."""
    match = closest(value, choices) if isinstance(value, str) else None
    question = f"; did you mean '{match}'?" if match else ""
    return f"{name} {shown(value)} is not one of {', '.join(choices)}{question}"


def _nonblank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, AfterValidator(_nonblank)]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def _agent_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{shown(value)} is not a usable id: use up to 32 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return value


AgentId = Annotated[str, AfterValidator(_agent_id)]


class ChoiceError(ValueError):
    """A value outside a fixed set of words; the message names the key, so it is worded where the
    key's name is known (see `error_mapping`)."""

    def __init__(self, value: Any, choices: tuple[str, ...]):
        super().__init__(f"{shown(value)} is not one of {', '.join(choices)}")
        self.value = value
        self.choices = choices


def _one_of(*choices: str) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ChoiceError(value, choices)
        return value

    return Annotated[Any, AfterValidator(check)]


def _duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f"must be a duration like 30m, 4h, 7d or 4w (got {shown(value)})")
    try:
        result = parse_duration(value)
    except LeadshareError as e:
        raise ValueError(f"{e.message}; {e.hint}" if e.hint else e.message) from None
    if result <= timedelta(0):
        raise ValueError("must be longer than zero")
    if result > MAX_DURATION:
        raise ValueError(f"'{value}' is longer than a year; write a shorter duration")
    return result


Duration = Annotated[Any, AfterValidator(_duration)]


def check_non_negative(value: int) -> int:
    if value < 0:
        raise ValueError(f"must be 0 or more (got {value})")
    return value


def check_positive_number(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a number above 0 (got {value:g})")
    return float(value)


def check_fraction(value: float) -> float:
    if not (0 <= value <= 1):
        raise ValueError(f"must be between 0 and 1, e.g. 0.25 for 25% (got {value:g})")
    return float(value)


def check_timezone(value: str) -> str:
    value = value.strip()
    if value.lower() == "localtime":
        raise ValueError("name the zone itself, e.g. Asia/Kuala_Lumpur, so the file means the same on every machine")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {shown(value)}{suggest(value, zoneinfo.available_timezones())}; "
                         "use an IANA name like Asia/Kuala_Lumpur") from None
    return value


def check_phone_region(value: str) -> str:
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {shown(value)}; use a two-letter country code like MY, SG or ID")
    return code


@functools.cache
def _holiday_countries() -> frozenset[str]:
    # The registry's codes, not list_supported_countries(): that one imports all 500 calendars.
    from holidays.registry import EntityLoader
    return frozenset(EntityLoader.get_country_codes(include_aliases=True))


def check_holiday_country(value: str) -> str:
    code = value.strip().upper()
    if code not in _holiday_countries():
        raise ValueError(f"the holidays package has no country {shown(value)}"
                         f"{suggest(code, _holiday_countries())}; use a two-letter country code like MY")
    return code

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LEAVE_HELP = 'write "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD"'


def check_leave_entry(value: Any) -> tuple[date, date]:
    if isinstance(value, datetime):
        raise ValueError(f"{shown(value)} has a time; {_LEAVE_HELP}")
    if isinstance(value, date):
        return value, value
    if not isinstance(value, str):
        raise ValueError(f"{_LEAVE_HELP} (got {shown(value)})")
    parts = [p.strip() for p in value.split("..")]
    if len(parts) > 2:
        raise ValueError(f"{shown(value)} is not a date or a date range; {_LEAVE_HELP}")
    days = []
    for part in parts:
        try:
            if not _DATE.match(part):
                raise ValueError
            days.append(date.fromisoformat(part))
        except ValueError:
            raise ValueError(f"{shown(part)} is not a date; {_LEAVE_HELP}") from None
    if days[-1] < days[0]:
        raise ValueError(f"{shown(value)} ends before it starts")
    return days[0], days[-1]


_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]+$")


def check_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"{shown(value)} is not an email address")
    return value


def check_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{shown(value)} is not an http:// or https:// URL")
    return value


def check_when_values(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("the list of values is empty; give at least one value")
    out = []
    for item in items:
        if item is None:
            raise ValueError("give a value to match (or remove this condition)")
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (int, float, str)):
            out.append(str(item))
        elif isinstance(item, date):
            out.append(item.isoformat())
        else:
            raise ValueError(f"must be a value or a list of values (got {shown(item)})")
    return tuple(out)


_POOL_HELP = "must be `all`, {skills: [...]} or {territory: FIELD}"


def check_pool(value: Any) -> models.Pool:
    if value == "all":
        return models.Pool(kind="all")
    if not isinstance(value, dict):
        question = "; did you mean 'all'?" if isinstance(value, str) and closest(value, ["all"]) else ""
        raise ValueError(f"{_POOL_HELP} (got {shown(value)}{question})")
    for key in value:
        if key not in ("skills", "territory"):
            raise ValueError(f"unknown key '{key}'{suggest(key, ('skills', 'territory'))} in the pool")
    if "skills" in value and "territory" in value:
        raise ValueError("give either skills or territory, not both (use two rules)")
    if "skills" in value:
        skills = value["skills"]
        if not isinstance(skills, list):
            raise ValueError(f"skills must be a list, like [commercial] (got {shown(skills)})")
        if not skills:
            raise ValueError("skills is empty; list at least one skill, or use `pool: all`")
        for skill in skills:
            if not isinstance(skill, str) or not skill.strip():
                raise ValueError(f"each skill must be text (got {shown(skill)})")
        return models.Pool(kind="skills", skills=tuple(s.strip() for s in skills))
    if "territory" in value:
        field = value["territory"]
        if not isinstance(field, str) or not field.strip():
            raise ValueError(f"territory must name the lead field holding the region, like region "
                             f"(got {shown(field)})")
        return models.Pool(kind="territory", field=field.strip())
    raise ValueError(f"the pool is empty; it {_POOL_HELP}")


Role = _one_of(*ROLES)
Strategy = _one_of(*STRATEGIES)
Fallback = _one_of(*FALLBACKS)
AfterHours = _one_of(*AFTER_HOURS)
OnBreach = _one_of(*ON_BREACH)


def check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a port number from 1 to 65535 (got {value})")
    return value

def phone_e164(text: str, region: str) -> str | None:
    """The number in +E.164 form, or None when it cannot be a phone number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
