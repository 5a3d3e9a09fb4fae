"""The leads out of the ledger for `export`: the rows, oldest first, and their csv, json and
jsonl forms. A csv cell that a spreadsheet would run as a formula is made safe (outputs.csv_cell)
unless asked for plain cells; json keeps every value as it is. The file itself is written by
`leadshare.outputs`."""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from leadshare import clock
from leadshare.errors import LeadshareError
from leadshare.models import Team
from leadshare.outputs import csv_cell

if TYPE_CHECKING:
    from leadshare.ledger.store import Ledger


def _queries():
    from leadshare.ledger import reporting  # imported here: this module stays free of the database

    return reporting


EXPORT_COLUMNS = (
    "id", "external_id", "name", "phone", "email", "source", "region", "status", "agent", "created_at",
    "assigned_at", "first_contact_at", "last_note",
    "agent_name", "rule", "sla_due", "sla_reassigns", "closed_at", "status_at", "last_note_at", "queued_reason",
    "batch", "forgotten_at", "fields",
)
EXPORT_FORMATS = ("csv", "json", "jsonl")
# The csv has the lead's attributes as columns of their own instead of one `fields` column.
CSV_COLUMNS = tuple(c for c in EXPORT_COLUMNS if c != "fields")


def _export_query(statuses: Sequence[str], agents: Sequence[str], since: datetime | None,
                  until: datetime | None) -> tuple:
    return (statuses, agents, clock.to_utc_iso(since) if since else None, clock.to_utc_iso(until) if until else None)


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
    rows = _queries().export_leads(ledger, *_export_query(statuses, agents, since, until))
    names = {a.id: a.name for a in team.agents} if team else {}
    for r in rows:
        out = {k: r.get(k) for k in EXPORT_COLUMNS if k not in ("agent_name", "fields")}
        out["agent_name"] = names.get(r["agent"]) if r["agent"] else None
        try:
            out["fields"] = json.loads(r["attrs"]) if r.get("attrs") else {}
        except ValueError:
            out["fields"] = {}
        yield {k: out[k] for k in EXPORT_COLUMNS}


def export_attribute_keys(
    ledger: "Ledger",
    statuses: Sequence[str] = (),
    agents: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[str]:
    """The attribute keys of the leads export_rows() gives for the same filters, sorted."""
    return _queries().export_attribute_keys(ledger, *_export_query(statuses, agents, since, until))


def export_format(fmt: str | None, out: str | None) -> str:
    """--format when given, else the --out file's extension (.csv, .json, .jsonl), else csv."""
    if fmt is None:
        suffix = os.path.splitext(out or "")[1].lower().lstrip(".")
        return suffix if suffix in EXPORT_FORMATS else "csv"
    fmt = fmt.strip().lower()
    if fmt not in EXPORT_FORMATS:
        raise LeadshareError(f"--format {fmt}: not a format", "use one of: " + ", ".join(EXPORT_FORMATS))
    return fmt


def _json(row: Mapping[str, Any]) -> str:
    # U+2028/2029 are valid in JSON but some line readers split on them: escaped, the value is the same
    return json.dumps(row, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _write_csv(rows: Iterable[Mapping[str, Any]], out: IO[str], attribute_keys: Sequence[str], plain: bool) -> int:
    """One column per export column, then one per attribute key (`field_KEY` where a key is
    already a column's name); spreadsheet-safe unless `plain`."""
    taken = set(CSV_COLUMNS)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*CSV_COLUMNS, *(f"field_{k}" if k in taken else k for k in attribute_keys)])
    count = 0
    for row in rows:
        fields = row.get("fields") or {}
        writer.writerow([csv_cell(row.get(k), plain) for k in CSV_COLUMNS]
                        + [csv_cell(fields.get(k), plain) for k in attribute_keys])
        count += 1
    return count


def write_export(rows: Iterable[Mapping[str, Any]], fmt: str, out: IO[str], attribute_keys: Sequence[str] = (),
                 plain: bool = False) -> int:
    """Write the rows to a text stream as csv (spreadsheet-safe unless `plain`), a json array or
    jsonl (values never altered). Returns how many rows were written."""
    if fmt == "csv":
        return _write_csv(rows, out, attribute_keys, plain)
    count = 0
    if fmt == "json":
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
