"""Hostile input: bad CSV files and bad rules files through the real command line.

Whatever arrives, a user sees one of three things, never a traceback:
- exit 2 and one clear line on stderr naming the file, with nothing written to the ledger;
- exit 0 or 1 with every data row accounted for: imported, a duplicate, or in the rejects file
  with its reason (rows == imported + duplicates + rejected, and the rejects file has that many
  data rows);
- for rules files, exit 2 with every problem as `FILE:LINE: message`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import random
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CSV_HEADER, TEAM_YAML, lead_rows, phone

from leadshare.cli.rules_cmds import RULES_HINT

FIXTURES = Path(__file__).parent / "fixtures" / "hostile"
REASON_HEADERS = ("reason", "reject_reason", "leadshare_reason", "leadshare_reject_reason")
GOOD = [r.encode() for r in lead_rows(5)]  # FB-0..FB-4, valid phones and emails
HEADER = CSV_HEADER.encode()


# ---- helpers ---------------------------------------------------------------------------------




def count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError:  # no tables yet
            return 0


def no_crash(result) -> None:
    """Neither a traceback nor the last-resort 'unexpected' guard: a user got a real answer."""
    err = result.stderr
    assert "Traceback" not in err and "Traceback" not in result.stdout, err[-2000:]
    assert "unexpected" not in err, f"fell through to the last-resort handler: {err.strip()[-500:]}"
    assert result.exit_code in (0, 1, 2), (result.exit_code, err[-500:])


def rejects_rows(path: str) -> list[list[str]]:
    """The rejects file's rows (header first), read with the delimiter it was written with."""
    text = Path(path).read_text(encoding="utf-8-sig")
    for delimiter in (",", ";", "\t"):
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        if rows and rows[0] and rows[0][0] in REASON_HEADERS:
            return rows
    raise AssertionError(f"{path}: no reason column first: {text[:200]!r}")


def check_import(cli, db: Path, file: str, *, expect: str = "any", rows: int | None = None,
                 imported: int | None = None, rejected: int | None = None, extra: tuple = ()) -> dict | None:
    """Run `import FILE --json` and check the invariants every outcome must keep."""
    events, leads = count(db, "events"), count(db, "leads")
    result = cli("--db", str(db), "import", file, "--json", *extra)
    no_crash(result)
    if result.exit_code == 2:
        assert expect != "read", f"{file} was refused: {result.stderr.strip()}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, f"not one line: {result.stderr!r}"
        name = Path(file).name if file != "-" else "-"
        assert name in lines[0] or file in lines[0], f"the message does not name the file: {lines[0]}"
        # under --json a refusal is one error document, never a result
        assert list(orjson.loads(result.stdout)) == ["error"], f"a refused import printed a result: {result.stdout[:300]}"
        assert count(db, "events") == events and count(db, "leads") == leads, "partial write on exit 2"
        return None
    assert expect != "refused", f"{file} should have been refused; got {result.exit_code}: {result.stdout[:300]}"
    out = orjson.loads(result.stdout)
    assert out["rows"] == out["imported"] + out["duplicates"] + out["rejected"], out
    assert result.exit_code == (1 if out["rejected"] else 0), (result.exit_code, out)
    assert count(db, "leads") - leads == out["imported"]
    assert out["assigned"] + out["queued"] == out["imported"]
    if rows is not None:
        assert out["rows"] == rows, out
    if imported is not None:
        assert out["imported"] == imported, (out, result.stderr[-1000:])
    if rejected is not None:
        assert out["rejected"] == rejected, out
    if out["rejected"]:
        if file != "-":
            assert out["rejects_file"], out
            table = rejects_rows(out["rejects_file"])
            assert len(table) - 1 == out["rejected"], (len(table) - 1, out)
            assert all(r and r[0].strip() for r in table[1:]), "a rejected row without its reason"
    else:
        assert out["rejects_file"] is None
    return out


@dataclass
class Case:
    name: str
    data: bytes
    expect: str = "any"  # refused | read | any
    rows: int | None = None
    imported: int | None = None
    rejected: int | None = None


def _good(*rows: bytes, header: bytes = HEADER, nl: bytes = b"\n") -> bytes:
    return header.rstrip(b"\r\n") + nl + nl.join(rows) + nl


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(random.Random(1).randrange(256) for _ in range(2048))


