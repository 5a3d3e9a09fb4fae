"""Use cases that bring leads in. Each one is a single ledger transaction: read what it needs,
decide with the pure engine, append the events and update the projections together, or change
nothing at all.

    session.py    the Session every use case runs in; the rules version, the team's situation
    digests.py    what the chain keeps instead of personal data and stored rows
    deciding.py   a run of leads decided in memory: rotation, loads, candidate sets
    notifying.py  outbox payloads for `notify`
    importing.py  a file's leads, deduplicated, decided and written in one transaction
    queue.py      queued leads assigned once someone can take them
    by_hand.py    one lead added by hand

The names the rest of the code uses are importable from here.
"""

from __future__ import annotations

import importlib

# name -> the module it lives in, imported on first use: `show` needs a Session, not the
# importer's machinery (a tenth of an agent's command to load)
_HOME = {
    "add_lead": "by_hand",
    "_Decider": "deciding", "_NewLead": "deciding", "lead_fields": "deciding",
    "SALT_BYTES": "digests", "note_digest": "digests", "personal_digest": "digests", "row_digest": "digests",
    "salt_of": "digests", "short_hash": "digests",
    "ImportResult": "importing", "_BatchWriter": "importing", "import_file": "importing",
    "_enqueue": "notifying", "notification": "notifying",
    "assign_waiting": "queue", "previous_leads": "queue",
    "Session": "session", "find_lead": "session", "ledger_leave": "session",
    "load_rules_with_first_change": "session", "record_rules": "session", "situation": "session",
}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value
