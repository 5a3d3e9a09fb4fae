"""The ledger on PostgreSQL: copying to and from SQLite, what a user reads when the server cannot
be used, faults mid-import (kill -9, a server restart), many machines importing at once, and
the audit log's append-only guard, all against a throwaway server (see pgserver.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import psycopg
import pytest

from conftest import NOW, lead_rows, write_csv
from pgserver import OWNER_PASSWORD

PASSWORD = OWNER_PASSWORD


def run(*args, env: dict, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "leadshare", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)


def spawn(*args, env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "leadshare", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def env_for(db: str, rules: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSHARE_") or k == "LEADSHARE_CACHE_DIR"}
    env.update(LEADSHARE_DB=db, LEADSHARE_RULES=str(rules), LEADSHARE_NOW=NOW)
    return env


def counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM leadshare.events), (SELECT count(*) FROM leadshare.leads), "
                            "(SELECT count(*) FROM leadshare.imports)").fetchone()


def verified(cli, db: str) -> dict:
    report = cli.json("verify", "--db", db)
    assert report["ok"], report
    return report


def wait_for_copy(url: str, timeout: float = 30) -> None:
    """Until some session of the database is writing rows with COPY."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                            "AND query LIKE 'COPY%' AND state = 'active'").fetchone():
                return
            time.sleep(0.01)
    raise AssertionError("the import never started writing")


# ---- bulk writes, sent while the caller goes on ------------------------------------------------


def test_what_a_transaction_wrote_in_bulk_is_what_its_next_statement_reads(pg_url):
    from leadshare.ledger import open_ledger

    ledger = open_ledger(pg_url)
    try:
        with ledger.write():
            ledger.insert_rows("meta", ("key", "value"), [(f"k{n}", str(n)) for n in range(5000)])
            ledger.conn.executemany("UPDATE meta SET value = ? WHERE key = ?", [("last", "k4999")])
            assert ledger.meta("k4999") == "last"
            assert ledger.scalar("SELECT count(*) FROM meta WHERE key LIKE 'k%'") == 5000
    finally:
        ledger.close()


def test_a_bulk_write_the_server_refuses_fails_its_transaction_and_keeps_nothing(pg_url):
    from leadshare.errors import LedgerError
    from leadshare.ledger import open_ledger

    ledger = open_ledger(pg_url)
    try:
        with pytest.raises(LedgerError):
            with ledger.write():
                ledger.insert_rows("meta", ("key", "value"), [("first", "1")])
                ledger.insert_rows("meta", ("key", "value"), [("twice", "1"), ("twice", "2")])
                ledger.insert_rows("meta", ("key", "value"), [("after", "1")])
                ledger.meta("first")
        assert [ledger.meta(key) for key in ("first", "twice", "after")] == [None, None, None]
        with ledger.write():  # the connection is usable again
            ledger.insert_rows("meta", ("key", "value"), [("again", "1")])
        assert ledger.meta("again") == "1"
    finally:
        ledger.close()


# ---- db copy -----------------------------------------------------------------------------------


def test_db_copy_round_trip_sqlite_postgres_sqlite_keeps_the_chain_head(cli, tmp_path, pg_url):
    write_csv(tmp_path / "leads.csv", lead_rows(30))
    assert cli("import", "leads.csv").exit_code == 0
    cli("note", "1", "called, will call back", "--as", "aisyah")
    head = verified(cli, "leadshare.db")["head"]

    there = cli.json("db", "copy", "leadshare.db", pg_url)
    assert there["head"] == head and there["leads"] == 30
    assert verified(cli, pg_url)["head"] == head
    back = cli.json("db", "copy", pg_url, "back.db")
    assert back["head"] == head
    assert verified(cli, "back.db")["head"] == head
    assert cli.json("show", "1", "--db", "back.db") == cli.json("show", "1", "--db", pg_url)


def test_db_copy_refuses_a_non_empty_target_and_leaves_it_untouched(cli, tmp_path, pg_url):
    write_csv(tmp_path / "leads.csv", lead_rows(5))
    cli("import", "leads.csv")
    cli("db", "copy", "leadshare.db", pg_url)
    before = counts(pg_url)
    result = cli("db", "copy", "leadshare.db", pg_url)
    assert result.exit_code == 2
    assert "not empty; nothing was copied" in result.stderr and PASSWORD not in result.stderr
    assert counts(pg_url) == before


def test_db_copy_names_the_url_with_the_password_masked(cli, tmp_path, pg_url):
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    cli("import", "leads.csv")
    result = cli("db", "copy", "leadshare.db", pg_url)
    assert result.exit_code == 0
    assert PASSWORD not in result.stdout and "owner:***@" in result.stdout


# ---- a server that cannot be used ------------------------------------------------------------


