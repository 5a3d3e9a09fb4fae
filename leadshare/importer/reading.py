"""Reading: a CSV file's bytes to a `ParsedStream` (the file checked whole, the header planned)
and its rows to lead records and rejects, a chunk at a time. The per-row loop lives here."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from functools import partial
from operator import itemgetter

from leadshare.bulk import paused_gc
from leadshare.contacts import normalize_email, normalize_name, normalize_phone
from leadshare.errors import InputError, echo
from leadshare.importer.decoding import REPLACEMENT, decode
from leadshare.importer.header import ColumnPlan, plan_columns
from leadshare.importer.lines import DELIMITER_NAMES, csv_records, detect_delimiter
from leadshare.importer.records import ROW_WARNINGS_KEPT, LeadRecord, ParsedFile, Reject, blank_warning
from leadshare.importer.stream import ParsedStream

# A single cell larger than this is not a lead field; the row is rejected, not the file.
MAX_FIELD_CHARS = 1_000_000
_EMPTY_HINT = "give a CSV file with a header line and one lead a row"
_NON_SPACE = re.compile(r"\S")
_REPLACED = f"holds bytes that are not UTF-8, read as {REPLACEMENT}: check the row in the original file"
# A phone or email cell that may hold several values: a JSON list (Krayin's
# [{"label": "work", "value": "a@b.co"}]) or values split by ; , | or a line break.
_LIST_CELL = re.compile(r"^\s*[\[{]|[;,|\n]")
_LIST_SPLIT = re.compile(r"\s*[;,|\r\n]+\s*")
_value = itemgetter(1)
_strip = str.strip


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
        read_as=stream.read_as,
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
    source = decode(data, name)
    file_warnings = source.warnings
    if not source.head.strip() and not _NON_SPACE.search(source.whole()):
        raise InputError(f"{name} is empty", _EMPTY_HINT)
    delimiter = detect_delimiter(source.head)
    _raise_field_limit()

    records_iter = csv_records(source, delimiter, name)
    header = _read_header(records_iter, name, file_warnings)
    plan = plan_columns(header, dict(mapping or {}), name)
    file_warnings.extend(plan.warnings)
    payload = source.payload
    lines = max(payload.count(b"\n"), payload.count(b"\r"))
    stream = ParsedStream(
        name=name,
        content_hash=content_hash,
        encoding=source.encoding,
        delimiter=delimiter,
        columns=header,
        mapping=plan.mapping,
        read_as=plan.read_as,
        warnings=file_warnings,
        bytes_total=len(payload),
        estimated_rows=max(lines - 1, 0) if lines else 0,
        row_warnings_kept=row_warnings,
        _bytes_read=source.bytes_read,
    )
    replaced = source.errors == "replace"  # UTF-8 with a few bad bytes: name the rows holding them
    stream._rows = lambda size, share=(0, 1): _read_rows(
        records_iter, plan, stream, region, default_source, len(payload), size, row_warnings, share, replaced
    )
    return stream


def _read_header(records_iter: Iterator, name: str, file_warnings: list[str]) -> list[str]:
    """The first record that is not blank; records_iter then stands on the first data row."""
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
        return cells
    raise InputError(f"{name} is empty", _EMPTY_HINT)


def _raise_field_limit() -> None:
    """Let the csv module read big fields (the row is rejected by size, not the file by csv)."""
    limit = min(sys.maxsize, 2**31 - 1)
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)


def _read_rows(
    records_iter,
    plan: ColumnPlan,
    parsed: ParsedStream,
    region: str,
    default_source: str | None,
    text_len: int,
    chunk: int,
    keep_warnings: int,
    share: tuple[int, int] = (0, 1),
    replaced: bool = False,
) -> Iterator[list[LeadRecord]]:
    """The per-row path: column indexes are resolved. Kept whole on purpose, past the usual length
    of a function: it runs once per row (a million for a big file), where every extra call per row
    shows in an import's time; only the rare paths (oversized cells, other contact columns, a
    reject's reason) are functions of their own.

    Yields the records `chunk` at a time; rejects, blank lines and row warnings gather on
    `parsed` as the rows are read. With a `share` (k, n) of n > 1, the rows are taken in pieces
    of `chunk` rows (records, rejects and blank lines alike) and only every n-th piece from the
    k-th is read: n readers of one file share the work and between them yield its pieces in
    turn, each piece (empty ones too) in its place. The blank-line warning is then the caller's.
    `replaced`: the text has bytes that were not UTF-8, read as REPLACEMENT; a row holding one
    gets a warning."""
    mine, readers = share
    ncols = plan.ncols
    columns = parsed.columns
    i_name, i_first, i_last, i_phone, i_email, i_source, i_region, i_ext = map(plan.index.get, _ROW_FIELDS)
    phone_alt = plan.phone_alt
    email_alt = plan.email_alt
    attr_keys, attr_get = _attribute_getter(plan)
    check_size = text_len > MAX_FIELD_CHARS  # no field can be too large in a smaller file (bytes >= chars)
    join_names = i_name is None and (i_first is not None or i_last is not None)
    pad = [""] * ncols
    limit = MAX_FIELD_CHARS
    too_many = f"cells, header has {ncols}: quote values that contain the {DELIMITER_NAMES[parsed.delimiter]}"
    records: list[LeadRecord] = []
    add_record = records.append
    add_reject = parsed.rejects.append
    kept_warnings = parsed.row_warnings
    warned = 0  # row warnings seen
    read = 0  # records read
    phone_fn = normalize_phone
    email_fn = normalize_email
    name_fn = normalize_name
    phone_in_region = partial(phone_fn, region=region)
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
            why = _oversized(row, columns)
            if why is not None:
                add_reject(Reject(row_no, line, cells, why))
                continue
        warnings: list[str] = [note] if note else []
        if replaced and any(REPLACEMENT in c for c in row):
            warnings.append(_REPLACED)

        # Phone: the matched column (a list cell's first usable value), then other phone columns
        # when it gives nothing usable.
        p_raw = row[i_phone].strip() if i_phone is not None else ""
        phone = None
        phone_ok = False
        p_warn = None
        p_more = e_more = p_also = e_also = ()  # a list cell's other values, and the usable ones
        if p_raw:
            res = phone_fn(p_raw, region)
            phone_ok = res.usable
            phone = res.value
            p_warn = res.warning
            if not phone_ok and _LIST_CELL.search(p_raw):
                listed = _first_of_list(p_raw, phone_in_region)
                if listed is not None:
                    (phone, phone_ok, p_warn), p_more, p_also = listed
        if not phone_ok and phone_alt:
            phone, phone_ok, p_raw, p_warn = _other_column(
                row, phone_alt, phone_in_region, "phone", (phone, phone_ok, p_raw, p_warn), columns, warnings)

        e_raw = row[i_email].strip() if i_email is not None else ""
        email = None
        email_ok = False
        e_warn = None
        if e_raw:
            res = email_fn(e_raw)
            email_ok = res.usable
            email = res.value
            e_warn = res.warning
            if not email_ok and _LIST_CELL.search(e_raw):
                listed = _first_of_list(e_raw, email_fn)
                if listed is not None:
                    (email, email_ok, e_warn), e_more, e_also = listed
        if not email_ok and email_alt:
            email, email_ok, e_raw, e_warn = _other_column(
                row, email_alt, email_fn, "email", (email, email_ok, e_raw, e_warn), columns, warnings)

        if not phone_ok and not email_ok:
            if not any(map(_strip, cells)):  # only delimiters: nothing to reject, a blank line
                blank += 1
                continue
            reason = _no_contact(plan, p_raw, p_warn, e_raw, e_warn)
            add_reject(Reject(row_no, line, cells, f"{reason}; {note}" if note else reason))
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
        if p_more or e_more:
            _keep_the_rest(attrs, p_more, e_more)
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
                p_also,
                e_also,
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
        parsed.warnings.append(blank_warning(blank))
    parsed.done = True
    if records:  # (a shared reader's last piece may go unsent when empty: its end comes in its place)
        yield records


# The fields a row's loop reads by column index, in the order _read_rows unpacks them.
_ROW_FIELDS = ("name", "first_name", "last_name", "phone", "email", "source", "region", "external_id")


def _attribute_getter(plan: ColumnPlan):
    """(attribute names, a function giving a row's attribute cells in that order), or (.., None)."""
    attr_keys = tuple(key for _, key in plan.attrs)
    if len(plan.attrs) > 1:
        return attr_keys, itemgetter(*(j for j, _ in plan.attrs))
    if plan.attrs:
        only = plan.attrs[0][0]
        return attr_keys, lambda row: (row[only],)  # itemgetter of one index is no tuple
    return attr_keys, None


def _oversized(row: list[str], columns: list[str]) -> str | None:
    """The reject reason of a row with a cell over MAX_FIELD_CHARS, or None."""
    big = next((i for i, c in enumerate(row) if len(c) > MAX_FIELD_CHARS), None)
    if big is None:
        return None
    col = columns[big].strip() or f"column {big + 1}"
    return f"field too large: {echo(col)} holds {len(row[big]):,} characters (limit {MAX_FIELD_CHARS:,})"


def _other_column(row, alts, normalize, label, current, columns, warnings):
    """The phone or email of the row's other columns of that kind, when the matched one gave
    nothing usable: (value, usable, raw, warning), `current` when none does better."""
    value, usable, raw, warning = current
    for j in alts:
        alt = row[j].strip()
        if alt:
            res = normalize(alt)
            if res.usable or not raw:
                if res.usable and raw:
                    warnings.append(f"{label} {echo(raw)} is not usable; used {echo(columns[j].strip())}")
                value, usable, raw, warning = res.value, res.usable, alt, res.warning
                if usable:
                    break
    return value, usable, raw, warning


def _no_contact(plan: ColumnPlan, p_raw: str, p_warn, e_raw: str, e_warn) -> str:
    """The reject reason of a row with no usable phone or email."""
    parts = []
    if "phone" in plan.index or plan.phone_alt:
        parts.append(_unusable("phone", p_raw, p_warn))
    if "email" in plan.index or plan.email_alt:
        parts.append(_unusable("email", e_raw, e_warn))
    both = "phone" in plan.index and "email" in plan.index
    no_usable = "no usable phone or email" if both else ("no usable phone" if "email" not in plan.index else "no usable email")
    return f"{no_usable} ({'; '.join(parts)})"


def _unusable(label: str, raw: str, warning: str | None) -> str:
    """One part of a reject reason: "phone is empty", or the contacts warning without its tail."""
    if not raw:
        return f"{label} is empty"
    if warning:
        return warning.removesuffix("; kept as written")
    return f"{label} {echo(raw)} is not usable"


def _list_values(cell: str) -> list[str]:
    """The values of a list cell, as written: a JSON list (of strings, or of objects whose
    `value` is one) or one object, else the parts between separators."""
    if cell[:1] in "[{":
        try:
            parsed = json.loads(cell)
        except ValueError:
            parsed = None
        if parsed is not None:
            items = parsed if isinstance(parsed, list) else [parsed]
            values = [item.get("value") if isinstance(item, dict) else item for item in items]
            return [str(v).strip() for v in values if v is not None and str(v).strip()]
    return [part for part in _LIST_SPLIT.split(cell) if part]


def _first_of_list(cell: str, normalize) -> tuple[tuple, tuple, tuple] | None:
    """A list cell read as several values: ((value, usable, warning) of the first usable one,
    (value, usable) of each of the others, in order, without repeats, the usable others' values),
    or None when no value in it is usable (the cell is then what the row holds, as written)."""
    results = [normalize(v) for v in dict.fromkeys(_list_values(cell))]
    first = next((r for r in results if r.usable), None)
    if first is None:
        return None
    seen = {first.value}
    more = []
    for r in results:
        if r.value not in seen:
            seen.add(r.value)
            more.append((r.value, r.usable))
    return (first.value, True, first.warning), tuple(more), tuple(value for value, usable in more if usable)


def _keep_the_rest(attrs: dict[str, str], more_phones: tuple, more_emails: tuple) -> None:
    """A list cell's other values, kept beside the row's own columns."""
    for key, more in (("other_phones", more_phones), ("other_emails", more_emails)):
        if more:
            rest = "; ".join(value for value, _ in more)
            attrs[key] = f"{attrs[key]}; {rest}" if attrs.get(key) else rest

