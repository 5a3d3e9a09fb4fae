"""What leadshare writes or prints can neither destroy the ledger, leak a customer, nor fool the
person reading it."""

from __future__ import annotations

import sqlite3

import orjson
import pytest

from conftest import lead_rows, write_csv


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


def test_dashboard_on_a_missing_ledger_creates_no_ledger(cli, tmp_path):
    result = cli("--db", "typo.db", "dashboard", "--out", "d.html")
    assert result.exit_code == 0 and "no ledger at typo.db yet" in result.stderr
    assert not list(tmp_path.glob("typo.db*")) and (tmp_path / "d.html").exists()


def test_backup_of_a_missing_ledger_is_refused(cli, tmp_path):
    result = cli("--db", "typo.db", "backup", "copy.db")
    assert result.exit_code == 2 and "no ledger at typo.db" in result.stderr
    assert not list(tmp_path.glob("*.db*"))
