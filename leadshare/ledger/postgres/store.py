"""The ledger in a PostgreSQL database, for a team that writes from many machines.

It answers with the ledger's shared SQL (leadshare.ledger.store.Ledger) through a thin adapter,
and differs where PostgreSQL does: bulk writes go through COPY, every write transaction first
takes one transaction-level advisory lock (so writers from any machine take turns appending to
the chain and deciding owners, as BEGIN IMMEDIATE makes them on SQLite), and the schema lives in
`leadshare` with its own numbered migrations.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import queue
import secrets
import threading
from typing import Any, Iterable, Iterator, Sequence

import psycopg

from leadshare.errors import LeadshareError, LedgerError
from leadshare.ledger.postgres import roles
from leadshare.ledger.postgres.connect import connect, masked, query_error
from leadshare.ledger.postgres.migrations import LATEST, SCHEMA, STEPS
from leadshare.ledger.store import Ledger
from leadshare.logins import Identity, acting_agent

# The advisory lock every write transaction holds: one key for the whole ledger ('LSHR').
WRITE_LOCK = 0x4C534852


@functools.lru_cache(maxsize=1024)
def _dialect(sql: str) -> str:
    """The shared SQL in PostgreSQL's words: %s placeholders and an empty bytea literal."""
    return sql.replace("?", "%s").replace("x''", "'\\x'::bytea")


