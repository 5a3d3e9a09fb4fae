"""The SQLite ledger: opens, migrates and guards the file, runs each use case in one BEGIN
IMMEDIATE transaction, and tunes the file for a bulk load. `Ledger` is composed of the mixins in
`leadshare.ledger.queries`, which answer the use cases' reads and writes in SQL both backends
speak; `PostgresLedger` subclasses it."""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import sqlite3
from typing import Any, Callable, Iterable, Iterator, Sequence

from leadshare.errors import LedgerError
from leadshare.ledger import events as ev
from leadshare.ledger.migrations import APPLICATION_ID, LATEST, STEPS
from leadshare.ledger.queries.decisions import DecisionRecords
from leadshare.ledger.queries.imports import ImportWrites
from leadshare.ledger.queries.leads import LeadQueries
from leadshare.ledger.queries.log import LogReads
from leadshare.ledger.queries.maintenance import Maintenance
from leadshare.ledger.queries.team import TeamRecords
from leadshare.ledger.queries.verifying import VerifyReads

# The shared SQL fragments and the counted key, which reporting, audit and the tests import from
# the ledger's one front door rather than from the module that defines them.
from leadshare.ledger.queries.imports import assignment_key  # noqa: F401
from leadshare.ledger.queries.leads import OPEN_LEADS, URGENCY  # noqa: F401
from leadshare.ledger.queries.log import RARE_EVENTS  # noqa: F401

BUSY_TIMEOUT_MS = int(os.environ.get("LEADSHARE_BUSY_TIMEOUT_MS", "10000"))

# Where this process's last write transaction got to, so an interruption is reported truthfully:
# None (no write yet), "open", "committing", "committed" or "rolled back".
_progress = {"last_write": None}


def interrupted_message() -> str:
    if _progress["last_write"] == "committed":
        return "interrupted after the changes were saved; what came after them (such as notifications) was not finished"
    if _progress["last_write"] == "committing":
        return "interrupted while saving; `leadshare log --limit 5` shows whether the change went in"
    return "interrupted; the transaction was rolled back and nothing was changed"


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


PAGE_SIZE = 16384
CACHE_KIB = -65536  # the page cache: 64 MiB (negative: in KiB, as PRAGMA cache_size takes it)
# The page cache of a bulk load (see Ledger.bulk_load). Its index builds sort in runs of the
# cache's size, and sort smaller runs on helper threads: 4 MiB runs on two threads build a million
# leads' indexes in 2.2 s instead of 3.0 s in one 64 MiB run.
BULK_CACHE_KIB, INDEX_BUILD_THREADS = -4096, 2

# From this many new leads, into a ledger holding fewer, an import is a bulk load (see bulk_load).
BULK_LEADS = 50_000


class Ledger(ImportWrites, DecisionRecords, LeadQueries, TeamRecords, LogReads, VerifyReads, Maintenance):
    DatabaseError = sqlite3.Error  # so callers can catch a damaged file without importing sqlite3
    login: str | None = None  # the server login events are written under (a SQLite file has none)

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self.in_memory = path == ":memory:"  # kept when `path` is renamed for messages (empty())
        self._in_write = False
        self._first_write_step: Callable[[], None] | None = None
        # (seq, hash) of the last event this write transaction appended: under the write lock
        # nobody else appends, so a big import's chunks need not read the head back each time
        self._appended_head: tuple[int, bytes] | None = None

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
        _progress["last_write"] = "open"
        try:
            if self._first_write_step is not None:
                step, self._first_write_step = self._first_write_step, None
                step()
            yield self
            self._record_head()  # the last statement before COMMIT: queued writes are done by now
            _progress["last_write"] = "committing"
            self.conn.execute("COMMIT")
            _progress["last_write"] = "committed"
        except self.DatabaseError as exc:
            _progress["last_write"] = "rolled back"  # a failed COMMIT saved nothing
            self._rollback()
            raise self.translate(exc) from exc
        except BaseException:
            if _progress["last_write"] == "open":  # else interrupted during COMMIT: it may have gone in
                _progress["last_write"] = "rolled back"
            self._rollback()
            raise
        finally:
            self._in_write = False
            self._appended_head = None

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

    def each_row(self, sql: str, params: Sequence[Any] = ()) -> Iterable[tuple]:
        """A big read as tuples, row by row (the whole log for `verify`): SQLite's cursor steps
        through the table as it is read."""
        return self.conn.execute(sql, params)

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
        last, prev = self._appended_head or ev.head(self.conn)
        rows = ev.chained(last, prev, new_events, at, actor, self.login)
        self.insert_rows("events", ev.COLUMNS if self.login is None else ev.SIGNED_COLUMNS, rows)
        if rows and self._in_write:
            self._appended_head = (rows[-1][0], rows[-1][7])
        return list(range(last + 1, last + 1 + len(rows)))

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
        """Many rows into a table (names from the code, never from input)."""
        names = ", ".join(f'"{c}"' for c in columns)
        self.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict]:
        """A big read as dicts, row by row (export, the dedupe join)."""
        return self.db.query(sql, params)

    # ---- the file --------------------------------------------------------------------------

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

    def backup_to(self, target: str) -> None:
        _create_private(target)
        dest = sqlite3.connect(target)
        try:
            with dest:
                self.conn.backup(dest)
        finally:
            dest.close()


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

