"""Fairness, load and the other figures the reports show, computed from the ledger's stored decisions.

Expected leads
--------------
Every assignment stored its whole decision: the rule, its strategy and each candidate with whether
it was eligible and its weight. A decision's *intended split* is what its strategy aims at among
the candidates that were eligible at that moment:

- ``weighted``: each eligible agent's weight / the sum of the eligible weights (gold 1.25 against
  silver 1.0 expects 5/9 and 4/9);
- ``round_robin``: an equal share for each eligible agent (tiers do not change a rotation);
- ``least_loaded``: the whole lead to the agent who was least loaded relative to capacity at that
  moment, which is the owner it recorded (``verify --decisions`` re-derives it from the recorded
  loads). Its fairness is in the load, not the count: it deliberately gives more to an agent who
  got fewer leads from other rules, so a per-count split would flag it for doing its job;
- a returning customer offered to the previous owner, and an owner kept from another CRM
  (``import --keep-owner``), were not shared out: the owner expects the whole lead.

An agent's *expected* is the sum of its intended shares over the period's decisions. Summed this
way it already accounts for who was available: an agent on leave for half the period was not
eligible in half of the decisions, so it expects about half. The period takes the leads by
their ``assigned_at`` (the latest assignment or reassignment), and a lead counts for the agent who
owns it now; a reassignment by the rules brings its own decision, a hand-over keeps the original
one. Reassignments in the period are shown beside it (``reassigned_in`` / ``reassigned_out``), so
a gap they explain is visible as such. ``open`` is the load now, whatever the period.

Grouping by territory, source or rule
-------------------------------------
A lead's region, source and rule do not depend on who got it: every share of a decision falls in
the lead's own group, so a group's expected is exactly its assigned (``difference`` 0). What can
be unfair there is the split *inside* the group, so each such group carries ``agents`` (assigned
against expected per agent within it) and its own ``gini``. The top-level ``gini`` is always the
period's per-agent figure, the same number whichever grouping is shown.

Tolerance
---------
Rotation is deterministic, so small gaps are granularity, not unfairness: round-robin ends within
one lead of even per rule while the pool stays the same, and a period spans rules and changes of
availability. A group is *flagged* when it is more than ``TOLERANCE_LEADS`` leads **and** more than
``TOLERANCE_SHARE`` of its expected away from what was expected.

Gini
----
The Gini coefficient of assigned against expected: 0 when every agent got exactly its expected
leads, towards 1 when the leads went to a few. With equal expectations it is the ordinary Gini of
the assigned counts; with unequal ones, each agent is a population weighted by its expected leads
(the Lorenz curve of assigned share against expected share).
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from leadshare import clock
from leadshare.models import Team

if TYPE_CHECKING:  # reports take a ledger but never pull SQL in themselves
    from leadshare.ledger.store import Ledger

GROUPINGS = ("agent", "territory", "source", "rule")
_GROUP_COLUMN = {"agent": "agent", "territory": "region", "source": "source", "rule": "rule"}
NONE_KEY = "(none)"

TOLERANCE_LEADS = 2
TOLERANCE_SHARE = 0.10


def _queries():
    from leadshare.ledger import reporting  # imported here: this module stays free of the database

    return reporting


# ---- the maths ------------------------------------------------------------------------------


def gini(values: Iterable[float], weights: Iterable[float] | None = None) -> float:
    """Gini coefficient: 0 = all equal, towards 1 = concentrated; 0.0 for no values or all zero.

    Without weights it is the ordinary (population) Gini of `values`: [1, 1, 1, 1] is 0,
    [0, 0, 0, 4] is 0.75, [1, 2, 3, 4] is 0.25. With `weights` (one per value) each value is a
    population of that size: `values` are what each got, `weights` what each was expected to get,
    and the result is 0 exactly when every value is proportional to its weight.
    """
    xs = [float(v) for v in values]
    ws = [1.0] * len(xs) if weights is None else [float(w) for w in weights]
    if len(ws) != len(xs):
        raise ValueError("gini: one weight per value")
    if any(x < 0 for x in xs) or any(w < 0 for w in ws):
        raise ValueError("gini: values and weights must not be negative")
    pairs = [(x, w) for x, w in zip(xs, ws) if x > 0 or w > 0]
    total_x = sum(x for x, _ in pairs)
    total_w = sum(w for _, w in pairs)
    if not pairs or total_x <= 0 or total_w <= 0:
        return 0.0
    # Lorenz curve: populations in increasing order of what each got per unit expected; a value
    # with no expectation at all comes last (an infinite ratio) and only raises the curve's end.
    pairs.sort(key=lambda p: (p[1] == 0, p[0] / p[1] if p[1] else 0.0))
    area, cum_x = 0.0, 0.0
    for x, w in pairs:
        before = cum_x
        cum_x += x / total_x
        area += (w / total_w) * (before + cum_x)  # twice the trapezoid under this segment
    return round(max(0.0, 1.0 - area), 6)


def expected_shares(candidates: Sequence[Sequence[Any]], strategy: str | None = "weighted",
                    owner: str | None = None) -> dict[str, float]:
    """A decision's intended split among its eligible candidates ([agent, eligible, reason, weight]),
    by strategy (see the module's documentation); `owner` is the agent a least_loaded decision
    chose. The shares add up to 1 (or nothing is eligible)."""
    eligible = [(str(c[0]), float(c[3]) if len(c) > 3 and c[3] is not None else 1.0) for c in candidates if c[1]]
    if not eligible:
        return {}
    if strategy == "least_loaded" and owner is not None:
        return {owner: 1.0}
    if strategy == "round_robin":
        sizes = {a: 1.0 for a, _ in eligible}
    else:  # weighted, and any decision whose strategy is not known: the tier weights
        sizes = {a: max(0.0, w) for a, w in eligible}
    total = sum(sizes.values())
    if total <= 0:
        return {a: 1 / len(eligible) for a, _ in eligible}
    return {a: s / total for a, s in sizes.items()}


def is_flagged(assigned: float, expected: float) -> bool:
    """Far from expected: more than TOLERANCE_LEADS leads and more than TOLERANCE_SHARE of expected."""
    gap = abs(assigned - expected)
    return gap > TOLERANCE_LEADS and gap > TOLERANCE_SHARE * expected


def _minutes(start: str, end: str) -> float:
    return (clock.from_iso(end) - clock.from_iso(start)).total_seconds() / 60


# ---- fairness -------------------------------------------------------------------------------


class _Tally:
    __slots__ = ("assigned", "expected", "won", "closed", "minutes")

    def __init__(self) -> None:
        self.assigned = 0
        self.expected = 0.0
        self.won = 0
        self.closed = 0
        self.minutes: list[float] = []

    def count(self, row: Mapping[str, Any]) -> None:
        """Count a decision row's leads as this one's, with how many of them are won and closed now."""
        self.assigned += row["n"]
        self.won += row["won"] or 0
        self.closed += row["closed"] or 0


def _column(by: str) -> str:
    """The lead column a grouping counts by."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}")
    return _GROUP_COLUMN[by]


