"""The lead rows after they are in: finding them, the workflow's updates (owner, status, notes),
SLA breaches, and the fields rules can test."""

from __future__ import annotations

from typing import Any, Sequence

from leadshare.models import CLOSED_STATUSES

# Open leads, written out so SQLite matches it to the partial index leads_open_urgency (a bound
# parameter would not match): an agent's open leads are read without visiting years of closed ones.
OPEN_LEADS = " AND ".join(f"status <> '{s}'" for s in CLOSED_STATUSES)
# Most urgent first: not contacted yet, by SLA due (none last), then the contacted ones. The
# expressions are leads_open_urgency's, so open leads come in index order and LIMIT stops early.
URGENCY = "first_contact_at IS NOT NULL, coalesce(sla_due, '~'), id"


class LeadQueries:
    URGENCY = URGENCY

    def open_loads(self) -> dict[str, int]:
        """Open leads per owner."""
        return dict(self.conn.execute(f"SELECT agent, count(*) FROM leads WHERE {OPEN_LEADS} AND agent IS NOT NULL GROUP BY agent"))

    def lead(self, ref: str | int) -> dict | None:
        """By ledger id, or by external id when it is not a number (or no lead has that id)."""
        text = str(ref).strip()
        if text.isdigit():
            rows = self.query("SELECT * FROM leads WHERE id = ?", (int(text),))
            if rows:
                return rows[0]
        rows = self.query("SELECT * FROM leads WHERE external_id = ? ORDER BY id DESC LIMIT 1", (text,))
        return rows[0] if rows else None

    def leads_of(self, agent: str, include_closed: bool, limit: int | None = None) -> list[dict]:
        """An agent's leads, most urgent first; the first `limit` of them only, when given."""
        sql = "SELECT * FROM leads WHERE agent = ?" + ("" if include_closed else f" AND {OPEN_LEADS}")
        return self.query(sql + f" ORDER BY {self.URGENCY}" + (" LIMIT ?" if limit is not None else ""),
                          [agent] if limit is None else [agent, limit])

    def count_leads_of(self, agent: str, include_closed: bool) -> int:
        sql = "SELECT count(*) FROM leads WHERE agent = ?" + ("" if include_closed else f" AND {OPEN_LEADS}")
        return self.scalar(sql, [agent]) or 0

    def queued_leads(self, closed: Sequence[str]) -> list[dict]:
        """Leads waiting for an owner, oldest first (a lead closed while waiting waits no more)."""
        marks = ",".join("?" * len(closed))
        return self.query(
            f"SELECT * FROM leads WHERE agent IS NULL AND forgotten_at IS NULL AND status NOT IN ({marks}) ORDER BY id",
            list(closed),
        )

    def update_assignment(self, rows: list[tuple]) -> None:
        """(agent, rule, strategy, cands, decided_seq, assigned_at, sla_start, sla_due, queued_reason, id)"""
        self.conn.executemany(
            "UPDATE leads SET agent = ?, rule = ?, strategy = ?, cands = ?, decided_seq = ?, assigned_at = ?, "
            "sla_start = ?, sla_due = ?, queued_reason = ? WHERE id = ?",
            rows,
        )

    _UPDATABLE = frozenset(
        ("status", "agent", "rule", "strategy", "cands", "decided_seq", "assigned_at", "sla_start", "sla_due", "first_contact_at",
         "closed_at", "queued_reason", "sla_reassigns", "last_note_at", "status_at", "warned_at", "escalated_at",
         "attrs")  # attrs: forget erases the ones that recognise the person
    )

    def update_lead(self, lead_id: int, **columns: Any) -> None:
        assert columns and set(columns) <= self._UPDATABLE, columns
        sets = ", ".join(f"{c} = ?" for c in columns)
        self.conn.execute(f"UPDATE leads SET {sets} WHERE id = ?", [*columns.values(), lead_id])

    def add_note(self, lead_id: int, seq: int, at: str, author: str, text: str) -> int:
        return self.conn.execute(
            "INSERT INTO notes (lead, seq, at, author, text) VALUES (?, ?, ?, ?, ?) RETURNING id", (lead_id, seq, at, author, text)
        ).fetchone()[0]

    def handoff_reason(self, seq: int) -> str | None:
        """The reason given for the handoff event `seq`: the note written just before it."""
        return self.scalar("SELECT text FROM notes WHERE seq = ?", (seq - 1,))

    def past_owners(self, lead_id: int) -> list[str]:
        """Every agent who has owned the lead, oldest first."""
        rows = self.conn.execute(
            "SELECT agent FROM events WHERE lead = ? AND type IN ('assigned', 'reassigned') AND agent IS NOT NULL ORDER BY seq",
            (lead_id,),
        )
        seen: list[str] = []
        for (agent,) in rows:
            if agent not in seen:
                seen.append(agent)
        return seen

    def breached(self, now: str, closed: Sequence[str]) -> list[dict]:
        """Open, owned leads not contacted by their SLA due time."""
        marks = ",".join("?" * len(closed))
        return self.query(
            f"SELECT * FROM leads WHERE first_contact_at IS NULL AND agent IS NOT NULL AND sla_due IS NOT NULL "
            f"AND sla_due <= ? AND status NOT IN ({marks}) AND forgotten_at IS NULL ORDER BY sla_due, id",
            [now, *closed],
        )

    def open_leads_of(self, agent: str) -> list[dict]:
        return self.query(f"SELECT * FROM leads WHERE agent = ? AND {OPEN_LEADS} ORDER BY id", [agent])

    # leads `l` beside each key `k.key` of their attributes, in the backend's JSON functions
    ATTRIBUTE_KEYS_FROM = "leads l, json_each(l.attrs) AS k"

    def lead_field_names(self) -> set[str]:
        """Every field at least one lead has: its attribute keys, and the standard columns rules can
        test (external_id, source, region) where some lead holds a value."""
        names = {key for key, in self.conn.execute(
            f"SELECT DISTINCT k.key FROM {self.ATTRIBUTE_KEYS_FROM} WHERE l.attrs <> '{{}}'")}
        for column in ("external_id", "source", "region"):  # fixed names, not input
            if self.scalar(f"SELECT EXISTS (SELECT 1 FROM leads WHERE coalesce({column}, '') != '')"):
                names.add(column)
        return names
