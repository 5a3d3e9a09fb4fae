"""Decoding: a file's bytes to text without holding it as one string. BOMs, UTF-16 without one,
UTF-8, cp1252, the double-byte encodings of Chinese Windows, charset-normalizer as the last
resort; binary files refused whole."""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass

from leadshare.errors import InputError

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
REPLACEMENT = "\ufffd"  # what a byte that is not UTF-8 is read as
_HINT_EXPORT = "save or export it from the spreadsheet as CSV (UTF-8)"


HEAD_CHARS = 1 << 16


def _not_text(name: str, why: str) -> InputError:
    return InputError(f"{name}: not a CSV text file ({why})", _HINT_EXPORT)


@dataclass(slots=True)
class Text:
    """The decoded file without holding it all as one string: `payload` decodes exactly with
    `codec`; lines are read through an incremental decoder (a 1M-row file as one str, plus the
    UCS-4 copy io.StringIO makes of it, would cost several times the file's size)."""

    payload: bytes
    codec: str
    encoding: str  # the name reported to the user
    head: str  # the first characters, for delimiter detection and the binary check
    warnings: list[str]
    raw: io.BytesIO | None = None  # the bytes being read by lines(): its position is the progress
    errors: str = "strict"  # "replace": UTF-8 with a few bad bytes, each read as REPLACEMENT

    def lines(self):
        self.raw = io.BytesIO(self.payload)
        return io.TextIOWrapper(self.raw, encoding=self.codec, errors=self.errors, newline="")

    def bytes_read(self) -> int:
        return self.raw.tell() if self.raw is not None else 0

    def whole(self) -> str:
        return self.payload.decode(self.codec, self.errors)


def _head(payload: bytes, codec: str) -> str:
    return codecs.getincrementaldecoder(codec)(errors="replace").decode(payload[: HEAD_CHARS * 4])[:HEAD_CHARS]


def decode(data: bytes, name: str) -> Text:
    """The file's text: by its byte-order mark, else UTF-16 by its NUL bytes, else UTF-8, else
    cp1252 (or a double-byte encoding it looks like), else what charset-normalizer finds."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return _by_bom(data, enc, name)

    start = data[:64]
    for sig, what in _BINARY_SIGNATURES:
        if start.startswith(sig):
            raise _not_text(name, f"it looks like {what}")

    warnings: list[str] = []
    nuls = data.count(b"\x00")
    if nuls:
        stripped = data.rstrip(b"\x00")
        inner = nuls - (len(data) - len(stripped))  # NUL bytes before the trailing ones
        wide = _wide_without_bom(data, nuls, inner, name)
        if wide is not None:
            return wide
        data = stripped.replace(b"\x00", b"") if inner else stripped
        warnings.append(f"removed {nuls} NUL byte{'s' if nuls != 1 else ''}")
    return _narrow(data, name, warnings)


def _by_bom(data: bytes, enc: str, name: str) -> Text:
    codec = "utf-8-sig" if enc == "utf-8" else enc[:6]  # utf-16 / utf-32 read the BOM
    try:
        data.decode(codec)  # validate it all before any row is read
    except UnicodeDecodeError as exc:
        why = f"starts with a {enc} byte-order mark but byte {exc.start} is not {enc}"
        raise _not_text(name, why) from None
    warnings = [] if enc == "utf-8" else [f"decoded as {enc} (byte-order mark)"]
    return _checked(Text(data, codec, codec if enc == "utf-8" else enc, _head(data, codec), warnings), name)


def _wide_without_bom(data: bytes, nuls: int, inner: int, name: str) -> Text | None:
    """UTF-16/32 without a byte-order mark, or None when the NUL bytes are only a few strays
    (removed by the caller). Too many NUL bytes in no wide encoding: not text."""
    enc = _bomless_utf16(data, nuls)
    if enc is not None:
        payload = data[: len(data) & ~1]
        return _checked(Text(payload, enc, enc, _head(payload, enc), [f"decoded as {enc} (no byte-order mark)"]), name)
    if inner <= max(8, (len(data) - nuls + inner) // 1000):  # a few per 1,000 bytes before the trailing NULs
        return None
    wide = _detected(data)  # UTF-16/32 without a BOM and not mostly ASCII (e.g. Chinese)
    if wide is None or not wide[1].startswith(("utf-16", "utf-32")):
        raise _not_text(name, f"{nuls} NUL bytes")
    return _utf8_of(wide, name, [f"decoded as {wide[1]} (detected, no byte-order mark)"])


def _narrow(data: bytes, name: str, warnings: list[str]) -> Text:
    """UTF-8 (also with a few bad bytes), else cp1252 unless it reads as a double-byte encoding,
    else charset-normalizer."""
    for codec, note in (("utf-8", None), ("cp1252", "decoded as cp1252 (the file is not valid UTF-8)")):
        try:
            data.decode(codec)
        except UnicodeDecodeError:
            if codec == "utf-8" and (bad := _bad_utf8_bytes(data)):
                warnings.append(f"{bad:,} byte{'s' if bad != 1 else ''} not UTF-8, each read as {REPLACEMENT}"
                                " (the rows holding them are named)")
                return _checked(Text(data, codec, codec, _head(data, codec), warnings, errors="replace"), name)
            continue
        head = _head(data, codec)
        if codec == "cp1252" and _looks_double_byte(head):
            # Chinese Windows saves CSV as GBK/Big5, whose bytes mostly decode as cp1252 gibberish.
            detected = _detected(data)
            if detected is not None and detected[1].startswith(_DOUBLE_BYTE):
                warnings.append(f"decoded as {detected[1]} (detected; the file is not valid UTF-8)")
                return _utf8_of(detected, name, warnings)
        if note:
            warnings.append(note)
        return _checked(Text(data, codec, codec, head, warnings), name)

    detected = _detected(data)
    if detected is None:
        raise _not_text(name, "not UTF-8, not cp1252, and no other text encoding fits")
    warnings.append(f"decoded as {detected[1]} (detected; the file is neither UTF-8 nor cp1252)")
    return _utf8_of(detected, name, warnings)


def _bad_utf8_bytes(data: bytes) -> int:
    """How many bad bytes a file that is UTF-8 but for a few holds, or 0 when it is not UTF-8:
    at least two well-formed non-ASCII characters for each bad byte. A cp1252 or GBK file has
    none, or far fewer than its bad bytes (its pairs form UTF-8 only by chance)."""
    text = data.decode("utf-8", "replace")
    bad = text.count(REPLACEMENT) - data.count(REPLACEMENT.encode())
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return bad if 0 < bad and good >= 2 * bad else 0


def _utf8_of(detected: tuple[str, str], name: str, warnings: list[str]) -> Text:
    """Text that charset-normalizer decoded, held as UTF-8 bytes like any other."""
    payload = detected[0].encode("utf-8")
    return _checked(Text(payload, "utf-8", detected[1], _head(payload, "utf-8"), warnings), name)


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
    sample = data[:HEAD_CHARS]
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


def _checked(text: Text, name: str) -> Text:
    """Refuse decoded 'text' that is really binary (control characters in quantity)."""
    sample = text.head
    controls = len(_CONTROL.findall(sample))
    if controls > max(4, len(sample) // 100):
        raise _not_text(name, f"{controls} control characters in the first {len(sample):,} characters")
    return text