def _random_bytes(seed: int, n: int = 4096) -> bytes:
    rnd = random.Random(seed)
    return bytes(rnd.randrange(256) for _ in range(n))


NAMES_CP1252 = ["José Müller", "Zoë Ñúñez", "François “Frank” Œuvre", "Ångström – Ltd"]


def _cp1252() -> bytes:
    rows = [f"CP-{i},{n},{phone(100 + i)},cp{i}@example.com,web,KL,residential" for i, n in enumerate(NAMES_CP1252)]
    return (CSV_HEADER + "\r\n".join(rows) + "\r\n").encode("cp1252")


def _utf16(encoding: str, bom: bool) -> bytes:
    text = CSV_HEADER + "\n".join(lead_rows(3, start=200) + ["U-1,陈大文,012-3000210,chen@example.com,web,KL,residential"]) + "\n"
    data = text.encode(encoding)
    if bom:
        data = (codecs.BOM_UTF16_LE if encoding == "utf-16-le" else codecs.BOM_UTF16_BE) + data
    return data


CASES = [
    Case("empty.csv", b"", "refused"),
    Case("blank_lines.csv", b"\n\r\n   \n\t\n", "refused"),
    Case("only_bom.csv", codecs.BOM_UTF8, "refused"),
    Case("only_bom_and_newlines.csv", codecs.BOM_UTF8 + b"\r\n\r\n", "refused"),
    Case("header_only.csv", HEADER, rows=0),
    Case("header_only_no_newline.csv", HEADER.rstrip(), rows=0),
    Case("header_no_contact_columns.csv", b"Name,City,Budget\nAli,KL,100\n", "refused"),
    Case("header_all_blank.csv", b",,,,\n" + GOOD[0] + b"\n", "refused"),
    Case("header_unbalanced_quote.csv", b'Name,"Phone,Email\n' + GOOD[0] + b"\n", "refused"),
    Case("png_image.csv", _png(), "refused"),
    Case("zip_archive.csv", b"PK\x03\x04" + _random_bytes(2), "refused"),
    Case("pdf.csv", b"%PDF-1.7\n" + _random_bytes(3), "refused"),
    Case("sqlite_db.csv", b"SQLite format 3\x00" + bytes(4080), "refused"),
    Case("elf_binary.csv", Path(sys.executable).read_bytes()[:8192], "refused"),
    Case("random_bytes.csv", _random_bytes(4), "refused"),
    Case("random_bytes_2.csv", _random_bytes(5, 20000), "refused"),
    Case("all_nul.csv", bytes(5000), "refused"),
    Case("nul_in_cells.csv", _good(GOOD[0].replace(b"Customer", b"Cust\x00omer"), GOOD[1], GOOD[2] + b"\x00"),
         "read", rows=3, imported=3),
    Case("nul_heavy.csv", _good(*[g.replace(b",", b",\x00\x00") for g in GOOD]), "any"),
    Case("ragged.csv", _good(b"R-1,Short Row," + phone(300).encode(),  # 3 of 7 cells: padded, imported
                             GOOD[1] + b",extra,cells,here",  # more cells than the header: rejected
                             GOOD[2] + b",,,",  # trailing empty cells: harmless
                             b"R-4",  # one cell, no contact: rejected
                             GOOD[3]),
         "read", rows=5, imported=3, rejected=2),
    Case("unterminated_quote_middle.csv",
         _good(GOOD[0], b'FB-9,"Unclosed Name,012-3009999,u@example.com,web,KL,residential', GOOD[1], GOOD[2], GOOD[3]),
         "read", rows=5, imported=4, rejected=1),
    Case("unterminated_quote_last.csv", _good(GOOD[0], GOOD[1], b'FB-9,Name,"012-300', ), "read", rows=3, imported=2, rejected=1),
    Case("quote_inside_cell.csv", _good(b'Q-1,Ali "The Boss" Rahman,' + phone(310).encode() + b',q@example.com,web,KL,x',
                                        b'Q-2,"Siti" Aminah,' + phone(311).encode() + b',,web,KL,x'),
         "read", rows=2),
    Case("many_unbalanced_quotes.csv", _good(*[b'"' + f"X-{i},n,".encode() + phone(i).encode() for i in range(400)]), "any"),
    Case("mixed_newlines.csv", HEADER.rstrip() + b"\r\n" + GOOD[0] + b"\n" + GOOD[1] + b"\r" + GOOD[2] + b"\r\n" + GOOD[3] + b"\r" + GOOD[4],
         "read", rows=5, imported=5),
    Case("old_mac_newlines.csv", b"\r".join([HEADER.rstrip(), *GOOD]) + b"\r", "read", rows=5, imported=5),
    Case("quoted_newlines.csv", _good(b'N-1,"Line one\r\nline two\nline three",' + phone(320).encode() + b',,web,KL,"a\rb"'),
         "read", rows=1, imported=1),
    Case("utf8_bom.csv", codecs.BOM_UTF8 + _good(*GOOD), "read", rows=5, imported=5),
    Case("utf16_le_bom.csv", _utf16("utf-16-le", True), "read", rows=4, imported=4),
    Case("utf16_be_bom.csv", _utf16("utf-16-be", True), "read", rows=4, imported=4),
    Case("utf16_le_no_bom.csv", _utf16("utf-16-le", False), "read", rows=4, imported=4),
    Case("utf32.csv", (CSV_HEADER + "\n".join(lead_rows(2, start=220)) + "\n").encode("utf-32"), "read", rows=2, imported=2),
    Case("utf16_odd_length.csv", _utf16("utf-16-le", True) + b"\x00", "any"),
    Case("cp1252.csv", _cp1252(), "read", rows=4, imported=4),
    Case("invalid_utf8_byte.csv", _good(*GOOD[:2], b"B-1,Caf\xe9 \xff\xfe Owner," + phone(330).encode() + b",,web,KL,x"), "read", rows=3),
    Case("gbk.csv", (CSV_HEADER + f"G-1,陈大文先生,{phone(340)},,微信,KL,商业\nG-2,林小美女士,{phone(341)},,微信,KL,住宅\n").encode("gbk"),
         "read", rows=2, imported=2),
    Case("bom_in_middle.csv", _good(GOOD[0], codecs.BOM_UTF8 + GOOD[1], GOOD[2].replace(b"Customer", b"Cust\xef\xbb\xbfomer")),
         "read", rows=3),
    Case("duplicate_headers.csv",
         b"Name,Phone,Phone,Email,Email,Name,Lead ID,Lead ID\n" + f"Ali,{phone(350)},{phone(351)},a@example.com,b@example.com,Other,D-1,D-2\n".encode()
         + f"Abu,,{phone(352)},,c@example.com,,D-3,\n".encode(), "read", rows=2, imported=2),
    Case("only_delimiters.csv", _good(b",,,,,,", b";;;;", b"\t\t", GOOD[0]), "read", rows=2, imported=1),  # ,,,,,, is blank
    Case("tab_delimited.csv", _good(*[g.replace(b",", b"\t") for g in GOOD], header=HEADER.replace(b",", b"\t")), "read", rows=5, imported=5),
    Case("semicolon.csv", _good(*[g.replace(b",", b";") for g in GOOD], header=HEADER.replace(b",", b";")), "read", rows=5, imported=5),
    Case("formula_cells.csv", _good(
        b'F-1,"=HYPERLINK(""http://evil.example"",""click"")",' + phone(360).encode() + b",f1@example.com,=cmd|' /C calc'!A0,KL,@SUM(1+1)",
        b"F-2,+SUM(1;2)," + phone(361).encode() + b",f2@example.com,-2+3,KL,\t=1+1",
        b"F-3,@evil," + phone(362).encode() + b',f3@example.com,web,KL,"\r=2"'), "read", rows=3, imported=3),
    Case("ansi_escapes.csv", _good(b"E-1,\x1b[2J\x1b[31mRed Name\x1b[0m," + phone(370).encode() + b",,web,KL,x"), "any"),
    Case("bidi_and_emoji.csv", _good("B-1,\u202eAli\u202c 👨‍👩‍👧 Zalgo Z̵̢a̸l,".encode() + phone(380).encode() + ",,web,KL,x".encode(),
                                     f"B-2,Arabic digits,{'٠١٢٣٠٠٠٣٨١'},,web,KL,x".encode()), "read", rows=2),
    Case("sql_like_text.csv",
         b"Lead ID,Name,Phone,\"); DROP TABLE leads;--\",id,__proto__,\"a\"\"b\"\n"
         + f"S-1,Robert'); DROP TABLE leads;--,{phone(390)},x,7,y,z\n".encode(), "read", rows=1, imported=1),
    Case("long_line_of_delimiters.csv", _good(GOOD[0] + b"," * 100_000 + b"x", GOOD[1]), "read", rows=2, imported=1, rejected=1),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_csv_is_refused_whole_or_every_row_is_accounted_for(cli, tmp_path, case):
    path = tmp_path / case.name
    path.write_bytes(case.data)
    check_import(cli, tmp_path / "leadshare.db", str(path), expect=case.expect, rows=case.rows,
                 imported=case.imported, rejected=case.rejected)


def test_hostile_fixture_files_are_refused_whole_or_accounted_for(cli, tmp_path):
    """Small hand-made files kept in tests/fixtures/hostile (each read through the real import)."""
    files = sorted(p for p in FIXTURES.glob("*.csv") if not p.name.endswith(".rejected.csv"))
    assert files, "tests/fixtures/hostile holds the hand-made corpus"
    for i, src in enumerate(files):
        path = tmp_path / src.name
        path.write_bytes(src.read_bytes())
        check_import(cli, tmp_path / f"fixture{i}.db", str(path))


def test_a_ten_megabyte_field_rejects_its_row_and_keeps_the_rest(cli, tmp_path):
    path = tmp_path / "huge_field.csv"
    big = b'"' + b"A" * (10 * 1024 * 1024) + b'"'
    path.write_bytes(_good(GOOD[0], GOOD[1].rsplit(b",", 1)[0] + b"," + big, GOOD[2]))
    out = check_import(cli, tmp_path / "leadshare.db", str(path), expect="read", rows=3, imported=2, rejected=1)
    reason = rejects_rows(out["rejects_file"])[1][0]
    assert "too large" in reason and "line 3" in reason, reason


def test_fifty_thousand_columns_do_not_break_the_import(cli, tmp_path):
    columns = ["Lead ID", "Name", "Phone"] + [f"c{i}" for i in range(3, 50_000)]
    rows = [",".join(columns)]
    for i in range(3):
        rows.append(",".join([f"W-{i}", f"Wide {i}", phone(400 + i)] + [str(i)] * (len(columns) - 3)))
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(rows) + "\n")
    check_import(cli, tmp_path / "leadshare.db", str(path), rows=3)


