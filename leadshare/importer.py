"""CSV bytes → validated lead records + rejects.

Pure: bytes in, records out. No database, no terminal. What it promises is the "CSV input"
section of the command-line contract:

- UTF-8 with or without BOM; UTF-16/UTF-32 with a BOM (Facebook's lead export), or without one;
  cp1252 when the bytes are not UTF-8, unless they read as a double-byte encoding (a Chinese
  Windows' GBK/Big5); charset-normalizer as the last resort. Binary files are refused whole.
  Rows are read through an incremental decoder: the file is never held as one big string.
  A big file's rows can be read and normalised in a forked child process while the caller
  works on the records already read (`ParsedStream.chunks(background=True)`): same records.
- Comma, semicolon or tab, detected from the header line (counted outside quotes; a tie is comma).
- Header names matched ignoring case, spaces, ``_``, ``-``, punctuation and camelCase boundaries,
  with a Salesforce ``__c`` suffix ignored, against the synonyms of CRM and ad-platform exports.
  ``--map FIELD=COLUMN`` overrides. Every other column is kept as an attribute.
- Each data row becomes a `LeadRecord` or a `Reject` with a reason; fully empty lines are skipped
  and counted. Nothing is dropped silently: an unbalanced quote rejects the line where it opened
  and the lines after it are read again as rows; ragged rows and oversized fields are rejects.

Rows are not deduplicated here: the ledger does that against everything it holds.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import marshal
import os
import pickle
import queue
import re
import sys
import threading
import unicodedata
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any

from leadshare.contacts import normalize_email, normalize_name, normalize_phone
from leadshare.bulk import can_fork, fork, paused_gc, portable
from leadshare.errors import InputError

__all__ = [
    "LeadRecord",
    "Reject",
    "ParsedFile",
    "ParsedStream",
    "FIELDS",
    "MAX_FIELD_CHARS",
    "read_leads",
    "open_leads",
    "parse_map_options",
    "header_key",
    "attr_name",
]

# A single cell larger than this is not a lead field; the row is rejected, not the file.
MAX_FIELD_CHARS = 1_000_000
# Lines read again after unbalanced quotes (each re-reads the lines its quote swallowed) before
# the file is refused as not really CSV: bounds the work on pathological files.
_MAX_REREAD_LINES = 5_000_000
_DELIMITERS = (",", ";", "\t")  # tie order: comma first
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_value = itemgetter(1)
_strip = str.strip
# From this many rows a ParsedStream read in the background uses a child process (below it the
# fork costs more than it saves), sending the records this many at a time so the first arrive soon.
BACKGROUND_ROWS = 20_000
BACKGROUND_PIECE = 4_096
BACKGROUND_AHEAD = 8  # pieces read ahead of the records being worked on (~6 MB)
# From this many rows two children share the reading (see ParsedStream._start_children), below
# the process that decides and writes in priority: with two CPUs, it is the one that must never wait.
TWO_READERS_ROWS = 100_000
SHARED_READER_NICE = 10
# What a piece from the reading process holds: records (plain values, so marshal: a quarter of
# pickle's cost to write), or anything else (the end, an error) pickled.
_RECORDS, _OTHER = b"m", b"p"

# Records per chunk handed out by ParsedStream.chunks(): a chunk of LeadRecords is what a
# streaming import holds in memory at once.
RECORD_CHUNK = 20_000
# Row warnings kept with their row and line (the rest are only counted).
ROW_WARNINGS_KEPT = 10


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


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
class ParsedFile:
    name: str
    content_hash: str  # sha256 hex of the raw bytes
    encoding: str
    delimiter: str
    columns: list[str]  # the header as read
    mapping: dict[str, str]  # field -> header column used
    records: list[LeadRecord] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # file-level
    blank_lines: int = 0  # fully empty lines skipped

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


@dataclass
class ParsedStream:
    """A file being read: what the header tells is known up front, the records come by
    `chunks()` (once), and what the rows tell (rejects, blank lines, row warnings) is gathered
    as they are read. The raw bytes stay as given; no record outlives its chunk here."""

    name: str
    content_hash: str  # sha256 hex of the raw bytes
    encoding: str
    delimiter: str
    columns: list[str]  # the header as read
    mapping: dict[str, str]  # field -> header column used
    warnings: list[str]  # file-level; the blank-line count is added once the rows are read
    bytes_total: int
    estimated_rows: int  # from the line count: a hint for bulk writes, not a count
    rejects: list[Reject] = field(default_factory=list)
    blank_lines: int = 0
    records_read: int = 0
    row_warning_count: int = 0
    row_warnings: list[tuple[int, int, str]] = field(default_factory=list)  # the first few (row, line, warning)
    done: bool = False  # every row has been read
    row_warnings_kept: int = ROW_WARNINGS_KEPT
    _rows: Callable[..., Iterator[list[LeadRecord]]] | None = field(default=None, repr=False)
    _bytes_read: Callable[[], int] | None = field(default=None, repr=False)

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
        if background and self.estimated_rows >= BACKGROUND_ROWS and can_fork():
            reading = [rows]  # the children take the rows from here; this process then lets go of the file
            del rows
            try:
                children = self._start_children(reading, min(size, BACKGROUND_PIECE), prepare)
            except OSError:  # no process to spare (a limit on processes): read them here
                rows = reading.pop()
            else:
                return self._from_children(children, prepare)
        if prepare is None:
            return rows(size)
        return (prepare(part) for part in rows(size))

    def position(self) -> tuple[int, int]:
        """(bytes read, total bytes) for a progress bar: the row count is known only at the end."""
        if self.done:
            return self.bytes_total, self.bytes_total
        return min(self._bytes_read(), self.bytes_total) if self._bytes_read else 0, self.bytes_total

    # What the rows tell, gathered in the child and handed back at the end.
    _GATHERED = ("rejects", "blank_lines", "records_read", "row_warning_count", "row_warnings", "warnings", "done")

    def _start_children(self, reading: list, size: int, prepare: Prepare | None) -> list[tuple]:
        """From TWO_READERS_ROWS rows two children share the reading: each parses the whole file
        (the cheap part) and normalises and prepares every other piece of it; below, one reads
        it all."""
        readers = 2 if self.estimated_rows >= TWO_READERS_ROWS else 1
        children: list[tuple] = []
        try:
            for k in range(readers):
                children.append(fork(self._produce, reading, size, prepare, (k, readers),
                                     name=f"reading {self.name}" + (f" ({k + 1} of {readers})" if readers > 1 else "")))
        except OSError:
            _end(children)
            raise
        reading.clear()  # the file's bytes and the CSV reader live on in the children only
        return children

    def _from_children(self, children: list[tuple], prepare: Prepare | None) -> Iterator:
        # A thread per child takes its pieces off the pipe as they come, so the children keep
        # reading while this process is busy writing a chunk (a pipe holds less than one piece).
        pipes = []
        for _, receiver in children:
            ahead: queue.Queue = queue.Queue(maxsize=BACKGROUND_AHEAD)
            thread = threading.Thread(target=_take_off_the_pipe, args=(receiver, ahead),
                                      name="leadshare: records ahead", daemon=True)
            thread.start()
            pipes.append((thread, ahead))
        read = [0]
        self._bytes_read = lambda: read[0]
        try:
            turn, ends = 0, []
            while not ends:  # the pieces in file order: the children's in turn
                kind, payload, position = self._next_piece(pipes[turn % len(pipes)][1])
                if kind == "records":
                    read[0] = position
                    turn += 1
                    if payload:
                        yield [LeadRecord(*r) for r in payload] if prepare is None else payload
                else:  # one child read to the end of the file, so did the others: their ends come next
                    ends.append(payload)
            for k in range(1, len(pipes)):
                while len(ends) <= k:
                    kind, payload, _ = self._next_piece(pipes[(turn + k) % len(pipes)][1])
                    if kind != "records":
                        ends.append(payload)
            self._gather(ends)
        finally:
            _end(children, pipes)

    def _next_piece(self, ahead: queue.Queue) -> tuple[str, Any, int]:
        piece = ahead.get()
        if piece is None:
            raise InputError(f"{self.name}: the process reading it ended early",
                             "run the import again; if it happens again, run it with --debug")
        if piece[:1] == _RECORDS:
            payload, position = marshal.loads(memoryview(piece)[1:])
            return "records", payload, position
        kind, payload = pickle.loads(memoryview(piece)[1:])
        if kind == "error":
            raise payload
        return kind, payload, 0

    def _gather(self, ends: list[tuple]) -> None:
        """What the rows told the children, put together as one reader would have found it."""
        parts = [dict(zip(self._GATHERED, end)) for end in ends]
        if len(parts) == 1:
            self.__dict__.update(parts[0])
            return
        self.rejects = sorted((r for part in parts for r in part["rejects"]), key=lambda r: r.row)
        for name in ("blank_lines", "records_read", "row_warning_count"):
            setattr(self, name, sum(part[name] for part in parts))
        # by row only: a row's own warnings, all from one child, stay in the order they were found
        self.row_warnings = sorted((w for part in parts for w in part["row_warnings"]), key=lambda w: w[0])[
            : self.row_warnings_kept]
        self.warnings = parts[0]["warnings"] + ([_blank_warning(self.blank_lines)] if self.blank_lines else [])
        self.done = True

    def _produce(self, sender, reading: list, size: int, prepare: Prepare | None, share: tuple[int, int]) -> None:
        rows: Callable[..., Iterator[list[LeadRecord]]] = reading.pop()
        if share[1] > 1:
            os.nice(SHARED_READER_NICE)
        try:
            for part in rows(size, share):
                # plain tuples: a third of the cost of pickling the records themselves
                payload = prepare(part) if prepare is not None else [
                    (r.row, r.line, r.external_id, r.name, r.phone, r.phone_usable, r.email, r.email_usable, r.source,
                     r.region, r.attrs, r.warnings) for r in part]
                sender.send_bytes(_RECORDS + marshal.dumps((payload, self.position()[0])))
            sender.send_bytes(_OTHER + pickle.dumps(("end", tuple(getattr(self, name) for name in self._GATHERED))))
        except (BrokenPipeError, EOFError):
            pass  # the parent stopped reading (an error, Ctrl-C, or it was killed)
        except BaseException as exc:
            with contextlib.suppress(BrokenPipeError):
                sender.send_bytes(_OTHER + pickle.dumps(("error", portable(exc))))


def _take_off_the_pipe(receiver, ahead: queue.Queue) -> None:
    try:
        while True:
            ahead.put(receiver.recv_bytes())
    except (EOFError, OSError):
        ahead.put(None)


def _end(children: list[tuple], pipes: list[tuple] = ()) -> None:
    """Stop the reading children (done, or no longer wanted after an error or Ctrl-C); a pipe is
    closed once its thread is done with it (each ends at its pipe's end)."""
    for child, _ in children:
        if child.is_alive():
            child.kill()
        child.join()
    for thread, ahead in pipes:
        while thread.is_alive():  # make room for its last put
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.05)
    for _, receiver in children:
        receiver.close()


