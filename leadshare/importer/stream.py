"""A file being read (`ParsedStream`): the header's facts up front, the records a chunk at a time,
and what the rows told (rejects, blank lines, row warnings) gathered as they are read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from leadshare.importer import background as _background
from leadshare.importer.records import RECORD_CHUNK, ROW_WARNINGS_KEPT, FileFacts, LeadRecord, Prepare, Reject, blank_warning


@dataclass
class ParsedStream(FileFacts):
    """A file being read: what the header tells is known up front, the records come by
    `chunks()` (once), and what the rows tell (rejects, blank lines, row warnings) is gathered
    as they are read. The raw bytes stay as given; no record outlives its chunk here."""

    warnings: list[str]  # file-level; the blank-line count is added once the rows are read
    bytes_total: int
    estimated_rows: int  # from the line count: a hint for bulk writes, not a count
    read_as: dict[str, str] = field(default_factory=dict)  # column -> how it was read (see ColumnPlan)
    rejects: list[Reject] = field(default_factory=list)
    blank_lines: int = 0
    records_read: int = 0
    row_warning_count: int = 0
    row_warnings: list[tuple[int, int, str]] = field(default_factory=list)  # the first few (row, line, warning)
    done: bool = False  # every row has been read
    row_warnings_kept: int = ROW_WARNINGS_KEPT
    _rows: Callable[..., Iterator[list[LeadRecord]]] | None = field(default=None, repr=False)
    _bytes_read: Callable[[], int] | None = field(default=None, repr=False)

    # What the rows tell, gathered in a reading child and handed back at the end.
    _GATHERED = ("rejects", "blank_lines", "records_read", "row_warning_count", "row_warnings", "warnings", "done")

    @property
    def rows(self) -> int:
        """Data rows read so far: records + rejects + skipped blank lines."""
        return self.records_read + len(self.rejects) + self.blank_lines

    def chunks(self, size: int = RECORD_CHUNK, background: bool = False, prepare: Prepare | None = None) -> Iterator:
        """The records in file order, up to `size` at a time; a stream is read once.

        `background`: read and normalise the rows in forked child processes (one, or two from
        TWO_READERS_ROWS) while the caller works on the records already read (on Linux with more
        than one CPU; otherwise, and for small files, the rows are read here). The records,
        rejects and warnings are the same, and so are the chunks, but for their sizes.
        `prepare`: the chunks come as prepare(records), made where the rows are read (so in the
        children too: work that needs no more than the record moves there, and only its results
        cross to this process)."""
        rows, self._rows = self._rows, None
        if rows is None:
            raise RuntimeError(f"{self.name}: the rows were already read")
        if background:
            reading = [rows]  # the children take the rows from here; this process then lets go of the file
            del rows
            from_children = _background.read_in_children(self, reading, size, prepare)
            if from_children is not None:
                return from_children
            rows = reading.pop()
        if prepare is None:
            return rows(size)
        return (prepare(part) for part in rows(size))

    def position(self) -> tuple[int, int]:
        """(bytes read, total bytes) for a progress bar: the row count is known only at the end."""
        if self.done:
            return self.bytes_total, self.bytes_total
        return min(self._bytes_read(), self.bytes_total) if self._bytes_read else 0, self.bytes_total

    def reading_from(self, bytes_read: Callable[[], int]) -> None:
        """Progress now comes from elsewhere (the children reading the file)."""
        self._bytes_read = bytes_read

    def gather(self, ends: list[tuple]) -> None:
        """What the rows told the readers, put together as one reader would have found it."""
        parts = [dict(zip(self._GATHERED, end)) for end in ends]
        if len(parts) == 1:
            self.__dict__.update(parts[0])
            return
        self.rejects = sorted((r for part in parts for r in part["rejects"]), key=lambda r: r.row)
        for name in ("blank_lines", "records_read", "row_warning_count"):
            setattr(self, name, sum(part[name] for part in parts))
        # by row only: a row's own warnings, all from one reader, stay in the order they were found
        self.row_warnings = sorted((w for part in parts for w in part["row_warnings"]), key=lambda w: w[0])[
            : self.row_warnings_kept]
        self.warnings = parts[0]["warnings"] + ([blank_warning(self.blank_lines)] if self.blank_lines else [])
        self.done = True

    def gathered(self) -> tuple:
        """What the rows told this reader, for `gather` in the process that asked for them."""
        return tuple(getattr(self, name) for name in self._GATHERED)
