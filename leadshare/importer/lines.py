"""Delimiter and lines: the header's delimiter, and the CSV records of the text with their
physical line numbers, recovering from bad quoting so that no line is swallowed."""

from __future__ import annotations

import csv
import io
import re
from array import array
from itertools import chain

from leadshare.errors import InputError
from leadshare.importer.decoding import HEAD_CHARS, Text

# Lines read again after unbalanced quotes (each re-reads the lines its quote swallowed) before
# the file is refused as not really CSV: bounds the work on pathological files.
_MAX_REREAD_LINES = 5_000_000
_DELIMITERS = (",", ";", "\t")  # tie order: comma first
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def detect_delimiter(text: str) -> str:
    """Count , ; and tab outside quotes in the header record; the most frequent wins, tie → comma.

    A quote opens a quoted field only at the start of a field, as in the csv module (`Size 5"` is
    plain text)."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    in_quotes = False
    seen_text = False  # leading blank lines are skipped, like the reader skips them
    prev = "\n"
    for ch in text[:HEAD_CHARS]:
        if in_quotes:
            if ch == '"':
                in_quotes = False
                prev = ","  # so that a doubled "" reopens on the next character
                continue
        elif ch == '"' and prev in _FIELD_START:
            in_quotes = True
            seen_text = True
        elif ch == "\n" or ch == "\r":
            if seen_text:
                break
        elif ch in counts:
            counts[ch] += 1
            seen_text = True
        elif not ch.isspace():
            seen_text = True
        prev = ch
    best = max(_DELIMITERS, key=lambda d: counts[d])  # max() keeps the first of equals: comma
    return best if counts[best] else ","


_FIELD_START = frozenset(",;\t\r\n")


def _lenient_cells(raw: str, delimiter: str) -> list[str]:
    """Best-effort cells of malformed text (for a reject's values or a lenient read)."""
    rows = list(csv.reader(io.StringIO(raw, newline=""), delimiter=delimiter, strict=False))
    if not rows:
        return []
    cells = rows[0]
    for more in rows[1:]:
        cells = cells + more
    return cells


def _unquoted_cells(line: str, delimiter: str) -> list[str]:
    """A line's cells split on the delimiter with quotes taken literally (a reject's values)."""
    line = line.rstrip("\r\n")
    rows = list(csv.reader([line], delimiter=delimiter, quoting=csv.QUOTE_NONE))
    return rows[0] if rows else []


_NEWLINE = re.compile(r"\r\n|\r|\n")  # the line ends that io splits on with newline=""


class _Lines:
    """Physical lines by number (1-based); the text is decoded whole and indexed only when a
    row needs recovery from bad quoting."""

    def __init__(self, source: Text):
        self.source = source
        self.text: str | None = None
        self.starts = array("q", [0])

    def get(self, first: int, last: int) -> str:
        if self.text is None:
            self.text = self.source.whole()
            self.starts.extend(m.end() for m in _NEWLINE.finditer(self.text))
        starts = self.starts
        end = starts[last] if last < len(starts) else len(self.text)
        return self.text[starts[first - 1]:end]


def csv_records(source: Text, delimiter: str, name: str):
    """Yield (start_line, cells, note, is_reject) for each CSV record, with physical line numbers.

    ``note`` is None for a row read normally; a warning for a row read leniently (text after a
    closing quote on one line, like ``"Ali" ,012``); the reject reason when ``is_reject`` (a quote
    that opened and never closed, or ran over several lines into garbage). After such a reject the
    lines following the quote's line are read again as rows of their own: nothing is swallowed.
    """
    base = src = source.lines()  # splits on \r\n, \n and \r alike, keeping them
    lines = _Lines(source)
    offset = 0  # physical lines before the current reader's first line
    reread = 0
    fed_until = 0  # the last line of the text being read again; `base` is past it
    while True:
        reader = csv.reader(src, delimiter=delimiter, strict=True)
        last = 0
        try:
            for cells in reader:
                yield offset + last + 1, cells, None, False
                last = reader.line_num
            return
        except csv.Error as exc:
            # The reader stopped inside the record that starts on `start`; it has read up to `end`.
            start = offset + last + 1
            end = offset + reader.line_num
            message = str(exc)
            at_eof = "end of data" in message
            if end <= start and not at_eof:
                cells = _lenient_cells(lines.get(start, start), delimiter)
                yield start, cells, f"line {start}: text after a closing quote, read as is", False
                offset = start
                continue  # src is positioned after that line
            reread += end - start
            if reread > _MAX_REREAD_LINES:
                raise InputError(
                    f"{name}:{start}: too many unbalanced quotes; the file cannot be read as CSV",
                    'check the quoting: a field that starts with " must end with "',
                ) from None
            cells = _unquoted_cells(lines.get(start, start), delimiter)
            if at_eof:
                why = f"unterminated quote: the quoted field opened on line {start} never closes"
            else:
                why = (
                    f"unbalanced quote: the quoted field opened on line {start} runs on to line "
                    f"{end} and breaks there"
                )
            yield start, cells, why + "; the lines after it were read as rows of their own", True
            offset = start
            # Read start+1.. again: up to `end`, or further when an earlier re-read is still
            # pending; then `base` goes on where it stands (no chains of chains).
            fed_until = max(end, fed_until)
            if fed_until > start:
                src = chain(io.StringIO(lines.get(start + 1, fed_until), newline=""), base)
            else:
                src = base
