"""What `verify` reads: the append-only guards, the integrity check, every lead, note and
candidate set, and text that may not be valid UTF-8."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Iterator, Sequence


class VerifyReads:
    APPEND_ONLY_GUARDS = ("events_append_only_update", "events_append_only_delete")

    def missing_append_only_guards(self) -> list[str]:
        """The triggers that keep the events table append-only, if any was dropped."""
        present = {name for (name,) in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        return [name for name in self.APPEND_ONLY_GUARDS if name not in present]

    def integrity_problems(self) -> list[str]:
        rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else [f"sqlite integrity check: {r}" for r in rows]

    @staticmethod
    def is_text_error(exc: BaseException) -> bool:
        """A stored text that is not UTF-8 (read it again under lenient_text)."""
        return isinstance(exc, sqlite3.OperationalError) and "decode" in str(exc)

    def lead_rows(self, columns: Sequence[str]) -> Iterator[tuple]:
        """Every lead as a tuple of `columns` (names from the code, never from input), by id."""
        return self.each_row(f"SELECT {', '.join(columns)} FROM leads ORDER BY id")

    def assignment_counts(self) -> dict[tuple, int]:
        """The assignment_counts projection as {(assigned_at, agent, cands, rule, strategy, source,
        region, status): leads}, NULLs stored as '' (x'' for cands)."""
        return {tuple(r[:-1]): r[-1] for r in self.conn.execute(
            "SELECT assigned_at, agent, cands, rule, strategy, source, region, status, n FROM assignment_counts")}

    def all_leads(self) -> Iterator[dict]:
        return self.stream("SELECT * FROM leads ORDER BY id")

    def text_is_lenient(self) -> bool:
        return self.conn.text_factory is not str

    @contextlib.contextmanager
    def lenient_text(self) -> Iterator[None]:
        """Read text that is not valid UTF-8 (a hand-edited row) with replacement characters
        instead of failing: the changed bytes then simply fail their hash check."""
        before = self.conn.text_factory
        self.conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
        try:
            yield
        finally:
            self.conn.text_factory = before

    def notes_with_events(self) -> Iterator[tuple]:
        """(note id, lead, seq, text, the data of the note event at seq or None, the lead's salt or
        None), by note id."""
        return self.each_row(
            "SELECT n.id, n.lead, n.seq, n.text, e.data, l.salt FROM notes n "
            "LEFT JOIN events e ON e.seq = n.seq AND e.type = 'note' LEFT JOIN leads l ON l.id = n.lead ORDER BY n.id"
        )

    def all_candidate_sets(self) -> Iterator[tuple[bytes, str]]:
        return self.conn.execute("SELECT hash, data FROM candidate_sets")
