"""What leadshare writes or prints can neither destroy the ledger, leak a customer, nor fool the
person reading it."""

from __future__ import annotations

import csv
import io
import os
import re
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from conftest import lead_rows, phone, write_csv


def _imported(cli, tmp_path, n: int = 3) -> None:
    write_csv(tmp_path / "leads.csv", lead_rows(n))
    assert cli("import", "leads.csv").exit_code == 0


# ---- verify ------------------------------------------------------------------------------------


def test_expect_head_needs_the_whole_hash(cli, tmp_path):
    _imported(cli, tmp_path)
    head = cli.json("verify")["head"]
    assert cli.json("verify", "--expect-head", head.upper())["ok"] is True
    for partial in (head[:4], head[:63], head[:-1] + "g", head + "0"):
        result = cli("verify", "--expect-head", partial)
        assert result.exit_code == 2, partial
        assert result.stderr.count("\n") == 1 and "64 hex digits" in result.stderr
    other = ("0" if head[0] != "0" else "1") + head[1:]
    out = cli.json("verify", "--expect-head", other, code=1)
    assert any("not the expected" in p for p in out["problems"])


def test_verify_reports_missing_append_only_triggers(cli, tmp_path):
    _imported(cli, tmp_path)
    with sqlite3.connect("leadshare.db") as conn:
        conn.execute("DROP TRIGGER events_append_only_update")
    out = cli.json("verify", code=1)
    assert [p for p in out["problems"] if "append-only" in p and "events_append_only_update" in p]


# ---- a mistyped --db ---------------------------------------------------------------------------

READING_COMMANDS = [
    ["mine", "--as", "ben"], ["log"], ["verify"], ["fairness"], ["agents"], ["leave", "list"], ["tiers"],
    ["export", "--format", "json"],
]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda c: " ".join(c))
def test_reading_command_creates_no_ledger_and_warns(cli, tmp_path, command):
    result = cli("--db", "typo.db", *command, *(["--json"] if command[0] != "export" else []))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "warning: no ledger at typo.db yet; nothing was created (writing commands and `leadshare init` create it)\n"
    out = orjson.loads(result.stdout)
    if command[0] == "verify":
        assert out["ok"] is True and out["events"] == 0
    elif command[0] == "fairness":
        assert all(g["assigned"] == 0 for g in out["groups"])
    else:  # the roster and tiers list the agents, with nothing open
        assert all(not row.get("open") for row in out)
    assert not list(tmp_path.glob("typo.db*"))


def test_commands_needing_a_lead_say_unknown_lead_without_creating_a_ledger(cli, tmp_path):
    for command in (["show", "1"], ["explain", "1"]):
        result = cli("--db", "typo.db", *command)
        assert result.exit_code == 2 and "no ledger at typo.db yet" in result.stderr
    assert not list(tmp_path.glob("typo.db*"))


def test_dry_run_import_creates_no_ledger(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(2))
    out = cli.json("--db", "typo.db", "import", "leads.csv", "--dry-run")
    assert out["imported"] == 2 and out["dry_run"] is True
    assert not list(tmp_path.glob("typo.db*"))


def test_simulate_on_a_missing_ledger_warns_and_creates_none(cli, tmp_path, rules):
    write_csv(tmp_path / "leads.csv", lead_rows(2))
    result = cli("--db", "typo.db", "simulate", "leads.csv", "--rules", str(rules), "--json")
    assert result.exit_code == 0 and "no ledger at typo.db yet" in result.stderr
    assert orjson.loads(result.stdout)["imported"] == 2 and not list(tmp_path.glob("typo.db*"))


def test_dashboard_on_a_missing_ledger_creates_no_ledger(cli, tmp_path):
    result = cli("--db", "typo.db", "dashboard", "--out", "d.html")
    assert result.exit_code == 0 and "no ledger at typo.db yet" in result.stderr
    assert not list(tmp_path.glob("typo.db*")) and (tmp_path / "d.html").exists()


