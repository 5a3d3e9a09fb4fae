"""The rules a ledger holds: every rules file it was run under, the last one loaded in force.

A `rules_loaded` event carries the whole file since the rules began to travel in the ledger (an
agent on a shared ledger reads them from it); older events carry only the version's hash, whose
text the rules_versions table kept.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from leadshare.ledger.store import RARE_EVENTS


class LoadedRules(NamedTuple):
    hash: str
    path: str | None
    text: str
    seq: int
    at: str


def latest_rules(ledger) -> LoadedRules | None:
    """The rules the ledger last loaded, or None when it never loaded any."""
    rows = ledger.query(
        f"SELECT seq, at, data FROM events WHERE type = 'rules_loaded' AND {RARE_EVENTS} ORDER BY seq DESC LIMIT 1"
    )
    if not rows:
        return None
    row = rows[0]
    data = orjson.loads(row["data"])
    text = data.get("text")
    if text is None:
        text = ledger.scalar("SELECT text FROM rules_versions WHERE hash = ?", (data["rules"],)) or ""
    return LoadedRules(data["rules"], data.get("path"), text, row["seq"], row["at"])
