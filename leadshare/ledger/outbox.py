"""The notification outbox: the SQL that claims, records and counts notifications.

Rows are written by the use cases (`Ledger.enqueue_notifications`) in the same transaction as the
event that caused them. Delivery (`leadshare.notify`) works in three steps so that two runs at once
never send the same row and a crash never loses one:

1. `claim_due` (inside `Ledger.write()`, i.e. BEGIN IMMEDIATE): pick the due rows and push their
   `next_try_at` to the end of a lease, so no other run picks them while they are being sent;
2. send them, outside any transaction;
3. `record_delivered` / `record_failed` (inside `Ledger.write()` again).

A run that dies between 1 and 3 leaves its rows claimed until the lease ends; then they are due
again (sent at least once, never lost).
"""

from __future__ import annotations

from typing import Any

import orjson

from leadshare.ledger.store import Ledger

_DUE = "delivered_at IS NULL AND (next_try_at IS NULL OR next_try_at <= ?)"


def claim_due(ledger: Ledger, now: str, lease_until: str, limit: int) -> list[dict[str, Any]]:
    """Claim up to `limit` due rows, oldest first, until `lease_until`. Call inside `ledger.write()`.

    Each row comes back with its payload decoded (`payload` is None when the stored text is not
    JSON) and `claim` set to the lease it now holds.
    """
    rows = ledger.query(
        f"SELECT id, seq, created_at, kind, agent, lead, payload, attempts, next_try_at, last_error "
        f"FROM outbox WHERE {_DUE} ORDER BY id LIMIT ?",
        (now, int(limit)),
    )
    if not rows:
        return []
    ledger.conn.executemany(
        f"UPDATE outbox SET next_try_at = ? WHERE id = ? AND {_DUE}",
        [(lease_until, r["id"], now) for r in rows],
    )
    for r in rows:
        try:
            r["payload"] = orjson.loads(r["payload"])
        except orjson.JSONDecodeError:
            r["payload"] = None
        r["claim"] = lease_until
    return rows


def record_delivered(ledger: Ledger, outbox_id: int, at: str) -> bool:
    """Mark a row delivered. False when it already was (then nothing changes). Inside `ledger.write()`."""
    cur = ledger.conn.execute(
        "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL, next_try_at = NULL "
        "WHERE id = ? AND delivered_at IS NULL",
        (at, outbox_id),
    )
    return cur.rowcount == 1


def record_failed(ledger: Ledger, outbox_id: int, claim: str, error: str, next_try_at: str) -> bool:
    """Count a failed attempt and set when to try again. Only while the row is still under this run's
    claim (`claim` is the lease `claim_due` set): False when another run has taken it over or
    delivered it. Inside `ledger.write()`."""
    cur = ledger.conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_try_at = ? "
        "WHERE id = ? AND delivered_at IS NULL AND next_try_at = ?",
        (error, next_try_at, outbox_id, claim),
    )
    return cur.rowcount == 1


def pending_count(ledger: Ledger) -> int:
    """Notifications not delivered yet, whether due now or waiting for a retry."""
    return ledger.scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") or 0


def next_try(ledger: Ledger) -> str | None:
    """The earliest retry time among the undelivered rows that have one."""
    return ledger.scalar("SELECT min(next_try_at) FROM outbox WHERE delivered_at IS NULL AND next_try_at IS NOT NULL")


def erase_personal(ledger: Ledger, lead_id: int) -> int:
    """Remove a customer's personal details from every notification about the lead (for `forget`).

    The customer block is blanked and the text replaced; the rest (ids, agent, kind) stays so the
    outbox still shows what was sent. Returns how many rows changed. Inside `ledger.write()`.
    """
    changed = []
    for r in ledger.query("SELECT id, payload FROM outbox WHERE lead = ?", (lead_id,)):
        try:
            payload = orjson.loads(r["payload"])
        except orjson.JSONDecodeError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        payload["customer"] = {"name": None, "phone": None, "email": None}
        payload["external_id"] = None
        payload["text"] = f"lead {lead_id}: the customer's personal details were erased"
        changed.append((orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode(), r["id"]))
    ledger.conn.executemany("UPDATE outbox SET payload = ? WHERE id = ?", changed)
    return len(changed)


def release(ledger: Ledger, rows: list[dict[str, Any]]) -> None:
    """Give back claimed rows that were not tried (an interrupted run), as they were before the claim.
    Inside `ledger.write()`."""
    ledger.conn.executemany(
        "UPDATE outbox SET next_try_at = ? WHERE id = ? AND delivered_at IS NULL AND next_try_at = ?",
        [(r["next_try_at"], r["id"], r["claim"]) for r in rows],
    )