def test_a_long_header_cell_does_not_hang_the_import(tmp_path, rules):
    """A header cell of 30,000 capital letters (a pasted blob) is an odd column, not a reason for
    the import to spin for minutes matching camelCase boundaries."""
    (tmp_path / "long.csv").write_bytes(b"Phone,Name," + b"H" * 30_000 + b"\n" + f"{phone(395)},Long,x\n".encode())
    env = dict(os.environ, LEADSHARE_RULES=str(rules), LEADSHARE_DB=str(tmp_path / "leadshare.db"))
    try:
        done = subprocess.run([sys.executable, "-m", "leadshare", "import", "long.csv", "--json"], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=4)
    except subprocess.TimeoutExpired:
        pytest.fail("importing a file whose header has one 30,000-character cell took over 4 s")
    assert done.returncode in (0, 2) and "Traceback" not in done.stderr and "unexpected" not in done.stderr, done.stderr


def test_unreadable_paths_give_one_line_and_exit_2(cli, tmp_path):
    (tmp_path / "folder.csv").mkdir()
    for target in ("missing.csv", "folder.csv"):
        result = cli("import", target)
        no_crash(result)
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1 and target in result.stderr
    assert count(tmp_path / "leadshare.db", "events") == 0


def test_hostile_stdin_is_refused_whole_or_accounted_for(cli, tmp_path):
    db = tmp_path / "leadshare.db"
    for data in (b"", HEADER, _random_bytes(9), _good(GOOD[0], b"X-1,no contact,,,web,KL,x")):
        events = count(db, "events")
        result = cli("--db", str(db), "import", "-", "--json", input=data)
        no_crash(result)
        if result.exit_code == 2:
            assert count(db, "events") == events
            assert len(result.stderr.strip().splitlines()) == 1
        else:
            out = orjson.loads(result.stdout)
            assert out["rows"] == out["imported"] + out["duplicates"] + out["rejected"]


