"""Faults and personal data: kill -9, Ctrl-C, a read-only ledger or folder, a full disk; file
modes, `forget`, and a customer's details never leaking into error output.

After every fault the ledger verifies, a batch is wholly present or wholly absent, and running
the same command again completes the work. Each failure is one clear line on stderr and exit 2
(130 for Ctrl-C), with nothing written.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from conftest import CSV_HEADER, lead_rows, phone, write_csv
from ledger_processes import env_for, leadshare, spawn, sql, wait_for_write_lock

KILLS = int(os.environ.get("CRASH_KILLS", "4"))


def snapshot(db: Path) -> tuple:
    return tuple(sql(db, f"SELECT count(*) FROM {t}")[0][0] for t in ("events", "leads", "imports", "notes", "leave"))


def verified(cli, db: Path) -> dict:
    result = cli("verify", "--decisions", "--json", "--db", db)
    report = orjson.loads(result.stdout)
    assert result.exit_code == 0 and report["ok"], report
    return report


def one_clear_line(err: str) -> str:
    assert "Traceback" not in err and "unexpected" not in err, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"not one line: {err!r}"
    return lines[0]


def batch_whole_or_absent(db: Path, file_hash_rows: int, before_leads: int) -> bool:
    """True when the batch is there in full, False when no trace of it is; anything else fails."""
    batches = sql(db, "SELECT batch, imported FROM imports ORDER BY batch")
    leads = sql(db, "SELECT count(*) FROM leads")[0][0]
    if len(batches) == 1:
        assert leads == before_leads, f"half a batch: {leads} leads without its import row"
        return False
    (batch, imported) = batches[-1]
    assert imported == file_hash_rows and leads == before_leads + imported, (batches, leads)
    assert sql(db, "SELECT count(*) FROM leads WHERE batch = ?", (batch,))[0][0] == imported
    return True


# ---- kill -9 --------------------------------------------------------------------------------


def test_kill_9_at_random_moments_leaves_a_whole_or_absent_batch_and_a_rerun_completes(cli, tmp_path, rules):
    write_csv(tmp_path / "first.csv", lead_rows(20))
    assert cli("import", "first.csv").exit_code == 0
    db = tmp_path / "leadshare.db"
    big = write_csv(tmp_path / "nightly.csv", lead_rows(1500, start=100))
    env = env_for(tmp_path, rules)
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "20261125")))
    outcomes = {"absent": 0, "whole": 0, "finished": 0}
    committed = False
    for k in range(KILLS):
        proc = spawn("import", big, "--json", env=env, cwd=tmp_path)
        if k % 2 == 0 and wait_for_write_lock(db, proc):
            time.sleep(rnd.uniform(0, 0.15))  # somewhere inside the transaction or its commit
        else:
            time.sleep(rnd.uniform(0.05, 1.2))  # anywhere: start-up, parsing, deciding, writing
        proc.kill()
        proc.communicate()
        if proc.returncode == 0:
            outcomes["finished"] += 1
        present = batch_whole_or_absent(db, 1500, 20)
        outcomes["whole" if present else "absent"] += 1
        verified(cli, db)
        if present:
            committed = True
            break
    rerun = cli("import", big, "--json")
    assert rerun.exit_code == 0, rerun.stderr
    out = orjson.loads(rerun.stdout)
    # a rerun of a committed import reports this run's count: nothing imported
    assert out.get("already_imported", False) == committed and out["imported"] == (0 if committed else 1500)
    assert sql(db, "SELECT count(*) FROM leads")[0][0] == 1520
    verified(cli, db)
    print(f"\nkill -9: {sum(outcomes.values())} kills survived {outcomes}")


def _children(pid: int) -> set[int]:
    kids: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.update(int(k) for k in f.read().split())
    return kids


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _reading_children(proc: subprocess.Popen, readers: int) -> set[int]:
    """The children a big import reads its file in, once they run."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        kids = _children(proc.pid)
        if len(kids) >= readers:
            return kids
        time.sleep(0.01)
    return set()


