"""CSV bytes → validated lead records + rejects.

Pure: bytes in, records out. No database, no terminal. What it promises is the "CSV input"
section of the command-line contract:

- UTF-8 with or without BOM (with a few bad bytes too: each read as U+FFFD, its row warned
  about); UTF-16/UTF-32 with a BOM (Facebook's lead export), or without one;
  cp1252 when the bytes are not UTF-8, unless they read as a double-byte encoding (a Chinese
  Windows' GBK/Big5); charset-normalizer as the last resort. Binary files are refused whole.
  Rows are read through an incremental decoder: the file is never held as one big string.
  A big file's rows can be read and normalised in a forked child process while the caller
  works on the records already read (`ParsedStream.chunks(background=True)`): same records.
- Comma, semicolon or tab, detected from the header line (counted outside quotes; a tie is comma).
- Header names matched ignoring case, spaces, ``_``, ``-``, punctuation and camelCase boundaries,
  with a Salesforce ``__c`` suffix ignored, against the synonyms of CRM and ad-platform exports.
  ``--map NAME=COLUMN`` overrides, for a field or an attribute. Every other column is kept as an
  attribute under its snake_case name; `read_as` says how each column was read.
- A phone or email cell holding several values (a JSON list, or values split by ``;``) gives
  the lead its first usable one; the others are dedupe keys and attributes.
- Each data row becomes a `LeadRecord` or a `Reject` with a reason; blank lines and rows of
  empty cells are skipped and counted. Nothing is dropped silently: an unbalanced quote rejects
  the line where it opened and the lines after it are read again as rows; ragged rows and
  oversized fields are rejects.
- `write_rejects` / `rejects_csv_text`: a `reason` column, the row as read, then the header and the
  rows' cells, every cell spreadsheet-safe.

Rows are not deduplicated here: the ledger does that against everything it holds.

The modules, in the order a file goes through them: `decoding` (bytes to text), `lines`
(delimiter and CSV records with line numbers), `header` (the column plan), `reading` (rows to
records and rejects), `stream` and `background` (handing the records out, read here or in child
processes), `records` (the values), `rejects` (the rejects file).
"""

from leadshare.importer.background import BACKGROUND_ROWS, TWO_READERS_ROWS
from leadshare.importer.header import FIELDS, attr_name, header_key, parse_map_options
from leadshare.importer.reading import MAX_FIELD_CHARS, open_leads, read_leads
from leadshare.importer.records import LeadRecord, ParsedFile, Reject
from leadshare.importer.rejects import rejects_csv_text, write_rejects
from leadshare.importer.stream import ParsedStream

__all__ = [
    "LeadRecord",
    "Reject",
    "ParsedFile",
    "ParsedStream",
    "FIELDS",
    "MAX_FIELD_CHARS",
    "BACKGROUND_ROWS",
    "TWO_READERS_ROWS",
    "read_leads",
    "open_leads",
    "parse_map_options",
    "write_rejects",
    "rejects_csv_text",
    "header_key",
    "attr_name",
]