def test_backup_of_a_missing_ledger_is_refused(cli, tmp_path):
    result = cli("--db", "typo.db", "backup", "copy.db")
    assert result.exit_code == 2 and "no ledger at typo.db" in result.stderr
    assert not list(tmp_path.glob("*.db*"))


# ---- files written for the user ----------------------------------------------------------------


def _ledger_bytes(tmp_path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in tmp_path.glob("leadshare.db*")}


@pytest.mark.parametrize("target", ["leadshare.db", "./x/../leadshare.db", "link.db", "leadshare.db-wal",
                                    "leadshare.db-shm", "other.db"])
def test_export_refuses_to_overwrite_the_ledger(cli, tmp_path, target):
    _imported(cli, tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "link.db").symlink_to(tmp_path / "leadshare.db")
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    before, other = _ledger_bytes(tmp_path), (tmp_path / "other.db").read_bytes()
    for command in (["export", "--out", target], ["dashboard", "--out", target], ["backup", target]):
        result = cli(*command)
        assert result.exit_code == 2, (command, result.stdout)
        assert result.stderr.count("\n") == 1 and "nothing was written" in result.stderr, result.stderr
        assert _ledger_bytes(tmp_path) == before and (tmp_path / "other.db").read_bytes() == other
    assert cli.json("verify")["ok"] is True


def test_import_refuses_a_rejects_file_on_the_ledger_before_importing(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(2) + ["FB-X,No Contact,,,facebook,KL,residential"])
    cli("init")
    before = _ledger_bytes(tmp_path)
    result = cli("import", "leads.csv", "--rejects", "leadshare.db")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "is the ledger" in result.stderr
    assert _ledger_bytes(tmp_path) == before and cli.json("verify")["events"] == 0