def _gone(pids: set[int], within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(_running(p) for p in pids):
            return True
        time.sleep(0.02)
    return False


def _big_file(path: Path, lines: int, leads: int) -> Path:
    """A file of `lines` data lines, `leads` of them leads spread evenly and the rest blank. Its
    lines decide how many processes read it; its leads, how long the import takes once they run."""
    step = lines // leads
    path.write_text(CSV_HEADER + "".join(row + "\n" * step for row in lead_rows(leads)) + "\n" * (lines - step * leads))
    return path


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="finds child processes through /proc")
@pytest.mark.parametrize("how, readers", [("kill -9", 1), ("Ctrl-C", 1), ("kill -9", 2)])
def test_stopping_a_big_import_ends_the_processes_reading_its_file(cli, tmp_path, rules, how, readers):
    from leadshare.bulk import can_fork
    from leadshare.importer import BACKGROUND_ROWS, TWO_READERS_ROWS

    if not can_fork():
        pytest.skip("a big file is read in a child process only where fork() is used")
    db = tmp_path / "leadshare.db"
    # As many lines as make that many readers; leads enough that the import is still reading
    # when they are seen (a few tenths of a second), not so many that the rerun takes seconds.
    rows = 12_500
    big = _big_file(tmp_path / "big.csv", (BACKGROUND_ROWS if readers == 1 else TWO_READERS_ROWS) + 5_000, rows)
    proc = spawn("import", big, env=env_for(tmp_path, rules), cwd=tmp_path, preexec=os.setpgrp)
    reader = _reading_children(proc, readers)
    assert len(reader) == readers, proc.communicate()
    if how == "kill -9":
        proc.kill()
    else:  # as a terminal sends it: to the whole process group
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert _gone(reader), f"the reading process outlived {how}"
    if how == "Ctrl-C":
        assert proc.returncode == 130 and "interrupted" in one_clear_line(err), (proc.returncode, err)
    assert not db.exists() or sql(db, "SELECT count(*) FROM leads")[0][0] == 0  # all or nothing
    rerun = cli("import", big, "--json")
    assert rerun.exit_code == 0 and orjson.loads(rerun.stdout)["imported"] == rows
    verified(cli, db)


# ---- Ctrl-C ---------------------------------------------------------------------------------


def test_ctrl_c_during_an_import_rolls_back_and_says_so(cli, tmp_path, rules):
    write_csv(tmp_path / "first.csv", lead_rows(10))
    assert cli("import", "first.csv").exit_code == 0
    db = tmp_path / "leadshare.db"
    before = snapshot(db)
    big = write_csv(tmp_path / "nightly.csv", lead_rows(2500, start=100))
    proc = spawn("import", big, env=env_for(tmp_path, rules), cwd=tmp_path)
    assert wait_for_write_lock(db, proc), proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, out, err)
    line = one_clear_line(err)
    assert "interrupted" in line and "nothing was changed" in line
    assert snapshot(db) == before
    verified(cli, db)
    assert cli("import", big).exit_code == 0  # and running it again completes it


@pytest.mark.parametrize("delay", [0.02, 0.0], ids=["while-loading-modules", "as-orjson-loads"])
def test_ctrl_c_while_leadshare_starts_shows_no_traceback(tmp_path, rules, delay):
    """Ctrl-C a moment after starting a command (Python still loading leadshare's modules): one
    line and exit 130 like any other interrupt, never Python's KeyboardInterrupt traceback, and
    never a crash (a signal that lands while orjson 3.13 initialises makes it segfault unless
    leadshare holds Ctrl-C back until its modules are loaded)."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc to see the process load its modules")
    write_csv(tmp_path / "leads.csv", lead_rows(5))
    proc = spawn("import", "leads.csv", env=env_for(tmp_path, rules), cwd=tmp_path)
    deadline = time.monotonic() + 30
    loaded = False
    while proc.poll() is None and time.monotonic() < deadline and not loaded:
        try:  # a C extension leadshare's command modules load while they are being imported
            loaded = "orjson" in Path(f"/proc/{proc.pid}/maps").read_text()
        except OSError:
            pass
    if not loaded:
        proc.kill()
        pytest.skip("could not catch the start-up")
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-1500:]
    assert proc.returncode != -signal.SIGSEGV, "leadshare crashed with a segmentation fault"
    assert proc.returncode == 130, (proc.returncode, err)
    assert "interrupted" in one_clear_line(err)
    assert not (tmp_path / "leadshare.db").exists() or sql(tmp_path / "leadshare.db", "SELECT count(*) FROM leads") == [(0,)]


# ---- read-only ledger and folders -------------------------------------------------------------


@contextlib.contextmanager
def immutable(path: Path):
    """`chattr +i`: refuses writes even to root (file permissions do not stop root)."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not permitted here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_ledger_gives_one_line_exit_2_and_stays_intact(cli, tmp_path, rules):
    write_csv(tmp_path / "first.csv", lead_rows(6))
    assert cli("import", "first.csv").exit_code == 0
    db = tmp_path / "leadshare.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = snapshot(db)
    content = db.read_bytes()
    write_csv(tmp_path / "second.csv", lead_rows(6, start=50))
    env = env_for(tmp_path, rules)
    writers = (("import", "second.csv"), ("status", "1", "contacted", "--as", "aisyah"))
    with immutable(db):
        procs = [spawn(*args, env=env, cwd=tmp_path) for args in writers]
        for args, proc in zip(writers, procs):
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 2, (args, proc.returncode, out, err)
            assert "read-only" in one_clear_line(err), (args, err)
        reading = cli("mine", "--as", "aisyah", "--json")
        assert reading.exit_code == 0 and len(orjson.loads(reading.stdout)) == 2, reading.stderr
    assert db.read_bytes() == content and snapshot(db) == before
    verified(cli, db)