def _entry(book: dict[str, _Tally], key: str) -> _Tally:
    t = book.get(key)
    if t is None:
        t = book[key] = _Tally()
    return t


def _intended(row: Mapping[str, Any], strategies: Mapping[str, str]) -> dict[str, float]:
    if row["kept"] or row["candidates"] is None:  # an owner kept from another CRM: not a decision
        return {row["agent"]: 1.0}
    strategy = row["strategy"] or strategies.get(row["rule"])
    shares = expected_shares(row["candidates"], strategy, row["agent"])
    return shares or {row["agent"]: 1.0}


def _share_out(book: dict[str, _Tally], row: Mapping[str, Any], shares: Mapping[str, float]) -> None:
    """The row's leads to its owner; their expected leads to each agent by its intended share."""
    _entry(book, row["agent"]).count(row)
    for agent, share in shares.items():
        _entry(book, agent).expected += share * row["n"]


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _conversion(t: _Tally) -> float | None:
    return round(t.won / t.closed, 4) if t.closed else None


class _Keys:
    """Groups lead fields case-insensitively (a territory is matched that way), shown in the
    spelling most of the group's leads use."""

    def __init__(self) -> None:
        self.spellings: dict[str, Counter] = {}

    def key(self, value: Any, weight: int = 1) -> str:
        text = str(value).strip() if value is not None else ""
        if not text:
            return NONE_KEY
        norm = text.casefold()
        self.spellings.setdefault(norm, Counter())[text] += weight
        return norm

    def label(self, norm: str) -> str:
        if norm == NONE_KEY:
            return NONE_KEY
        return self.spellings[norm].most_common(1)[0][0]


