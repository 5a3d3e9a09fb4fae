"""The queries behind the reports (fairness, export, dashboard). Read-only, and the only SQL they
need: `leadshare.reports` and `leadshare.dashboard` call these and never speak SQL themselves.

Periods are closed intervals [since, until] of stored UTC timestamps ('YYYY-MM-DDTHH:MM:SS+00:00'),
which compare correctly as text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator, Sequence

import orjson

from leadshare.ledger.store import OPEN_LEADS, RARE_EVENTS, Ledger

# The lead columns a report may group by (a whitelist: the name goes into the SQL text).
GROUP_COLUMNS = ("agent", "region", "source", "rule")


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


def _group_column(column: str) -> str:
    if column not in GROUP_COLUMNS:
        raise ValueError(f"cannot group leads by {column!r}")
    return column


def decisions(ledger: "Ledger", since: str, until: str, closed: Sequence[str]) -> list[dict]:
    """Leads assigned in [since, until] that have an owner, grouped by everything fairness needs:
    owner, the decision's candidate set, rule, source, region, strategy, and whether the owner was
    kept from another CRM (no rule and no candidates).
    Each row has n (leads), won and closed (how many of them are won / closed now)."""
    closed = list(closed)
    # assignment_counts is the leads table counted by these columns (kept by triggers)
    return ledger.query(
        "SELECT agent, nullif(cands, x'') AS cands, nullif(rule, '') AS rule, nullif(source, '') AS source, "
        "nullif(region, '') AS region, nullif(strategy, '') AS strategy, "
        "cands = x'' AND rule = '' AS kept, "
        "sum(n) AS n, "
        "sum(CASE WHEN status = 'won' THEN n ELSE 0 END) AS won, "
        f"sum(CASE WHEN status IN ({_marks(closed)}) THEN n ELSE 0 END) AS closed "
        "FROM assignment_counts "
        "WHERE assigned_at >= ? AND assigned_at <= ? "
        "GROUP BY 1, 2, 3, 4, 5, 6, 7",
        [*closed, since, until],
    )


def first_contacts(ledger: "Ledger", since: str, until: str) -> list[dict]:
    """Leads assigned in [since, until] that have been contacted: owner, rule, source, region and
    the two timestamps (the difference is taken by the caller, not by SQLite's date functions)."""
    return ledger.query(
        "SELECT agent, rule, source, region, assigned_at, first_contact_at FROM leads "
        "WHERE assigned_at >= ? AND assigned_at <= ? AND agent IS NOT NULL AND first_contact_at IS NOT NULL",
        (since, until),
    )


def reassignments(ledger: "Ledger", since: str, until: str) -> list[dict]:
    """`reassigned` events in [since, until], counted per (from, to, by an SLA sweep). Handoffs
    are rare events: their data is read here rather than by each backend's own JSON functions."""
    counted: Counter = Counter()
    for agent, data in ledger.conn.execute(
        f"SELECT agent, data FROM events WHERE type = 'reassigned' AND {RARE_EVENTS} AND at >= ? AND at <= ?",
        (since, until),
    ):
        moved = orjson.loads(data)
        counted[moved.get("from"), moved.get("to") or agent, moved.get("sla") or 0] += 1
    return [{"src": src, "dst": dst, "sla": sla, "n": n} for (src, dst, sla), n in counted.items()]


def open_by(ledger: "Ledger", column: str) -> dict[Any, int]:
    """Open, owned leads now, counted by `column` (agent, region, source or rule)."""
    column = _group_column(column)
    rows = ledger.query(f"SELECT {column} AS key, count(*) AS n FROM leads WHERE {OPEN_LEADS} AND agent IS NOT NULL GROUP BY {column}")
    return {r["key"]: r["n"] for r in rows}


def fairness_facts(ledger: "Ledger", since: str, until: str, closed: Sequence[str], column: str) -> dict[str, Any]:
    """Everything `reports.fairness` counts for [since, until], as plain values:

    - decisions: the `decisions` rows, each with its stored candidate list under `candidates`
      ([[agent, eligible, reason, weight]...]; None when the lead has no stored candidate set);
    - first_contacts, reassignments: the rows of those queries;
    - open: open, owned leads now counted by `column` (agent, region, source or rule)."""
    rows = decisions(ledger, since, until, closed)
    sets = ledger.candidate_sets({r["cands"] for r in rows if r["cands"]})
    for r in rows:
        body = sets.get(r["cands"]) if r["cands"] else None
        r["candidates"] = None if body is None else body.get("candidates", [])
    return {
        "decisions": rows,
        "first_contacts": first_contacts(ledger, since, until),
        "reassignments": reassignments(ledger, since, until),
        "open": open_by(ledger, column),
    }


def queued_count(ledger: "Ledger") -> int:
    """Leads waiting in the queue for an owner."""
    return ledger.scalar("SELECT count(*) FROM leads WHERE agent IS NULL AND forgotten_at IS NULL") or 0


def created_between(ledger: "Ledger", since: str, until: str) -> list[dict]:
    """Leads created in [since, until], counted per (created_at, source): an import stamps a whole
    batch with one time, so this stays small; the caller buckets the times into local days."""
    return ledger.query(
        "SELECT created_at, source, count(*) AS n FROM leads WHERE created_at >= ? AND created_at <= ? "
        "GROUP BY created_at, source",
        (since, until),
    )


def sla_breaches(ledger: "Ledger", now: str, closed: Sequence[str], limit: int = 50) -> tuple[int, list[dict]]:
    """Open, owned leads past their SLA due time and not contacted yet: (how many, the most overdue)."""
    closed = list(closed)
    where = (
        "FROM leads WHERE first_contact_at IS NULL AND agent IS NOT NULL AND sla_due IS NOT NULL AND sla_due < ? "
        f"AND status NOT IN ({_marks(closed)})"
    )
    total = ledger.scalar(f"SELECT count(*) {where}", [now, *closed]) or 0
    rows = ledger.query(
        f"SELECT id, external_id, name, agent, status, assigned_at, sla_due, sla_reassigns {where} "
        "ORDER BY sla_due, id LIMIT ?",
        [now, *closed, int(limit)],
    )
    return total, rows


def sla_reassigned(ledger: "Ledger", limit: int = 20) -> tuple[int, int, list[dict]]:
    """Leads an SLA sweep has moved: (how many leads, how many moves, the most moved first)."""
    leads, moves = ledger.conn.execute(
        "SELECT count(*), coalesce(sum(sla_reassigns), 0) FROM leads WHERE sla_reassigns > 0"
    ).fetchone()
    rows = ledger.query(
        "SELECT id, external_id, name, agent, status, sla_reassigns, first_contact_at FROM leads "
        "WHERE sla_reassigns > 0 ORDER BY sla_reassigns DESC, id DESC LIMIT ?",
        (int(limit),),
    )
    return leads or 0, moves or 0, rows


def recent_imports(ledger: "Ledger", limit: int = 10) -> list[dict]:
    """The newest import batches first."""
    return ledger.query("SELECT * FROM imports ORDER BY batch DESC LIMIT ?", (int(limit),))


def _export_filter(statuses: Sequence[str], agents: Sequence[str], since: str | None,
                   until: str | None) -> tuple[str, list[Any]]:
    """The WHERE of an export (empty when it takes every lead) and its parameters."""
    where: list[str] = []
    params: list[Any] = []
    if statuses:
        where.append(f"l.status IN ({_marks(statuses)})")
        params += list(statuses)
    if agents:
        where.append(f"l.agent IN ({_marks(agents)})")
        params += list(agents)
    if since is not None:
        where.append("l.created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("l.created_at <= ?")
        params.append(until)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def export_leads(
    ledger: "Ledger",
    statuses: Sequence[str] = (),
    agents: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
) -> Iterator[dict]:
    """Leads for `export`, oldest id first, streamed, each with the text of its newest note
    (`last_note`). Filters: any of `statuses`, any of `agents`, created in
    [since, until]."""
    where, params = _export_filter(statuses, agents, since, until)
    sql = (
        "SELECT l.*, n.text AS last_note FROM leads l "
        "LEFT JOIN notes n ON n.id = (SELECT max(id) FROM notes WHERE lead = l.id)"
    )
    return ledger.stream(sql + where + " ORDER BY l.id", params)


def export_attribute_keys(
    ledger: "Ledger",
    statuses: Sequence[str] = (),
    agents: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
) -> list[str]:
    """Every attribute key of the leads an export with these filters takes, sorted: the csv's
    columns are known before its first row is written."""
    where, params = _export_filter(statuses, agents, since, until)
    sql = f"SELECT DISTINCT k.key FROM {ledger.ATTRIBUTE_KEYS_FROM}{where} ORDER BY k.key"
    return [key for (key,) in ledger.conn.execute(sql, params)]