def test_formula_cells_are_defused_in_csv_export_and_kept_in_json(cli, tmp_path):
    case = next(c for c in CASES if c.name == "formula_cells.csv")
    (tmp_path / "f.csv").write_bytes(case.data)
    check_import(cli, tmp_path / "leadshare.db", "f.csv", expect="read")
    result = cli("export", "--format", "csv", "--out", "out.csv")
    no_crash(result)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8-sig"), newline="")))
    cells = [c for r in rows[1:] for c in r]
    assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], rows
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    data = orjson.loads(cli("export", "--format", "json").stdout)
    assert {d["name"] for d in data} >= {'=HYPERLINK("http://evil.example","click")', "+SUM(1;2)", "@evil"}


# ---- hostile command lines ----------------------------------------------------------------------

BAD_COMMAND_LINES = [
    (("export", "--json"), "--json"),  # an option the command does not have
    (("mine", "--bogus"), "--bogus"),
    (("import",), "FILE"),  # a missing argument
    (("status", "1"), "STATUS"),
    (("log", "--limit", "abc"), "--limit"),  # a value of the wrong type
    (("log", "--limit", "0"), "--limit"),
    (("bogus",), "bogus"),  # no such command
    (("import", "a.csv", "--map"), "--map"),  # an option without its value
]