def _refused(cli, url: str):
    started = time.monotonic()
    result = cli("mine", "--as", "aisyah", "--db", url)
    assert time.monotonic() - started < 20
    assert result.exit_code == 2
    assert PASSWORD not in result.stdout + result.stderr and "wrong-pw" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_an_unreachable_server_exits_2_naming_host_and_database_without_the_password(cli, pg_server):
    closed = pg_server.port + 1 if pg_server.port < 65535 else pg_server.port - 1
    err = _refused(cli, f"postgresql://owner:{PASSWORD}@127.0.0.1:{closed}/ledger")
    assert f"host 127.0.0.1:{closed}, database ledger: cannot connect" in err


def test_a_wrong_password_exits_2_naming_host_and_database_without_the_password(cli, pg_server, pg_url):
    err = _refused(cli, pg_url.replace(PASSWORD, "wrong-pw"))
    assert "refused the login (wrong or missing password)" in err and f"host 127.0.0.1:{pg_server.port}" in err


def test_a_missing_database_exits_2_naming_it(cli, pg_server):
    err = _refused(cli, pg_server.url("no_such_ledger"))
    assert "database no_such_ledger: the database does not exist" in err


def test_a_url_without_psycopg_installed_says_how_to_install_it(tmp_path, rules, pg_url):
    code = ("import sys; sys.modules['psycopg'] = None; from leadshare.__main__ import main; "
            "sys.argv = ['leadshare', 'mine', '--as', 'aisyah']; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env=env_for(pg_url, rules))
    assert result.returncode == 2
    assert "pip install 'leadshare[postgres]'" in result.stderr and PASSWORD not in result.stderr


# ---- the schema --------------------------------------------------------------------------------


def test_the_owner_creates_the_schema_on_first_use_without_superuser(cli, tmp_path, pg_server):
    url = pg_server.url(pg_server.new_database(migrated=False))
    write_csv(tmp_path / "leads.csv", lead_rows(4))
    assert cli("import", "leads.csv", "--db", url).exit_code == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)
        assert conn.execute("SELECT count(*) FROM leadshare.leads").fetchone() == (4,)
    verified(cli, url)


@pytest.mark.parametrize("statement", ["UPDATE leadshare.events SET actor = 'x'", "DELETE FROM leadshare.events",
                                       "TRUNCATE leadshare.events"])
def test_the_audit_log_refuses_update_delete_and_truncate(cli, tmp_path, pg_url, statement):
    write_csv(tmp_path / "leads.csv", lead_rows(2))
    cli("import", "leads.csv", "--db", pg_url)
    with psycopg.connect(pg_url) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute(statement)
    assert counts(pg_url)[0] == 4


# ---- faults mid-import -------------------------------------------------------------------------


def test_kill_9_mid_import_leaves_nothing_and_the_rerun_completes(cli, tmp_path, rules, pg_url):
    write_csv(tmp_path / "big.csv", lead_rows(20_000))
    env = env_for(pg_url, rules)
    importer = spawn("import", "big.csv", env=env, cwd=tmp_path)
    wait_for_copy(pg_url)
    importer.send_signal(signal.SIGKILL)
    importer.wait()
    assert counts(pg_url) == (0, 0, 0)
    assert run("import", "big.csv", env=env, cwd=tmp_path).returncode == 0
    assert counts(pg_url)[1:] == (20_000, 1)
    verified(cli, pg_url)


def test_a_server_restart_mid_import_exits_2_with_nothing_written_and_the_rerun_completes(cli, tmp_path, rules, pg_server, pg_url):
    write_csv(tmp_path / "big.csv", lead_rows(20_000))
    env = env_for(pg_url, rules)
    importer = spawn("import", "big.csv", env=env, cwd=tmp_path)
    wait_for_copy(pg_url)
    pg_server.restart()
    _, err = importer.communicate(timeout=30)
    assert importer.returncode == 2
    assert "connection to the server was lost; the transaction was rolled back" in err and PASSWORD not in err
    assert counts(pg_url) == (0, 0, 0)
    assert run("import", "big.csv", env=env, cwd=tmp_path).returncode == 0
    assert counts(pg_url)[1:] == (20_000, 1)
    verified(cli, pg_url)


def test_ctrl_c_during_the_first_import_into_a_new_ledger_says_nothing_was_changed(cli, tmp_path, rules, pg_server):
    # the ledger is created and committed first; the interrupted import after it saved nothing
    pg_url = pg_server.url(pg_server.new_database(migrated=False))
    write_csv(tmp_path / "big.csv", lead_rows(20_000))
    importer = spawn("import", "big.csv", env=env_for(pg_url, rules), cwd=tmp_path)
    wait_for_copy(pg_url)
    importer.send_signal(signal.SIGINT)
    _, err = importer.communicate(timeout=30)
    assert importer.returncode == 130
    assert err.strip().splitlines()[-1] == "leadshare: interrupted; the transaction was rolled back and nothing was changed"
    assert counts(pg_url) == (0, 0, 0)


