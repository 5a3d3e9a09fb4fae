"""What reading a file gives: lead records, rejects, and a file read whole (`ParsedFile`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# Records per chunk handed out by ParsedStream.chunks(): a chunk of LeadRecords is what a
# streaming import holds in memory at once.
RECORD_CHUNK = 20_000
# Row warnings kept with their row and line (the rest are only counted).
ROW_WARNINGS_KEPT = 10


@dataclass(slots=True)
class LeadRecord:
    row: int  # data row number, 1-based (the header is row 0)
    line: int  # physical line where the row starts (the header is on line 1)
    external_id: str | None
    name: str
    phone: str | None  # E.164 when phone_usable, else as written (trimmed), or None
    phone_usable: bool
    email: str | None
    email_usable: bool
    source: str | None  # the row's source column, else the default source, else None
    region: str | None
    attrs: dict[str, str]  # every other non-empty column, keyed by attr_name(header)
    warnings: list[str]
    # A cell holding several values (a list cell): the other usable ones, for deduplication (the
    # rest are also kept in attrs as other_phones / other_emails).
    more_phones: tuple[str, ...] = ()
    more_emails: tuple[str, ...] = ()


@dataclass(slots=True)
class Reject:
    row: int
    line: int
    values: list[str]  # the row's cells as read
    reason: str


# Work on a chunk of records that needs nothing but the records: one result per record, which
# is what the chunk is then handed out as.
Prepare = Callable[[list[LeadRecord]], list]


@dataclass
class FileFacts:
    """What a file's first bytes and header tell, whether it is read whole or as a stream."""

    name: str
    content_hash: str  # sha256 hex of the raw bytes
    encoding: str
    delimiter: str
    columns: list[str]  # the header as read
    mapping: dict[str, str]  # field -> header column used


@dataclass
class ParsedFile(FileFacts):
    """A file read whole: its records, its rejects, and what its rows told."""

    records: list[LeadRecord] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # file-level
    blank_lines: int = 0  # fully empty lines skipped
    read_as: dict[str, str] = field(default_factory=dict)  # column -> how it was read (see ColumnPlan)

    _done: int = field(default=0, repr=False, compare=False)  # records handed out by chunks()

    @property
    def rows(self) -> int:
        """Data rows read: records + rejects + skipped blank lines."""
        return len(self.records) + len(self.rejects) + self.blank_lines

    # The reading interface it shares with ParsedStream (what an import consumes).

    @property
    def estimated_rows(self) -> int:
        return len(self.records)

    def chunks(self, size: int = RECORD_CHUNK, background: bool = False, prepare: Prepare | None = None) -> Iterator:
        """The records in file order, `size` at a time; with `prepare`, as prepare(records).
        Already read: `background` changes nothing."""
        records = self.records
        for start in range(0, len(records), size):
            part = records[start:start + size]
            self._done = start + len(part)
            yield part if prepare is None else prepare(part)

    def position(self) -> tuple[int, int]:
        """(done, total) for a progress bar: records handed out of all records."""
        return self._done, len(self.records)

    @property
    def row_warning_count(self) -> int:
        return sum(len(r.warnings) for r in self.records)

    @property
    def row_warnings(self) -> list[tuple[int, int, str]]:
        """The first ROW_WARNINGS_KEPT row warnings as (row, line, warning), in file order."""
        out: list[tuple[int, int, str]] = []
        for r in self.records:
            for w in r.warnings:
                if len(out) == ROW_WARNINGS_KEPT:
                    return out
                out.append((r.row, r.line, w))
        return out


def blank_warning(blank: int) -> str:
    """Blank lines and rows of empty cells alike: neither holds a lead, neither is a reject."""
    return f"skipped {blank} blank line{'s' if blank != 1 else ''}"