class _Connection:
    """psycopg behind the calls the shared ledger code makes of sqlite3: execute() with `?`
    placeholders returning a cursor, and executemany().

    Writes that return nothing (COPY of a list of rows, and executemany) run on a thread of their
    own, in the order given, so the server stores one chunk of an import while the caller decides
    the next (on a 1M-row import the caller otherwise waited half its time on the server).
    Anything else on the connection first waits for them and raises what they raised: statements
    still take effect in order, and a failed write fails the transaction it belongs to."""

    def __init__(self, raw: psycopg.Connection):
        self._raw = raw
        self._writes: queue.Queue | None = None  # (sql, rows, by COPY?), the thread started on first use
        self._failure: BaseException | None = None

    @property
    def raw(self) -> psycopg.Connection:
        self.settle()
        return self._raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        cursor = self.raw.cursor()
        cursor.execute(_dialect(sql), params or None)
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._queue_write(_dialect(sql), rows, copy=False)

    def copy_rows(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if isinstance(rows, list):
            self._queue_write(sql, rows, copy=True)
            return
        with self.raw.cursor().copy(sql) as out:  # a stream (db copy reads whole tables): sent as read, never held
            for row in rows:
                out.write_row(row)

    def _queue_write(self, sql: str, rows: Iterable[Sequence[Any]], copy: bool) -> None:
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return
        if self._writes is None:
            # two chunks at most wait their turn: a server slower than the file holds the caller back
            self._writes = queue.Queue(maxsize=2)
            threading.Thread(target=self._write_in_turn, name="leadshare: writes", daemon=True).start()
        self._writes.put((sql, rows, copy))

    def _write_in_turn(self) -> None:
        writes = self._writes
        while True:
            job = writes.get()
            try:
                if job is None:
                    return
                if self._failure is None:  # after a failure the transaction is lost: skip the rest
                    sql, rows, copy = job
                    cursor = self._raw.cursor()
                    if copy:
                        with cursor.copy(sql) as out:
                            for row in rows:
                                out.write_row(row)
                    else:
                        cursor.executemany(sql, rows)
            except BaseException as exc:  # raised again in the caller's thread by settle()
                self._failure = exc
            finally:
                writes.task_done()

    def settle(self) -> None:
        """Wait for the queued writes; raise the first failure among them."""
        if self._writes is not None:
            self._writes.join()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def close(self) -> None:
        if self._writes is not None:
            self._writes.join()  # never close the connection under a write; uncommitted, it is undone anyway
            self._writes.put(None)
            self._writes = None
        self._raw.close()


class PostgresLedger(Ledger):
    DatabaseError = psycopg.Error

    def __init__(self, raw: psycopg.Connection, url: str):
        super().__init__(_Connection(raw), masked(url))  # `path` is what messages print
        self.url = url
        self._cursor_names = itertools.count()

    @classmethod
    def open(cls, url: str, create: bool = True) -> "PostgresLedger | None":
        """The ledger in the database at `url`, migrated to the latest schema; created on first
        use, or (create=False) None while the database holds none."""
        ledger = cls(connect(url), url)
        try:
            ledger._identity = roles.identity(ledger)
            ledger.login = ledger._identity.login
            acting_agent(ledger._identity, None)  # a login granted nothing reads nothing: say so first
            version = ledger._schema_version()
            if not create and version == 0:
                ledger.close()
                return None
            if version < LATEST:
                ledger._migrate()
        except LeadshareError:  # the ledger's own refusals, worded already
            ledger.close()
            raise
        except psycopg.Error as exc:
            ledger.close()
            raise ledger.translate(exc) from None
        return ledger

    def identity(self) -> Identity:
        """Who the server says is connected: the owner (system), or a login granted an agent."""
        return self._identity

    def last_writer(self, table: str, key: int) -> str | None:
        return self.scalar("SELECT login FROM row_writes WHERE tbl = ? AND key = ?", (table, key))

    def log_protection_problems(self) -> list[str]:
        return roles.log_protection_problems(self)

    def translate(self, exc: Exception) -> LedgerError:
        return query_error(exc, self.url)

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.conn.close()

    # ---- schema ----------------------------------------------------------------------------

    def _schema_version(self) -> int:
        # one statement, one snapshot: another machine may be creating the ledger meanwhile
        has_meta, tables = self.conn.execute(
            "SELECT count(*) FILTER (WHERE tablename = 'meta'), count(*) FROM pg_tables WHERE schemaname = ?", (SCHEMA,)
        ).fetchone()
        if not has_meta:
            if tables:
                raise LedgerError(f"{self.path}: schema {SCHEMA} holds other tables, not a leadshare ledger",
                                  "point --db at a leadshare database or an empty one")
            return 0
        version = int(self.meta("schema") or 0)
        if version > LATEST:
            raise LedgerError(
                f"{self.path}: this ledger was written by a newer leadshare (schema {version}, this one knows {LATEST})",
                "upgrade leadshare; the ledger was left untouched",
            )
        return version

    def _migrate(self) -> None:
        with self.write():
            version = self._schema_version()  # another machine may have won
            if version == 0:
                self.conn.raw.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            for number in range(version + 1, LATEST + 1):
                self.conn.raw.execute(STEPS[number - 1])
                self._set_meta("schema", str(number))
            roles.give_privileges_again(self)  # granted logins, on the tables the steps added
            self.conn.execute("INSERT INTO meta (key, value) VALUES ('salt', ?) ON CONFLICT DO NOTHING",
                              (secrets.token_hex(16),))

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                          (key, value))

    # ---- transactions ----------------------------------------------------------------------

    def _begin(self) -> None:
        self.conn.raw.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")  # one round trip

    _SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    # leads_open_urgency's order: NULLs (no SLA) sort last in ascending order here
    URGENCY = "first_contact_at IS NOT NULL, sla_due, id"
    ATTRIBUTE_KEYS_FROM = "leads l, jsonb_object_keys(l.attrs::jsonb) AS k(key)"

    def _has_log(self) -> bool:
        return self.scalar("SELECT to_regclass('leadshare.events')") is not None

    # ---- bulk writes and reads -------------------------------------------------------------

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        self.conn.copy_rows(f"COPY {table} ({names}) FROM STDIN", rows)

    def bulk_load(self, new_leads: int) -> contextlib.AbstractContextManager:
        """COPY keeps the indexes up as it goes; nothing to drop and rebuild around it."""
        return contextlib.nullcontext()

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict]:
        """Row by row from the server (the connection serves nothing else until it is read out)."""
        cursor = self.conn.raw.cursor()
        names = None
        for row in cursor.stream(_dialect(sql), params or None):
            if names is None:
                names = [column.name for column in cursor.description]
            yield dict(zip(names, row))

    def each_row(self, sql: str, params: Sequence[Any] = ()) -> Iterable[tuple]:
        """Inside a transaction, from a cursor on the server, 10,000 rows a fetch: a client cursor
        would hold the whole result first (3M events: 1.7 GB for `verify`), and unlike a stream
        it leaves the connection free for other queries between fetches."""
        if self.conn.raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            return super().each_row(sql, params)  # a server cursor lives only in a transaction
        cursor = self.conn.raw.cursor(name=f"leadshare_rows_{next(self._cursor_names)}")
        cursor.itersize = 10_000
        cursor.execute(_dialect(sql), params or None)
        return cursor

    def table_rows(self, table: str) -> tuple[list[str], Iterator[tuple]]:
        names = [column.name for column in self.conn.execute(f"SELECT * FROM {table} LIMIT 0").description]
        return names, self.conn.raw.cursor().stream(f"SELECT * FROM {table} ORDER BY 1")

    def after_copy(self) -> None:
        """The id sequences move past the ids that came in with the rows."""
        for table in ("notes", "outbox", "leave"):
            self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{SCHEMA}.{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
            )

    def backup_to(self, target: str) -> None:
        """A SQLite file holding the whole ledger, from one snapshot."""
        from leadshare.ledger.copy import copy_ledger

        copy = Ledger.open(target)
        try:
            copy_ledger(self, copy)
        finally:
            copy.close()

    def matching_leads(self, external_ids: Iterable[str], phones: Iterable[str], emails: Iterable[str]) -> list[dict]:
        """Existing leads sharing an external id, phone key or email key, newest first: each kind
        of key sent as one array."""
        found: dict[int, dict] = {}
        for column, keys in (("external_id", external_ids), ("phone_key", phones), ("email_key", emails)):
            keys = list(set(keys))
            if keys:
                rows = self.query(f"SELECT {self._MATCH_COLUMNS} FROM leads l WHERE l.{column} = ANY(?)", (keys,))
                found.update((row["id"], row) for row in rows)
        return sorted(found.values(), key=lambda r: r["id"], reverse=True)

    # ---- what SQLite's file needs and a server does not ------------------------------------

    def side_check_path(self) -> None:
        """The side checks run on this connection: a forked child must not share its socket."""
        return None

    APPEND_ONLY_GUARDS = ("events_append_only", "events_no_truncate")

    def missing_append_only_guards(self) -> list[str]:
        present = {name for (name,) in self.conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('leadshare.events')")}
        return [name for name in self.APPEND_ONLY_GUARDS if name not in present]

    def integrity_problems(self) -> list[str]:
        return []  # the server checks its own pages (data checksums, when the cluster has them)

    @staticmethod
    def is_text_error(exc: BaseException) -> bool:
        return False  # the server stores only valid UTF-8

    def text_is_lenient(self) -> bool:
        return False

    def lenient_text(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def _scrub_freed_space(self) -> None:
        """Old row versions stay in the table's pages until VACUUM reclaims them, and in the WAL
        until it is recycled: `forget` says so (see erasure_note)."""

    def checkpoint(self) -> bool:
        return True

    def erasure_note(self) -> str:
        return ("note: copies of this database made before (backups, replicas, archived or old WAL) still hold "
                "the erased details until their own retention purges them; the server reclaims the old row "
                "versions at its next VACUUM")
