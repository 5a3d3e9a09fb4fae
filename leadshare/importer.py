"""CSV bytes → validated lead records + rejects.

Pure: bytes in, records out. No database, no terminal. What it promises is the "CSV input"
section of the command-line contract:

- UTF-8 with or without BOM; UTF-16/UTF-32 with a BOM; cp1252 when the bytes are not UTF-8;
  charset-normalizer as a last resort. Binary files are refused whole.
- Comma, semicolon or tab, detected from the header line (counted outside quotes; a tie is comma).
- Header names matched ignoring case, spaces, ``_``, ``-``, punctuation and camelCase boundaries,
  with a Salesforce ``__c`` suffix ignored, against the synonyms of CRM and ad-platform exports.
  ``--map FIELD=COLUMN`` overrides. Every other column is kept as an attribute.
- Each data row becomes a `LeadRecord` or a `Reject` with a reason; fully empty lines are skipped
  and counted. Nothing is dropped silently: malformed quoting, ragged rows and oversized fields
  become rejects that name the line.

Rows are not deduplicated here: the ledger does that against everything it holds.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from leadshare.contacts import normalize_email, normalize_name, normalize_phone
from leadshare.errors import InputError

__all__ = [
    "LeadRecord",
    "Reject",
    "ParsedFile",
    "FIELDS",
    "MAX_FIELD_BYTES",
    "read_leads",
    "parse_map_options",
    "write_rejects",
    "rejects_csv_text",
    "header_key",
    "attr_name",
]

# A single cell larger than this is not a lead field; the row is rejected, not the file.
MAX_FIELD_BYTES = 1_000_000
# Restarts after unbalanced quotes before the file is refused as not really CSV.
_MAX_QUOTE_RECOVERIES = 200
_DELIMITERS = (",", ";", "\t")  # tie order: comma first
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


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

    @property
    def rows(self) -> int:
        """Data rows read: records + rejects + skipped blank lines."""
        return len(self.records) + len(self.rejects) + self.blank_lines


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
        "your name", "nama", "nama penuh",
    ),
    "first_name": ("first name", "firstname", "given name", "forename", "fname"),
    "last_name": ("last name", "lastname", "surname", "family name", "lname"),
    "phone": (
        "phone", "mobile", "mobile phone", "mobile no", "mobile number", "mobile phone number",
        "phone number", "phone no", "contact number", "contact no", "contact phone", "tel",
        "tel no", "telephone", "telephone number", "whatsapp", "whatsapp number", "whatsapp no",
        "cell", "cell phone", "handphone", "no hp", "hp no", "no tel", "no telefon", "telefon",
        "nombor telefon", "your phone", "user phone",
    ),
    "email": (
        "email", "e-mail", "email address", "e-mail address", "email id", "mail", "emel",
        "alamat emel", "your email", "user email",
    ),
    "source": ("source", "lead source", "channel", "lead channel", "utm source", "sumber"),
    "region": ("region", "state", "territory", "area", "sales region", "sales territory", "negeri"),
    "external_id": ("external id", "lead id", "ext id", "record id", "crm id"),
    "owner": ("owner", "lead owner", "contact owner", "record owner", "assigned to"),
    "status": ("status", "lead status"),
}
_BARE_ID = "id"  # external id only when no explicit external-id column exists

_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
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
    text = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", text))
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
    for fld, wanted in user_map.items():
        if fld not in FIELDS:
            raise InputError(
                f"--map {fld}={wanted}: unknown field {fld!r}", f"FIELD is one of {_accepted_fields()}"
            )
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

    # A name column makes first/last plain attributes (unless they were mapped on purpose).
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
    used: dict[str, int] = {}
    attrs: list[tuple[int, str]] = []
    dup_notes: dict[str, list[str]] = {}
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
            dup_notes.setdefault(base, []).append(key)
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


def _not_text(name: str, why: str) -> InputError:
    return InputError(f"{name}: not a CSV text file ({why})", _HINT_EXPORT)


def _decode(data: bytes, name: str) -> tuple[str, str, list[str]]:
    """Return (text, encoding, warnings)."""
    warnings: list[str] = []
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(enc)
            except UnicodeDecodeError as exc:
                raise _not_text(name, f"starts with a {enc} byte-order mark but byte {exc.start + len(bom)} is not {enc}") from None
            if enc != "utf-8":
                warnings.append(f"decoded as {enc} (byte-order mark)")
            return _check_text(text, name), (enc + "-sig" if enc == "utf-8" else enc), warnings

    head = data[:64]
    for sig, what in _BINARY_SIGNATURES:
        if head.startswith(sig):
            raise _not_text(name, f"it looks like {what}")

    nuls = data.count(b"\x00")
    if nuls:
        utf16 = _bomless_utf16(data, nuls)
        if utf16 is not None:
            text, enc = utf16
            warnings.append(f"decoded as {enc} (no byte-order mark)")
            return _check_text(text, name), enc, warnings
        stripped = data.rstrip(b"\x00")
        padding = len(data) - len(stripped)
        inner = nuls - padding
        if inner > max(8, len(stripped) // 1000):
            raise _not_text(name, f"{nuls} NUL bytes")
        data = stripped.replace(b"\x00", b"") if inner else stripped
        warnings.append(f"removed {nuls} NUL byte{'s' if nuls != 1 else ''}")

    try:
        return _check_text(data.decode("utf-8"), name), "utf-8", warnings
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        warnings.append("decoded as cp1252 (the file is not valid UTF-8)")
        return _check_text(text, name), "cp1252", warnings

    from charset_normalizer import from_bytes  # last resort only: it is slow on large files

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise _not_text(name, "not UTF-8, not cp1252, and no other text encoding fits")
    warnings.append(f"decoded as {best.encoding} (detected; the file is neither UTF-8 nor cp1252)")
    return _check_text(str(best), name), best.encoding, warnings


def _bomless_utf16(data: bytes, nuls: int) -> tuple[str, str] | None:
    """UTF-16 without a byte-order mark: mostly-ASCII text has a NUL in every other byte."""
    if len(data) < 4 or nuls < len(data) // 4:
        return None
    sample = data[: 1 << 16]
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
        return data[: len(data) & ~1].decode(enc), enc
    except UnicodeDecodeError:
        return None


def _check_text(text: str, name: str) -> str:
    """Refuse decoded 'text' that is really binary (control characters in quantity)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    sample = text[: 1 << 16]
    controls = len(_CONTROL.findall(sample))
    if controls > max(4, len(sample) // 100):
        raise _not_text(name, f"{controls} control characters in the first {len(sample)} characters")
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text


# --------------------------------------------------------------------------------------------
# Delimiter and records
# --------------------------------------------------------------------------------------------


def _detect_delimiter(text: str) -> str:
    """Count , ; and tab outside quotes in the header record; the most frequent wins, tie → comma."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    in_quotes = False
    seen_text = False  # leading blank lines are skipped, like the reader skips them
    for ch in text[: 1 << 16]:
        if ch == '"':
            in_quotes = not in_quotes
            seen_text = True
        elif in_quotes:
            continue
        elif ch == "\n" or ch == "\r":
            if seen_text:
                break
        elif ch in counts:
            counts[ch] += 1
            seen_text = True
        elif not ch.isspace():
            seen_text = True
    best = max(_DELIMITERS, key=lambda d: counts[d])  # max() keeps the first of equals: comma
    return best if counts[best] else ","


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


def _records(text: str, delimiter: str):
    """Yield (start_line, cells, note, is_reject) for each CSV record, tracking physical lines.

    ``note`` is None for a row read normally; a warning for a row read leniently (text after a
    closing quote on one line, like ``"Ali" ,012``); the reject reason when ``is_reject`` (a quote
    that opened and never closed, or ran over several lines into garbage). After such a reject the
    lines following the quote's line are read again as rows of their own: nothing is swallowed.
    """
    buf: list[str] = []  # the physical lines of the record being read
    append = buf.append

    def track(lines):
        for line in lines:
            append(line)
            yield line

    src = iter(io.StringIO(text, newline=""))  # splits on \r\n, \n and \r alike
    offset = 0  # physical lines before the current reader's first line
    recoveries = 0
    while True:
        reader = csv.reader(track(src), delimiter=delimiter, strict=True)
        last = 0
        try:
            for cells in reader:
                yield offset + last + 1, cells, None, False
                last = reader.line_num
                buf.clear()
            return
        except csv.Error as exc:
            start = offset + last + 1
            lines = buf[:]
            buf.clear()
            message = str(exc)
            at_eof = "end of data" in message
            if len(lines) <= 1 and not at_eof:
                cells = _lenient_cells("".join(lines), delimiter)
                yield start, cells, f"line {start}: text after a closing quote, read as is", False
                offset = start
                continue  # src is positioned after that line
            recoveries += 1
            if recoveries > _MAX_QUOTE_RECOVERIES:
                raise InputError(
                    f"line {start}: too many unbalanced quotes; the file cannot be read as CSV",
                    'check the quoting: a field that starts with " must end with "',
                ) from None
            cells = _unquoted_cells(lines[0], delimiter) if lines else []
            if at_eof:
                why = f"unterminated quote: the quoted field opened on line {start} never closes"
            else:
                why = (
                    f"unbalanced quote: the quoted field opened on line {start} runs on to line "
                    f"{start + len(lines) - 1} and breaks there"
                )
            yield start, cells, why + "; the lines after it were read as rows of their own", True
            offset = start
            src = chain(lines[1:], src)


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
    """One part of a reject reason: "no phone", or the contacts warning without its tail."""
    if not raw:
        return f"no {label}"
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
    email column, a --map naming a missing column. Row problems become `Reject`s.
    """
    content_hash = hashlib.sha256(data).hexdigest()
    if not data.strip(b" \t\r\n"):
        raise InputError(f"{name} is empty", _EMPTY_HINT)
    text, encoding, file_warnings = _decode(data, name)
    if not text.strip():
        raise InputError(f"{name} is empty", _EMPTY_HINT)
    delimiter = _detect_delimiter(text)
    _raise_field_limit()

    records_iter = _records(text, delimiter)
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
    parsed = ParsedFile(
        name=name,
        content_hash=content_hash,
        encoding=encoding,
        delimiter=delimiter,
        columns=header,
        mapping=plan.mapping,
        warnings=file_warnings,
    )
    _read_rows(records_iter, plan, parsed, region, default_source)
    if parsed.blank_lines:
        s = "s" if parsed.blank_lines != 1 else ""
        parsed.warnings.append(f"skipped {parsed.blank_lines} blank line{s}")
    return parsed


def _read_rows(records_iter, plan: _Plan, parsed: ParsedFile, region: str, default_source: str | None) -> None:
    """The per-row path: column indexes are resolved; keep this loop lean (1M rows)."""
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
    attr_spec = plan.attrs
    join_names = i_name is None and (i_first is not None or i_last is not None)
    pad = [""] * ncols
    limit = MAX_FIELD_BYTES
    too_many = f"cells, header has {ncols}: quote values that contain the {_DELIMITER_NAMES[parsed.delimiter]}"
    both = i_phone is not None and i_email is not None
    no_usable = "no usable phone or email" if both else ("no usable phone" if i_email is None else "no usable email")
    records = parsed.records
    rejects = parsed.rejects
    add_record = records.append
    add_reject = rejects.append
    phone_fn = normalize_phone
    email_fn = normalize_email
    name_fn = normalize_name
    blank = 0
    row_no = 0

    for line, cells, note, is_reject in records_iter:
        row_no += 1
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
        if sum(map(len, row)) > limit:
            big = next((i for i, c in enumerate(row) if len(c) > limit), None)
            if big is not None:
                col = columns[big].strip() or f"column {big + 1}"
                add_reject(
                    Reject(row_no, line, cells, f"field too large: {col!r} holds {len(row[big]):,} characters (limit {limit:,})")
                )
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
            add_reject(Reject(row_no, line, cells, reason))
            continue
        if p_warn:
            warnings.append(p_warn)
        if e_warn:
            warnings.append(e_warn)

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
        attrs = {key: v for j, key in attr_spec if (v := row[j].strip())}
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
    parsed.blank_lines = blank


# --------------------------------------------------------------------------------------------
# Rejects out
# --------------------------------------------------------------------------------------------


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
    """Write the rejects CSV (UTF-8 with BOM, for spreadsheets) atomically: temp file + rename."""
    target = Path(path)
    folder = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(
            f"{target}: cannot write the rejects file ({exc.strerror})", "pass --rejects PATH to put it elsewhere"
        ) from None
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
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(
                f"{target}: cannot write the rejects file ({exc.strerror or exc})",
                "pass --rejects PATH to put it elsewhere",
            ) from None
        raise
