"""Earned tiers: each agent's figures against each tier's criteria, and the tier they earn.

A tier with criteria (min_conversion, max_first_contact, min_closed over `period`) is earned by
meeting all of them; the highest-weight tier earned wins. An agent who earns none gets the
lowest-weight tier that has no criteria (the floor), or no tier (weight 1.0) when there is none.
`tiers --apply` records the result as an event; from then on the engine uses it, and every
decision stores the weight it used, so the change is visible and verifiable.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import timedelta

from leadshare import clock
from leadshare.errors import Refused
from leadshare.ledger.events import NewEvent
from leadshare.models import Team, Tier


def earning_tiers(team: Team) -> list[Tier]:
    return sorted((t for t in team.tiers.values() if t.criteria), key=lambda t: -t.weight)


def floor_tier(team: Team) -> str | None:
    plain = sorted((t for t in team.tiers.values() if not t.criteria), key=lambda t: t.weight)
    return plain[0].name if plain else None


def _check(tier: Tier, fig: dict) -> list[dict]:
    """Each criterion of the tier with the agent's figure and whether it is met."""
    checks = []
    c = tier.criteria
    if "min_closed" in c:
        checks.append({"criterion": "min_closed", "need": int(c["min_closed"]), "have": fig["closed"], "met": fig["closed"] >= c["min_closed"]})
    if "min_conversion" in c:
        conv = fig["conversion"]
        checks.append({"criterion": "min_conversion", "need": c["min_conversion"], "have": conv, "met": conv is not None and conv >= c["min_conversion"]})
    if "max_first_contact" in c:
        med = fig["median_first_contact_s"]
        checks.append({"criterion": "max_first_contact", "need": c["max_first_contact"], "have": med, "met": med is not None and med <= c["max_first_contact"]})
    return checks


def review(s) -> list[dict]:
    """Per agent: figures over each tier's period, each tier's checks, the tier earned now."""
    team = s.team
    tiers = earning_tiers(team)
    current = s.ledger.earned_tiers()
    periods = sorted({t.criteria.get("period", 90 * 86400) for t in tiers}) or [90 * 86400]
    figures_by_period = {
        p: s.ledger.agent_figures(clock.to_utc_iso(s.now - timedelta(seconds=p))) for p in periods
    }
    out = []
    for agent in team.agents:
        row = {"agent": agent.id, "tier": current.get(agent.id, agent.tier), "weight": agent.weight, "checks": {}, "earned": None}
        for tier in tiers:
            fig = _figures(figures_by_period[tier.criteria.get("period", 90 * 86400)].get(agent.id))
            row["figures"] = fig
            checks = _check(tier, fig)
            row["checks"][tier.name] = checks
            if row["earned"] is None and all(c["met"] for c in checks):
                row["earned"] = tier.name
        if "figures" not in row:
            row["figures"] = _figures(figures_by_period[periods[0]].get(agent.id))
        if not tiers:  # nothing to earn: tiers are given by hand in the rules file
            row["earned"] = row["tier"]
        elif row["earned"] is None:
            row["earned"] = floor_tier(team)
        row["change"] = row["earned"] != row["tier"]
        out.append(row)
    return out


def _figures(raw: dict | None) -> dict:
    raw = raw or {"assigned": 0, "closed": 0, "won": 0, "first_contact": []}
    return {
        "assigned": raw["assigned"],
        "closed": raw["closed"],
        "won": raw["won"],
        "conversion": round(raw["won"] / raw["closed"], 4) if raw["closed"] else None,
        "median_first_contact_s": statistics.median(raw["first_contact"]) if raw["first_contact"] else None,
    }


def apply(s) -> list[dict]:
    """Record the earned tiers (one audited event with the reasons); the engine uses them next."""
    from leadshare.workflow import _need_manager

    if not earning_tiers(s.team):
        raise Refused("no tier in the rules file says how it is earned", "add min_conversion, max_first_contact or min_closed to a tier")
    _need_manager(s, "applying tiers")
    with s.ledger.write():
        rows = review(s)
        changes = {r["agent"]: r["earned"] for r in rows if r["change"]}
        if changes:
            data = {"changes": {r["agent"]: {"from": r["tier"], "to": r["earned"], "figures": r["figures"]} for r in rows if r["change"]}}
            (seq,) = s.ledger.append([NewEvent("tiers_applied", data=data)], at=s.at, actor=s.actor)
            s.ledger.set_tiers(changes, s.at, seq)
    return rows


def with_earned_tiers(team: Team, earned: dict[str, str | None]) -> Team:
    """The team as the engine sees it: tiers recorded by `tiers --apply` replace the file's."""
    if not earned:
        return team
    agents = []
    for a in team.agents:
        if a.id in earned and earned[a.id] != a.tier:
            tier = earned[a.id]
            weight = team.tiers[tier].weight if tier in team.tiers else 1.0
            a = replace(a, tier=tier if tier in team.tiers else None, weight=weight)
        agents.append(a)
    return replace(team, agents=tuple(agents))