@pytest.mark.parametrize("args,named", BAD_COMMAND_LINES, ids=[" ".join(a) for a, _ in BAD_COMMAND_LINES])
def test_a_mistyped_command_line_names_what_is_wrong(cli, args, named):
    """Usage mistakes exit 2 with the usual usage message naming the option, argument or
    command at fault, not the last-resort 'unexpected' line."""
    result = cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert named in result.stderr, result.stderr


# ---- text that looks like terminal markup is data ------------------------------------------


MARKUP_ROWS = [
    f"M-1,[/] Bad [bold]Name,{phone(500)},[/]@@example.com,facebook,KL,residential",
    f"M-2,[link=file:///etc/passwd]x[/link],{phone(501)},m2@example.com,[/red],KL,residential",
]


def test_markup_like_text_in_a_warning_does_not_turn_a_committed_import_into_an_error(cli, tmp_path):
    """A bad email is kept raw with a warning on stderr; the warning quotes the cell. Brackets in
    that cell must not make leadshare report 'nothing was changed' (exit 2) after it committed."""
    (tmp_path / "m.csv").write_text(CSV_HEADER + "\n".join(MARKUP_ROWS) + "\n")
    result = cli("import", "m.csv", "--json")
    no_crash(result)
    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout)["imported"] == 2
    assert "[/]@@example.com" in result.stderr  # the warning shows the cell as written


def test_markup_like_names_and_notes_show_as_written_in_tables(cli, tmp_path):
    """Names and notes are data: `[/]` must not crash a table and `[no answer]` must not vanish."""
    (tmp_path / "m.csv").write_text(CSV_HEADER + "\n".join(MARKUP_ROWS) + "\n")
    cli("import", "m.csv", "--json")
    owner = orjson.loads(cli("show", "2", "--json").stdout)["agent"]
    assert cli("note", "2", "called [no answer], try again", "--as", owner).exit_code == 0
    for args in (("mine", "--as", owner), ("show", "1"), ("show", "2"), ("log",), ("export", "--format", "csv")):
        result = cli(*args)
        assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, (args, result.stderr)
        assert result.exit_code == 0, (args, result.stderr)
    assert "[/] Bad [bold]Name" in cli("show", "1").stdout
    assert "[no answer]" in cli("show", "2").stdout


def test_a_folder_name_with_brackets_is_named_as_written(cli, tmp_path):
    """Folders like `Leads [old]` are common; the summary must name the file the user gave."""
    folder = tmp_path / "Leads [old]"
    folder.mkdir()
    (folder / "nov.csv").write_text(CSV_HEADER + "\n".join(lead_rows(2)) + "\n")
    result = cli("import", "Leads [old]/nov.csv")
    no_crash(result)
    assert result.exit_code == 0, result.stderr
    assert "Leads [old]/nov.csv" in result.stdout.replace("\n", ""), result.stdout


# ---- hypothesis: random rows ---------------------------------------------------------------