class _Book:
    """A period's tallies: per agent and, for groupings other than agent, per group with each
    agent's part inside it."""

    def __init__(self, column: str) -> None:
        self.column = None if column == "agent" else column
        self.keys = _Keys()
        self.agents: dict[str, _Tally] = {}
        self.groups: dict[str, _Tally] = {}
        self.within: dict[str, dict[str, _Tally]] = {}

    def add_decision(self, row: Mapping[str, Any], strategies: Mapping[str, str]) -> None:
        shares = _intended(row, strategies)
        _share_out(self.agents, row, shares)
        if self.column is None:
            return
        key = self.keys.key(row[self.column], row["n"])
        group = _entry(self.groups, key)
        group.count(row)
        group.expected += row["n"]  # every share of a decision falls in the lead's own group
        _share_out(self.within.setdefault(key, {}), row, shares)

    def add_first_contact(self, row: Mapping[str, Any]) -> None:
        minutes = _minutes(row["assigned_at"], row["first_contact_at"])
        if minutes < 0:  # contacted before a hand-over: not this owner's first contact
            return
        _entry(self.agents, row["agent"]).minutes.append(minutes)
        if self.column is not None:
            _entry(self.groups, self.keys.key(row[self.column], 0)).minutes.append(minutes)


def _moves(rows: Iterable[Mapping[str, Any]]) -> dict[str, Counter]:
    """Reassigned leads per agent: moved in, moved out, and moved out by an SLA sweep."""
    moves = {"in": Counter(), "out": Counter(), "out_sla": Counter()}
    for r in rows:
        if r["dst"]:
            moves["in"][r["dst"]] += r["n"]
        if r["src"]:
            moves["out"][r["src"]] += r["n"]
            if r["sla"]:
                moves["out_sla"][r["src"]] += r["n"]
    return moves


def _split(label: str, t: _Tally, total: int) -> dict:
    return {
        "key": label,
        "assigned": t.assigned,
        "share": round(t.assigned / total, 6) if total else 0.0,
        "expected": round(t.expected, 4),
        "expected_share": round(t.expected / total, 6) if total else 0.0,
        "difference": round(t.assigned - t.expected, 4),
        "flagged": is_flagged(t.assigned, t.expected),
    }


def _outcomes(t: _Tally) -> dict:
    return {"median_first_contact_minutes": _median(t.minutes), "contacted": len(t.minutes), "won": t.won,
            "closed": t.closed, "conversion": _conversion(t)}


def _agent_groups(book: _Book, team: Team, loads: Mapping[Any, int], moves: Mapping[str, Counter], total: int) -> list[dict]:
    """One group per agent: the roster's active agents and anyone with leads, load or moves."""
    roster = [a.id for a in team.agents]
    active = [a.id for a in team.agents if a.active]
    seen = set(book.agents) | {k for k, v in loads.items() if v} | set(moves["in"]) | set(moves["out"])
    order = [a for a in roster if a in active or a in seen] + sorted(k for k in seen if k not in roster and k)
    out = []
    for key in order:
        t = book.agents.get(key) or _Tally()
        agent = team.agent(key)
        g = _split(key, t, total)
        g.update(
            name=agent.name if agent else key,
            open=loads.get(key, 0),
            capacity=agent.capacity if agent else None,
            tier=agent.tier if agent else None,
            weight=agent.weight if agent else None,
            active=agent.active if agent else False,
            reassigned_in=moves["in"].get(key, 0),
            reassigned_out=moves["out"].get(key, 0),
            reassigned_out_sla=moves["out_sla"].get(key, 0),
        )
        g.update(_outcomes(t))
        out.append(g)
    return out


