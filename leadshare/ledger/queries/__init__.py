"""The SQL behind the Ledger's methods, one concern per module.

Each module holds one mixin class that `leadshare.ledger.store.Ledger` is composed of; they speak
SQL both backends understand, through the Ledger's own `conn`, `query`, `scalar`, `insert_rows`
and `write`. The few SQLite-only parts are methods `PostgresLedger` overrides.
"""

from __future__ import annotations

from typing import Iterator

CHUNK = 500  # keys per IN (...) query: well under SQLite's variable limit


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
