"""Rejects out: the rejected rows as a CSV a spreadsheet opens safely (a reason column, the row
as read, then the header and each row's cells). The file itself is written by
`leadshare.outputs`, like every file leadshare writes for the user."""

from __future__ import annotations

import csv
import io
from typing import IO

from leadshare.importer.records import ParsedFile
from leadshare.outputs import csv_cell


def _free_name(columns: list[str], candidates: tuple[str, ...]) -> str:
    taken = {c.strip().casefold() for c in columns}
    return next((c for c in candidates if c not in taken), candidates[-1])


def write_rejects(out: IO[str], parsed: ParsedFile) -> None:
    """The rejects file: `reason` first (so a row longer than the header cannot push it out of
    its column), `raw` (the row as one line of the file's csv), then the original header and
    each rejected row's cells. Same delimiter as the input, so the spreadsheet that made the file
    opens it the same way; every cell spreadsheet-safe, as an export's are."""
    reason = _free_name(parsed.columns, ("reason", "reject_reason", "leadshare_reason", "leadshare_reject_reason"))
    raw = _free_name([*parsed.columns, reason], ("raw", "raw_row", "leadshare_raw_row"))
    writer = csv.writer(out, delimiter=parsed.delimiter, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in (reason, raw, *parsed.columns)])
    line = io.StringIO()
    as_line = csv.writer(line, delimiter=parsed.delimiter, lineterminator="\r\n")  # quotes a cell holding a line break
    for rej in parsed.rejects:
        line.seek(0)
        line.truncate()
        as_line.writerow(rej.values)
        raw_text = line.getvalue()[:-2]
        writer.writerow([csv_cell(v) for v in (f"line {rej.line}: {rej.reason}", raw_text, *rej.values)])


def rejects_csv_text(parsed: ParsedFile) -> str:
    """The rejects file's content as text."""
    out = io.StringIO()
    write_rejects(out, parsed)
    return out.getvalue()
