"""Connecting to PostgreSQL the libpq way, and saying what went wrong without the password.

The URL goes to psycopg as it is, so PGPASSWORD, ~/.pgpass, service=, sslmode= and the other
libpq settings work as they do for psql. Timeouts are added only where the user set none, so a
server that is gone fails a command within seconds instead of hanging it.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from leadshare.errors import LedgerError
from leadshare.ledger.postgres.migrations import SCHEMA

# Seconds: connecting, then noticing a silent peer (idle 5 s, 3 probes 2 s apart, and unacknowledged
# writes given up after 15 s), well within the 20 s in which a command must give up.
DEFAULT_TIMEOUTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
    "tcp_user_timeout": "15000",
}
_SECRET_PARAMS = ("password", "sslpassword")

INSTALL_HINT = "pip install 'leadshare[postgres]'"

# Timestamps read back in UTC (see StoredTimestamp), tables found in the ledger's schema.
SESSION_OPTIONS = f"-c TimeZone=UTC -c search_path={SCHEMA}"


def masked(url: str) -> str:
    """The URL with any password (in the user part or a parameter) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = urlencode([(k, "***" if k in _SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def where(url: str) -> str:
    """'host H, database D' as libpq would resolve them from the URL and the environment."""
    info = _conninfo(url)
    host = info.get("host") or os.environ.get("PGHOST") or "localhost"
    port = info.get("port") or os.environ.get("PGPORT")
    database = info.get("dbname") or os.environ.get("PGDATABASE") or info.get("user") or os.environ.get("PGUSER") or "(default)"
    if info.get("service") and not info.get("host"):
        host = f"service {info['service']}"
    return f"host {host}{':' + port if port and not host.startswith('/') else ''}, database {database}"


def _conninfo(url: str) -> dict[str, Any]:
    try:
        from psycopg.conninfo import conninfo_to_dict

        return conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - an unparsable URL (or no psycopg) is reported by connect(); here only names matter
        return {}


def connect(url: str):
    """An autocommit connection (use cases open their own transactions) that reads timestamps
    back in the stored form and sums as integers."""
    import psycopg

    info = _conninfo(url)
    settings = {k: v for k, v in DEFAULT_TIMEOUTS.items() if k not in info and not _env_sets(k)}
    # set in the connection's start-up, not by statements after it: one round trip less each
    settings["options"] = " ".join(filter(None, (info.get("options") or os.environ.get("PGOPTIONS"), SESSION_OPTIONS)))
    try:
        conn = psycopg.connect(url, autocommit=True, **settings)
    except psycopg.Error as exc:
        raise connect_error(exc, url) from None
    _register_loaders(conn)
    return conn


def _env_sets(setting: str) -> bool:
    return setting == "connect_timeout" and bool(os.environ.get("PGCONNECT_TIMEOUT"))


def connect_error(exc: Exception, url: str) -> LedgerError:
    text = str(exc).lower()
    place = where(url)
    if "password" in text and ("authentication" in text or "no password" in text):
        return LedgerError(f"{place}: the server refused the login (wrong or missing password)",
                           "check the user in the URL, PGPASSWORD or ~/.pgpass")
    if "does not exist" in text and "database" in text:
        return LedgerError(f"{place}: the database does not exist", "create it (see README: Sharing the ledger) or fix the URL")
    if "does not exist" in text and "role" in text:
        return LedgerError(f"{place}: the server knows no such login", "check the user in the URL or PGUSER")
    if "timeout" in text or "timed out" in text:
        return LedgerError(f"{place}: the server did not answer in time; nothing was changed",
                           "check the host, the network and that PostgreSQL is running")
    if "invalid" in text and ("dsn" in text or "connection option" in text or "uri" in text):
        return LedgerError(f"{place}: the ledger URL is not valid", "write it as postgresql://USER@HOST:PORT/DATABASE")
    return LedgerError(f"{place}: cannot connect to the server; nothing was changed",
                       "check the host and port, and that PostgreSQL is running and accepts connections")


def query_error(exc: Exception, url: str) -> LedgerError:
    """An error met after connecting: a lost connection, a refused change, or the server's own."""
    import psycopg

    place = where(url)
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) and not isinstance(exc, psycopg.errors.QueryCanceled):
        return LedgerError(f"{place}: the connection to the server was lost; the transaction was rolled back, nothing was changed",
                           "run the command again once the server is reachable")
    primary = getattr(getattr(exc, "diag", None), "message_primary", None) or type(exc).__name__
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return LedgerError(f"{place}: not allowed: {primary}; nothing was changed", "ask the database's owner")
    # the primary message only: a detail line may quote a row, and a row may hold a phone number
    return LedgerError(f"{place}: ledger error: {primary}; nothing was changed", "run `leadshare verify`; --debug shows details")


@functools.cache
def _loaders():
    from psycopg.adapt import Loader

    class StoredTimestamp(Loader):
        """timestamptz as the stored text form ('2026-11-25T07:00:00+00:00'), exactly what
        clock.to_utc_iso wrote and the chain hashed (the session's time zone is UTC)."""

        def load(self, data) -> str:
            text = bytes(data).decode()
            if len(text) == 22 and text.endswith("+00"):  # the usual case, without fractions
                return f"{text[:10]}T{text[11:19]}+00:00"
            from datetime import datetime

            return datetime.fromisoformat(text).isoformat()

    class WholeNumber(Loader):
        """numeric (what sum() of integers gives) as an int when whole, as SQLite gives it."""

        def load(self, data) -> int | float:
            text = bytes(data)
            return float(text) if re.search(rb"[.eEN]", text) else int(text)

    return StoredTimestamp, WholeNumber


def _register_loaders(conn) -> None:
    stored_timestamp, whole_number = _loaders()
    conn.adapters.register_loader("timestamptz", stored_timestamp)
    conn.adapters.register_loader("numeric", whole_number)