def test_eight_imports_from_separate_processes_lose_no_lead_and_own_none_twice(cli, tmp_path, rules, pg_server):
    # into a database without a ledger yet, so they race to create it too; files overlapping by
    # half: every customer arrives from two of them
    pg_url = pg_server.url(pg_server.new_database(migrated=False))
    for n in range(8):
        write_csv(tmp_path / f"part{n}.csv", lead_rows(300, start=150 * n))
    env = env_for(pg_url, rules)
    workers = [spawn("import", f"part{n}.csv", "--json", env=env, cwd=tmp_path) for n in range(8)]
    results = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0] * 8, [err.strip().splitlines()[-1:] for _, err in results]
    imported = sum(orjson.loads(out)["imported"] for out, _ in results)
    with psycopg.connect(pg_url) as conn:
        leads, distinct, owned = conn.execute(
            "SELECT count(*), count(DISTINCT external_id), count(agent) FROM leadshare.leads").fetchone()
        seqs = conn.execute("SELECT count(*), max(seq) FROM leadshare.events").fetchone()
    assert leads == distinct == imported == 150 * 7 + 300
    assert owned == leads  # each lead one owner, in its one row
    assert seqs[0] == seqs[1]  # one unbroken chain
    verified(cli, pg_url)


def test_forget_on_postgresql_says_that_copies_made_before_must_be_purged_by_their_own_retention(cli, tmp_path, pg_url):
    write_csv(tmp_path / "leads.csv", lead_rows(1))
    cli("import", "leads.csv", "--db", pg_url)
    result = cli("forget", "1", "--as", "aisyah", "--db", pg_url)
    assert result.exit_code == 0
    assert "name, phone, email and notes erased" in result.stdout
    assert "copies of this database made before (backups, replicas, archived or old WAL)" in " ".join(result.stdout.split())
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT name, phone, email FROM leadshare.leads").fetchall() == [(None, None, None)]
    verified(cli, pg_url)


def test_backup_of_a_postgresql_ledger_is_a_sqlite_file_with_the_same_head(cli, tmp_path, pg_url):
    write_csv(tmp_path / "leads.csv", lead_rows(6))
    cli("import", "leads.csv", "--db", pg_url)
    result = cli("backup", "copy.db", "--db", pg_url)
    assert result.exit_code == 0 and PASSWORD not in result.stdout
    assert verified(cli, "copy.db")["head"] == verified(cli, pg_url)["head"]


def test_a_ledger_at_an_older_schema_step_is_migrated_on_first_use(cli, tmp_path, pg_server):
    from leadshare.ledger.postgres.migrations import LATEST, STEPS

    url = pg_server.url(pg_server.new_database(migrated=False))
    with psycopg.connect(url) as conn:  # as a first release would have left it
        conn.execute("CREATE SCHEMA leadshare")
        conn.execute(STEPS[0])
        conn.execute("INSERT INTO leadshare.meta VALUES ('schema', '1'), ('salt', '00')")
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    assert cli("import", "leads.csv", "--db", url).exit_code == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT value FROM leadshare.meta WHERE key = 'schema'").fetchone() == (str(LATEST),)
        assert conn.execute("SELECT to_regclass('leadshare.other_contacts') IS NOT NULL").fetchone() == (True,)
    verified(cli, url)


def test_simulate_on_postgresql_works_on_a_copy_and_leaves_the_database_as_it_was(cli, tmp_path, pg_url):
    write_csv(tmp_path / "old.csv", lead_rows(3))
    cli("import", "old.csv", "--db", pg_url)
    write_csv(tmp_path / "next.csv", lead_rows(6, start=100))
    before, head = counts(pg_url), verified(cli, pg_url)["head"]
    out = cli.json("simulate", "next.csv", "--rules", "rules.yaml", "--db", pg_url)
    assert sum(g["assigned"] for g in out["groups"]) == 6
    assert counts(pg_url) == before and verified(cli, pg_url)["head"] == head


def test_a_reading_command_on_a_database_without_a_ledger_creates_none(cli, pg_server):
    url = pg_server.url(pg_server.new_database(migrated=False))
    result = cli("log", "--json", "--db", url)
    assert result.exit_code == 0 and orjson.loads(result.stdout) == []
    assert "no ledger at postgresql://owner:***@" in result.stderr and PASSWORD not in result.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regnamespace('leadshare')").fetchone() == (None,)


def test_verify_on_postgresql_names_a_dropped_append_only_guard(cli, tmp_path, pg_url):
    write_csv(tmp_path / "leads.csv", lead_rows(2))
    cli("import", "leads.csv", "--db", pg_url)
    with psycopg.connect(pg_url) as conn:  # the owner can: verify must then say so
        conn.execute("DROP TRIGGER events_no_truncate ON leadshare.events")
    report = cli.json("verify", "--db", pg_url, code=1)
    assert any("trigger events_no_truncate was dropped" in p for p in report["problems"])


def test_log_limit_on_postgresql_gives_the_newest_events_in_ledger_order(cli, tmp_path, pg_url):
    write_csv(tmp_path / "leads.csv", lead_rows(4))
    cli("import", "leads.csv", "--db", pg_url)
    newest = cli.json("log", "--limit", "2", "--db", pg_url)
    assert [e["seq"] for e in newest] == [5, 6]
