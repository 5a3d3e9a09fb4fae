"""Reading the event log and the notes beside it, and queuing the notifications events cause."""

from __future__ import annotations

from typing import Iterator

from leadshare.ledger import events as ev
from leadshare.ledger.queries import chunks

# The bulk of the log; the other types are in the partial index events_rare_type, whose WHERE a
# query must repeat word for word to use it.
BULK_EVENT_TYPES = ("assigned", "queued", "duplicate")
RARE_EVENTS = " AND ".join(f"type <> '{t}'" for t in BULK_EVENT_TYPES)


class LogReads:
    def timeline(self, lead_id: int) -> list[dict]:
        return self.query("SELECT seq, at, type, actor, lead, agent, data, hash, login FROM events WHERE lead = ? ORDER BY seq", (lead_id,))

    def last_notes(self, lead_ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in chunks(lead_ids):
            marks = ",".join("?" * len(chunk))
            for lead, text in self.conn.execute(
                f"SELECT lead, text FROM notes WHERE id IN (SELECT max(id) FROM notes WHERE lead IN ({marks}) GROUP BY lead)",
                chunk,
            ):
                out[lead] = text
        return out

    def note_texts(self, events: list[tuple[int, int]]) -> dict[int, str]:
        """The text of each note event, by seq; `events` are its (seq, lead) pairs (notes are
        indexed by lead)."""
        wanted = {seq for seq, _ in events}
        out: dict[int, str] = {}
        for chunk in chunks(sorted({lead for _, lead in events})):
            marks = ",".join("?" * len(chunk))
            for seq, text in self.conn.execute(f"SELECT seq, text FROM notes WHERE lead IN ({marks})", chunk):
                if seq in wanted and text is not None:
                    out[seq] = text
        return out

    def notes_of(self, lead_id: int) -> dict[int, dict]:
        return {r["seq"]: r for r in self.query("SELECT * FROM notes WHERE lead = ? ORDER BY seq", (lead_id,))}

    def log(
        self,
        lead: int | None = None,
        agent: str | None = None,
        type_: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        where, params = [], []
        for clause, value in (("lead = ?", lead), ("agent = ?", agent), ("type = ?", type_), ("at >= ?", since)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if type_ is not None and type_ not in BULK_EVENT_TYPES:
            where.append(RARE_EVENTS)  # lets SQLite use the events_rare_type index
        sql = "SELECT seq, at, type, lead, agent, actor, data, hash, login FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if limit:
            # the newest N, still shown in ledger order
            sql = f"SELECT * FROM ({sql} ORDER BY seq DESC LIMIT {int(limit)}) AS newest ORDER BY seq"
        else:
            sql += " ORDER BY seq"
        return self.query(sql, params)

    def event(self, seq: int) -> dict:
        return self.query("SELECT seq, at, type, actor, agent, data FROM events WHERE seq = ?", (seq,))[0]

    def first_event_of(self, lead_id: int) -> int | None:
        """The seq of the event that created the lead."""
        return self.scalar("SELECT min(seq) FROM events WHERE lead = ?", (lead_id,))

    def handoffs_after(self, lead_id: int, seq: int) -> list[dict]:
        """The lead's `reassigned` events after event `seq`."""
        return self.query(
            "SELECT seq, at, actor, agent, data FROM events WHERE lead = ? AND type = 'reassigned' AND seq > ? ORDER BY seq",
            (lead_id, seq),
        )

    def last_seq(self) -> int:
        return self.scalar("SELECT max(seq) FROM events") or 0

    def iter_events(self) -> Iterator[tuple]:
        return self.each_row("SELECT seq, at, actor, type, lead, agent, data, hash, login FROM events ORDER BY seq")

    def event_count(self) -> int:
        return self.scalar("SELECT count(*) FROM events") or 0

    def head(self) -> tuple[int, bytes]:
        """The last event's seq and hash (0 and the genesis hash when there is none)."""
        return ev.head(self.conn)

    def enqueue_notifications(self, rows: list[dict]) -> None:
        """rows: {seq, created_at, kind, agent, lead, payload (dict)}; delivered later by `notify`."""
        self.conn.executemany(
            "INSERT INTO outbox (seq, created_at, kind, agent, lead, payload) VALUES (?, ?, ?, ?, ?, ?)",
            [(r["seq"], r["created_at"], r["kind"], r["agent"], r["lead"], ev.canonical(r["payload"]).decode()) for r in rows],
        )