_SPECIAL = st.sampled_from(['"', '""', ",", ";", "\t", "\n", "\r\n", "\r", " ", "'", "=1+1", "\ufeff", "\u00a0", "é", "😀"])
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="["), max_size=12)
_CELL = st.one_of(st.just(""), _TEXT, _SPECIAL, st.lists(st.one_of(_TEXT, _SPECIAL), max_size=4).map("".join))
_PHONE = st.one_of(_CELL, st.integers(0, 60).map(phone), st.integers(0, 60).map(lambda i: f"+60 12-300 {i:04d}"))
_EMAIL = st.one_of(_CELL, st.integers(0, 60).map(lambda i: f"User{i}@Example.COM"))
_ROW = st.tuples(_CELL, _CELL, _PHONE, _EMAIL, _CELL, _CELL, _CELL).map(list)


@settings(max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "15")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(_ROW, min_size=1, max_size=8), delimiter=st.sampled_from([",", ";", "\t"]),
       newline=st.sampled_from(["\n", "\r\n"]), quoting=st.booleans(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_random_rows_are_each_imported_or_rejected_with_a_reason(cli, tmp_path, rows, delimiter, newline, quoting, encoding):
    out = io.StringIO()
    header = [h for h in CSV_HEADER.strip().split(",")]
    if quoting:  # properly quoted (csv.writer leaves a lone CR unquoted): every row is one data row
        def q(cell: str) -> str:
            return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in (delimiter, '"', "\r", "\n")) else cell

        for r in [header, *rows]:
            out.write(delimiter.join(map(q, r)) + newline)
    else:  # cells pasted together as a careless script would: only the invariants hold
        out.write(delimiter.join(header) + newline)
        for r in rows:
            out.write(delimiter.join(r) + newline)
    data = out.getvalue().encode(encoding)
    path = tmp_path / f"random-{hashlib.sha256(data).hexdigest()[:16]}.csv"
    if path.exists():
        return  # hypothesis replayed an example: the same file is only "already imported"
    path.write_bytes(data)
    result = check_import(cli, tmp_path / "random.db", str(path))  # one ledger for all examples
    if result is not None and quoting:  # a row of blank cells is skipped like a blank line
        assert result["rows"] == sum(any(c.strip() for c in r) for r in rows), (result, rows)


# ---- rules files -----------------------------------------------------------------------------

RULE_LINE = re.compile(r"^[^\n]*:\d+: \S.*$")


def problem_lines(stderr: str, name: str) -> list[str]:
    """`rules check`'s refusal: one `FILE:LINE: message` line per problem, then the reference hint."""
    *lines, hint = stderr.strip().splitlines()
    assert lines and all(RULE_LINE.match(line) and name in line for line in lines), lines[:5]
    assert hint == RULES_HINT
    return lines


def check_rules_refused(cli, tmp_path, text: str | bytes, name: str = "bad.yaml", with_import: bool = True) -> list[str]:
    """`rules check` (and `import`) with this rules file: exit 2, `FILE:LINE: message` lines, nothing written."""
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    checked = cli("rules", "check", str(path))
    no_crash(checked)
    assert checked.exit_code == 2, (checked.exit_code, checked.stdout[-300:], checked.stderr[-300:])
    lines = problem_lines(checked.stderr, name)
    if not with_import:
        return lines
    (tmp_path / "ok.csv").write_text(CSV_HEADER + "\n".join(lead_rows(2)) + "\n")
    imported = cli("--rules", str(path), "--db", "hostile-rules.db", "import", "ok.csv")
    no_crash(imported)
    assert imported.exit_code == 2 and name in imported.stderr
    assert count(tmp_path / "hostile-rules.db", "events") == 0
    return lines


def _laughs(levels: int = 9) -> str:
    out = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        out.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(out) + "\nagents: [{id: x}]\n"


