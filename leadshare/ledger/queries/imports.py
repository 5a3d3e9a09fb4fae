"""An import's writes and its dedupe look-ups: the batches, new lead rows (counted into
assignment_counts as they go in), and the existing leads a file's keys match."""

from __future__ import annotations

from collections import Counter
from operator import itemgetter
from typing import Iterable

from leadshare.ledger.queries import CHUNK, chunks

# A new lead row as insert_leads takes it.
LEAD_COLUMNS = (
    "id", "external_id", "name", "phone", "email", "phone_key", "email_key", "pd", "source", "region",
    "attrs", "salt", "batch", "created_at", "status", "agent", "rule", "cands", "decided_seq", "assigned_at",
    "sla_start", "sla_due", "queued_reason", "closed_at", "strategy",
)


def assignment_key(assigned_at, agent, cands, rule, strategy, source, region, status) -> tuple:
    """An owned lead's row in assignment_counts, NULLs stored as '' (x'' for cands)."""
    return assigned_at, agent, cands or b"", rule or "", strategy or "", source or "", region or "", status


# A lead row's assignment_key() arguments.
_COUNTED = itemgetter(*(LEAD_COLUMNS.index(c) for c in (
    "assigned_at", "agent", "cands", "rule", "strategy", "source", "region", "status")))


class ImportWrites:
    def import_of(self, file_hash: str) -> dict | None:
        rows = self.query("SELECT * FROM imports WHERE file_hash = ? ORDER BY batch LIMIT 1", (file_hash,))
        return rows[0] if rows else None

    def next_batch(self) -> int:
        return (self.scalar("SELECT max(batch) FROM imports") or 0) + 1

    def next_lead_id(self) -> int:
        return (self.scalar("SELECT max(id) FROM leads") or 0) + 1

    def add_import(self, row: dict) -> None:
        cols = ",".join(row)
        self.conn.execute(f"INSERT INTO imports ({cols}) VALUES ({','.join('?' * len(row))})", list(row.values()))

    def set_rejects_file(self, batch: int, path: str | None) -> None:
        self.conn.execute("UPDATE imports SET rejects_file = ? WHERE batch = ?", (path, batch))

    def rules_of_batch(self, batch: int | None) -> str | None:
        """The rules version an import batch was decided under."""
        return self.scalar("SELECT rules FROM imports WHERE batch = ?", (batch,))

    def imports(self, limit: int | None = 10) -> list[dict]:
        """The newest batches first; limit None: all of them."""
        if limit is None:
            return self.query("SELECT * FROM imports ORDER BY batch DESC")
        return self.query("SELECT * FROM imports ORDER BY batch DESC LIMIT ?", (limit,))

    LEAD_COLUMNS = LEAD_COLUMNS

    def insert_leads(self, rows: list[tuple], counted: Counter | None = None) -> None:
        """Rows of LEAD_COLUMNS; the owned ones are counted into assignment_counts as well, or
        into `counted` (an import writes those once, at its end: per chunk, a million-row file
        made 30,000 upserts of the same thousand rows)."""
        self.insert_rows("leads", self.LEAD_COLUMNS, rows)
        found = Counter(map(_COUNTED, rows))  # counted as read, the few keys then made
        if counted is None:
            self.add_to_assignment_counts(found)
        else:
            counted.update(found)

    def add_to_assignment_counts(self, found: Counter) -> None:
        """Leads counted by their _COUNTED columns, into the assignment_counts projection."""
        counts: dict[tuple, int] = {}
        for columns, n in found.items():
            if columns[1] is not None and columns[0] is not None:
                key = assignment_key(*columns)
                counts[key] = counts.get(key, 0) + n
        self.conn.executemany(
            "INSERT INTO assignment_counts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (assigned_at, agent, cands, rule, strategy, source, region, status) "
            "DO UPDATE SET n = assignment_counts.n + excluded.n",
            [(*key, n) for key, n in counts.items()],
        )

    def lead_count(self) -> int:
        return self.scalar("SELECT count(*) FROM leads") or 0

    def has_no_leads(self) -> bool:
        return self.scalar("SELECT NOT EXISTS (SELECT 1 FROM leads)") == 1

    _MATCH_COLUMNS = "l.id, l.external_id, l.phone_key, l.email_key, l.status, l.agent, l.created_at, l.closed_at"

    def matching_leads(self, external_ids: Iterable[str], phones: Iterable[str], emails: Iterable[str]) -> list[dict]:
        """Existing leads sharing an external id, phone key or email key, newest first.

        A big file's keys go into a temporary table joined on the indexes, one query per key kind;
        a small one's into IN (...) lists."""
        found: dict[int, dict] = {}
        for column, keys in (("external_id", external_ids), ("phone_key", phones), ("email_key", emails)):
            keys = list(set(keys))
            if len(keys) > 5 * CHUNK:
                self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS match_keys (k TEXT PRIMARY KEY) WITHOUT ROWID")
                self.conn.execute("DELETE FROM match_keys")
                self.conn.executemany("INSERT OR IGNORE INTO match_keys (k) VALUES (?)", ((k,) for k in keys))
                # CROSS JOIN keeps this order: each key looked up in the index. (The temporary
                # table has no statistics; SQLite chose to scan a million-entry index per chunk.)
                rows = self.query(f"SELECT {self._MATCH_COLUMNS} FROM match_keys m CROSS JOIN leads l ON l.{column} = m.k")
                found.update((row["id"], row) for row in rows)
                continue
            for chunk in chunks(keys):
                marks = ",".join("?" * len(chunk))
                rows = self.query(f"SELECT {self._MATCH_COLUMNS} FROM leads l WHERE l.{column} IN ({marks})", chunk)
                found.update((row["id"], row) for row in rows)
        return sorted(found.values(), key=lambda r: r["id"], reverse=True)

    def insert_other_contacts(self, rows: list[tuple[int, str, str]]) -> None:
        """(lead, kind 'p' or 'e', phone or email key) of the values a list cell held beside the
        lead's own phone and email."""
        self.insert_rows("other_contacts", ("lead", "kind", "key"), rows)

    def has_other_contacts(self) -> bool:
        return self.scalar("SELECT EXISTS (SELECT 1 FROM other_contacts)") == 1

    def leads_by_other_contacts(self, keys: Iterable[str] | None = None) -> list[dict]:
        """Leads found by their other phones and emails (all of them, or those with one of `keys`):
        rows as matching_leads gives them, with the `other_kind` and `other_key` that found them."""
        sql = (f"SELECT {self._MATCH_COLUMNS}, o.kind AS other_kind, o.key AS other_key "
               "FROM other_contacts o JOIN leads l ON l.id = o.lead")
        if keys is None:
            return self.query(sql)
        found = []
        for chunk in chunks(list(set(keys))):
            found.extend(self.query(f"{sql} WHERE o.key IN ({','.join('?' * len(chunk))})", chunk))
        return found