def test_a_read_only_folder_for_rejects_or_export_gives_one_line_and_writes_nothing(cli, tmp_path, rules):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox / "leads.csv", lead_rows(4) + ["X-1,No Contact,,,web,KL,residential"])
    out = tmp_path / "out"
    out.mkdir()
    assert cli("init").exit_code == 0
    db = tmp_path / "leadshare.db"
    before = snapshot(db)
    with immutable(inbox):  # the rejects file goes beside the input: it cannot
        result = cli("import", "inbox/leads.csv")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "rejects" in one_clear_line(result.stderr) or "rejected" in result.stderr
    assert snapshot(db) == before, "the import went in although its rejects could not be kept"
    assert cli("import", "inbox/leads.csv").exit_code == 1  # writable again: the import goes in
    with immutable(out):
        result = cli("export", "--out", "out/leads.csv")
        assert result.exit_code == 2 and "out/leads.csv" in one_clear_line(result.stderr)
        assert not list(out.iterdir())
    verified(cli, db)


# ---- a full disk ------------------------------------------------------------------------------


def _file_size_limit(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_file_size_limit_during_an_import_gives_one_line_exit_2_and_an_intact_ledger(cli, tmp_path, rules):
    write_csv(tmp_path / "first.csv", lead_rows(10))
    assert cli("import", "first.csv").exit_code == 0
    db = tmp_path / "leadshare.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = snapshot(db)
    big = write_csv(tmp_path / "nightly.csv", lead_rows(1500, start=100))
    limit = db.stat().st_size + 64 * 1024
    proc = spawn("import", big, env=env_for(tmp_path, rules), cwd=tmp_path, preexec=_file_size_limit(limit))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (proc.returncode, out, err)
    line = one_clear_line(err)
    assert "leadshare.db" in line, line
    assert snapshot(db) == before
    verified(cli, db)
    assert cli("import", big).exit_code == 0


@contextlib.contextmanager
def small_disk(path: Path, size: str = "2m"):
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(folder: Path, leave: int) -> Path:
    """Fill the file system until about `leave` bytes are free."""
    filler = folder / "filler"
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_gives_one_line_exit_2_and_an_intact_ledger(cli, tmp_path, rules):
    with small_disk(tmp_path / "disk", "8m") as disk:
        db = disk / "leadshare.db"
        write_csv(disk / "first.csv", lead_rows(10))
        assert cli("--db", db, "import", disk / "first.csv").exit_code == 0
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        big = write_csv(disk / "nightly.csv", lead_rows(2000, start=100))
        before = snapshot(db)
        filler = _fill(disk, 48 * 1024)
        proc = spawn("import", big, env=env_for(tmp_path, rules, db=db), cwd=tmp_path)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, (proc.returncode, out, err)
        line = one_clear_line(err)
        assert "full" in line and "leadshare.db" in line, line
        assert snapshot(db) == before
        verified(cli, db)
        export = cli("--db", db, "export", "--out", disk / "all.csv")
        assert export.exit_code == 2 and "full" in one_clear_line(export.stderr)
        assert not (disk / "all.csv").exists()
        filler.unlink()
        again = cli("--db", db, "import", big)
        assert again.exit_code == 0, again.stderr  # space again: it completes
        verified(cli, db)


# ---- personal data ------------------------------------------------------------------------------


def test_ledger_wal_and_shm_are_private_under_a_permissive_umask(tmp_path):
    from leadshare.ledger.store import Ledger

    old = os.umask(0o022)
    try:
        ledger = Ledger.open(tmp_path / "private.db")
        try:
            ledger.conn.execute("CREATE TEMP TABLE t (x)")  # keep using it: -wal and -shm exist now
            for suffix in ("", "-wal", "-shm"):
                path = tmp_path / f"private.db{suffix}"
                assert path.exists(), suffix
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, (suffix, oct(path.stat().st_mode))
        finally:
            ledger.close()
    finally:
        os.umask(old)


def test_files_written_by_a_process_under_umask_022_are_private(cli, tmp_path, rules):
    """A real process with umask 022: the ledger it creates and its -wal and -shm while it works
    are readable by the owner only; so are a backup and an export of leads."""
    db = tmp_path / "cron.db"
    big = write_csv(tmp_path / "nightly.csv", lead_rows(1000))
    proc = spawn("import", big, env=env_for(tmp_path, rules, db=db), cwd=tmp_path, preexec=lambda: os.umask(0o022))
    while not db.exists() and proc.poll() is None:
        time.sleep(0.002)
    assert wait_for_write_lock(db, proc), proc.communicate()
    deadline = time.monotonic() + 10
    while not all((tmp_path / f"cron.db{s}").exists() for s in ("-wal", "-shm")) and time.monotonic() < deadline:
        time.sleep(0.002)
    modes = {s: stat.S_IMODE((tmp_path / f"cron.db{s}").stat().st_mode) for s in ("", "-wal", "-shm")}
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}, {k: oct(v) for k, v in modes.items()}
    old = os.umask(0o022)
    try:
        for args, made in ((("backup", "copy.db"), "copy.db"), (("export", "--out", "leads.csv"), "leads.csv")):
            done = cli("--db", db, *args)
            assert done.exit_code == 0, done.stderr
            assert stat.S_IMODE((tmp_path / made).stat().st_mode) == 0o600, (made, oct((tmp_path / made).stat().st_mode))
    finally:
        os.umask(old)