def test_output_into_a_fifo_or_device_is_written_into_not_replaced(cli, tmp_path):
    _imported(cli, tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = cli("export", "--format", "jsonl", "--out", str(fifo))
    reader.join(5)
    if reader.is_alive():  # the export never opened the FIFO: let the reader go before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and len(got[0].splitlines()) == 3
    assert cli("export", "--out", os.devnull).exit_code == 0 and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_out_dash_writes_to_stdout(cli, tmp_path):
    _imported(cli, tmp_path)
    result = cli("export", "--out", "-", "--format", "json")
    assert result.exit_code == 0 and len(orjson.loads(result.stdout)) == 3
    assert not (tmp_path / "-").exists()


def test_dashboard_page_is_private(cli, tmp_path):
    _imported(cli, tmp_path)
    old = os.umask(0o022)
    try:
        assert cli("dashboard", "--out", "d.html", "--skip-verify").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d.html").stat().st_mode) == 0o600


def test_rejects_file_is_spreadsheet_safe_and_private(cli, tmp_path):
    formulas = ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3"]
    rows = [f'FB-{i},"{f.replace(chr(34), chr(34) * 2)}",n/a,,facebook,KL,residential' for i, f in enumerate(formulas)]
    write_csv(tmp_path / "leads.csv", lead_rows(1) + rows)
    old = os.umask(0o022)
    try:
        assert cli("import", "leads.csv").exit_code == 1
    finally:
        os.umask(old)
    path = tmp_path / "leads.rejected.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    assert table[0][:3] == ["reason", "raw", "Lead ID"]
    for row, formula in zip(table[1:], formulas):
        assert row[3] == "'" + formula  # the name cell, neutralised
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row
        assert formula.replace('"', '""') in row[1]  # the row as it was, in the raw column


# ---- the terminal ------------------------------------------------------------------------------

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # writes the viewer's clipboard
TITLE = "\x1b]0;owned\x07"


def test_control_characters_from_the_data_reach_the_terminal_escaped(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", [f"FB-1,Ali{OSC52},{phone(1)},,web{TITLE},KL,residential\x9b31m"])
    assert cli("import", "leads.csv").exit_code == 0
    assert cli("--as", "aisyah", "note", "1", "call back\ntomorrow\tafter 3 \x1b[2J").exit_code == 0
    owner = cli.json("show", "1")["agent"]
    for command in (["show", "1"], ["--as", owner, "mine"], ["log"], ["explain", "1"], ["agents"]):
        result = cli(*command)
        assert result.exit_code == 0, (command, result.stderr)
        shown = result.stdout + result.stderr
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", shown), (command, shown)
    shown = cli("show", "1").stdout
    assert "\\x1b]52;c;" in shown
    assert "call back" in shown and "\\x1b[2J" in shown
    assert cli.json("show", "1")["name"] == "Ali" + OSC52  # JSON keeps the value, escaped as JSON does


def test_error_lines_escape_what_they_echo(cli, tmp_path):
    _imported(cli, tmp_path, 1)
    for command in (["--as", "ben\x1b[2J", "mine"], ["show", "9\x1b]0;x\x07"], ["--db", "a\nb.db", "log"]):
        result = cli(*command)
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.stderr), (command, result.stderr)
        assert result.stderr.count("\n") == 1 and "\\x1b" in result.stderr or "\\x0a" in result.stderr


# ---- forget ------------------------------------------------------------------------------------


def _lead_row(lead: int) -> dict:
    with sqlite3.connect("leadshare.db") as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM leads WHERE id = ?", (lead,)).fetchone())


def test_forgotten_lead_digest_cannot_be_tested_against_a_guess(cli, tmp_path):
    from leadshare.services import note_digest, personal_digest

    _imported(cli, tmp_path)
    assert cli("--as", "aisyah", "note", "1", "wife is Siti, 012-999 8888").exit_code == 0
    known = _lead_row(1)  # what an attacker guesses right: every personal field as it was
    salts = {_lead_row(i)["salt"] for i in (1, 2, 3)}
    assert len(salts) == 3 and all(len(s) == 16 for s in salts)  # a salt per lead
    assert cli("forget", "1", "--as", "aisyah").exit_code == 0
    gone = _lead_row(1)
    assert [gone[k] for k in ("name", "phone", "email", "external_id", "phone_key", "email_key", "salt")] == [None] * 7
    with sqlite3.connect("leadshare.db") as conn:
        ledger_salt = bytes.fromhex(conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0])
        note = orjson.loads(conn.execute("SELECT data FROM events WHERE type = 'note'").fetchone()[0])
        blobs = [b for (b,) in conn.execute("SELECT salt FROM leads WHERE salt IS NOT NULL")] + [ledger_salt]
    personal = [known[k] for k in ("name", "phone", "email", "phone_key", "email_key", "external_id")]
    for salt in blobs:  # no salt left in the file makes the right guess match
        assert gone["pd"] not in (personal_digest(salt, *personal), personal_digest(salt, *personal[:5]))
        assert note["digest"] != note_digest(salt, "wife is Siti, 012-999 8888")
    assert cli.json("verify")["ok"] is True
    assert cli.json("verify", "--decisions")["ok"] is True
    assert cli("show", "FB-0").exit_code == 2  # the external id no longer finds the person


def test_leads_from_before_per_lead_salts_keep_verifying_and_forget_erases_their_digest(cli, tmp_path):
    from conftest import as_before_per_lead_salts

    _imported(cli, tmp_path)
    assert cli("--as", "aisyah", "note", "2", "called").exit_code == 0
    as_before_per_lead_salts(tmp_path / "leadshare.db")
    assert cli.json("verify")["ok"] is True  # migrated: the old leads keep the ledger-wide salt
    assert _lead_row(1)["salt"] is None
    assert cli("forget", "1", "--as", "aisyah").exit_code == 0
    gone = _lead_row(1)
    assert gone["pd"] is None and gone["external_id"] is None  # a ledger-wide-salt digest is not kept
    assert cli.json("verify")["ok"] is True
    with sqlite3.connect("leadshare.db") as conn:  # what is left of it is still certified
        conn.execute("UPDATE leads SET source = 'tiktok' WHERE id = 1")
    assert any("lead 1: stored fields differ" in p for p in cli.json("verify", code=1)["problems"])