def _agents_within(inner: Mapping[str, _Tally], team: Team) -> list[dict]:
    return [
        {
            "key": a,
            "name": team.agent(a).name if team.agent(a) else a,
            "assigned": it.assigned,
            "expected": round(it.expected, 4),
            "difference": round(it.assigned - it.expected, 4),
            "flagged": is_flagged(it.assigned, it.expected),
        }
        for a, it in sorted(inner.items(), key=lambda kv: (-kv[1].assigned, -kv[1].expected, kv[0]))
    ]


def _other_groups(book: _Book, team: Team, open_by_value: Mapping[Any, int], total: int) -> list[dict]:
    """One group per territory, source or rule, most leads first, with the split inside it."""
    keys = book.keys
    loads: dict[str, int] = {}
    for value, n in open_by_value.items():
        k = keys.key(value, 0)
        loads[k] = loads.get(k, 0) + n
    out = []
    for key in sorted(book.groups, key=lambda k: (-book.groups[k].assigned, keys.label(k).casefold())):
        t = book.groups[key]
        inner = book.within.get(key, {})
        inner_rows = _agents_within(inner, team)
        g = _split(keys.label(key), t, total)
        g.update(flagged=any(a["flagged"] for a in inner_rows), open=loads.get(key, 0), capacity=None,
                 reassigned_in=None, reassigned_out=None)
        g.update(_outcomes(t))
        g.update(gini=gini([it.assigned for it in inner.values()], [it.expected for it in inner.values()]),
                 agents=inner_rows)
        out.append(g)
    return out


def fairness_of(facts: Mapping[str, Any], team: Team, since: str, until: str, by: str = "agent") -> dict:
    """The `fairness --json` document from plain values, no ledger needed: `facts` as
    `ledger.reporting.fairness_facts` gives them (decisions with their candidates, first contacts,
    reassignments, open leads by the grouping's column); `since`/`until` as stored UTC text."""
    book = _Book(_column(by))
    strategies = {r.name: r.strategy for r in team.rules}
    for row in facts["decisions"]:
        book.add_decision(row, strategies)
    for row in facts["first_contacts"]:
        book.add_first_contact(row)
    total = sum(t.assigned for t in book.agents.values())
    agent_gini = gini([t.assigned for t in book.agents.values()], [t.expected for t in book.agents.values()])
    if by == "agent":
        groups = _agent_groups(book, team, facts["open"], _moves(facts["reassignments"]), total)
    else:
        groups = _other_groups(book, team, facts["open"], total)
    return {
        "since": since,
        "until": until,
        "timezone": team.timezone,
        "by": by,
        "total": total,
        "groups": groups,
        "gini": agent_gini,
        "tolerance": {"leads": TOLERANCE_LEADS, "share": TOLERANCE_SHARE},
    }


def fairness(ledger: "Ledger", team: Team, since: datetime, until: datetime, by: str = "agent") -> dict:
    """The split of the leads assigned in [since, until] against what the rules intended.

    Returns the `fairness --json` document: since, until, by, total, gini, tolerance and one group
    per agent (or territory, source, rule) with assigned, share, expected, expected_share,
    difference, flagged, open, capacity, reassigned_in/out, median_first_contact_minutes and
    conversion."""
    column = _column(by)
    s, u = clock.to_utc_iso(since), clock.to_utc_iso(until)
    facts = _queries().fairness_facts(ledger, s, u, team.closed_statuses, column)
    return fairness_of(facts, team, s, u, by)


# ---- the dashboard's other figures ----------------------------------------------------------


