"""The ledger file: created private, refuses strangers, append-only, and tamper-evident."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import as_before_per_lead_salts, lead_rows, write_csv


def test_ledger_is_created_private_even_under_a_permissive_umask(cli):
    old = os.umask(0o022)
    try:
        assert cli("init").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat("leadshare.db").st_mode) == 0o600
    assert cli("init").exit_code == 0  # idempotent


def test_a_file_that_is_not_a_ledger_is_refused(cli, tmp_path):
    (tmp_path / "notes.db").write_text("shopping list\n")
    result = cli("--db", "notes.db", "init")
    assert result.exit_code == 2 and "not a leadshare ledger" in result.stderr
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    result = cli("init", "--db", "other.db")
    assert result.exit_code == 2 and "not a leadshare ledger" in result.stderr


def test_a_ledger_from_a_newer_leadshare_is_refused_untouched(cli):
    cli("init")
    with sqlite3.connect("leadshare.db") as conn:
        conn.execute("PRAGMA user_version = 99")
    result = cli("init")
    assert result.exit_code == 2 and "newer leadshare" in result.stderr


def test_the_audit_log_refuses_update_and_delete(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(2))
    cli.json("import", "leads.csv")
    with sqlite3.connect("leadshare.db") as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE events SET agent = 'ben' WHERE seq = 2")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM events WHERE seq = 3")


def _import(cli, tmp_path, n=6):
    write_csv(tmp_path / "leads.csv", lead_rows(n))
    cli.json("import", "leads.csv")
    out = cli.json("verify")
    assert out["ok"] is True and out["problems"] == []
    return out["events"]


def _behind_the_triggers(sql: str, params=()):
    with sqlite3.connect("leadshare.db") as conn:
        conn.execute("DROP TRIGGER events_append_only_update")
        conn.execute("DROP TRIGGER events_append_only_delete")
        conn.execute(sql, params)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_verify_names_the_first_changed_event(cli, tmp_path, data):
    if os.path.exists("leadshare.db"):
        os.remove("leadshare.db")
    events = _import(cli, tmp_path)
    seq = data.draw(st.integers(1, events))
    _behind_the_triggers("UPDATE events SET data = replace(data, '}', ',\"x\":1}') WHERE seq = ?", (seq,))
    out = cli.json("verify", code=1)
    assert out["ok"] is False and out["problems"][0].startswith(f"event {seq}:")


def test_verify_catches_a_deleted_event(cli, tmp_path):
    _import(cli, tmp_path)
    _behind_the_triggers("DELETE FROM events WHERE seq = 3")
    out = cli.json("verify", code=1)
    assert "event 3: missing" in out["problems"][0]


def test_verify_catches_a_changed_owner_in_the_projection(cli, tmp_path):
    _import(cli, tmp_path)
    with sqlite3.connect("leadshare.db") as conn:
        conn.execute("UPDATE leads SET agent = 'chitra' WHERE id = 1")
    result = cli("verify")
    assert result.exit_code == 1 and "lead 1: agent" in result.stdout


def test_verify_catches_a_changed_phone(cli, tmp_path):
    _import(cli, tmp_path)
    with sqlite3.connect("leadshare.db") as conn:
        conn.execute("UPDATE leads SET phone = '+60111111111' WHERE id = 2")
    assert "lead 2: name, phone or email changed" in " ".join(cli.json("verify", code=1)["problems"])


def test_verify_catches_a_cut_off_tail_against_the_kept_head(cli, tmp_path):
    _import(cli, tmp_path)
    head = cli.json("verify")["head"]
    _behind_the_triggers("DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)")
    with sqlite3.connect("leadshare.db") as conn:  # a careful tamperer also fixes the recorded head
        conn.execute("DELETE FROM meta WHERE key = 'head'")
    out = cli.json("verify", "--expect-head", head, code=1)
    assert any("not the expected" in p for p in out["problems"])


def test_verify_decisions_rederives_every_assignment(cli, tmp_path):
    _import(cli, tmp_path, n=12)
    assert cli.json("verify", "--decisions")["ok"] is True


def test_console_script_runs_as_cron_would(rules, tmp_path):
    """A real process, no terminal: JSON on stdout only, exit codes as the contract says."""
    write_csv(tmp_path / "leads.csv", lead_rows(3) + ["X-1,Nobody,,,web,KL,residential"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSHARE_") or k == "LEADSHARE_CACHE_DIR"}
    env.update(LEADSHARE_DB=str(tmp_path / "cron.db"), LEADSHARE_RULES=str(rules), LEADSHARE_NOW="2026-11-25T03:00:00")
    exe = os.path.join(os.path.dirname(sys.executable), "leadshare")
    done = subprocess.run([exe, "import", str(tmp_path / "leads.csv"), "--json"], capture_output=True, text=True, env=env)
    assert done.returncode == 1, done.stderr
    import orjson

    assert orjson.loads(done.stdout)["imported"] == 3
    assert "\x1b[" not in done.stderr  # no progress bar or colour codes without a terminal
    module = subprocess.run([sys.executable, "-m", "leadshare", "verify", "--json"], capture_output=True, text=True, env=env)
    assert module.returncode == 0 and orjson.loads(module.stdout)["ok"] is True


def test_a_ledger_of_the_first_schema_is_brought_up_to_date_and_reports_the_same(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(6))
    cli("import", "leads.csv")
    cli("status", "1", "won", "--as", "aisyah")
    before = cli.json("fairness")
    as_before_per_lead_salts(tmp_path / "leadshare.db")
    with sqlite3.connect("leadshare.db") as conn:  # as a ledger written before schema step 2
        conn.executescript(
            "DROP INDEX leads_open_urgency; DROP INDEX leads_created; DROP INDEX leads_contacted; "
            "DROP TRIGGER leads_recounted; DROP TABLE assignment_counts; "
            "CREATE INDEX leads_assigned_at ON leads (assigned_at); DROP INDEX events_rare_type; "
            "CREATE INDEX events_rare_type ON events (type, seq) WHERE type NOT IN ('assigned', 'queued', 'duplicate'); "
            "CREATE INDEX leads_agent_status ON leads (agent, status); PRAGMA user_version = 1;"
        )
    mine = cli.json("mine", "--as", "ben")
    assert len(mine) == 2
    assert cli.json("fairness") == before
    from leadshare.ledger.migrations import LATEST
    from leadshare.ledger.store import OPEN_LEADS, RARE_EVENTS

    with sqlite3.connect("leadshare.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        plan = " ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN SELECT * FROM leads WHERE agent = 'ben' AND {OPEN_LEADS}"))
        rare = " ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN SELECT * FROM events WHERE type = 'note' AND {RARE_EVENTS}"))
    # `mine` on years of closed leads visits only the open ones; `log --type note` only the rare events
    assert "leads_open_urgency" in plan and "events_rare_type" in rare
    assert cli("verify").exit_code == 0


def test_verify_catches_a_changed_fairness_count(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(6))
    cli("import", "leads.csv")
    with sqlite3.connect("leadshare.db") as conn:
        conn.execute("UPDATE assignment_counts SET n = n + 5 WHERE agent = 'ben'")
    result = cli("verify")
    assert result.exit_code == 1 and "assignment counts" in result.stdout + result.stderr


def test_verify_without_a_process_to_spare_checks_everything_here(cli, tmp_path, monkeypatch):
    import multiprocessing.process

    write_csv(tmp_path / "leads.csv", lead_rows(6))
    cli("import", "leads.csv")

    def refuse(self):
        raise BlockingIOError(11, "Resource temporarily unavailable")  # fork() under a process limit

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)
    assert cli.json("verify")["ok"]
    with sqlite3.connect("leadshare.db") as conn:
        conn.execute("UPDATE leads SET phone = '+60120000000' WHERE id = 2")
    result = cli("verify")
    assert result.exit_code == 1 and "lead 2" in result.stdout + result.stderr


def test_a_new_ledger_waits_for_a_lock_another_process_holds_on_it_instead_of_failing_busy(tmp_path):
    """The cause of a `ledger busy` failure while the ledger was being created: switching a new file
    to WAL does not wait on SQLite's busy handler, so any lock held on it then (a second cron job,
    a reader, a test's probe) failed the command at once."""
    import threading

    from leadshare.ledger.store import Ledger

    db = tmp_path / "new.db"
    db.touch(mode=0o600)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.1, holder.execute, ("ROLLBACK",))
    release.start()
    try:
        ledger = Ledger.open(db)
    finally:
        release.join()
        holder.close()
    assert ledger.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ledger.close()


def test_verify_prints_the_chain_head_whole_on_one_line_to_copy(cli, tmp_path):
    cli("import", write_csv(tmp_path / "leads.csv", lead_rows(3)))
    head = cli.json("verify")["head"]
    assert any(line.endswith(f"chain head {head}") for line in cli("verify").stdout.splitlines())
