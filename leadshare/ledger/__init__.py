"""The ledger: one interface, two backends. `open_ledger(db)` picks SQLite for a path and
PostgreSQL for a `postgresql://` or `postgres://` URL. Neither backend is imported before it is
needed (psycopg is an extra, and sqlite3 alone costs a command's start-up nothing it would notice).
"""

from __future__ import annotations

import os

URL_SCHEMES = ("postgresql://", "postgres://")


def is_url(db: str | os.PathLike) -> bool:
    return str(db).startswith(URL_SCHEMES)


def display_name(db: str | os.PathLike) -> str:
    """The ledger as it may be printed: a URL's password masked, a path as it is."""
    if not is_url(db):
        return str(db)
    from leadshare.ledger.postgres.connect import masked

    return masked(str(db))


def open_ledger(db: str | os.PathLike):
    """The ledger at `db`, created and migrated to the latest schema on first use."""
    if is_url(db):
        return _postgres(db).open(str(db))
    from leadshare.ledger.store import Ledger

    return Ledger.open(db)


def open_existing(db: str | os.PathLike):
    """The ledger at `db` (migrated to the latest schema), or None where there is none yet: a
    command that only reads creates none."""
    if is_url(db):
        return _postgres(db).open(str(db), create=False)
    from leadshare.ledger.store import Ledger

    return Ledger.open(db) if Ledger.exists(db) else None


def open_readonly(db: str | os.PathLike):
    """The ledger at `db` to read without writing to the SQLite file (a database is only brought
    to the latest schema), or None where there is none yet."""
    if is_url(db):
        return open_existing(db)
    from leadshare.ledger.store import Ledger

    return Ledger.open_readonly(str(db)) if Ledger.exists(db) else None


def _postgres(db: str | os.PathLike):
    """The PostgreSQL ledger class, or why it cannot be had."""
    try:
        from leadshare.ledger.postgres.store import PostgresLedger
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("psycopg"):
            raise
        from leadshare.errors import LedgerError
        from leadshare.ledger.postgres.connect import INSTALL_HINT

        raise LedgerError(f"{display_name(db)}: PostgreSQL support is not installed", INSTALL_HINT) from None
    return PostgresLedger


def ledger_exists(db: str | os.PathLike) -> bool:
    """Whether there is a ledger at `db` (a URL names a server: only connecting would tell, so
    it counts as one)."""
    from leadshare.ledger.store import Ledger

    return is_url(db) or Ledger.exists(db)


def copy_to_file(db: str | os.PathLike, path: str) -> None:
    """A private SQLite copy of the ledger at `db`, made without writing to it."""
    from leadshare.ledger.store import Ledger

    if not is_url(db):
        Ledger.copy_readonly(str(db), path)
        return
    source = open_ledger(db)
    try:
        source.backup_to(path)
    finally:
        source.close()