CANARY_NAME = "Zebulon Quaxley"
CANARY_PHONE = phone(8675309 % 100000)  # as written in the file
CANARY_E164 = "+60" + CANARY_PHONE.replace("-", "")[1:]
CANARY_EMAIL = "zebulon.quaxley@example.com"
CANARIES = (CANARY_NAME.encode(), b"Quaxley", CANARY_E164.encode(), CANARY_E164[1:].encode(),
            CANARY_PHONE.encode(), CANARY_EMAIL.encode(), b"zebulon.quaxley")


def ledger_bytes(folder: Path, name: str = "leadshare.db") -> bytes:
    return b"".join(p.read_bytes() for p in folder.glob(name + "*"))


def _import_with_canary(cli, tmp_path) -> int:
    write_csv(tmp_path / "a.csv", lead_rows(300) + [f"ZQ-1,{CANARY_NAME},{CANARY_PHONE},{CANARY_EMAIL},facebook,KL,residential"]
              + lead_rows(300, start=400))
    assert cli("import", "a.csv").exit_code == 0
    lead = orjson.loads(cli("show", "ZQ-1", "--json").stdout)
    assert lead["name"] == CANARY_NAME and lead["phone"] == CANARY_E164
    # the same person again from another source: a duplicate event on the same lead
    write_csv(tmp_path / "b.csv", [f"ZQ-2,{CANARY_NAME},{CANARY_E164},{CANARY_EMAIL.upper()},google,KL,residential"])
    assert orjson.loads(cli("import", "b.csv", "--json").stdout)["duplicates"] == 1
    cli("note", str(lead["id"]), f"{CANARY_NAME} asked to call {CANARY_PHONE} after 8pm", "--as", lead["agent"])
    return lead["id"]


def test_forget_leaves_no_trace_of_the_customer_in_the_ledger_files(cli, tmp_path):
    lead = _import_with_canary(cli, tmp_path)
    assert any(c in ledger_bytes(tmp_path) for c in CANARIES)
    result = cli("forget", str(lead), "--as", "aisyah")
    assert result.exit_code == 0, result.stderr
    raw = ledger_bytes(tmp_path)
    assert [c for c in CANARIES if c in raw] == []
    verified(cli, tmp_path / "leadshare.db")


def test_forget_erases_the_customer_from_a_handoff_reason_too(cli, tmp_path):
    """The reason of a handoff travels as a note on the lead's timeline; it often names the
    customer, and `forget` must erase it like any other note."""
    lead = _import_with_canary(cli, tmp_path)
    owner = orjson.loads(cli("show", str(lead), "--json").stdout)["agent"]
    to = "ben" if owner != "ben" else "chitra"
    reason = f"{CANARY_NAME} prefers Mandarin"
    assert cli("reassign", str(lead), "--to", to, "--reason", reason, "--as", "aisyah").exit_code == 0
    assert cli("forget", str(lead), "--as", "aisyah").exit_code == 0
    raw = ledger_bytes(tmp_path)
    assert [c for c in CANARIES if c in raw] == []
    verified(cli, tmp_path / "leadshare.db")


