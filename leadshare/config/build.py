"""A validated rules file turned into the frozen `models.Team` the rest of leadshare works with.

Runs only when validation found nothing wrong, so it fills in defaults and converts; it checks nothing.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

from leadshare import models
from leadshare.config.hours import parse_days
from leadshare.config.nodes import Doc
from leadshare.config.schema import AgentSpec, NotifySpec, RulesFile
from leadshare.config.values import DEFAULT_STATUSES, phone_e164

DEFAULT_TIER_PERIOD = timedelta(days=90)
ALL_WEEK: models.WeeklyHours = tuple(((0, 24 * 60),) for _ in range(7))


def build_team(root: RulesFile, doc: Doc, text: str, path: str) -> models.Team:
    """The team the rules file at `path` (holding `text`) describes."""
    tiers = _tiers(root, doc)
    sla = models.Sla()
    if root.sla is not None:
        sla = models.Sla(first_contact=root.sla.first_contact, on_breach=root.sla.on_breach,
                         max_reassign=root.sla.max_reassign)
    return models.Team(
        timezone=root.timezone,
        phone_region=root.phone_region,
        holiday_country=root.holidays.country if root.holidays else None,
        holiday_subdiv=root.holidays.subdiv if root.holidays else None,
        hours=_weekly(root.hours) if root.hours is not None else ALL_WEEK,
        after_hours=root.after_hours,
        statuses=tuple(root.statuses) if root.statuses is not None else DEFAULT_STATUSES,
        require_note=tuple(dict.fromkeys(root.require_note or ())),
        sla=sla,
        notify=_notify(root.notify, path) if root.notify is not None else None,
        tiers=tiers,
        agents=tuple(_agent(a, tiers, root.phone_region, doc.line(("agents", i)))
                     for i, a in enumerate(root.agents or [])),
        rules=tuple(models.Rule(
            name=r.name,
            pool=r.pool,
            strategy=r.strategy,
            when=tuple((field, values) for field, values in (r.when or {}).items()),
            fallback=r.fallback,
            line=doc.line(("rules", i)),
        ) for i, r in enumerate(root.rules or [])),
        path=path,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
    )


def _tiers(root: RulesFile, doc: Doc) -> dict[str, models.Tier]:
    """Tiers with their promotion criteria in plain numbers (durations in seconds)."""
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
    return tiers


def _agent(a: AgentSpec, tiers: dict[str, models.Tier], region: str, line: int) -> models.Agent:
    return models.Agent(
        id=a.id,
        name=a.name or a.id,
        role=a.role,
        territories=tuple(dict.fromkeys(a.territories or ())),
        skills=tuple(dict.fromkeys(a.skills or ())),
        tier=a.tier,
        weight=tiers[a.tier].weight if a.tier else 1.0,
        capacity=a.capacity,
        hours=_weekly(a.hours) if a.hours is not None else None,
        leave=tuple(a.leave or ()),
        active=a.active,
        email=a.email,
        phone=phone_e164(a.phone, region) if a.phone else None,
        line=line,
    )


def _notify(n: NotifySpec, path: str) -> models.NotifyChannel:
    if n.command is not None:
        # A relative command is the rules file's neighbour, wherever leadshare is run from.
        command = os.path.expanduser(n.command)
        if not os.path.isabs(command):
            command = os.path.join(os.path.dirname(os.path.abspath(path)), command)
        return models.NotifyChannel(kind="command", command=os.path.normpath(command))
    if n.webhook is not None:
        return models.NotifyChannel(kind="webhook", url=n.webhook)
    assert n.smtp is not None
    port = n.smtp.port if n.smtp.port is not None else (587 if n.smtp.starttls else 25)
    return models.NotifyChannel(kind="smtp", smtp_host=n.smtp.host, smtp_port=port,
                                smtp_from=n.smtp.from_, smtp_starttls=n.smtp.starttls)


def _weekly(hours: dict[str, tuple[models.Interval, ...]]) -> models.WeeklyHours:
    week: list[tuple[models.Interval, ...]] = [()] * 7
    for key, intervals in hours.items():
        for day in parse_days(key):
            week[day] = intervals
    return tuple(week)


def _seconds(value: timedelta) -> float:
    return float(value.total_seconds())