# ---- export ------------------------------------------------------------------------------------


def test_export_out_picks_the_format_from_the_extension(cli, tmp_path):
    _imported(cli, tmp_path)
    for name in ("d9.json", "d9.jsonl", "d9.csv", "d9.JSON"):
        assert cli("export", "--out", name).exit_code == 0
    assert len(orjson.loads((tmp_path / "d9.json").read_text())) == 3
    assert [orjson.loads(line)["id"] for line in (tmp_path / "d9.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert (tmp_path / "d9.csv").read_text().startswith("id,external_id,")
    assert len(orjson.loads((tmp_path / "d9.JSON").read_text())) == 3
    assert cli("export", "--out", "d9.json", "--format", "csv").exit_code == 0  # --format wins
    assert (tmp_path / "d9.json").read_text().startswith("id,external_id,")


def test_export_csv_has_a_column_per_attribute(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(2), header="Lead ID,Full Name,Mobile No,Email Address,Lead Source,"
              "State,Product\n")
    write_csv(tmp_path / "more.csv", [f"FB-9,Nine,{phone(9)},,web,KL,ms,=1+1"],
              header="Lead ID,Full Name,Mobile No,Email Address,Lead Source,State,Language,Status\n")
    assert cli("import", "leads.csv").exit_code == 0 and cli("import", "more.csv").exit_code == 0
    rows = list(csv.DictReader(io.StringIO(cli("export").stdout, newline="")))
    assert "fields" not in rows[0]
    assert [(r["product"], r["language"]) for r in rows] == [("residential", ""), ("residential", ""), ("", "ms")]
    assert rows[2]["field_status"] == "'=1+1"  # an attribute named like a column keeps both


def test_export_plain_leaves_cells_unneutralised(cli, tmp_path):
    _imported(cli, tmp_path, 1)
    safe = list(csv.DictReader(io.StringIO(cli("export").stdout, newline="")))[0]
    plain = list(csv.DictReader(io.StringIO(cli("export", "--plain").stdout, newline="")))[0]
    assert safe["phone"] == "'+60123000000" and plain["phone"] == "+60123000000"


def test_forget_leaves_no_external_id_in_duplicate_events_or_notifications(cli, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules.read_text().replace("after_hours: assign\n", "after_hours: assign\nnotify:\n  command: ./n.sh\n"))
    (tmp_path / "n.sh").write_text("#!/bin/sh\ncat > /dev/null\n")
    (tmp_path / "n.sh").chmod(0o755)
    _imported(cli, tmp_path, 1)
    write_csv(tmp_path / "again.csv", [f"CRM-777,Customer 0,{phone(0)},,web,KL,residential"])
    assert cli("import", "again.csv").exit_code == 0  # the same person, by phone, under another id
    assert cli("forget", "1", "--as", "aisyah").exit_code == 0
    with sqlite3.connect("leadshare.db") as conn:
        stored = b"".join(str(row).encode() for table in ("events", "outbox", "leads")
                          for row in conn.execute(f"SELECT * FROM {table}"))
    assert b"FB-0" not in stored and b"CRM-777" not in stored


def test_dev_stdout_redirected_to_a_file_is_written_into(rules, tmp_path):
    """`export --out /dev/stdout > file` as a cron line would: a rename over /dev/stdout would
    replace the system's link (as root) and leave the redirected file empty."""
    env = {**os.environ, "LEADSHARE_NOW": "2026-11-25T10:00:00"}
    write_csv(tmp_path / "leads.csv", lead_rows(2))
    subprocess.run([sys.executable, "-m", "leadshare", "import", "leads.csv"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    with open(tmp_path / "out.jsonl", "w") as out:
        done = subprocess.run([sys.executable, "-m", "leadshare", "export", "--out", "/dev/stdout", "--format", "jsonl"],
                              cwd=tmp_path, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2
    assert os.path.islink("/dev/stdout") and not list(Path("/dev").glob(".stdout.*"))