# --------------------------------------------------------------------------------------------
# Header matching
# --------------------------------------------------------------------------------------------

# The fields a column can be mapped to (also the accepted FIELDs of --map).
FIELDS = (
    "name",
    "first_name",
    "last_name",
    "phone",
    "email",
    "source",
    "region",
    "external_id",
    "owner",
    "status",
)

# Synonyms, in order of preference within a field; matched on header_key() (letters and digits
# only, lowercase), so "Mobile No.", "mobile_no" and "MobileNo" are all "mobileno".
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": (
        "name", "full name", "lead name", "contact name", "customer name", "client name",
        "your name", "nama", "nama penuh", "姓名", "名字",
    ),
    "first_name": ("first name", "firstname", "given name", "forename", "fname"),
    "last_name": ("last name", "lastname", "surname", "family name", "lname"),
    "phone": (
        "phone", "mobile", "mobile phone", "mobile no", "mobile number", "mobile phone number",
        "phone number", "phone no", "contact number", "contact no", "contact phone", "tel",
        "tel no", "telephone", "telephone number", "whatsapp", "whatsapp number", "whatsapp no",
        "cell", "cell phone", "handphone", "no hp", "hp no", "no tel", "no telefon", "telefon",
        "nombor telefon", "your phone", "user phone", "电话", "手机", "手机号", "联系电话",
    ),
    "email": (
        "email", "e-mail", "email address", "e-mail address", "email id", "mail", "emel",
        "alamat emel", "your email", "user email", "邮箱", "电子邮件",
    ),
    "source": ("source", "lead source", "channel", "lead channel", "utm source", "sumber"),
    "region": ("region", "state", "territory", "area", "sales region", "sales territory", "negeri"),
    "external_id": ("external id", "lead id", "ext id", "record id", "crm id"),
    "owner": ("owner", "lead owner", "contact owner", "record owner", "assigned to"),
    "status": ("status", "lead status"),
}
_BARE_ID = "id"  # external id only when no explicit external-id column exists