def day_window(now: datetime, days: int = 30) -> tuple[datetime, datetime]:
    """The last `days` calendar days in `now`'s zone, today included: (start of the first, now)."""
    first = now.date() - timedelta(days=days - 1)
    return clock.localize(datetime.combine(first, time()), now.tzinfo), now


def lead_volume(ledger: "Ledger", team: Team, since: datetime, until: datetime) -> dict:
    """Leads created in [since, until]: per day in the team's time zone (every day, zeros too) and
    per source (most first)."""
    tz = clock.zone(team.timezone)
    by_day: Counter = Counter()
    keys = _Keys()
    by_source: Counter = Counter()
    for r in _queries().created_between(ledger, clock.to_utc_iso(since), clock.to_utc_iso(until)):
        by_day[clock.from_iso(r["created_at"]).astimezone(tz).date()] += r["n"]
        by_source[keys.key(r["source"], r["n"])] += r["n"]
    days = []
    day, last = since.astimezone(tz).date(), until.astimezone(tz).date()
    while day <= last:
        days.append({"day": day.isoformat(), "leads": by_day.get(day, 0)})
        day += timedelta(days=1)
    sources = [
        {"source": keys.label(k), "leads": n}
        for k, n in sorted(by_source.items(), key=lambda kv: (-kv[1], keys.label(kv[0]).casefold()))
    ]
    return {"since": clock.to_utc_iso(since), "until": clock.to_utc_iso(until), "total": sum(by_day.values()),
            "by_day": days, "by_source": sources}


def sla_report(ledger: "Ledger", team: Team, now: datetime, limit: int = 50) -> dict:
    """SLA breaches now (open leads past their due time with no first contact) and the leads SLA
    sweeps have moved."""
    q = _queries()
    at = clock.to_utc_iso(now)
    count, rows = q.sla_breaches(ledger, at, team.closed_statuses, limit)
    moved_leads, moves, moved = q.sla_reassigned(ledger, limit)

    def name(agent_id: str | None) -> str | None:
        agent = team.agent(agent_id) if agent_id else None
        return agent.name if agent else agent_id

    breaches = [
        {
            "id": r["id"], "external_id": r["external_id"], "name": r["name"], "agent": r["agent"],
            "agent_name": name(r["agent"]), "status": r["status"], "assigned_at": r["assigned_at"],
            "sla_due": r["sla_due"], "overdue_minutes": round(_minutes(r["sla_due"], at), 1),
            "sla_reassigns": r["sla_reassigns"],
        }
        for r in rows
    ]
    reassigned = [
        {"id": r["id"], "external_id": r["external_id"], "name": r["name"], "agent": r["agent"],
         "agent_name": name(r["agent"]), "status": r["status"], "sla_reassigns": r["sla_reassigns"],
         "contacted": r["first_contact_at"] is not None}
        for r in moved
    ]
    return {
        "now": at,
        "breached": count,
        "breaches": breaches,
        "reassigned_leads": moved_leads,
        "reassign_moves": moves,
        "reassigned": reassigned,
        "max_reassign": team.sla.max_reassign,
        "first_contact_minutes": team.sla.first_contact.total_seconds() / 60 if team.sla.first_contact else None,
    }


def recent_imports(ledger: "Ledger", limit: int = 10) -> list[dict]:
    """The newest import batches, newest first."""
    keep = ("batch", "name", "at", "rows", "imported", "duplicates", "rejected", "assigned", "queued", "rejects_file")
    return [{k: r.get(k) for k in keep} for r in _queries().recent_imports(ledger, limit)]


def queued_now(ledger: "Ledger") -> int:
    return _queries().queued_count(ledger)


def minutes_text(minutes: float | None, long: bool = False) -> str:
    """A duration in minutes as people read it: '45m', '3.5h', '2.0d' (long: '45 min', '3.5 h', '2.0 days')."""
    if minutes is None:
        return "-"
    units = (" min", " h", " days") if long else ("m", "h", "d")
    if minutes < 90:
        return f"{minutes:.0f}{units[0]}"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f}{units[1]}"
    return f"{minutes / 1440:.1f}{units[2]}"

