"""Checks that need more than one value: unique agent ids and rule names, tiers that exist, days
given once, phones in the team's region, statuses that make a workflow.

They run on the plain data even when validation found problems, so one `rules check` lists both.
"""

from __future__ import annotations

from typing import Any, Callable

import phonenumbers

from leadshare import models
from leadshare.config.hours import DAY_SHORT, parse_days
from leadshare.config.nodes import Doc, Loc, Problem, at
from leadshare.config.values import DEFAULT_STATUSES, closest, phone_e164, shown, suggest

Add = Callable[[Loc, str], None]


def cross_checks(data: Any, doc: Doc) -> list[Problem]:
    """Every problem that spans values, each with the line of the value it is about."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return problems

    def add(loc: Loc, message: str) -> None:
        problems.append((doc.line(loc), at(loc, message)))

    _check_agents(data, doc, add)
    _check_hours_days(data.get("hours"), ("hours",), add)
    rules = data.get("rules")
    if isinstance(rules, list):
        _check_unique(rules, "rules", "name", "rule name", "names", doc, add)
    _check_statuses(data, add)
    return problems


def _check_agents(data: dict, doc: Doc, add: Add) -> None:
    """At least one agent, unique ids, known tiers, each day's hours once, phones that dial."""
    agents = data.get("agents")
    if agents is None or agents == []:
        add(("agents",), "at least one agent is required (agents: - id: ...)")
        return
    if not isinstance(agents, list):
        return
    _check_unique(agents, "agents", "id", "id", "ids", doc, add)
    tiers = data.get("tiers")
    tier_names = [t.strip() for t in tiers] if isinstance(tiers, dict) else [] if tiers is None else None
    region = _phone_region(data)
    for i, agent in enumerate(agents):
        if not isinstance(agent, dict):
            continue
        tier = agent.get("tier")
        if isinstance(tier, str) and tier.strip() and tier_names is not None and tier.strip() not in tier_names:
            known = f"tiers: {', '.join(tier_names)}" if tier_names else "no tiers are defined"
            match = closest(tier.strip(), tier_names)
            question = f"; did you mean '{match}'?" if match else ""
            add(("agents", i, "tier"), f"unknown tier '{tier.strip()}' ({known}){question}")
        _check_hours_days(agent.get("hours"), ("agents", i, "hours"), add)
        phone = agent.get("phone")
        if isinstance(phone, str) and phone.strip() and phone_e164(phone, region) is None:
            add(("agents", i, "phone"), f"{shown(phone)} is not a phone number (write it with the "
                                        f"country code, like +60123456789)")


def _phone_region(data: dict) -> str:
    # An invalid region is reported by validation; the phones are then read as Malaysian.
    region = data.get("phone_region", "MY")
    region = region.strip().upper() if isinstance(region, str) else "MY"
    return region if region in phonenumbers.SUPPORTED_REGIONS else "MY"


def _check_unique(items: list, section: str, key: str, what: str, plural: str, doc: Doc, add: Add) -> None:
    """Each item's `key` differs from every other's, ignoring case."""
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        value = item.get(key) if isinstance(item, dict) else None
        if not (isinstance(value, str) and value.strip()):
            continue
        folded = value.strip().casefold()
        if folded not in seen:
            seen[folded] = i
            continue
        j = seen[folded]
        add((section, i, key), f"duplicate {what} '{value.strip()}' (also {section}[{j}] on line "
                               f"{doc.line((section, j))}); {plural} must be unique, ignoring case")


def _check_statuses(data: dict, add: Add) -> None:
    """Statuses unique, won and lost present, something open to start in; notes need real statuses."""
    statuses = data.get("statuses")
    status_names: list[str] | None
    if statuses is None:
        status_names = list(DEFAULT_STATUSES)
    elif isinstance(statuses, list) and all(isinstance(s, str) and s.strip() for s in statuses):
        status_names = [s.strip() for s in statuses]
        _check_status_list(status_names, add)
    else:
        status_names = None
    require = data.get("require_note")
    if status_names is not None and isinstance(require, list):
        for i, status in enumerate(require):
            if isinstance(status, str) and status.strip() and status.strip() not in status_names:
                add(("require_note", i), f"'{status.strip()}' is not a status{suggest(status.strip(), status_names)} "
                                         f"(statuses: {', '.join(dict.fromkeys(status_names))})")


def _check_status_list(status_names: list[str], add: Add) -> None:
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


def _check_hours_days(hours: Any, loc: Loc, add: Add) -> None:
    """Each day in one key only: `mon-fri` and `fri` together give Friday twice."""
    if not isinstance(hours, dict):
        return
    owner: dict[int, str] = {}
    for key in hours:
        try:
            days = parse_days(key)
        except ValueError:
            continue  # reported by validation
        for day in days:
            if day in owner:
                add(loc + (key,), f"{DAY_SHORT[day]} is given twice ('{owner[day]}' and '{key}'); give each day once")
                break
        for day in days:
            owner.setdefault(day, key)
