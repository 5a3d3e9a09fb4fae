"""Rejects out: the rejected rows as a CSV a spreadsheet opens (a reason column, then the header
and each row as read), written atomically or returned as text."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from leadshare.importer.records import ParsedFile


def _reason_column(columns: list[str]) -> str:
    taken = {c.strip().casefold() for c in columns}
    for candidate in ("reason", "reject_reason", "leadshare_reason"):
        if candidate not in taken:
            return candidate
    return "leadshare_reject_reason"


def _write_rejects(out, parsed: ParsedFile) -> None:
    """`reason` first (so a row longer than the header cannot push it out of its column), then
    the original header, then each rejected row's cells exactly as read. Same delimiter as the
    input, so the spreadsheet that made the file opens it the same way."""
    writer = csv.writer(out, delimiter=parsed.delimiter, lineterminator="\r\n")
    writer.writerow([_reason_column(parsed.columns), *parsed.columns])
    for rej in parsed.rejects:
        writer.writerow([f"line {rej.line}: {rej.reason}", *rej.values])


def rejects_csv_text(parsed: ParsedFile) -> str:
    """The rejects file's content as text (for `import -`: it goes to stderr)."""
    out = io.StringIO()
    _write_rejects(out, parsed)
    return out.getvalue()


def write_rejects(path: str | os.PathLike[str], parsed: ParsedFile) -> None:
    """Write the rejects CSV (UTF-8 with BOM, for spreadsheets) atomically: a temp file beside the
    target, then os.replace. An OSError (folder missing, read-only) reaches the caller, which
    knows whether anything was imported; no temp file is left behind."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as out:
            _write_rejects(out, parsed)
            out.flush()
            os.fsync(out.fileno())
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise