"""The leads out of the ledger for `export`: the rows, oldest first, and their csv, json and
jsonl forms. A csv cell that a spreadsheet would run as a formula is made safe; json keeps every
value as it is."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from leadshare import clock
from leadshare.models import Team

if TYPE_CHECKING:  # the export takes a ledger but never pulls SQL in itself
    from leadshare.ledger.store import Ledger

EXPORT_COLUMNS = (
    "id", "external_id", "name", "phone", "email", "source", "region", "status", "agent", "created_at",
    "assigned_at", "first_contact_at", "last_note",
    "agent_name", "rule", "sla_due", "sla_reassigns", "closed_at", "status_at", "last_note_at", "queued_reason",
    "batch", "forgotten_at", "fields",
)
EXPORT_FORMATS = ("csv", "json", "jsonl")
# A spreadsheet runs a cell starting with these as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def export_rows(
    ledger: "Ledger",
    team: Team | None = None,
    statuses: Sequence[str] = (),
    agents: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[dict]:
    """The leads to export, oldest first, as EXPORT_COLUMNS dicts (fields is the lead's own
    attributes as a dict). `since`/`until` filter on when the lead came in (created_at)."""
    from leadshare.ledger import reporting  # imported here: this module stays free of the database

    rows = reporting.export_leads(
        ledger, statuses, agents,
        clock.to_utc_iso(since) if since else None, clock.to_utc_iso(until) if until else None,
    )
    names = {a.id: a.name for a in team.agents} if team else {}
    for r in rows:
        out = {k: r.get(k) for k in EXPORT_COLUMNS if k not in ("agent_name", "fields")}
        out["agent_name"] = names.get(r["agent"]) if r["agent"] else None
        try:
            out["fields"] = json.loads(r["attrs"]) if r.get("attrs") else {}
        except ValueError:
            out["fields"] = {}
        yield {k: out[k] for k in EXPORT_COLUMNS}


def csv_cell(value: Any) -> str:
    """One spreadsheet-safe csv cell: text that a spreadsheet would run as a formula (starting
    with =, +, -, @, tab or CR) gets a leading ', so `+60123456789` shows as the phone itself."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _json(row: Mapping[str, Any]) -> str:
    # U+2028/2029 are valid in JSON but some line readers split on them: escaped, the value is the same
    return json.dumps(row, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def write_export(rows: Iterable[Mapping[str, Any]], fmt: str, out: IO[str]) -> int:
    """Write the rows to a text stream as csv (spreadsheet-safe), a json array or jsonl (values
    never altered). Returns how many rows were written."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([csv_cell(row.get(k)) for k in EXPORT_COLUMNS])
            count += 1
    elif fmt == "json":
        for row in rows:
            out.write(("[\n" if count == 0 else ",\n") + _json(row))
            count += 1
        out.write("\n]\n" if count else "[]\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(_json(row) + "\n")
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return count

