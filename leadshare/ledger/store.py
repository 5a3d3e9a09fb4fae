"""The ledger: the only place that speaks SQL. Opens, migrates and guards the SQLite file, runs
each use case in one BEGIN IMMEDIATE transaction, and answers the queries the services need."""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import sqlite3
from collections import Counter
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator, Sequence

import orjson

from leadshare.errors import LedgerError
from leadshare.ledger import events as ev
from leadshare.ledger.migrations import APPLICATION_ID, LATEST, STEPS
from leadshare.models import CLOSED_STATUSES, RuleState

BUSY_TIMEOUT_MS = int(os.environ.get("LEADSHARE_BUSY_TIMEOUT_MS", "10000"))

# What this process has written, so an interruption can be reported truthfully.
_progress = {"committing": False, "committed": False}


def interrupted_message() -> str:
    if _progress["committed"]:
        return "interrupted after the changes were saved; what came after them (such as notifications) was not finished"
    if _progress["committing"]:
        return "interrupted while saving; `leadshare log --limit 5` shows whether the change went in"
    return "interrupted; the transaction was rolled back and nothing was changed"
_CHUNK = 500  # keys per IN (...) query: well under SQLite's variable limit


def translate_error(exc: sqlite3.Error, path: str) -> LedgerError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return LedgerError(
            f"{path}: ledger busy (another leadshare held it for {BUSY_TIMEOUT_MS / 1000:g}s); nothing was changed",
            "try again in a moment, or raise LEADSHARE_BUSY_TIMEOUT_MS",
        )
    if "readonly" in text or "read-only" in text:
        return LedgerError(f"{path}: the ledger is read-only; nothing was changed", "check the file's permissions")
    if "disk is full" in text or "full" in text:
        return LedgerError(f"{path}: the disk is full; nothing was changed", "free some space and run it again")
    if "not a database" in text or "malformed" in text:
        return LedgerError(f"{path}: not a leadshare ledger (not an SQLite database)", "point --db at the ledger file")
    if "unable to open" in text:
        return LedgerError(f"{path}: cannot open the ledger", "check that the folder exists and is writable")
    return LedgerError(f"{path}: ledger error: {exc}", "run `leadshare verify`; --debug shows details")


# Open leads, written out so SQLite matches it to the partial index leads_open_urgency (a bound
# parameter would not match): an agent's open leads are read without visiting years of closed ones.
OPEN_LEADS = " AND ".join(f"status <> '{s}'" for s in CLOSED_STATUSES)
# Most urgent first: not contacted yet, by SLA due (none last), then the contacted ones. The
# expressions are leads_open_urgency's, so open leads come in index order and LIMIT stops early.
URGENCY = "first_contact_at IS NOT NULL, coalesce(sla_due, '~'), id"


PAGE_SIZE = 16384
CACHE_KIB = -65536  # the page cache: 64 MiB (negative: in KiB, as PRAGMA cache_size takes it)
# The page cache of a bulk load (see Ledger.bulk_load). Its index builds sort in runs of the
# cache's size, and sort smaller runs on helper threads: 4 MiB runs on two threads build a million
# leads' indexes in 2.2 s instead of 3.0 s in one 64 MiB run.
BULK_CACHE_KIB, INDEX_BUILD_THREADS = -4096, 2

# From this many new leads, into a ledger holding fewer, an import is a bulk load (see bulk_load).
BULK_LEADS = 50_000

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

# The bulk of the log; the other types are in the partial index events_rare_type, whose WHERE a
# query must repeat word for word to use it.
BULK_EVENT_TYPES = ("assigned", "queued", "duplicate")
RARE_EVENTS = " AND ".join(f"type <> '{t}'" for t in BULK_EVENT_TYPES)


# meta keys each ledger keeps for itself: its chain head (recounted on every write) and
# PostgreSQL's schema step.
_OWN_META = ("head", "schema")


