"""Fairness and load, computed from the ledger's stored decisions.

Expected share: for each decision, each eligible candidate expected weight / (sum of the eligible
weights) of that lead. Summed over a period this is what the rules intended given who was
actually available, so an agent on leave for half the period is expected to get about half.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from leadshare import clock
from leadshare.models import Team

if TYPE_CHECKING:  # reports take a ledger but never pull SQL in themselves
    from leadshare.ledger.store import Ledger

GROUPINGS = ("agent", "territory", "source", "rule")
_GROUP_COLUMN = {"territory": "region", "source": "source", "rule": "rule"}


def gini(values: Iterable[float]) -> float:
    """Gini coefficient (0 = all equal, towards 1 = concentrated); 0.0 for no or all-zero values."""
    xs = sorted(v for v in values)
    n = len(xs)
    total = sum(xs)
    if n == 0 or total <= 0:
        return 0.0
    weighted = sum((i + 1) * x for i, x in enumerate(xs))
    return round((2 * weighted) / (n * total) - (n + 1) / n, 6)


def expected_shares(candidates: list) -> dict[str, float]:
    """A decision's intended split among its eligible candidates ([agent, eligible, reason, weight])."""
    eligible = [(c[0], float(c[3])) for c in candidates if c[1]]
    total = sum(w for _, w in eligible)
    if total <= 0:
        return {a: 1 / len(eligible) for a, _ in eligible} if eligible else {}
    return {a: w / total for a, w in eligible}


def fairness(ledger: "Ledger", team: Team, since: datetime, until: datetime, by: str = "agent") -> dict:
    rows = ledger.decisions_between(clock.to_utc_iso(since), clock.to_utc_iso(until))
    sets = ledger.candidate_sets(r["cands"] for r in rows if r["cands"])
    assigned: dict[str, int] = {}
    expected: dict[str, float] = {}
    for r in rows:
        key = r["agent"] if by == "agent" else (r[_GROUP_COLUMN[by]] or "(none)")
        assigned[key] = assigned.get(key, 0) + r["n"]
        body = sets.get(r["cands"]) if r["cands"] else None
        if by == "agent":
            if body is None:  # an owner kept from another CRM: not a decision, expected as given
                expected[key] = expected.get(key, 0.0) + r["n"]
                continue
            for agent, share in expected_shares(body["candidates"]).items():
                expected[agent] = expected.get(agent, 0.0) + share * r["n"]
        else:
            expected[key] = expected.get(key, 0.0) + r["n"]
    total = sum(assigned.values())
    loads = ledger.open_loads(team.closed_statuses)

    keys: list[str]
    if by == "agent":
        roster = [a.id for a in team.agents]
        keys = roster + sorted(k for k in set(assigned) | set(expected) if k not in roster)
    else:
        keys = sorted(set(assigned))
    groups = []
    for key in keys:
        agent = team.agent(key) if by == "agent" else None
        got, want = assigned.get(key, 0), expected.get(key, 0.0)
        groups.append(
            {
                "key": key,
                "name": agent.name if agent else key,
                "assigned": got,
                "share": round(got / total, 6) if total else 0.0,
                "expected": round(want, 4),
                "expected_share": round(want / total, 6) if total else 0.0,
                "difference": round(got - want, 4),
                "open": loads.get(key, 0) if by == "agent" else None,
                "capacity": agent.capacity if agent else None,
            }
        )
    ratios = [g["assigned"] / g["expected"] for g in groups if g["expected"] > 0]
    return {
        "since": clock.to_utc_iso(since),
        "until": clock.to_utc_iso(until),
        "by": by,
        "total": total,
        "groups": groups,
        "gini": gini(ratios),
    }