EVIL_RULES = {
    "billion_laughs": _laughs(),
    "laughs_in_agents": "x: &x [" + ",".join(["lol"] * 50) + "]\ny: &y [" + ",".join(["*x"] * 50) + "]\nz: &z [" + ",".join(["*y"] * 50) + "]\nagents: [{id: a, skills: *z}]\n",
    "python_apply": 'timezone: !!python/object/apply:os.system ["touch PWNED"]\nagents: [{id: a}]\n',
    "python_new": "agents: !!python/object/new:subprocess.Popen [[touch, PWNED]]\n",
    "python_name": "agents: [{id: !!python/name:os.system }]\n",
    "python_module": "agents: [{id: !!python/module:os }]\n",
    "custom_tag": "agents: [{id: !secret x}]\n",
    "binary_tag": "agents: [{id: !!binary aGVsbG8=}]\n",
    "set_tag": "agents: !!set {a, b}\n",
    "recursive_alias": "a: &a\n  b: *a\nagents: [{id: x}]\n",
    "deep_lists": "agents: " + "[" * 600 + "]" * 600 + "\n",
    "deep_maps": "agents: " + "{a: " * 600 + "1" + "}" * 600 + "\n",
    "not_utf8": b"agents: [{id: \xff\xfe}]\n",
    "binary": _random_bytes(11, 2048),
    "nul": b"agents: [{id: a\x00b}]\n",
    "list_root": "- id: a\n- id: b\n",
    "scalar_root": "just a string\n",
    "empty": "",
    "tabs": "agents:\n\t- id: a\n",
    "duplicate_keys": "agents: [{id: a}]\nagents: [{id: b}]\n",
    "merge_of_scalar": "base: &b 5\nagents: [{<<: *b, id: a}]\n",
    "huge_int_capacity": "agents: [{id: a, capacity: " + "9" * 5000 + "}]\n",
    "huge_duration": "sla: {first_contact: 99999999999999d}\nagents: [{id: a}]\n",
    "huge_duration_hours": "sla: {first_contact: 999999999999h}\nagents: [{id: a}]\n",
    "huge_tier_period": "tiers: {g: {weight: 1, min_closed: 1, period: 99999999999w}}\nagents: [{id: a, tier: g}]\n",
    "nan_weight": "tiers: {g: {weight: .nan}}\nagents: [{id: a, tier: g}]\n",
    "inf_weight": "tiers: {g: {weight: .inf}}\nagents: [{id: a, tier: g}]\n",
    "impossible_date": "agents: [{id: a, leave: [2026-02-30]}]\n",
}


@pytest.mark.parametrize("name", sorted(EVIL_RULES))
def test_evil_rules_files_are_refused_line_by_line(cli, tmp_path, name):
    # every file through `rules check`; a few through `import` too (the same loading, then nothing written)
    through_import = name in ("billion_laughs", "python_apply", "python_new", "not_utf8", "huge_duration", "list_root")
    check_rules_refused(cli, tmp_path, EVIL_RULES[name], name=f"{name}.yaml", with_import=through_import)
    assert not (tmp_path / "PWNED").exists()


def test_a_large_rules_file_is_refused_without_reading_it_all(cli, tmp_path):
    check_rules_refused(cli, tmp_path, "agents: [{id: a}]\n" + "#" * 6_000_000 + "\n", name="large.yaml")


# Every key of the rules file, with values of every wrong type. A value may turn out to be valid
# for some key (then `rules check` says ok); otherwise it is refused with the key's line.
_WRONG = {
    "int": "7", "negative": "-3.5", "bool": "true", "null": "null", "list": "[a, [b]]", "map": "{x: 1}",
    "text": "'nonsense words'", "date": "2026-01-01", "huge": "1" + "0" * 400, "binary": "!!binary aGk=",
}
_BASE = {
    "timezone": "Asia/Kuala_Lumpur", "phone_region": "MY",
    "hours": "{mon-fri: '09:00-18:00'}", "after_hours": "assign", "statuses": "[new, contacted, qualified, won, lost]",
    "require_note": "[lost]", "sla": "{first_contact: 4h, on_breach: reassign, max_reassign: 2}",
    "tiers": "{gold: {weight: 1.25}}",
}
_AGENT = {"id": "aisyah", "name": "Aisyah", "role": "manager", "territories": "[KL]", "skills": "[en]", "tier": "gold",
          "capacity": "5", "hours": "{mon-fri: '09:00-18:00'}", "leave": "[2026-12-01..2026-12-05]", "active": "true",
          "email": "a@example.com", "phone": "'+60123456789'"}
_RULE = {"name": "everyone", "when": "{source: facebook}", "pool": "all", "strategy": "round_robin", "fallback": "next"}
_NESTED = {"sla.first_contact": "4h", "sla.on_breach": "reassign", "sla.max_reassign": "2",
           "tiers.gold.weight": "1.25", "holidays.country": "MY", "notify.command": "./send.sh"}


