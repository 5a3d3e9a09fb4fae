"""Work on the ledger as a whole: erasing a customer's personal data, folding the WAL away,
trimming a throwaway copy to one batch, and what `db copy` reads and writes."""

from __future__ import annotations

from typing import Iterator

# meta keys each ledger keeps for itself: its chain head (recounted on every write) and
# PostgreSQL's schema step.
_OWN_META = ("head", "schema")


class Maintenance:
    def erase_personal(self, lead_id: int, at: str) -> None:
        """Blank a customer's personal fields in the lead and its notes, and scrub the freed pages
        (the outbox keeps its own copy: see outbox.erase_personal)."""
        self._scrub_freed_space()
        # A lead from before per-lead salts keeps no `pd`: made with the ledger-wide salt, it could
        # still be tested against guesses (its forgotten event certifies the row without it).
        self.conn.execute(
            "UPDATE leads SET name = NULL, phone = NULL, email = NULL, phone_key = NULL, email_key = NULL, "
            "external_id = NULL, pd = CASE WHEN salt IS NULL THEN NULL ELSE pd END, salt = NULL, "
            "forgotten_at = ? WHERE id = ?",
            (at, lead_id),
        )
        self.conn.execute("UPDATE notes SET text = NULL WHERE lead = ?", (lead_id,))
        self.conn.execute("DELETE FROM other_contacts WHERE lead = ?", (lead_id,))

    def _scrub_freed_space(self) -> None:
        self.conn.execute("PRAGMA secure_delete = ON")

    def erasure_note(self) -> str | None:
        """What `forget` cannot reach and the user must know of (nothing here: see checkpoint)."""
        return None

    def checkpoint(self) -> bool:
        """Fold the WAL into the main file and truncate it, so erased bytes leave the -wal file too.
        False when a reader still holds older pages and the WAL could not be emptied."""
        busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0

    def keep_only_batch(self, batch: int) -> None:
        """On a throwaway copy: drop every lead but one batch's, so reports speak of that batch alone."""
        with self.write():
            self.conn.execute("DELETE FROM leads WHERE batch IS NOT ? ", (batch,))
            self.conn.execute("DELETE FROM assignment_counts")  # leads are deleted nowhere else: count again
            self.conn.execute(
                "INSERT INTO assignment_counts SELECT assigned_at, agent, coalesce(cands, x''), coalesce(rule, ''), "
                "coalesce(strategy, ''), coalesce(source, ''), coalesce(region, ''), status, count(*) FROM leads "
                "WHERE agent IS NOT NULL AND assigned_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
            )

    def portable_meta(self) -> dict[str, str]:
        """What a copy of the ledger takes along: the salt, not the backend's own bookkeeping."""
        return {k: v for k, v in self.conn.execute("SELECT key, value FROM meta") if k not in _OWN_META}

    def replace_meta(self, values: dict[str, str]) -> None:
        marks = ",".join("?" * len(_OWN_META))
        self.conn.execute(f"DELETE FROM meta WHERE key NOT IN ({marks})", _OWN_META)
        self.conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", list(values.items()))

    def table_rows(self, table: str) -> tuple[list[str], Iterator[tuple]]:
        """A whole table (named by the code): its column names, then its rows streamed."""
        cursor = self.conn.execute(f"SELECT * FROM {table} ORDER BY 1")
        return [d[0] for d in cursor.description], cursor

    def after_copy(self) -> None:
        """Whatever a backend must set after rows came in with their ids (SQLite: nothing)."""