def test_forget_while_a_reader_holds_a_snapshot_does_not_claim_an_erasure_it_did_not_finish(cli, tmp_path, rules):
    """A long read (a dashboard, a backup) pins the old pages; if the erased bytes cannot leave
    the files yet, `forget` must not report success silently."""
    lead = _import_with_canary(cli, tmp_path)
    db = tmp_path / "leadshare.db"
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM leads").fetchone()
    try:
        done = leadshare("forget", lead, "--as", "aisyah", env=env_for(tmp_path, rules, LEADSHARE_BUSY_TIMEOUT_MS="300"),
                         cwd=tmp_path, timeout=60)
        left = [c for c in CANARIES if c in ledger_bytes(tmp_path)]
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert "Traceback" not in done.stderr
    if left:
        assert done.returncode != 0 or "forget" in done.stderr or "again" in done.stderr, (
            f"`forget` exited {done.returncode} and said {done.stdout.strip()!r}, yet {left} are still in the ledger files")


def test_a_customers_details_never_reach_stderr_when_things_fail(cli, tmp_path, rules):
    canary_row = f"ZQ-9,{CANARY_NAME},0000 {CANARY_PHONE[-4:]}99,{CANARY_EMAIL.replace('@', '@@')},web,KL,residential"
    bad_row_file = write_csv(tmp_path / "bad.csv", lead_rows(3) + [canary_row])
    secrets = (CANARY_NAME, "Quaxley", CANARY_EMAIL.split("@")[0])
    stderrs = []
    db = tmp_path / "leadshare.db"
    # a rejected row: its reason goes to the rejects file, not to the terminal or the cron mail
    result = cli("import", bad_row_file)
    assert result.exit_code == 1
    stderrs.append(("rejected row", result.stderr))
    # the same person in a file that cannot go in: busy, full, broken
    good = write_csv(tmp_path / "good.csv", [f"ZQ-1,{CANARY_NAME},{CANARY_PHONE},{CANARY_EMAIL},web,KL,residential"]
                     + lead_rows(600, start=100))
    env = env_for(tmp_path, rules, LEADSHARE_BUSY_TIMEOUT_MS="100")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    busy = leadshare("import", good, env=env, cwd=tmp_path)
    holder.execute("ROLLBACK")
    holder.close()
    stderrs.append(("busy", busy.stderr))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full = leadshare("import", good, env=env, cwd=tmp_path, preexec_fn=_file_size_limit(db.stat().st_size + 16 * 1024))
    assert full.returncode == 2, full.stderr
    stderrs.append(("file size limit", full.stderr))
    broken = tmp_path / "broken.db"
    shutil.copyfile(db, broken)
    with sqlite3.connect(broken) as conn:
        conn.execute("DROP TABLE leads")
    stderrs.append(("broken ledger", cli("--db", broken, "import", good).stderr))
    for what, err in stderrs:
        assert "Traceback" not in err, (what, err[-1500:])
        leaked = [s for s in secrets if s in err]
        assert not leaked, f"{what}: stderr shows {leaked}: {err[-800:]}"


def test_ctrl_c_after_the_import_was_saved_does_not_say_nothing_was_changed(cli, tmp_path, rules):
    """With --notify the import commits, then delivers its notifications. Ctrl-C during the
    delivery must not tell the user that nothing was changed: the batch is in."""
    script = tmp_path / "slow-notify.sh"
    script.write_text(f"#!/bin/sh\ntouch '{tmp_path}/notify-started'\nexec sleep 3\n")
    script.chmod(0o755)
    rules.write_text(rules.read_text().replace("agents:\n", "notify:\n  command: ./slow-notify.sh\nagents:\n", 1))
    write_csv(tmp_path / "leads.csv", lead_rows(5))
    proc = spawn("import", "leads.csv", "--notify", env=env_for(tmp_path, rules), cwd=tmp_path)
    deadline = time.monotonic() + 30
    while not (tmp_path / "notify-started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert sql(tmp_path / "leadshare.db", "SELECT count(*) FROM leads")[0][0] == 5  # the import was saved
    assert "nothing was changed" not in err and "rolled back" not in err, (proc.returncode, err)