class Ledger:
    DatabaseError = sqlite3.Error  # so callers can catch a damaged file without importing sqlite3
    URGENCY = URGENCY
    login: str | None = None  # the server login events are written under (a SQLite file has none)

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self.in_memory = path == ":memory:"  # kept when `path` is renamed for messages (empty())
        self._in_write = False
        self._first_write_step: Callable[[], None] | None = None

    # ---- opening ---------------------------------------------------------------------------

    @classmethod
    def empty(cls, path: str | os.PathLike) -> "Ledger":
        """A new, empty ledger in memory that speaks of itself as `path` (where none is yet)."""
        ledger = cls.open(":memory:")
        ledger.path = str(path)
        return ledger

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Ledger":
        path = str(path)
        try:
            fresh = path != ":memory:" and (not os.path.exists(path) or os.path.getsize(path) == 0)
            if fresh:
                _create_private(path)
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            ledger = cls(conn, path)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            ledger._check_identity(fresh)
            conn.execute("PRAGMA foreign_keys = ON")
            if fresh:
                # before the first table: bigger pages make a million-lead import ~5% faster and
                # cost a single-lead read nothing it would notice
                conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            _use_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA cache_size = {CACHE_KIB}")  # bulk imports update several indexes
            ledger._migrate()
            return ledger
        except sqlite3.Error as exc:
            raise translate_error(exc, path) from exc

    def identity(self):
        """Who the server says is connected (a `leadshare.logins.Identity`); a file has no logins."""
        return None

    def last_writer(self, table: str, key: int) -> str | None:
        """The login that last changed row `key` of `table` (leads, notes), where the server keeps it."""
        return None

    def log_protection_problems(self) -> list[str]:
        """What lets a login rewrite the log or sign as another, where the server has logins."""
        return []

    def side_check_path(self) -> str | None:
        """Where a second process may open this ledger read-only to check it beside this one."""
        return None if self.in_memory else self.path

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        """A ledger is there (an empty file is what a crash during creation leaves: none yet)."""
        try:
            return os.path.getsize(path) > 0
        except OSError:
            return False

    @classmethod
    def open_readonly(cls, path: str) -> "Ledger":
        """A second, read-only connection to an existing ledger (a check running beside the
        first): no migration, no write."""
        conn = sqlite3.connect(_readonly_uri(path), uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        return cls(conn, path)

    def _check_identity(self, fresh: bool) -> None:
        app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id == 0 and version == 0:
            tables = self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables and not fresh:
                raise LedgerError(
                    f"{self.path}: not a leadshare ledger (an SQLite database with other tables)",
                    "point --db at a leadshare ledger or a new file name",
                )
            return
        if app_id != APPLICATION_ID:
            raise LedgerError(
                f"{self.path}: not a leadshare ledger (application id {app_id:#x})",
                "point --db at a leadshare ledger or a new file name",
            )
        if version > LATEST:
            raise LedgerError(
                f"{self.path}: this ledger was written by a newer leadshare (schema {version}, this one knows {LATEST})",
                "upgrade leadshare; the ledger was left untouched",
            )

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= LATEST:
            return
        with self.write():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            # executescript() would COMMIT mid-way, so statements run one by one inside this transaction
            for number in range(version + 1, LATEST + 1):
                for statement in _statements(STEPS[number - 1]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")
            self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)", (secrets.token_hex(16),)
            )

    def close(self) -> None:
        self.conn.close()

    # ---- transactions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator["Ledger"]:
        """One use case: BEGIN IMMEDIATE takes the write lock up front (a deferred read-then-write
        transaction could fail with SQLITE_BUSY despite the timeout); all or nothing."""
        if self._in_write:
            yield self
            return
        try:
            self._begin()
        except self.DatabaseError as exc:
            raise self.translate(exc) from exc
        self._in_write = True
        try:
            if self._first_write_step is not None:
                step, self._first_write_step = self._first_write_step, None
                step()
            yield self
            self._record_head()
            _progress["committing"] = True
            self.conn.execute("COMMIT")
            _progress["committed"] = True
        except self.DatabaseError as exc:
            _progress["committing"] = False  # a failed COMMIT saved nothing
            self._rollback()
            raise self.translate(exc) from exc
        except BaseException:
            self._rollback()
            raise
        finally:
            self._in_write = False

    def before_first_write(self, step: Callable[[], None]) -> None:
        """Run `step` first thing in the next write transaction, inside it."""
        self._first_write_step = step

    def _begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def translate(self, exc: Exception) -> LedgerError:
        """A database error as the one line a user reads."""
        return translate_error(exc, self.path)

    def _rollback(self) -> None:
        with contextlib.suppress(self.DatabaseError):
            self.conn.execute("ROLLBACK")

    def _has_log(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone() is not None

    def _record_head(self) -> None:
        if not self._has_log():
            return
        seq, hash_ = ev.head(self.conn)
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('head', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (f"{seq}:{hash_.hex()}",),
        )

    # ---- small helpers ---------------------------------------------------------------------

    @functools.cached_property
    def db(self):
        """sqlite-utils over the same connection, for the big row streams (verify, export, the
        dedupe join). Made on first use: importing it is 40 ms, a sixth of what `mine` may take."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def query(self, sql: str, params: Sequence[Any] | dict = ()) -> list[dict]:
        """A small read as dicts (a lead, an agent's open leads, a report's groups)."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def meta(self, key: str) -> str | None:
        return self.scalar("SELECT value FROM meta WHERE key = ?", (key,))

    @property
    def salt(self) -> bytes:
        return bytes.fromhex(self.meta("salt") or "")

    def append(self, new_events: Iterable[ev.NewEvent], *, at: str, actor: str) -> list[int]:
        """The one way to write an event. Call inside the use case's transaction."""
        last, prev = ev.head(self.conn)
        rows = ev.chained(last, prev, new_events, at, actor, self.login)
        self.insert_rows("events", ev.COLUMNS if self.login is None else ev.SIGNED_COLUMNS, rows)
        return list(range(last + 1, last + 1 + len(rows)))

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
        """Many rows into a table (names from the code, never from input)."""
        names = ", ".join(f'"{c}"' for c in columns)
        self.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)

    # ---- rules versions and decisions ------------------------------------------------------

    def has_rules_version(self, content_hash: str) -> bool:
        return self.scalar("SELECT 1 FROM rules_versions WHERE hash = ?", (content_hash,)) is not None

    def add_rules_version(self, content_hash: str, path: str, text: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO rules_versions (hash, path, text, first_seen) VALUES (?, ?, ?, ?)",
            (content_hash, path, text, at),
        )

    def add_candidate_sets(self, sets: dict[bytes, str]) -> None:
        self.conn.executemany(
            "INSERT INTO candidate_sets (hash, data) VALUES (?, ?) ON CONFLICT DO NOTHING", list(sets.items())
        )

    def candidate_sets(self, hashes: Iterable[bytes]) -> dict[bytes, list]:
        out: dict[bytes, list] = {}
        for chunk in _chunks(list(set(hashes))):
            marks = ",".join("?" * len(chunk))
            for h, data in self.conn.execute(f"SELECT hash, data FROM candidate_sets WHERE hash IN ({marks})", chunk):
                out[h] = orjson.loads(data)
        return out

    def rotation(self) -> dict[str, RuleState]:
        return {
            rule: RuleState(last=last, roster=tuple(orjson.loads(roster)), current=orjson.loads(current))
            for rule, last, roster, current in self.conn.execute("SELECT rule, last, roster, current FROM rotation")
        }

    def save_rotation(self, states: dict[str, RuleState]) -> None:
        self.conn.executemany(
            "INSERT INTO rotation (rule, last, roster, current) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (rule) DO UPDATE SET last = excluded.last, roster = excluded.roster, current = excluded.current",
            [
                (rule, s.last, ev.canonical(list(s.roster)).decode(), ev.canonical(dict(s.current)).decode())
                for rule, s in states.items()
            ],
        )

    # ---- imports ---------------------------------------------------------------------------

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

    # ---- leads -----------------------------------------------------------------------------

    LEAD_COLUMNS = LEAD_COLUMNS

    def insert_leads(self, rows: list[tuple]) -> None:
        """Rows of LEAD_COLUMNS; the owned ones are counted into assignment_counts as well."""
        self.insert_rows("leads", self.LEAD_COLUMNS, rows)
        counts: dict[tuple, int] = {}
        for found, n in Counter(map(_COUNTED, rows)).items():  # counted as read, the few keys then made
            if found[1] is not None and found[0] is not None:
                key = assignment_key(*found)
                counts[key] = counts.get(key, 0) + n
        self.conn.executemany(
            "INSERT INTO assignment_counts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (assigned_at, agent, cands, rule, strategy, source, region, status) "
            "DO UPDATE SET n = assignment_counts.n + excluded.n",
            [(*key, n) for key, n in counts.items()],
        )

    @contextlib.contextmanager
    def bulk_load(self, new_leads: int) -> Iterator[None]:
        """Around a large import into a smaller ledger: the leads' indexes are dropped and built
        again at the end, one sorted build being much cheaper than a million insertions. Inside
        the use case's transaction, so a failure leaves the indexes as they were."""
        rebuild = new_leads >= BULK_LEADS and new_leads > self.lead_count()
        indexes = []
        if rebuild:
            indexes = self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads' AND sql IS NOT NULL"
            ).fetchall()
            for name, _ in indexes:
                self.conn.execute(f"DROP INDEX {name}")
            # Without them every write appends at the right edge of its tree: a small page
            # cache does, and leaves the memory to the import's dedupe keys.
            self.conn.execute(f"PRAGMA cache_size = {BULK_CACHE_KIB}")
        try:
            yield
            if indexes:
                self.conn.execute(f"PRAGMA threads = {INDEX_BUILD_THREADS}")
                for _, sql in indexes:
                    self.conn.execute(sql)
        finally:
            if indexes:
                self.conn.execute(f"PRAGMA cache_size = {CACHE_KIB}")
                self.conn.execute("PRAGMA threads = 0")

    def lead_count(self) -> int:
        return self.scalar("SELECT count(*) FROM leads") or 0

    def has_no_leads(self) -> bool:
        return self.scalar("SELECT NOT EXISTS (SELECT 1 FROM leads)") == 1

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

    _MATCH_COLUMNS = "l.id, l.external_id, l.phone_key, l.email_key, l.status, l.agent, l.created_at, l.closed_at"

    def matching_leads(self, external_ids: Iterable[str], phones: Iterable[str], emails: Iterable[str]) -> list[dict]:
        """Existing leads sharing an external id, phone key or email key, newest first.

        A big file's keys go into a temporary table joined on the indexes, one query per key kind;
        a small one's into IN (...) lists."""
        found: dict[int, dict] = {}
        for column, keys in (("external_id", external_ids), ("phone_key", phones), ("email_key", emails)):
            keys = list(set(keys))
            if len(keys) > 5 * _CHUNK:
                self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS match_keys (k TEXT PRIMARY KEY) WITHOUT ROWID")
                self.conn.execute("DELETE FROM match_keys")
                self.conn.executemany("INSERT OR IGNORE INTO match_keys (k) VALUES (?)", ((k,) for k in keys))
                # CROSS JOIN keeps this order: each key looked up in the index. (The temporary
                # table has no statistics; SQLite chose to scan a million-entry index per chunk.)
                rows = self.query(f"SELECT {self._MATCH_COLUMNS} FROM match_keys m CROSS JOIN leads l ON l.{column} = m.k")
                found.update((row["id"], row) for row in rows)
                continue
            for chunk in _chunks(keys):
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
        for chunk in _chunks(list(set(keys))):
            found.extend(self.query(f"{sql} WHERE o.key IN ({','.join('?' * len(chunk))})", chunk))
        return found

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

    # ---- leave -----------------------------------------------------------------------------

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

    # ---- tiers -----------------------------------------------------------------------------

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

    # ---- personal data ---------------------------------------------------------------------

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

    @staticmethod
    def copy_readonly(source: str, target: str) -> None:
        """Copy a ledger without writing a byte of it (simulations run on the copy)."""
        _create_private(target)
        src = sqlite3.connect(_readonly_uri(source), uri=True)
        dest = sqlite3.connect(target)
        try:
            src.backup(dest)
        except sqlite3.Error as exc:
            raise translate_error(exc, source) from exc
        finally:
            src.close()
            dest.close()

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

    def backup_to(self, target: str) -> None:
        _create_private(target)
        dest = sqlite3.connect(target)
        try:
            with dest:
                self.conn.backup(dest)
        finally:
            dest.close()

    # ---- notifications -------------------------------------------------------------------

    def enqueue_notifications(self, rows: list[dict]) -> None:
        """rows: {seq, created_at, kind, agent, lead, payload (dict)}; delivered later by `notify`."""
        self.conn.executemany(
            "INSERT INTO outbox (seq, created_at, kind, agent, lead, payload) VALUES (?, ?, ?, ?, ?, ?)",
            [(r["seq"], r["created_at"], r["kind"], r["agent"], r["lead"], ev.canonical(r["payload"]).decode()) for r in rows],
        )

    # ---- reading the log -------------------------------------------------------------------

    def timeline(self, lead_id: int) -> list[dict]:
        return self.query("SELECT seq, at, type, actor, lead, agent, data, hash, login FROM events WHERE lead = ? ORDER BY seq", (lead_id,))

    def last_notes(self, lead_ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in _chunks(lead_ids):
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
        for chunk in _chunks(sorted({lead for _, lead in events})):
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
        return self.conn.execute("SELECT seq, at, actor, type, lead, agent, data, hash, login FROM events ORDER BY seq")

    def event_count(self) -> int:
        return self.scalar("SELECT count(*) FROM events") or 0

    # ---- reports ---------------------------------------------------------------------------

    # ---- copying a whole ledger (see copy.py) ------------------------------------------------

    _SNAPSHOT = "BEGIN"  # deferred: the first read fixes what the transaction sees

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that all see the ledger at one moment, whatever others write meanwhile."""
        self.conn.execute(self._SNAPSHOT)
        try:
            yield
        finally:
            with contextlib.suppress(self.DatabaseError):
                self.conn.execute("COMMIT")

    def head(self) -> tuple[int, bytes]:
        """The last event's seq and hash (0 and the genesis hash when there is none)."""
        return ev.head(self.conn)

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

    # ---- verification ----------------------------------------------------------------------

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
        return self.conn.execute(f"SELECT {', '.join(columns)} FROM leads ORDER BY id")

    def assignment_counts(self) -> dict[tuple, int]:
        """The assignment_counts projection as {(assigned_at, agent, cands, rule, strategy, source,
        region, status): leads}, NULLs stored as '' (x'' for cands)."""
        return {tuple(r[:-1]): r[-1] for r in self.conn.execute(
            "SELECT assigned_at, agent, cands, rule, strategy, source, region, status, n FROM assignment_counts")}

    def all_leads(self) -> Iterator[dict]:
        return self.stream("SELECT * FROM leads ORDER BY id")

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict]:
        """A big read as dicts, row by row (export, the dedupe join)."""
        return self.db.query(sql, params)

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
        return self.conn.execute(
            "SELECT n.id, n.lead, n.seq, n.text, e.data, l.salt FROM notes n "
            "LEFT JOIN events e ON e.seq = n.seq AND e.type = 'note' LEFT JOIN leads l ON l.id = n.lead ORDER BY n.id"
        )

    def all_candidate_sets(self) -> Iterator[tuple[bytes, str]]:
        return self.conn.execute("SELECT hash, data FROM candidate_sets")


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch a new ledger to WAL. The switch takes the file's exclusive lock without calling the
    busy handler, so another process holding any lock on the new file at that moment (a second cron
    job, a reader) made it fail at once as "busy": it waits for the lock like every other step."""
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def _seconds_between(start: str, end: str) -> float:
    from datetime import datetime

    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


def _create_private(path: str) -> None:
    """Create the ledger file 0600 before SQLite touches it; SQLite gives -wal and -shm the same mode."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise LedgerError(f"{path}: folder {folder} does not exist", "create the folder or choose another --db")
    old = os.umask(0o077)
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
    except OSError as exc:
        raise LedgerError(f"{path}: cannot create the ledger ({exc.strerror})", "check the folder's permissions") from exc
    finally:
        os.umask(old)


def _readonly_uri(path: str) -> str:
    from urllib.parse import quote

    return f"file:{quote(os.path.abspath(path))}?mode=ro"


def _statements(script: str) -> list[str]:
    """Split a migration into statements; trigger bodies keep their inner semicolons."""
    out, buf = [], []
    for line in script.splitlines():
        if line.strip().startswith("--") or not line.strip():
            continue
        buf.append(line)
        text = "\n".join(buf)
        if sqlite3.complete_statement(text):
            out.append(text)
            buf = []
    return out


def _chunks(items: list, size: int = _CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]

