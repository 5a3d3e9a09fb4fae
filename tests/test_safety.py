"""What leadshare writes or prints can neither destroy the ledger, leak a customer, nor fool the
person reading it."""

from __future__ import annotations

import sqlite3

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