def _rules_text(override: tuple[str, str, str] | None) -> str:
    where, key, value = override or ("", "", "")
    lines = []
    for k, v in _BASE.items():
        lines.append(f"{k}: {value if where == 'top' and k == key else v}")
    if where == "nested":
        top, *rest = key.split(".")
        lines = [l for l in lines if not l.startswith(f"{top}:")]
        if top == "tiers":
            lines.append(f"tiers: {{gold: {{weight: {value}}}}}")
        elif top == "holidays":
            lines.append(f"holidays: {{country: {value}}}")
        elif top == "notify":
            lines.append(f"notify: {{command: {value}}}")
        else:
            inner = {"first_contact": "4h", "on_breach": "reassign", "max_reassign": "2"}
            inner[rest[0]] = value
            lines.append("sla: {" + ", ".join(f"{a}: {b}" for a, b in inner.items()) + "}")
    lines.append("agents:")
    for i, (k, v) in enumerate(_AGENT.items()):
        lines.append(f"  {'- ' if i == 0 else '  '}{k}: {value if where == 'agent' and k == key else v}")
    lines.append("  - id: ben\n    tier: gold")
    lines.append("rules:")
    for i, (k, v) in enumerate(_RULE.items()):
        lines.append(f"  {'- ' if i == 0 else '  '}{k}: {value if where == 'rule' and k == key else v}")
    lines.append("  - name: all\n    pool: all")
    if where == "top" and key in ("agents", "rules", "notify", "holidays"):
        lines = [l for l in lines if not l.startswith(f"{key}:")] + [f"{key}: {value}"]
        if key in ("agents", "rules"):  # drop the block that followed the key
            text = "\n".join(lines)
            block = text.split(f"\n{'agents' if key == 'agents' else 'rules'}:")[0]
            return block + f"\n{key}: {value}\n"
    return "\n".join(lines) + "\n"


_KEYS = ([("top", k) for k in (*_BASE, "holidays", "agents", "rules", "notify")] + [("agent", k) for k in _AGENT]
         + [("rule", k) for k in _RULE] + [("nested", k) for k in _NESTED])


_FIRST_OF_GROUP = {next(k for k in _KEYS if k[0] == group) for group in ("top", "agent", "rule", "nested")}


def test_the_wrong_type_matrix_base_file_is_valid(cli, tmp_path):
    (tmp_path / "base.yaml").write_text(_rules_text(None))
    result = cli("rules", "check", "base.yaml")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("where,key", _KEYS, ids=[f"{w}.{k}" for w, k in _KEYS])
def test_every_wrong_type_for_every_key_is_a_line_numbered_problem(cli, tmp_path, where, key):
    """Each value goes through what `rules check` runs (check_rules, then load_team and lint_team
    when it is valid); for the first key of each group the first refused value also goes through
    the command itself."""
    from leadshare import config

    through_cli = (where, key) not in _FIRST_OF_GROUP  # the command itself once per group of keys
    for label, value in _WRONG.items():
        name = f"{where}-{key}-{label}.yaml".replace("/", "_")
        path = tmp_path / name
        path.write_text(_rules_text((where, key, value)))
        problems = config.check_rules(path)
        if not problems:  # that value happens to be valid for that key
            config.lint_team(config.load_team(path))
            continue
        assert all(isinstance(line, int) and line >= 1 and message.strip() for line, message in problems), problems
        if not through_cli:
            through_cli = True
            result = cli("rules", "check", str(path))
            no_crash(result)
            assert result.exit_code == 2, (label, result.stdout, result.stderr)
            problem_lines(result.stderr, name)


def test_an_absurd_sla_is_refused_by_rules_check_or_computed_quickly(cli, tmp_path, rules):
    """A typo like `first_contact: 200000w` (4000 years) must not pass `rules check` and then make
    every import run for half a minute and end in an unexpected error."""
    rules.write_text(TEAM_YAML.replace("first_contact: 4h", "first_contact: 200000w"))
    checked = cli("rules", "check", str(rules))
    no_crash(checked)
    if checked.exit_code == 2:
        assert "first_contact" in checked.stderr
        return
    (tmp_path / "a.csv").write_text(CSV_HEADER + "\n".join(lead_rows(2)) + "\n")
    env = {k: v for k, v in os.environ.items()}
    env.update(LEADSHARE_RULES=str(rules), LEADSHARE_DB=str(tmp_path / "leadshare.db"))
    try:
        done = subprocess.run([sys.executable, "-m", "leadshare", "import", "a.csv"], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=4)
    except subprocess.TimeoutExpired:
        pytest.fail("`rules check` accepted first_contact: 200000w and an import of 2 rows then ran for over 4 s")
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 2), done.stderr