_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")  # lookarounds: linear even on 30,000 capitals
_NON_WORD = re.compile(r"[\W_]+")
_SF_SUFFIX = re.compile(r"__c$", re.IGNORECASE)


def _fold(text: str) -> str:
    """Trim, drop a BOM and a Salesforce __c suffix, strip accents."""
    text = text.strip().lstrip("\ufeff").strip()
    text = _SF_SUFFIX.sub("", text)
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text


def header_key(header: str) -> str:
    """The matching key of a header: case, spaces, `_`, `-`, punctuation and `__c` ignored."""
    return _NON_WORD.sub("", _fold(header)).lower()


def attr_name(header: str) -> str:
    """snake_case attribute name of a header: 'Budget (RM)' -> 'budget_rm', 'LeadSource' -> 'lead_source'."""
    text = _fold(header)
    text = _CAMEL_2.sub("_", _CAMEL_1.sub(r"\1_\2", text))
    return _NON_WORD.sub("_", text).strip("_").lower()


_KEY_TO_FIELD: dict[str, tuple[str, int]] = {}
for _field, _names in _SYNONYMS.items():
    for _rank, _syn in enumerate(_names):
        _KEY_TO_FIELD.setdefault(header_key(_syn), (_field, _rank))

_FIELD_ALIASES = {header_key(f): f for f in FIELDS}
_FIELD_ALIASES.update({"fullname": "name", "mobile": "phone", "externalid": "external_id", "emailaddress": "email"})


def _accepted_fields() -> str:
    return ", ".join(FIELDS)


