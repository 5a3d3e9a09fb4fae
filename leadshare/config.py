"""The rules file: YAML in, a validated `models.Team` out, every problem reported with its line.

Loading happens in four steps, so that one run of `leadshare rules check` lists everything:

1. compose the YAML into nodes with a safe loader (marks give lines; tags, duplicate keys and
   alias bombs are refused there);
2. turn the nodes into plain Python data, remembering the line of every key and list item;
3. validate that data with strict pydantic models (unknown keys are errors) and cross-check it
   (tiers named by agents exist, ids are unique, ...);
4. only when nothing is wrong, convert it into the frozen dataclasses of `leadshare.models`.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import math
import os
import re
import types
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Callable, Union, get_args, get_origin
from urllib.parse import urlsplit

import holidays as holidays_pkg
import phonenumbers
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadshare import models
from leadshare.clock import parse_duration
from leadshare.errors import LeadshareError, RulesError

Problem = tuple[int, str]
Loc = tuple[Any, ...]

MAX_CHARS = 5_000_000  # a rules file is a few kilobytes; anything near this is not one
MAX_NODES = 100_000  # values in the document once aliases are expanded

DEFAULT_STATUSES = ("new", "contacted", "qualified", "won", "lost")
DEFAULT_TIER_PERIOD = timedelta(days=90)
# SLAs and tier periods beyond a year are typos; refusing them also keeps the working-time
# arithmetic bounded (an SLA of 200000w would walk the calendar for ages).
MAX_DURATION = timedelta(days=366)
ALL_WEEK: models.WeeklyHours = tuple(((0, 24 * 60),) for _ in range(7))

STRATEGIES = ("round_robin", "weighted", "least_loaded")
FALLBACKS = ("next", "queue")
ROLES = ("agent", "manager")
AFTER_HOURS = ("assign", "queue")
ON_BREACH = ("reassign", "notify")


# --------------------------------------------------------------------------- public interface


def load_team(path: str | os.PathLike) -> models.Team:
    """Read and validate the rules file at `path`.

    Raises RulesError listing every problem by line, or LeadshareError when the file cannot be read.
    """
    name = os.fspath(path)
    text = _read(name)
    return parse_team(text, name)


def parse_team(text: str, path: str = "rules.yaml") -> models.Team:
    """Validate rules given as text; `path` names them in messages and anchors `notify.command`."""
    team, problems = _parse(text, path)
    if problems:
        raise RulesError(path, problems)
    assert team is not None
    return team


def check_rules(path: str | os.PathLike) -> list[Problem]:
    """Every problem of the rules file at `path`, in line order; empty when it is valid.

    A file that cannot be read at all raises LeadshareError (there is nothing to list by line).
    """
    name = os.fspath(path)
    try:
        text = _read(name)
    except RulesError as e:
        return list(e.problems)
    return _parse(text, name)[1]


def lint_team(team: models.Team) -> list[Problem]:
    """Warnings about gaps in a valid team: leads that would wait in the queue, unreachable rules."""
    warnings: list[Problem] = []
    active = [a for a in team.agents if a.active]
    rules = team.rules

    if not active:
        line = team.agents[0].line if team.agents else 1
        warnings.append((line, "no agent is active: every lead will wait in the queue; set `active: true` on someone"))

    for rule in rules:
        outcome = "its leads go on to the next rule" if rule.fallback == "next" else "its leads wait in the queue"
        label = f"rule '{rule.name}'"
        pool = rule.pool
        if pool.kind == "all":
            if not active and team.agents:
                warnings.append((rule.line, f"{label}: its pool has no active agent, so {outcome}; make an agent active"))
        elif pool.kind == "skills":
            missing = [s for s in pool.skills if not any(s in a.skills for a in active)]
            if missing:
                notes = []
                for skill in missing:
                    similar = sorted({f"{a.id} has '{s}'" for a in active for s in a.skills
                                      if s != skill and s.casefold() == skill.casefold()})
                    inactive = [a.id for a in team.agents if not a.active and skill in a.skills]
                    if similar:
                        notes.append(f"{', '.join(similar)}: write the skill the same way in both places")
                    elif inactive:
                        notes.append(f"only inactive agents have '{skill}' ({', '.join(inactive)})")
                which = ", ".join(f"'{s}'" for s in missing)
                noun = "skill" if len(missing) == 1 else "skills"
                extra = f" ({'; '.join(notes)})" if notes else ""
                warnings.append((rule.line,
                                 f"{label}: no active agent has the {noun} {which}, so its pool is empty and "
                                 f"{outcome}{extra}; give the {noun} to an agent or change the rule"))
            elif not any(all(s in a.skills for s in pool.skills) for a in active):
                warnings.append((rule.line,
                                 f"{label}: no active agent has all of the skills {', '.join(pool.skills)}, so its "
                                 f"pool is empty and {outcome}; give one agent all of them or ask for fewer"))
        elif pool.kind == "territory":
            if not any(a.territories for a in active):
                warnings.append((rule.line,
                                 f"{label}: no active agent lists a territory, so its pool is always empty and "
                                 f"{outcome}; add `territories:` to the agents"))

    # Territories served by one agent only, where the rule would queue when that agent is away.
    territory_agents: dict[str, tuple[str, list[str]]] = {}
    for agent in active:
        for territory in agent.territories:
            shown, ids = territory_agents.setdefault(territory.casefold(), (territory, []))
            if agent.id not in ids:
                ids.append(agent.id)
    for rule in rules:
        if rule.pool.kind != "territory" or rule.fallback == "next":
            continue
        for shown, ids in territory_agents.values():
            if len(ids) == 1:
                warnings.append((rule.line,
                                 f"rule '{rule.name}': territory '{shown}' has one active agent ({ids[0]}); while "
                                 f"they are away, on leave or full its leads wait in the queue; add a second agent "
                                 f"to '{shown}' or set `fallback: next` on the rule"))

    # Rules after one that takes every lead are never used.
    catcher: models.Rule | None = None
    for rule in rules:
        if catcher is not None:
            warnings.append((rule.line,
                             f"rule '{rule.name}' is never reached: rule '{catcher.name}' (line {catcher.line}) has "
                             f"no `when` and `fallback: queue`, so it takes every lead; move this rule above it or "
                             f"remove it"))
        elif not rule.when and rule.fallback == "queue":
            catcher = rule

    if not rules:
        warnings.append((_top_key_line(team.text, "rules"),
                         "no rules: every lead will wait in the queue ('no rule matched'); add rules, ending with "
                         "one that has `pool: all` and no `when`"))
    elif not any(not r.when and r.pool.kind == "all" for r in rules):
        warnings.append((rules[-1].line,
                         "no catch-all rule: a lead that no rule takes waits in the queue ('no rule matched'); end "
                         "the rules with one that has `pool: all` and no `when`"))

    return sorted(warnings, key=lambda w: w[0])


# --------------------------------------------------------------------------- reading


def _read(path: str) -> str:
    hint = "create it (rules.example.yaml shows the format) or point --rules / LEADSHARE_RULES at it"
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CHARS + 1)
    except FileNotFoundError:
        raise LeadshareError(f"rules file {path} not found", hint) from None
    except IsADirectoryError:
        raise LeadshareError(f"rules file {path} is a folder, not a file",
                             "point --rules / LEADSHARE_RULES at the YAML file itself") from None
    except PermissionError:
        raise LeadshareError(f"rules file {path} cannot be read: permission denied",
                             "give your user read access to it") from None
    except OSError as e:
        raise LeadshareError(f"rules file {path} cannot be read: {e.strerror or e}", hint) from None
    if len(data) > MAX_CHARS:
        raise RulesError(path, [(1, f"the file is larger than {MAX_CHARS // 1_000_000} MB; a rules file is a few "
                                    "kilobytes of YAML")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RulesError(path, [(line, "the file is not UTF-8 text; save it as UTF-8")]) from None


def _top_key_line(text: str, key: str) -> int:
    m = re.search(rf"^{re.escape(key)}\s*:", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else 1


# --------------------------------------------------------------------------- YAML -> nodes -> data

_BOOL_TAG = "tag:yaml.org,2002:bool"
_Y = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_Y + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_SEQ_TAG = _Y + "seq"
_MAP_TAG = _Y + "map"
_MERGE_TAG = _Y + "merge"


class _TooLarge(Exception):
    def __init__(self, line: int):
        self.line = line


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts nodes while composing, and where only true/false are booleans.

    YAML 1.1 reads `off`, `no`, `yes`, `on` as booleans, which would turn `sat: off` or a holiday
    country `NO` (Norway) into false; like YAML 1.2 they stay text here.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.node_count = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise _TooLarge(self.peek_event().start_mark.line + 1)
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag


class _Doc:
    """The document as plain data, with the line of every key and list item."""

    def __init__(self, loader: _Loader):
        self.loader = loader
        self.lines: dict[Loc, int] = {}
        self.problems: list[Problem] = []
        self.reported: set[Loc] = set()  # locations with a structural problem already listed

    def problem(self, line: int, loc: Loc, message: str) -> None:
        self.problems.append((line, _at(loc, message)))
        self.reported.add(loc)

    def line(self, loc: Loc) -> int:
        for i in range(len(loc), -1, -1):
            if loc[:i] in self.lines:
                return self.lines[loc[:i]]
        return 1

    def convert(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                self.problem(line, loc, f"the tag '{_tag_name(node.tag)}' is not allowed; the rules file is plain "
                                        "YAML (remove the tag)")
                return None
            try:
                return self.loader.construct_object(node)
            except Exception:  # noqa: BLE001 - e.g. a timestamp like 2026-02-30
                self.problem(line, loc, f"'{node.value}' cannot be read as {_tag_name(node.tag)[2:]}")
                return None
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self.problem(line, loc, f"the tag '{_tag_name(node.tag)}' is not allowed; the rules file is plain "
                                        "YAML (remove the tag)")
                return None
            return [self.convert(item, loc + (i,)) for i, item in enumerate(node.value)]
        if node.tag != _MAP_TAG:
            self.problem(line, loc, f"the tag '{_tag_name(node.tag)}' is not allowed; the rules file is plain "
                                    "YAML (remove the tag)")
            return None
        return self.mapping(node, loc)

    def mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(line, loc, "a key must be a plain name, not a list or a mapping")
                continue
            if key_node.tag not in _SCALAR_TAGS:
                self.problem(line, loc, f"the tag '{_tag_name(key_node.tag)}' is not allowed; the rules file is "
                                        "plain YAML (remove the tag)")
                continue
            key = key_node.value
            if key in first_line:
                self.problem(line, loc, f"duplicate key '{key}' (first on line {first_line[key]}); keep one")
                continue
            first_line[key] = line
            self.lines[loc + (key,)] = line
            out[key] = self.convert(value_node, loc + (key,))
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode) or source.tag != _MAP_TAG:
                    self.problem(merge.start_mark.line + 1, loc, "`<<` needs a mapping or a list of mappings")
                    continue
                for key, value in self.mapping(source, loc).items():
                    out.setdefault(key, value)
        return out


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once every alias is expanded (memoised, so fast)."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        if key in active:
            raise _Recursive(node.start_mark.line + 1)
        active.add(key)
        if isinstance(node, yaml.ScalarNode):
            n = 1
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(item) for item in node.value)
        else:
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if n > MAX_NODES:
            raise _TooLarge(node.start_mark.line + 1)
        memo[key] = n
        return n

    return size(root)


class _Recursive(Exception):
    def __init__(self, line: int):
        self.line = line


def _yaml_error(e: yaml.YAMLError, text: str) -> Problem:
    if isinstance(e, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(e.position, 0)) + 1
        code = e.character if isinstance(e.character, int) else ord(e.character)
        return line, f"invalid YAML: the file contains the control character U+{code:04X}; remove it"
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        problem = e.problem or e.context or "cannot be read"
        context = ""
        if e.context and e.problem:
            where = f" on line {e.context_mark.line + 1}" if e.context_mark and e.context_mark.line + 1 != line else ""
            context = f" ({e.context}{where})"
        return line, f"invalid YAML: {problem}{context}"
    return 1, f"invalid YAML: {e}"


def _load_data(text: str) -> tuple[_Doc | None, Any, list[Problem]]:
    """YAML text -> (doc with lines, data, structural problems)."""
    if len(text) > MAX_CHARS:
        return None, None, [(1, f"the file is larger than {MAX_CHARS // 1_000_000} MB; a rules file is a few "
                                "kilobytes of YAML")]
    too_many = (f"the file holds more than {MAX_NODES} values once its aliases (*name) are expanded; a rules "
                "file needs far fewer: write the values out instead of nesting aliases")
    try:
        loader = _Loader(text)
    except yaml.YAMLError as e:
        return None, None, [_yaml_error(e, text)]
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as e:
            return None, None, [_yaml_error(e, text)]
        except _TooLarge as e:
            return None, None, [(e.line, too_many)]
        except RecursionError:
            return None, None, [(1, "the file is nested too deeply to be a rules file")]
        if root is None:
            return None, None, [(1, "the file is empty; it needs at least `agents:` and `rules:`")]
        try:
            _expanded_size(root)
        except _TooLarge as e:
            return None, None, [(e.line, too_many)]
        except _Recursive as e:
            return None, None, [(e.line, "an alias (*name) refers to the value that contains it; write the value out")]
        except RecursionError:
            return None, None, [(1, "the file is nested too deeply to be a rules file")]
        if root.tag not in _SCALAR_TAGS | {_SEQ_TAG, _MAP_TAG}:
            return None, None, [(root.start_mark.line + 1, f"the tag '{_tag_name(root.tag)}' is not allowed; the "
                                                           "rules file is plain YAML (remove the tag)")]
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
            return None, None, [(root.start_mark.line + 1,
                                 f"the file must be a mapping of keys (timezone:, agents:, rules: ...), not {kind}")]
        doc = _Doc(loader)
        try:
            data = doc.convert(root, ())
        except RecursionError:
            return None, None, [(1, "the file is nested too deeply to be a rules file")]
        return doc, data, list(doc.problems)
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- value checks


def _shown(value: Any) -> str:
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


def _suggest(word: str, choices: Any) -> str:
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _nonblank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, AfterValidator(_nonblank)]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def _agent_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{_shown(value)} is not a usable id: use up to 32 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return value


AgentId = Annotated[str, AfterValidator(_agent_id)]


def _one_of(*choices: str) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return Annotated[Any, AfterValidator(check)]


def _duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f"must be a duration like 30m, 4h, 7d or 4w (got {_shown(value)})")
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


def _non_negative(value: int) -> int:
    if value < 0:
        raise ValueError(f"must be 0 or more (got {value})")
    return value


def _positive_number(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a number above 0 (got {value:g})")
    return float(value)


def _fraction(value: float) -> float:
    if not (0 <= value <= 1):
        raise ValueError(f"must be between 0 and 1, e.g. 0.25 for 25% (got {value:g})")
    return float(value)


def _timezone(value: str) -> str:
    value = value.strip()
    if value.lower() == "localtime":
        raise ValueError("name the zone itself, e.g. Asia/Kuala_Lumpur, so the file means the same on every machine")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {_shown(value)}{_suggest(value, zoneinfo.available_timezones())}; "
                         "use an IANA name like Asia/Kuala_Lumpur") from None
    return value


def _phone_region(value: str) -> str:
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {_shown(value)}; use a two-letter country code like MY, SG or ID")
    return code


@functools.cache
def _holiday_countries() -> frozenset[str]:
    # The registry's codes, not list_supported_countries(): that one imports all 500 calendars.
    from holidays.registry import EntityLoader
    return frozenset(EntityLoader.get_country_codes(include_aliases=True))


def _holiday_country(value: str) -> str:
    code = value.strip().upper()
    if code not in _holiday_countries():
        raise ValueError(f"the holidays package has no country {_shown(value)}"
                         f"{_suggest(code, _holiday_countries())}; use a two-letter country code like MY")
    return code


_DAY_NAMES = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}
_DAY_GROUPS = {
    "daily": (0, 1, 2, 3, 4, 5, 6), "everyday": (0, 1, 2, 3, 4, 5, 6),
    "weekdays": (0, 1, 2, 3, 4), "weekend": (5, 6), "weekends": (5, 6),
}
_DAY_SHORT = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_days(key: str) -> tuple[int, ...]:
    """'mon-fri' -> (0..4); 'mon,wed' -> (0, 2); 'sun-thu' wraps round the week; 'daily' -> all."""
    days: list[int] = []
    for part in (p.strip().lower() for p in key.split(",")):
        if part in _DAY_GROUPS:
            days.extend(_DAY_GROUPS[part])
            continue
        ends = [e.strip() for e in part.split("-")] if "-" in part else [part]
        for end in ends:
            if end not in _DAY_NAMES:
                raise ValueError(f"unknown day '{end or key}'{_suggest(end, list(_DAY_NAMES) + list(_DAY_GROUPS))} "
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
            raise ValueError(f"'{key}' names {_DAY_SHORT[day]} twice")
        seen.add(day)
    return tuple(days)


def _day_key(value: str) -> str:
    _parse_days(value)
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
            raise ValueError(f"{_RANGE_HELP} (got {_shown(item)})")
        m = _RANGE.match(item)
        if not m:
            raise ValueError(f"{_shown(item)} is not a time range; {_RANGE_HELP}")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59:
            raise ValueError(f"{_shown(item)}: {h1:02d}:{m1:02d} is not a time of day")
        if h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{_shown(item)}: {h2:02d}:{m2:02d} is not a time of day (24:00 is the latest end)")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise ValueError(f"{_shown(item)}: the end must be after the start (a shift past midnight is two "
                             "ranges: until 24:00 on one day, from 00:00 on the next)")
        intervals.append((start, end, item))
    intervals.sort()
    for (s1, e1, a), (s2, e2, b) in zip(intervals, intervals[1:]):
        if s2 < e1:
            raise ValueError(f"{_shown(a)} and {_shown(b)} overlap")
    return tuple((s, e) for s, e, _ in intervals)


def _hours_not_empty(value: dict) -> dict:
    if not value:
        raise ValueError('lists no day; write e.g. mon-fri: "09:00-18:00" (or leave `hours` out)')
    return value


Hours = Annotated[
    dict[Annotated[str, AfterValidator(_day_key)], Annotated[Any, AfterValidator(_day_value)]],
    AfterValidator(_hours_not_empty),
]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LEAVE_HELP = 'write "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD"'


def _leave_entry(value: Any) -> tuple[date, date]:
    if isinstance(value, datetime):
        raise ValueError(f"{_shown(value)} has a time; {_LEAVE_HELP}")
    if isinstance(value, date):
        return value, value
    if not isinstance(value, str):
        raise ValueError(f"{_LEAVE_HELP} (got {_shown(value)})")
    parts = [p.strip() for p in value.split("..")]
    if len(parts) > 2:
        raise ValueError(f"{_shown(value)} is not a date or a date range; {_LEAVE_HELP}")
    days = []
    for part in parts:
        try:
            if not _DATE.match(part):
                raise ValueError
            days.append(date.fromisoformat(part))
        except ValueError:
            raise ValueError(f"{_shown(part)} is not a date; {_LEAVE_HELP}") from None
    if days[-1] < days[0]:
        raise ValueError(f"{_shown(value)} ends before it starts")
    return days[0], days[-1]


_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]+$")


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"{_shown(value)} is not an email address")
    return value


def _url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{_shown(value)} is not an http:// or https:// URL")
    return value


def _when_values(value: Any) -> tuple[str, ...]:
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
            raise ValueError(f"must be a value or a list of values (got {_shown(item)})")
    return tuple(out)


_POOL_HELP = "must be `all`, {skills: [...]} or {territory: FIELD}"


def _pool(value: Any) -> models.Pool:
    if value == "all":
        return models.Pool(kind="all")
    if not isinstance(value, dict):
        raise ValueError(f"{_POOL_HELP} (got {_shown(value)})")
    for key in value:
        if key not in ("skills", "territory"):
            raise ValueError(f"unknown key '{key}'{_suggest(key, ('skills', 'territory'))} in the pool")
    if "skills" in value and "territory" in value:
        raise ValueError("give either skills or territory, not both (use two rules)")
    if "skills" in value:
        skills = value["skills"]
        if not isinstance(skills, list):
            raise ValueError(f"skills must be a list, like [commercial] (got {_shown(skills)})")
        if not skills:
            raise ValueError("skills is empty; list at least one skill, or use `pool: all`")
        for skill in skills:
            if not isinstance(skill, str) or not skill.strip():
                raise ValueError(f"each skill must be text (got {_shown(skill)})")
        return models.Pool(kind="skills", skills=tuple(s.strip() for s in skills))
    if "territory" in value:
        field = value["territory"]
        if not isinstance(field, str) or not field.strip():
            raise ValueError(f"territory must name the lead field holding the region, like region "
                             f"(got {_shown(field)})")
        return models.Pool(kind="territory", field=field.strip())
    raise ValueError(f"the pool is empty; it {_POOL_HELP}")


Role = _one_of(*ROLES)
Strategy = _one_of(*STRATEGIES)
Fallback = _one_of(*FALLBACKS)
AfterHours = _one_of(*AFTER_HOURS)
OnBreach = _one_of(*ON_BREACH)


# --------------------------------------------------------------------------- the models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Holidays(_Strict):
    country: Annotated[str, AfterValidator(_holiday_country)]
    subdiv: Text | None = None

    @model_validator(mode="after")
    def _check_subdiv(self) -> "_Holidays":
        if self.subdiv is None:
            return self
        for candidate in dict.fromkeys((self.subdiv, self.subdiv.upper())):
            try:
                holidays_pkg.country_holidays(self.country, subdiv=candidate)
            except NotImplementedError:
                continue
            self.subdiv = candidate
            return self
        entity = type(holidays_pkg.country_holidays(self.country))
        codes = list(getattr(entity, "subdivisions", ()))
        aliases = getattr(entity, "subdivisions_aliases", {}) or {}
        options = [a for a in aliases if a.upper() == a and " " not in a] + codes
        if not options:
            raise ValueError(f"subdiv {_shown(self.subdiv)}: {self.country} has no subdivisions; remove subdiv")
        listed = ", ".join(options[:24]) + (", ..." if len(options) > 24 else "")
        raise ValueError(f"subdiv {_shown(self.subdiv)} is not a subdivision of {self.country}"
                         f"{_suggest(self.subdiv.upper(), options)} (one of {listed})")


class _Sla(_Strict):
    first_contact: Duration = None
    on_breach: OnBreach = "reassign"
    max_reassign: Annotated[int, AfterValidator(_non_negative)] = 2


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a port number from 1 to 65535 (got {value})")
    return value


class _Smtp(_Strict):
    host: Text
    port: Annotated[int, AfterValidator(_port)] | None = None
    from_: Annotated[str, AfterValidator(_email)] = Field(alias="from")
    starttls: bool = False


class _Notify(_Strict):
    command: Text | None = None
    smtp: _Smtp | None = None
    webhook: Annotated[str, AfterValidator(_url)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [k for k in ("command", "smtp", "webhook") if data.get(k) is not None]
            if len(given) != 1:
                got = f" (got {', '.join(given)})" if given else ""
                raise ValueError(f"give exactly one channel: command, smtp or webhook{got}")
        return data


class _Tier(_Strict):
    weight: Annotated[float, AfterValidator(_positive_number)]
    min_conversion: Annotated[float, AfterValidator(_fraction)] | None = None
    max_first_contact: Duration = None
    min_closed: Annotated[int, AfterValidator(_non_negative)] | None = None
    period: Duration = None

    @model_validator(mode="after")
    def _period_needs_criteria(self) -> "_Tier":
        if self.period is not None and not self.criteria_given():
            raise ValueError("period is set but no criterion is; add min_conversion, max_first_contact or "
                             "min_closed (or remove period)")
        return self

    def criteria_given(self) -> bool:
        return any(v is not None for v in (self.min_conversion, self.max_first_contact, self.min_closed))


class _Agent(_Strict):
    id: AgentId
    name: Text | None = None
    role: Role = "agent"
    territories: list[Text] | None = None
    skills: list[Text] | None = None
    tier: Text | None = None
    capacity: Annotated[int, AfterValidator(_non_negative)] | None = None
    hours: Hours | None = None
    leave: list[Annotated[Any, AfterValidator(_leave_entry)]] | None = None
    active: bool = True
    email: Annotated[str, AfterValidator(_email)] | None = None
    phone: Text | None = None


class _Rule(_Strict):
    name: Text
    when: dict[Text, Annotated[Any, AfterValidator(_when_values)]] | None = None
    pool: Annotated[Any, AfterValidator(_pool)]
    strategy: Strategy = "round_robin"
    fallback: Fallback = "queue"


class _Root(_Strict):
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    phone_region: Annotated[str, AfterValidator(_phone_region)] = "MY"
    holidays: _Holidays | None = None
    hours: Hours | None = None
    after_hours: AfterHours = "assign"
    statuses: list[Text] | None = None
    require_note: list[Text] | None = None
    sla: _Sla | None = None
    notify: _Notify | None = None
    tiers: dict[Text, _Tier] | None = None
    agents: list[_Agent] | None = None
    rules: list[_Rule] | None = None


# --------------------------------------------------------------------------- pydantic errors -> lines


def _at(loc: Loc, message: str) -> str:
    path = _path(loc)
    return f"{path}: {message}" if path else message


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return None
            tp = args[0]
        else:
            return tp


def _keys_at(loc: Loc) -> list[str]:
    """The keys the model at `loc` accepts (for 'did you mean')."""
    tp: Any = _Root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            for name, info in tp.model_fields.items():
                if (info.alias or name) == part:
                    tp = info.annotation
                    break
            else:
                return []
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


_TYPE_MESSAGES = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)",
    "model_attributes_type": "must be a mapping (key: value)",
}


def _pydantic_problem(err: dict, doc: _Doc) -> tuple[Loc, Problem]:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    if "[key]" in loc:
        loc = loc[: loc.index("[key]")]
    line = doc.line(loc)
    if kind == "extra_forbidden":
        key = loc[-1]
        return loc, (line, _at(loc[:-1], f"unknown key '{key}'{_suggest(key, _keys_at(loc[:-1]))}"))
    if kind == "missing":
        return loc, (line, _at(loc[:-1], f"'{loc[-1]}' is required"))
    if kind in ("value_error", "assertion_error"):
        return loc, (line, _at(loc, str(err["ctx"]["error"])))
    if kind in _TYPE_MESSAGES:
        message = _TYPE_MESSAGES[kind]
        if kind == "string_type" and isinstance(value, (int, float, bool, date)):
            message += f" (got {_shown(value)}; put it in quotes)"
        else:
            message += f" (got {_shown(value)})"
        return loc, (line, _at(loc, message))
    return loc, (line, _at(loc, err["msg"]))


# --------------------------------------------------------------------------- cross checks


def _cross_checks(data: dict, doc: _Doc) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return problems

    def add(loc: Loc, message: str) -> None:
        problems.append((doc.line(loc), _at(loc, message)))

    # Agents: at least one, unique ids, known tiers, hours, phones.
    agents = data.get("agents")
    tiers = data.get("tiers")
    tier_names = [t.strip() for t in tiers] if isinstance(tiers, dict) else [] if tiers is None else None
    region = data.get("phone_region", "MY")
    region = region.strip().upper() if isinstance(region, str) else "MY"
    if region not in phonenumbers.SUPPORTED_REGIONS:
        region = "MY"
    if agents is None or agents == []:
        add(("agents",), "at least one agent is required (agents: - id: ...)")
    elif isinstance(agents, list):
        seen: dict[str, int] = {}
        for i, agent in enumerate(agents):
            if not isinstance(agent, dict):
                continue
            agent_id = agent.get("id")
            if isinstance(agent_id, str) and agent_id.strip():
                key = agent_id.strip().casefold()
                if key in seen:
                    j = seen[key]
                    add(("agents", i, "id"), f"duplicate id '{agent_id.strip()}' (also agents[{j}] on line "
                                             f"{doc.line(('agents', j))}); ids must be unique, ignoring case")
                else:
                    seen[key] = i
            tier = agent.get("tier")
            if isinstance(tier, str) and tier.strip() and tier_names is not None and tier.strip() not in tier_names:
                known = f"tiers: {', '.join(tier_names)}" if tier_names else "no tiers are defined"
                add(("agents", i, "tier"), f"unknown tier '{tier.strip()}' ({known})")
            _check_hours_days(agent.get("hours"), ("agents", i, "hours"), add)
            phone = agent.get("phone")
            if isinstance(phone, str) and phone.strip():
                if _phone(phone, region) is None:
                    add(("agents", i, "phone"), f"{_shown(phone)} is not a phone number (write it with the "
                                                f"country code, like +60123456789)")

    _check_hours_days(data.get("hours"), ("hours",), add)

    # Rules: unique names.
    rules = data.get("rules")
    if isinstance(rules, list):
        seen = {}
        for i, rule in enumerate(rules):
            name = rule.get("name") if isinstance(rule, dict) else None
            if isinstance(name, str) and name.strip():
                key = name.strip().casefold()
                if key in seen:
                    j = seen[key]
                    add(("rules", i, "name"), f"duplicate rule name '{name.strip()}' (also rules[{j}] on line "
                                              f"{doc.line(('rules', j))}); names must be unique, ignoring case")
                else:
                    seen[key] = i

    # Statuses: unique, won and lost present, something open to start in; notes need real statuses.
    statuses = data.get("statuses")
    status_names: list[str] | None
    if statuses is None:
        status_names = list(DEFAULT_STATUSES)
    elif isinstance(statuses, list) and all(isinstance(s, str) and s.strip() for s in statuses):
        status_names = [s.strip() for s in statuses]
        first: dict[str, int] = {}
        for i, status in enumerate(status_names):
            if status in first:
                add(("statuses", i), f"'{status}' is listed twice (first as statuses[{first[status]}])")
            else:
                first[status] = i
        missing = [s for s in models.CLOSED_STATUSES if s not in status_names]
        if missing:
            add(("statuses",), f"must include {' and '.join(missing)} (the closed statuses: won, lost)")
        if status_names and all(s in models.CLOSED_STATUSES for s in status_names):
            add(("statuses",), "needs an open status for new leads to start in, like new")
    else:
        status_names = None
    require = data.get("require_note")
    if status_names is not None and isinstance(require, list):
        for i, status in enumerate(require):
            if isinstance(status, str) and status.strip() and status.strip() not in status_names:
                add(("require_note", i), f"'{status.strip()}' is not a status{_suggest(status.strip(), status_names)} "
                                         f"(statuses: {', '.join(dict.fromkeys(status_names))})")
    return problems


def _check_hours_days(hours: Any, loc: Loc, add: Callable[[Loc, str], None]) -> None:
    if not isinstance(hours, dict):
        return
    owner: dict[int, str] = {}
    for key in hours:
        try:
            days = _parse_days(key)
        except ValueError:
            continue  # reported by validation
        for day in days:
            if day in owner:
                add(loc + (key,), f"{_DAY_SHORT[day]} is given twice ('{owner[day]}' and '{key}'); give each day once")
                break
        for day in days:
            owner.setdefault(day, key)


def _phone(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --------------------------------------------------------------------------- building the Team


def _parse(text: str, path: str) -> tuple[models.Team | None, list[Problem]]:
    doc, data, problems = _load_data(text)
    if doc is None:
        return None, problems
    root: _Root | None = None
    try:
        root = _Root.model_validate(data)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            loc, problem = _pydantic_problem(err, doc)
            if any(loc[:i] in doc.reported for i in range(len(loc) + 1)):
                continue
            problems.append(problem)
    problems.extend(_cross_checks(data, doc))
    problems = sorted(dict.fromkeys(problems), key=lambda p: p[0])
    if problems or root is None:
        return None, problems
    return _build(root, doc, text, path), []


def _weekly(hours: dict[str, tuple[models.Interval, ...]]) -> models.WeeklyHours:
    week: list[tuple[models.Interval, ...]] = [()] * 7
    for key, intervals in hours.items():
        for day in _parse_days(key):
            week[day] = intervals
    return tuple(week)


def _seconds(value: timedelta) -> float:
    return float(value.total_seconds())


def _build(root: _Root, doc: _Doc, text: str, path: str) -> models.Team:
    tiers: dict[str, models.Tier] = {}
    for name, tier in (root.tiers or {}).items():
        criteria: dict[str, float] = {}
        if tier.criteria_given():
            if tier.min_conversion is not None:
                criteria["min_conversion"] = float(tier.min_conversion)
            if tier.max_first_contact is not None:
                criteria["max_first_contact"] = _seconds(tier.max_first_contact)
            if tier.min_closed is not None:
                criteria["min_closed"] = float(tier.min_closed)
            criteria["period"] = _seconds(tier.period or DEFAULT_TIER_PERIOD)
        tiers[name] = models.Tier(name=name, weight=tier.weight, criteria=criteria, line=doc.line(("tiers", name)))

    agents = []
    for i, a in enumerate(root.agents or []):
        tier = a.tier
        agents.append(models.Agent(
            id=a.id,
            name=a.name or a.id,
            role=a.role,
            territories=tuple(dict.fromkeys(a.territories or ())),
            skills=tuple(dict.fromkeys(a.skills or ())),
            tier=tier,
            weight=tiers[tier].weight if tier else 1.0,
            capacity=a.capacity,
            hours=_weekly(a.hours) if a.hours is not None else None,
            leave=tuple(a.leave or ()),
            active=a.active,
            email=a.email,
            phone=_phone(a.phone, root.phone_region) if a.phone else None,
            line=doc.line(("agents", i)),
        ))

    rules = []
    for i, r in enumerate(root.rules or []):
        rules.append(models.Rule(
            name=r.name,
            pool=r.pool,
            strategy=r.strategy,
            when=tuple((field, values) for field, values in (r.when or {}).items()),
            fallback=r.fallback,
            line=doc.line(("rules", i)),
        ))

    sla = models.Sla()
    if root.sla is not None:
        sla = models.Sla(first_contact=root.sla.first_contact, on_breach=root.sla.on_breach,
                         max_reassign=root.sla.max_reassign)

    notify = None
    if root.notify is not None:
        n = root.notify
        if n.command is not None:
            command = os.path.expanduser(n.command)
            if not os.path.isabs(command):
                command = os.path.join(os.path.dirname(os.path.abspath(path)), command)
            notify = models.NotifyChannel(kind="command", command=os.path.normpath(command))
        elif n.webhook is not None:
            notify = models.NotifyChannel(kind="webhook", url=n.webhook)
        else:
            assert n.smtp is not None
            port = n.smtp.port if n.smtp.port is not None else (587 if n.smtp.starttls else 25)
            notify = models.NotifyChannel(kind="smtp", smtp_host=n.smtp.host, smtp_port=port,
                                          smtp_from=n.smtp.from_, smtp_starttls=n.smtp.starttls)

    statuses = tuple(root.statuses) if root.statuses is not None else DEFAULT_STATUSES
    return models.Team(
        timezone=root.timezone,
        phone_region=root.phone_region,
        holiday_country=root.holidays.country if root.holidays else None,
        holiday_subdiv=root.holidays.subdiv if root.holidays else None,
        hours=_weekly(root.hours) if root.hours is not None else ALL_WEEK,
        after_hours=root.after_hours,
        statuses=statuses,
        require_note=tuple(dict.fromkeys(root.require_note or ())),
        sla=sla,
        notify=notify,
        tiers=tiers,
        agents=tuple(agents),
        rules=tuple(rules),
        path=path,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
    )
