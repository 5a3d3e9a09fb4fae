"""A whole ledger copied into an empty one, between any two backends, row for row.

Events are copied as stored, hash and all, so the target's chain head is the source's and
`verify` holds on it; the personal-data salt travels too, so the digests still match. Both
ledgers are at their backend's latest schema, whose tables and columns are the same.
"""

from __future__ import annotations

from leadshare.errors import LedgerError

# Parents before the tables that refer to them (notes name their lead).
TABLES = (
    "rules_versions", "candidate_sets", "imports", "leads", "notes", "rotation", "outbox", "agent_tiers",
    "leave", "assignment_counts", "other_contacts", "events",
)


def copy_ledger(source, target) -> dict:
    """Copy `source` into `target` in one transaction of the target; refused (and the target left
    as it was) unless the target holds no events and no leads."""
    if source.path == target.path:
        raise LedgerError(f"{target.path}: the source and the target are the same ledger", "name another target")
    if target.event_count() or not target.has_no_leads():
        raise LedgerError(f"{target.path}: the target ledger is not empty; nothing was copied",
                          "copy into a new file or an empty database")
    with source.snapshot(), target.write():
        target.replace_meta(source.portable_meta())
        for table in TABLES:
            columns, rows = source.table_rows(table)
            target.insert_rows(table, columns, rows)
        target.after_copy()
    events, head = target.head()
    return {"events": events, "leads": target.lead_count(), "head": head.hex()}
