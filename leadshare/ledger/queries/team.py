"""The team's records in the ledger: leave, earned tiers, and the figures tiers are earned by."""

from __future__ import annotations


class TeamRecords:
    def add_leave(self, agent: str, start: str, end: str, reason: str | None) -> int:
        return self.conn.execute(
            'INSERT INTO leave (agent, start, "end", reason) VALUES (?, ?, ?, ?) RETURNING id', (agent, start, end, reason)
        ).fetchone()[0]

    def cancel_leave(self, leave_id: int, at: str) -> None:
        self.conn.execute("UPDATE leave SET cancelled_at = ? WHERE id = ?", (at, leave_id))

    def leave_spans(self) -> list[tuple[str, str, str]]:
        """(agent, first day, last day) of every leave not cancelled."""
        return self.conn.execute('SELECT agent, start, "end" FROM leave WHERE cancelled_at IS NULL').fetchall()

    def leave(self, include_cancelled: bool = False) -> list[dict]:
        sql = "SELECT * FROM leave" + ("" if include_cancelled else " WHERE cancelled_at IS NULL")
        return self.query(sql + " ORDER BY start, id")

    def earned_tiers(self) -> dict[str, str | None]:
        return dict(self.conn.execute("SELECT agent, tier FROM agent_tiers"))

    def set_tiers(self, tiers: dict[str, str | None], since: str, seq: int) -> None:
        self.conn.executemany(
            "INSERT INTO agent_tiers (agent, tier, since, seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (agent) DO UPDATE SET tier = excluded.tier, since = excluded.since, seq = excluded.seq",
            [(agent, tier, since, seq) for agent, tier in tiers.items()],
        )

    def agent_figures(self, since: str, won: str = "won") -> dict[str, dict]:
        """Per agent, over leads assigned since `since`: closed, won, and first-contact delays (seconds)."""
        out: dict[str, dict] = {}
        for agent, closed_at, status, assigned_at, first_contact_at in self.conn.execute(
            "SELECT agent, closed_at, status, assigned_at, first_contact_at FROM leads "
            "WHERE agent IS NOT NULL AND assigned_at >= ?",
            (since,),
        ):
            f = out.setdefault(agent, {"assigned": 0, "closed": 0, "won": 0, "first_contact": []})
            f["assigned"] += 1
            if closed_at:
                f["closed"] += 1
                f["won"] += status == won
            if first_contact_at:
                f["first_contact"].append(_seconds_between(assigned_at, first_contact_at))
        return out


def _seconds_between(start: str, end: str) -> float:
    from datetime import datetime

    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