def parse_map_options(items: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """['phone=Tel No', 'email=E'] -> {'phone': 'Tel No', 'email': 'E'}."""
    mapping: dict[str, str] = {}
    for item in items or ():
        field_part, sep, column = item.partition("=")
        fld = _FIELD_ALIASES.get(header_key(field_part)) if sep else None
        column = column.strip()
        if not sep or not column or fld is None:
            raise InputError(
                f"--map {item!r}: expected FIELD=COLUMN with FIELD one of {_accepted_fields()}",
                "e.g. --map phone='Tel No' --map email=E-mail",
            )
        if fld in mapping and mapping[fld] != column:
            raise InputError(
                f"--map {item!r}: {fld} is already mapped to {mapping[fld]!r}",
                f"give --map {fld}=COLUMN once",
            )
        mapping[fld] = column
    return mapping


def _columns_list(columns: list[str]) -> str:
    shown = [f"'{c}'" if c.strip() else f"(blank column {i})" for i, c in enumerate(columns, 1)]
    return ", ".join(shown) if shown else "(none)"


@dataclass(slots=True)
class _Plan:
    """Column indexes resolved once per file."""

    ncols: int
    index: dict[str, int]  # field -> column index
    phone_alt: tuple[int, ...]  # other phone columns, tried when the main one gives nothing usable
    email_alt: tuple[int, ...]
    attrs: tuple[tuple[int, str], ...]  # (column index, attribute name)
    mapping: dict[str, str]
    warnings: list[str]


def _plan(columns: list[str], user_map: dict[str, str], name: str) -> _Plan:
    ncols = len(columns)
    keys = [header_key(c) for c in columns]
    index: dict[str, int] = {}
    warnings: list[str] = []

    # 1. --map wins.
    given, user_map = user_map, {}
    for fld, wanted in given.items():
        known = _FIELD_ALIASES.get(header_key(fld))
        if known is None:
            raise InputError(
                f"--map {fld}={wanted}: unknown field {fld!r}", f"FIELD is one of {_accepted_fields()}"
            )
        fld = known
        user_map[fld] = wanted
        found = next((i for i, c in enumerate(columns) if c == wanted), None)
        if found is None:
            found = next((i for i, c in enumerate(columns) if c.strip().casefold() == wanted.strip().casefold()), None)
        if found is None:
            wk = header_key(wanted)
            found = next((i for i, k in enumerate(keys) if k and k == wk), None)
        if found is None:
            raise InputError(
                f"{name}: --map {fld}={wanted}: no column {wanted!r}; columns found: {_columns_list(columns)}",
                "give one of the columns found, as written in the header",
            )
        if found in index.values():
            other = next(f for f, i in index.items() if i == found)
            raise InputError(
                f"{name}: --map {fld}={wanted}: column {columns[found]!r} is already mapped to {other}",
                "map each column to one field",
            )
        index[fld] = found
    taken = set(index.values())

    # 2. Synonyms: best-ranked synonym wins, then the leftmost column.
    best: dict[str, tuple[int, int]] = {}  # field -> (rank, column)
    alt: dict[str, list[int]] = {"phone": [], "email": []}
    bare_id: int | None = None
    for i, k in enumerate(keys):
        if i in taken or not k:
            continue
        if k == _BARE_ID:
            if bare_id is None:
                bare_id = i
            continue
        hit = _KEY_TO_FIELD.get(k)
        if hit is None:
            continue
        fld, rank = hit
        if fld in alt:
            alt[fld].append(i)
        if fld in user_map:
            continue
        if fld not in best or rank < best[fld][0]:
            best[fld] = (rank, i)
    for fld, (_, i) in best.items():
        index[fld] = i
    if "external_id" not in index and "external_id" not in user_map and bare_id is not None:
        index["external_id"] = bare_id

    # A name column makes first/last plain attributes, unless they were mapped on purpose (then
    # a name column found by its header is the attribute).
    if "name" in index and "name" not in user_map and ("first_name" in user_map or "last_name" in user_map):
        del index["name"]
    if "name" in index:
        for fld in ("first_name", "last_name"):
            if fld in index and fld not in user_map:
                del index[fld]

    # Fallback phone/email columns: only when the field was matched, not when it was mapped.
    phone_alt = tuple(i for i in alt["phone"] if "phone" not in user_map and i != index.get("phone"))
    email_alt = tuple(i for i in alt["email"] if "email" not in user_map and i != index.get("email"))

    if "phone" not in index and "email" not in index:
        raise InputError(
            f"{name}: no phone or email column; columns found: {_columns_list(columns)}",
            "name the column with --map phone=COLUMN or --map email=COLUMN",
        )
    if "name" not in index and "first_name" not in index and "last_name" not in index:
        warnings.append("no name column: leads are imported without a name (use --map name=COLUMN)")

    # Every column that is not a core field is kept as an attribute; owner/status under those names.
    core = {i for f, i in index.items() if f not in ("owner", "status")}
    special = {index[f]: f for f in ("owner", "status") if f in index}
    # A later column named like a core one gets a suffix (`Phone`, `Phone` -> phone, phone_2).
    used: dict[str, int] = {attr_name(columns[i]): i for i in sorted(core) if attr_name(columns[i])}
    attrs: list[tuple[int, str]] = []
    for i, col in enumerate(columns):
        if i in core:
            continue
        base = special.get(i) or attr_name(col) or f"column_{i + 1}"
        key = base
        if key in used:
            n = 2
            while f"{base}_{n}" in used:
                n += 1
            key = f"{base}_{n}"
        used[key] = i
        attrs.append((i, key))
    # Same header written twice (or the same field matched twice): say so, once per name.
    seen: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k:
            seen.setdefault(k, []).append(i)
    for k, where in seen.items():
        if len(where) > 1:
            first = columns[where[0]].strip()
            role = next((f for f, i in index.items() if i == where[0]), None)
            later = ", ".join(
                next(a for j, a in attrs if j == i) for i in where[1:] if any(j == i for j, _ in attrs)
            )
            used_as = f"used as {role}" if role else "kept"
            warnings.append(
                f"column {first!r} appears {len(where)} times (columns {', '.join(str(i + 1) for i in where)}):"
                f" the first is {used_as}, later ones are kept as attributes {later}"
            )
    mapping = {fld: columns[i] for fld, i in index.items()}
    return _Plan(ncols, index, phone_alt, email_alt, tuple(attrs), mapping, warnings)


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

_BINARY_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls workbook"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_HINT_EXPORT = "save or export it from the spreadsheet as CSV (UTF-8)"


_HEAD_CHARS = 1 << 16


def _not_text(name: str, why: str) -> InputError:
    return InputError(f"{name}: not a CSV text file ({why})", _HINT_EXPORT)


@dataclass(slots=True)
class _Text:
    """The decoded file without holding it all as one string: `payload` decodes exactly with
    `codec`; lines are read through an incremental decoder (a 1M-row file as one str, plus the
    UCS-4 copy io.StringIO makes of it, would cost several times the file's size)."""

    payload: bytes
    codec: str
    encoding: str  # the name reported to the user
    head: str  # the first characters, for delimiter detection and the binary check
    warnings: list[str]
    raw: io.BytesIO | None = None  # the bytes being read by lines(): its position is the progress

    def lines(self):
        self.raw = io.BytesIO(self.payload)
        return io.TextIOWrapper(self.raw, encoding=self.codec, newline="")

    def bytes_read(self) -> int:
        return self.raw.tell() if self.raw is not None else 0

    def whole(self) -> str:
        return self.payload.decode(self.codec)


def _head(payload: bytes, codec: str) -> str:
    return codecs.getincrementaldecoder(codec)(errors="replace").decode(payload[: _HEAD_CHARS * 4])[:_HEAD_CHARS]


def _decode(data: bytes, name: str) -> _Text:
    warnings: list[str] = []
    for bom, enc in _BOMS:
        if data.startswith(bom):
            codec = "utf-8-sig" if enc == "utf-8" else enc[:6]  # utf-16 / utf-32 read the BOM
            try:
                data.decode(codec)  # validate it all before any row is read
            except UnicodeDecodeError as exc:
                why = f"starts with a {enc} byte-order mark but byte {exc.start} is not {enc}"
                raise _not_text(name, why) from None
            if enc != "utf-8":
                warnings.append(f"decoded as {enc} (byte-order mark)")
            return _checked(_Text(data, codec, codec if enc == "utf-8" else enc, _head(data, codec), warnings), name)

    start = data[:64]
    for sig, what in _BINARY_SIGNATURES:
        if start.startswith(sig):
            raise _not_text(name, f"it looks like {what}")

    nuls = data.count(b"\x00")
    if nuls:
        enc = _bomless_utf16(data, nuls)
        if enc is not None:
            payload = data[: len(data) & ~1]
            warnings.append(f"decoded as {enc} (no byte-order mark)")
            return _checked(_Text(payload, enc, enc, _head(payload, enc), warnings), name)
        stripped = data.rstrip(b"\x00")
        inner = nuls - (len(data) - len(stripped))
        if inner > max(8, len(stripped) // 1000):
            wide = _detected(data)  # UTF-16/32 without a BOM and not mostly ASCII (e.g. Chinese)
            if wide is None or not wide[1].startswith(("utf-16", "utf-32")):
                raise _not_text(name, f"{nuls} NUL bytes")
            payload = wide[0].encode("utf-8")
            warnings.append(f"decoded as {wide[1]} (detected, no byte-order mark)")
            return _checked(_Text(payload, "utf-8", wide[1], _head(payload, "utf-8"), warnings), name)
        data = stripped.replace(b"\x00", b"") if inner else stripped
        warnings.append(f"removed {nuls} NUL byte{'s' if nuls != 1 else ''}")

    for codec, note in (("utf-8", None), ("cp1252", "decoded as cp1252 (the file is not valid UTF-8)")):
        try:
            data.decode(codec)
        except UnicodeDecodeError:
            continue
        head = _head(data, codec)
        if codec == "cp1252" and _looks_double_byte(head):
            # Chinese Windows saves CSV as GBK/Big5, whose bytes mostly decode as cp1252 gibberish.
            detected = _detected(data)
            if detected is not None and detected[1].startswith(_DOUBLE_BYTE):
                warnings.append(f"decoded as {detected[1]} (detected; the file is not valid UTF-8)")
                payload = detected[0].encode("utf-8")
                return _checked(_Text(payload, "utf-8", detected[1], _head(payload, "utf-8"), warnings), name)
        if note:
            warnings.append(note)
        return _checked(_Text(data, codec, codec, head, warnings), name)

    detected = _detected(data)
    if detected is None:
        raise _not_text(name, "not UTF-8, not cp1252, and no other text encoding fits")
    warnings.append(f"decoded as {detected[1]} (detected; the file is neither UTF-8 nor cp1252)")
    payload = detected[0].encode("utf-8")
    return _checked(_Text(payload, "utf-8", detected[1], _head(payload, "utf-8"), warnings), name)


_DOUBLE_BYTE = ("gb", "big5", "cp936", "cp950", "cp932", "shift", "euc", "hz", "iso2022", "johab", "cp949")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{2,}")


def _looks_double_byte(head: str) -> bool:
    """cp1252 text of a double-byte encoding: most non-ASCII characters come in runs, where
    Western text has them alone between letters (José, Müller)."""
    non_ascii = sum(1 for c in head if c > "\x7f")
    if non_ascii < 6:
        return False
    in_runs = sum(len(m) for m in _NON_ASCII_RUN.findall(head))
    return in_runs >= 0.6 * non_ascii


def _detected(data: bytes) -> tuple[str, str] | None:
    """charset-normalizer's best guess (text, encoding), or None. Last resort only: it is slow."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        return None
    return str(best), best.encoding.replace("_", "-")


def _bomless_utf16(data: bytes, nuls: int) -> str | None:
    """UTF-16 without a byte-order mark: mostly-ASCII text has a NUL in every other byte."""
    if len(data) < 4 or nuls < len(data) // 4:
        return None
    sample = data[:_HEAD_CHARS]
    sample = sample[: len(sample) & ~1]
    odd = sample[1::2].count(b"\x00")
    even = sample[0::2].count(b"\x00")
    half = len(sample) // 2
    if odd >= 0.6 * half and even <= 0.05 * half:
        enc = "utf-16-le"
    elif even >= 0.6 * half and odd <= 0.05 * half:
        enc = "utf-16-be"
    else:
        return None
    try:
        data[: len(data) & ~1].decode(enc)
    except UnicodeDecodeError:
        return None
    return enc


def _checked(text: _Text, name: str) -> _Text:
    """Refuse decoded 'text' that is really binary (control characters in quantity)."""
    sample = text.head
    controls = len(_CONTROL.findall(sample))
    if controls > max(4, len(sample) // 100):
        raise _not_text(name, f"{controls} control characters in the first {len(sample):,} characters")
    return text


# --------------------------------------------------------------------------------------------
# Delimiter and records
# --------------------------------------------------------------------------------------------


def _detect_delimiter(text: str) -> str:
    """Count , ; and tab outside quotes in the header record; the most frequent wins, tie → comma.

    A quote opens a quoted field only at the start of a field, as in the csv module (`Size 5"` is
    plain text)."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    in_quotes = False
    seen_text = False  # leading blank lines are skipped, like the reader skips them
    prev = "\n"
    for ch in text[:_HEAD_CHARS]:
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


_NON_SPACE = re.compile(r"\S")
_NEWLINE = re.compile(r"\r\n|\r|\n")  # the line ends that io splits on with newline=""


class _Lines:
    """Physical lines by number (1-based); the text is decoded whole and indexed only when a
    row needs recovery from bad quoting."""

    def __init__(self, source: _Text):
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


def _records(source: _Text, delimiter: str, name: str):
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


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

_EMPTY_HINT = "give a CSV file with a header line and one lead a row"


def _raise_field_limit() -> None:
    """Let the csv module read big fields (the row is rejected by size, not the file by csv)."""
    limit = min(sys.maxsize, 2**31 - 1)
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)


def _unusable(label: str, raw: str, warning: str | None) -> str:
    """One part of a reject reason: "phone is empty", or the contacts warning without its tail."""
    if not raw:
        return f"{label} is empty"
    if warning:
        return warning.removesuffix("; kept as written")
    return f"{label} {raw!r} is not usable"


def read_leads(
    data: bytes,
    *,
    name: str = "-",
    region: str = "MY",
    mapping: dict[str, str] | None = None,
    default_source: str | None = None,
) -> ParsedFile:
    """Read a CSV file's bytes into lead records and rejects, in file order.

    Raises InputError when the file cannot be read as a whole: empty, binary, no phone and no
    email column, a --map naming a missing column. Row problems become `Reject`s. A big import
    reads the rows as it goes instead: `open_leads`.
    """
    stream = open_leads(data, name=name, region=region, mapping=mapping, default_source=default_source)
    parsed = ParsedFile(
        name=stream.name,
        content_hash=stream.content_hash,
        encoding=stream.encoding,
        delimiter=stream.delimiter,
        columns=stream.columns,
        mapping=stream.mapping,
        rejects=stream.rejects,
        warnings=stream.warnings,
    )
    with paused_gc():
        for part in stream.chunks(sys.maxsize):  # one chunk: the list is the records
            if parsed.records:
                parsed.records.extend(part)
            else:
                parsed.records = part
    parsed.blank_lines = stream.blank_lines
    return parsed


def open_leads(
    data: bytes,
    *,
    name: str = "-",
    region: str = "MY",
    mapping: dict[str, str] | None = None,
    default_source: str | None = None,
    row_warnings: int = ROW_WARNINGS_KEPT,
) -> ParsedStream:
    """Open a CSV file's bytes for reading its rows as they are needed.

    The file as a whole is checked here (the same InputErrors as `read_leads`: empty, binary, no
    phone and no email column, a bad --map); the encoding, delimiter, header, mapping and file
    warnings are known on return. `chunks()` then yields the records in file order; rejects,
    blank lines and row warnings (the first `row_warnings` with their rows, the rest counted)
    gather on the stream as they are read. An InputError can still come from the rows (a file
    too broken by quotes to read as CSV), while they are read.
    """
    content_hash = hashlib.sha256(data).hexdigest()
    if not data.strip(b" \t\r\n"):
        raise InputError(f"{name} is empty", _EMPTY_HINT)
    source = _decode(data, name)
    encoding, file_warnings = source.encoding, source.warnings
    if not source.head.strip() and not _NON_SPACE.search(source.whole()):
        raise InputError(f"{name} is empty", _EMPTY_HINT)
    delimiter = _detect_delimiter(source.head)
    _raise_field_limit()

    records_iter = _records(source, delimiter, name)
    header: list[str] | None = None
    for line, cells, note, is_reject in records_iter:
        if is_reject:
            raise InputError(
                f"{name}:{line}: the header line has an unbalanced quote ({note})",
                'fix the header: a name that starts with " must end with "',
            )
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank lines above the header
        if note:
            file_warnings.append(f"header: {note}")
        header = cells
        break
    if header is None:
        raise InputError(f"{name} is empty", _EMPTY_HINT)

    plan = _plan(header, dict(mapping or {}), name)
    file_warnings.extend(plan.warnings)
    payload = source.payload
    lines = max(payload.count(b"\n"), payload.count(b"\r"))
    stream = ParsedStream(
        name=name,
        content_hash=content_hash,
        encoding=encoding,
        delimiter=delimiter,
        columns=header,
        mapping=plan.mapping,
        warnings=file_warnings,
        bytes_total=len(payload),
        estimated_rows=max(lines - 1, 0) if lines else 0,
        row_warnings_kept=row_warnings,
        _bytes_read=source.bytes_read,
    )
    stream._rows = lambda size, share=(0, 1): _read_rows(
        records_iter, plan, stream, region, default_source, len(payload), size, row_warnings, share
    )
    return stream


def _read_rows(
    records_iter,
    plan: _Plan,
    parsed: ParsedStream,
    region: str,
    default_source: str | None,
    text_len: int,
    chunk: int,
    keep_warnings: int,
    share: tuple[int, int] = (0, 1),
) -> Iterator[list[LeadRecord]]:
    """The per-row path: column indexes are resolved; keep this loop lean (1M rows).

    Yields the records `chunk` at a time; rejects, blank lines and row warnings gather on
    `parsed` as the rows are read. With a `share` (k, n) of n > 1, the rows are taken in pieces
    of `chunk` rows (records, rejects and blank lines alike) and only every n-th piece from the
    k-th is read: n readers of one file share the work and between them yield its pieces in
    turn, each piece (empty ones too) in its place. The blank-line warning is then the caller's."""
    mine, readers = share
    ncols = plan.ncols
    columns = parsed.columns
    idx = plan.index
    i_name = idx.get("name")
    i_first = idx.get("first_name")
    i_last = idx.get("last_name")
    i_phone = idx.get("phone")
    i_email = idx.get("email")
    i_source = idx.get("source")
    i_region = idx.get("region")
    i_ext = idx.get("external_id")
    phone_alt = plan.phone_alt
    email_alt = plan.email_alt
    attr_keys = tuple(key for _, key in plan.attrs)
    if len(plan.attrs) > 1:
        attr_get = itemgetter(*(j for j, _ in plan.attrs))
    elif plan.attrs:
        only = plan.attrs[0][0]
        attr_get = lambda row: (row[only],)  # noqa: E731 - itemgetter of one index is no tuple
    else:
        attr_get = None
    check_size = text_len > MAX_FIELD_CHARS  # no field can be too large in a smaller file (bytes >= chars)
    join_names = i_name is None and (i_first is not None or i_last is not None)
    pad = [""] * ncols
    limit = MAX_FIELD_CHARS
    too_many = f"cells, header has {ncols}: quote values that contain the {_DELIMITER_NAMES[parsed.delimiter]}"
    both = i_phone is not None and i_email is not None
    no_usable = "no usable phone or email" if both else ("no usable phone" if i_email is None else "no usable email")
    records: list[LeadRecord] = []
    add_record = records.append
    add_reject = parsed.rejects.append
    kept_warnings = parsed.row_warnings
    warned = 0  # row warnings seen
    read = 0  # records read
    phone_fn = normalize_phone
    email_fn = normalize_email
    name_fn = normalize_name
    blank = 0
    row_no = 0

    piece_end = chunk if readers > 1 else -1  # the last row of the current piece (shared reading)
    skipping = mine != 0  # in a piece of another reader's

    for line, cells, note, is_reject in records_iter:
        row_no += 1
        if row_no > piece_end > 0:
            if not skipping:
                read += len(records)
                parsed.records_read, parsed.row_warning_count, parsed.blank_lines = read, warned, blank
                yield records
                records = []
                add_record = records.append
            piece_end += chunk
            skipping = (row_no - 1) // chunk % readers != mine
        if skipping:
            continue
        if is_reject:
            add_reject(Reject(row_no, line, cells, note))
            continue
        n = len(cells)
        if n == ncols:
            row = cells
        elif n == 0 or (n == 1 and not cells[0].strip()):
            blank += 1
            continue
        elif n < ncols:
            row = cells + pad[n:]
        elif any(c.strip() for c in cells[ncols:]):
            add_reject(Reject(row_no, line, cells, f"{n} {too_many}"))
            continue
        else:
            row = cells[:ncols]  # trailing empty cells past the header hold nothing
        if check_size and sum(map(len, row)) > limit:
            big = next((i for i, c in enumerate(row) if len(c) > limit), None)
            if big is not None:
                col = columns[big].strip() or f"column {big + 1}"
                why = f"field too large: {col!r} holds {len(row[big]):,} characters (limit {limit:,})"
                add_reject(Reject(row_no, line, cells, why))
                continue
        warnings: list[str] = [note] if note else []

        # Phone: the matched column, then other phone columns when it gives nothing usable.
        p_raw = row[i_phone].strip() if i_phone is not None else ""
        phone = None
        phone_ok = False
        p_warn = None
        if p_raw:
            res = phone_fn(p_raw, region)
            phone_ok = res.usable
            phone = res.value
            p_warn = res.warning
        if not phone_ok and phone_alt:
            for j in phone_alt:
                alt = row[j].strip()
                if alt:
                    res = phone_fn(alt, region)
                    if res.usable or not p_raw:
                        if res.usable and p_raw:
                            warnings.append(f"phone {p_raw!r} is not usable; used {columns[j].strip()!r}")
                        phone, phone_ok, p_raw, p_warn = res.value, res.usable, alt, res.warning
                        if phone_ok:
                            break

        e_raw = row[i_email].strip() if i_email is not None else ""
        email = None
        email_ok = False
        e_warn = None
        if e_raw:
            res = email_fn(e_raw)
            email_ok = res.usable
            email = res.value
            e_warn = res.warning
        if not email_ok and email_alt:
            for j in email_alt:
                alt = row[j].strip()
                if alt:
                    res = email_fn(alt)
                    if res.usable or not e_raw:
                        if res.usable and e_raw:
                            warnings.append(f"email {e_raw!r} is not usable; used {columns[j].strip()!r}")
                        email, email_ok, e_raw, e_warn = res.value, res.usable, alt, res.warning
                        if email_ok:
                            break

        if not phone_ok and not email_ok:
            if not any(c.strip() for c in cells):
                reason = f"empty row (all {n} cells blank)"
            else:
                parts = []
                if i_phone is not None or phone_alt:
                    parts.append(_unusable("phone", p_raw, p_warn))
                if i_email is not None or email_alt:
                    parts.append(_unusable("email", e_raw, e_warn))
                reason = f"{no_usable} ({'; '.join(parts)})"
            if note:
                reason = f"{reason}; {note}"
            add_reject(Reject(row_no, line, cells, reason))
            continue
        if p_warn:
            warnings.append(p_warn)
        if e_warn:
            warnings.append(e_warn)
        if warnings:
            warned += len(warnings)
            if len(kept_warnings) < keep_warnings:
                kept_warnings.extend((row_no, line, w) for w in warnings[: keep_warnings - len(kept_warnings)])

        if i_name is not None:
            lead_name = name_fn(row[i_name])
        elif join_names:
            first = row[i_first] if i_first is not None else ""
            last = row[i_last] if i_last is not None else ""
            lead_name = name_fn(f"{first} {last}")
        else:
            lead_name = ""
        source = row[i_source].strip() if i_source is not None else ""
        reg = row[i_region].strip() if i_region is not None else ""
        ext = row[i_ext].strip() if i_ext is not None else ""
        attrs = dict(filter(_value, zip(attr_keys, map(_strip, attr_get(row))))) if attr_get else {}
        add_record(
            LeadRecord(
                row_no,
                line,
                ext or None,
                lead_name,
                phone,
                phone_ok,
                email,
                email_ok,
                source or default_source,
                reg or None,
                attrs,
                warnings,
            )
        )
        if len(records) >= chunk and readers == 1:
            read += len(records)
            parsed.records_read, parsed.row_warning_count, parsed.blank_lines = read, warned, blank
            yield records
            records = []
            add_record = records.append
    read += len(records)
    parsed.records_read, parsed.row_warning_count, parsed.blank_lines = read, warned, blank
    if readers == 1 and blank:
        parsed.warnings.append(_blank_warning(blank))
    parsed.done = True
    if records:  # (a shared reader's last piece may go unsent when empty: its end comes in its place)
        yield records


def _blank_warning(blank: int) -> str:
    return f"skipped {blank} blank line{'s' if blank != 1 else ''}"
