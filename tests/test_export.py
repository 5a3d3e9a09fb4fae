"""`export`: leads out, spreadsheet-safe as csv, unaltered as json and jsonl, written atomically."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEAM_YAML, Cli, lead_rows, ledger_conn, phone, write_csv
from leadshare import export, outputs

PREFIXES = ("=", "+", "-", "@", "\t", "\r")
REQUIRED = ("id", "external_id", "name", "phone", "email", "source", "region", "status", "agent", "created_at",
            "assigned_at", "first_contact_at", "last_note")


pytestmark = pytest.mark.both_backends


def export_csv(cli: Cli, *args: str) -> list[dict]:
    result = cli("export", "--format", "csv", *args)
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout, newline="")))


def export_json(cli: Cli, *args: str) -> list[dict]:
    result = cli("export", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# ---- csv safety -----------------------------------------------------------------------------


@given(st.sampled_from(PREFIXES), st.text())
def test_every_formula_prefix_gets_a_leading_quote(prefix, rest):
    assert outputs.csv_cell(prefix + rest) == "'" + prefix + rest


@given(st.text())
def test_other_cells_are_left_as_they_are(text):
    if text.startswith(PREFIXES):
        assert outputs.csv_cell(text) == "'" + text
    else:
        assert outputs.csv_cell(text) == text


_name_char = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
names = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(("=", "+", "-", "@", "")),
    st.text(_name_char, min_size=1, max_size=24).filter(lambda s: s.strip()),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corpus=st.lists(names, min_size=1, max_size=12))
def test_export_neutralises_every_formula_prefix_in_a_corpus_of_names(corpus):
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        (here / "rules.yaml").write_text(TEAM_YAML)
        with open(here / "leads.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["Full Name", "Mobile No", "Lead Source", "State", "Note"])
            for i, name in enumerate(corpus):
                w.writerow([name, phone(i), name, "KL", name])
        cli = Cli(here)
        common = ("--db", str(here / "l.db"), "--rules", str(here / "rules.yaml"))
        result = cli("import", str(here / "leads.csv"), *common)
        assert result.exit_code == 0, result.stderr
        as_json = export_json(cli, *common)
        as_csv = export_csv(cli, *common)
    assert len(as_json) == len(as_csv) == len(corpus)
    dangerous = 0
    for obj, row in zip(as_json, as_csv):
        fields = obj.pop("fields")
        assert list(row) == list(obj) + sorted(fields)  # the same columns, each attribute one of its own
        for key, value in [*obj.items(), *fields.items()]:
            cell = row[key]
            text = "" if value is None else str(value)
            if text.startswith(PREFIXES):
                assert cell == "'" + text, (key, text, cell)
                dangerous += 1
            else:
                assert cell == text, (key, text, cell)
    # the corpus really held formulas, and the json kept them as written
    for name, obj in zip(corpus, as_json):
        assert obj["name"].startswith(name.strip()[:1])
    assert dangerous >= sum(1 for n in corpus if n.strip().startswith(PREFIXES[:4]))


def test_a_phone_exports_as_the_phone_itself_in_a_spreadsheet(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(2))
    cli.json("import", "leads.csv")
    rows = export_csv(cli)
    assert rows[0]["phone"] == "'+60123000000"
    assert export_json(cli)[0]["phone"] == "+60123000000"


def test_a_note_starting_with_a_tab_or_cr_is_neutralised_in_csv_only(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(2))
    cli.json("import", "leads.csv")

    with ledger_conn() as conn:  # notes written by other tools may keep any first character
        conn.execute("INSERT INTO notes (lead, seq, at, author, text) VALUES (1, 1, '2026-11-25T02:00:00+00:00', 'x', ?)", ("\t=1+1",))
        conn.execute("INSERT INTO notes (lead, seq, at, author, text) VALUES (2, 1, '2026-11-25T02:00:00+00:00', 'x', ?)", ("\r@SUM(A1)",))
    rows = export_csv(cli)
    assert rows[0]["last_note"] == "'\t=1+1" and rows[1]["last_note"] == "'\r@SUM(A1)"
    objs = export_json(cli)
    assert objs[0]["last_note"] == "\t=1+1" and objs[1]["last_note"] == "\r@SUM(A1)"


# ---- json and jsonl ---------------------------------------------------------------------------

TRICKY = ['=HYPERLINK("http://evil")', "Zoë O'Brien, \"Jr\"", "-5", "@home", "陈大文", "+60 Plus Name"]


def test_jsonl_round_trips_to_the_same_values_as_json_and_show(cli, tmp_path):
    rows = [f"J-{i},\"{name.replace(chr(34), chr(34) * 2)}\",{phone(i)},j{i}@example.com,web,KL,residential"
            for i, name in enumerate(TRICKY)]
    write_csv(tmp_path / "leads.csv", rows)
    cli.json("import", "leads.csv")
    note = 'first line\nsecond "line" =cmd|\u2028 end'
    assert cli("note", "J-0", note, "--as", "aisyah").exit_code == 0
    result = cli("export", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[-1] == "" and len(lines) == len(TRICKY) + 1
    parsed = [json.loads(line) for line in lines[:-1]]
    assert parsed == export_json(cli)
    assert [p["name"] for p in parsed] == TRICKY
    assert parsed[0]["last_note"] == note
    assert all(set(REQUIRED) <= set(p) for p in parsed)
    shown = cli.json("show", "J-0")
    for key in ("id", "external_id", "name", "phone", "email", "source", "region", "status", "agent", "created_at", "assigned_at"):
        assert parsed[0][key] == shown[key]
    assert parsed[0]["fields"] == shown["fields"] == {"product": "residential"}


def test_last_note_is_the_newest_note(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(1))
    cli.json("import", "leads.csv")
    for text in ("first", "second", "newest"):
        assert cli("note", "1", text, "--as", "aisyah").exit_code == 0
    assert export_json(cli)[0]["last_note"] == "newest"


def test_json_of_no_leads_is_an_empty_array(cli):
    assert export_json(cli) == []
    result = cli("export", "--format", "jsonl")
    assert result.exit_code == 0 and result.stdout == ""
    assert export_csv(cli) == []


# ---- filters ----------------------------------------------------------------------------------


def test_filters_by_status_agent_and_period(cli, tmp_path):
    write_csv(tmp_path / "a.csv", lead_rows(6))
    write_csv(tmp_path / "b.csv", lead_rows(3, start=50))
    cli.json("import", "a.csv", env={"LEADSHARE_NOW": "2026-11-20T10:00:00"})
    cli.json("import", "b.csv")
    assert cli("status", "1", "won", "--note", "signed", "--as", "aisyah").exit_code == 0
    assert [r["id"] for r in export_json(cli, "--status", "won")] == [1]
    assert [r["id"] for r in export_json(cli, "--status", "closed")] == [1]
    assert len(export_json(cli, "--status", "open")) == 8
    assert len(export_json(cli, "--status", "new", "--status", "won")) == 9
    assert {r["agent"] for r in export_json(cli, "--agent", "ben")} == {"ben"}
    assert len(export_json(cli, "--agent", "ben,chitra")) == 6
    assert [r["id"] for r in export_json(cli, "--since", "2026-11-21")] == [7, 8, 9]
    assert [r["id"] for r in export_json(cli, "--until", "2026-11-20")] == [1, 2, 3, 4, 5, 6]  # the whole day
    assert [r["id"] for r in export_json(cli, "--since", "24h")] == [7, 8, 9]


@pytest.mark.parametrize(
    ("args", "word"),
    [(("--agent", "zed"), "zed"), (("--status", "pending"), "pending"), (("--format", "xlsx"), "xlsx"),
     (("--since", "whenever"), "whenever")],
)
def test_bad_filters_are_refused_with_one_line(cli, args, word):
    result = cli("export", *args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and word in result.stderr
    assert result.stdout == ""


# ---- --out ------------------------------------------------------------------------------------


def test_out_writes_the_file_atomically_and_privately(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    cli.json("import", "leads.csv")
    out = tmp_path / "exports" / "leads.jsonl"
    out.parent.mkdir()
    result = cli("export", "--format", "jsonl", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "3 leads" in result.stdout
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [1, 2, 3]
    assert os.listdir(out.parent) == ["leads.jsonl"]  # no temporary file left behind
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # customers' personal data
    out.chmod(0o640)
    assert cli("export", "--format", "csv", "--out", str(out)).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # replacing keeps the file's permissions
    assert out.read_text().startswith("id,external_id,name,phone")


def test_a_failed_write_leaves_the_old_file_whole(cli, tmp_path, monkeypatch):
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    cli.json("import", "leads.csv")
    out = tmp_path / "leads.csv.out"
    out.write_text("the previous export\n")

    def full_disk(rows, fmt, fh, *_):
        fh.write("id,external_id\n1,half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "write_export", full_disk)
    result = cli("export", "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "disk is full" in result.stderr
    assert out.read_text() == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_read_only_folder_is_one_clear_error_and_exit_2(cli, tmp_path, monkeypatch):
    write_csv(tmp_path / "leads.csv", lead_rows(1))
    cli.json("import", "leads.csv")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: make the folder refuse the file as it would
            from leadshare import outputs

            def refuse(*args, **kwargs):
                raise PermissionError(errno.EACCES, "Permission denied")

            monkeypatch.setattr(outputs.tempfile, "mkstemp", refuse)
        result = cli("export", "--out", str(locked / "leads.csv"))
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1
        assert "locked" in result.stderr and "Traceback" not in result.stderr
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_a_missing_folder_is_one_clear_error(cli, tmp_path):
    result = cli("export", "--out", str(tmp_path / "nope" / "leads.csv"))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "does not exist" in result.stderr


def test_a_file_name_with_brackets_is_named_as_written(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(1))
    cli.json("import", "leads.csv")
    result = cli("export", "--out", "[bold]leads.csv")
    assert result.exit_code == 0, result.stderr
    assert "[bold]leads.csv" in result.stdout and (tmp_path / "[bold]leads.csv").exists()
