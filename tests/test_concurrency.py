"""Several real processes on one ledger: cron imports, agents moving leads, sweeps, readers.

Afterwards every lead has exactly one owner or waits in the queue, no customer has two open
leads, the counts add up, the round-robin rotation is within one lead of even, and
`verify --decisions` passes. A process that cannot get the write lock in time exits 2 with
"ledger busy" and changes nothing; readers are never blocked by a writer.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson

from conftest import lead_rows, write_csv
from ledger_processes import WORKER_START, env_for, leadshare, sql, start_workers, worker_results
from sample_team import no_contact_rows

WORKERS = int(os.environ.get("CONCURRENCY_WORKERS", "4"))
OPS = int(os.environ.get("CONCURRENCY_OPS", "7"))
CLOSED = ("won", "lost")

# One worker process: waits at the start gate, then runs its plan through the real command line
# and prints what it saw.
WORKER = WORKER_START + r"""
def call(args, env=None, keep=True):
    r = runner.invoke(app, args, env=env)
    exc = None if r.exception is None or isinstance(r.exception, SystemExit) else repr(r.exception)
    if keep:
        results.append({"args": args, "code": r.exit_code, "stderr": r.stderr[-1500:], "stdout": r.stdout if "--json" in args else "", "exc": exc})
    return r
for op in plan["ops"]:
    kind = op[0]
    if kind == "import":
        call(["import", op[1], "--json"])
    elif kind == "assign":
        call(["assign", "--json"])
    elif kind == "sweep":
        call(["sweep", "--json"], env={"LEADSHARE_NOW": op[1]})
    elif kind in ("status", "note"):
        agent = op[1]
        mine = call(["mine", "--as", agent, "--json"])
        leads = json.loads(mine.stdout) if mine.exit_code == 0 else []
        if leads:
            lead = str(rnd.choice(leads)["id"])
            if kind == "status":
                call(["status", lead, op[2], "--as", agent])
            else:
                call(["note", lead, "called from worker %d" % plan["seed"], "--as", agent])
    elif kind == "read":
        call(["log", "--limit", "5", "--json"])
        call(["show", "1", "--json"])
print(json.dumps(results))
"""


def run_workers(plans: list[dict], env: dict, cwd: Path, timeout: float = 120) -> list[list[dict]]:
    """Start every worker, open the gate once all are ready, and collect what each saw."""
    return worker_results(start_workers(WORKER, plans, env, cwd), timeout)


def assert_consistent(db: Path, cli) -> None:
    """What must hold on any ledger, whatever ran on it."""
    # exactly one owner, or waiting in the queue with a reason
    bad = sql(db, "SELECT id, agent, queued_reason FROM leads WHERE (agent IS NULL) = (queued_reason IS NULL) "
                  "AND status NOT IN ('won', 'lost') AND forgotten_at IS NULL")
    assert not bad, f"leads with no owner and no queue reason, or both: {bad[:5]}"
    # one open lead per customer: concurrent imports must not both create the same person
    for column in ("phone_key", "email_key", "external_id"):
        twice = sql(db, f"SELECT {column}, count(*) FROM leads WHERE {column} IS NOT NULL AND status NOT IN ('won', 'lost') "
                        f"GROUP BY {column} HAVING count(*) > 1")
        assert not twice, f"one customer, several open leads (several owners) by {column}: {twice[:5]}"
    (rows, imported, duplicates, rejected), = sql(db, "SELECT sum(rows), sum(imported), sum(duplicates), sum(rejected) FROM imports")
    assert rows == imported + duplicates + rejected
    assert imported == sql(db, "SELECT count(*) FROM leads")[0][0]
    verified = cli("verify", "--decisions", "--json", "--db", db)
    assert verified.exit_code == 0 and orjson.loads(verified.stdout)["ok"], verified.stdout + verified.stderr


def assert_even_rotation(db: Path) -> None:
    """Everyone is always available and equal under rule 'everyone': within one lead of even."""
    counts = dict(sql(db, "SELECT agent, count(*) FROM events WHERE type = 'assigned' "
                          "AND json_extract(data, '$.rule') = 'everyone' GROUP BY agent"))
    assert set(counts) == {"aisyah", "ben", "chitra"}, counts
    assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_many_processes_import_assign_sweep_and_move_leads_at_once(tmp_path, rules, cli):
    env = env_for(tmp_path, rules)
    assert cli("init").exit_code == 0
    files, expected_rows, contacts = [], 0, set()
    for w in range(WORKERS):
        start = w * 60
        rows = lead_rows(80, start=start) + no_contact_rows(2, w)
        files.append(write_csv(tmp_path / f"w{w}.csv", rows))
        expected_rows += len(rows)
        contacts |= set(range(start, start + 80))
    plans = []
    for w in range(WORKERS):
        ops = [["import", str(files[w])]]
        kinds = ["assign", "sweep", "status", "note", "read", "status"]
        for k in range(OPS - 1):
            kind = kinds[(w + k) % len(kinds)]
            agent = ("aisyah", "ben", "chitra")[(w + k) % 3]
            if kind == "status":
                ops.append(["status", agent, ("contacted", "qualified")[k % 2]])
            elif kind == "note":
                ops.append(["note", agent])
            elif kind == "sweep":  # before any SLA is due: sweeps take the lock and change nothing
                ops.append(["sweep", "2026-11-25T10:30:00"])
            else:
                ops.append([kind])
        plans.append({"seed": w, "ops": ops})
    outs = run_workers(plans, env, tmp_path)

    calls = [r for out in outs for r in out]
    for r in calls:
        assert r["exc"] is None and "Traceback" not in r["stderr"] and "unexpected" not in r["stderr"], r
        assert r["code"] in (0, 1, 2), r
        assert "busy" not in r["stderr"], f"a writer gave up within the default busy timeout: {r}"
        if r["code"] == 2:  # only refusals a user can act on: a lead moved on meanwhile
            assert any(w in r["stderr"] for w in ("already", "belongs to", "closed")), r
    imports = [orjson.loads(r["stdout"]) for r in calls if r["args"][0] == "import"]
    assert len(imports) == WORKERS and all(i["rejected"] == 2 and "already_imported" not in i for i in imports), imports
    db = tmp_path / "leadshare.db"
    assert sql(db, "SELECT count(*) FROM imports")[0][0] == WORKERS
    assert sql(db, "SELECT sum(rows) FROM imports")[0][0] == expected_rows
    assert sql(db, "SELECT count(*) FROM leads")[0][0] == len(contacts)  # nothing lost, nothing twice
    assert_consistent(db, cli)
    assert_even_rotation(db)
    print(f"\nconcurrency: {WORKERS} processes x {OPS} operations, {len(calls)} commands, {len(contacts)} leads")


def _holding(pid: int, db: Path) -> bool:
    """Whether process `pid` has the ledger open (Linux /proc; elsewhere assume so after a while)."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(db) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return not os.path.isdir("/proc")


def test_the_same_file_imported_by_four_processes_at_once_is_imported_once(tmp_path, rules, cli):
    env = env_for(tmp_path, rules)
    assert cli("init").exit_code == 0
    write_csv(tmp_path / "nightly.csv", lead_rows(200))
    db = tmp_path / "leadshare.db"
    # hold the write lock while the four start, so that all of them queue at BEGIN IMMEDIATE
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    procs = [subprocess.Popen([sys.executable, "-m", "leadshare", "import", "nightly.csv", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path) for _ in range(4)]
    deadline = time.monotonic() + 30
    while not all(_holding(p.pid, db) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # each has the ledger open; now it reads the 200 rows and queues for the lock
    holder.execute("ROLLBACK")
    holder.close()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and "Traceback" not in err, (p.returncode, err)
        results.append(orjson.loads(out))
    assert sorted(bool(r.get("already_imported")) for r in results) == [False, True, True, True], results
    assert len({r["batch"] for r in results}) == 1
    assert sql(db, "SELECT count(*) FROM imports") == [(1,)]
    assert sql(db, "SELECT count(*) FROM leads") == [(200,)]
    assert_consistent(db, cli)
    assert_even_rotation(db)


def test_a_writer_that_cannot_get_the_lock_exits_2_busy_and_changes_nothing(tmp_path, rules, cli, monkeypatch):
    env = env_for(tmp_path, rules)
    write_csv(tmp_path / "first.csv", lead_rows(6))
    assert cli("import", "first.csv").exit_code == 0
    write_csv(tmp_path / "second.csv", lead_rows(6, start=10))
    db = tmp_path / "leadshare.db"
    before = sql(db, "SELECT count(*), max(seq) FROM events")
    busy = dict(env, LEADSHARE_BUSY_TIMEOUT_MS="200")
    in_processes = [("import", "second.csv"), ("status", "1", "contacted", "--as", "aisyah")]
    in_this_process = [("sweep",), ("assign",), ("note", "1", "hello", "--as", "aisyah"),
                       ("leave", "add", "ben", "2026-12-01", "2026-12-02", "--as", "aisyah")]
    from leadshare.ledger import store

    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 200)  # what LEADSHARE_BUSY_TIMEOUT_MS=200 sets at start-up
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        procs = [subprocess.Popen([sys.executable, "-m", "leadshare", *w], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=busy, cwd=tmp_path) for w in in_processes]
        outs = [(w, (r := cli(*w)).exit_code, r.stdout, r.stderr) for w in in_this_process]
        outs += [(w, p.wait(timeout=60), *p.communicate()) for w, p in zip(in_processes, procs)]
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for w, code, out, err in outs:
        assert code == 2, (w, code, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "ledger busy" in lines[0] and "Traceback" not in err, (w, err)
    assert elapsed < 30, f"writers with a 200 ms busy timeout took {elapsed:.1f} s"
    assert sql(db, "SELECT count(*), max(seq) FROM events") == before
    assert sql(db, "SELECT count(*) FROM leave") == [(0,)]
    assert_consistent(db, cli)


def test_readers_are_not_blocked_while_a_writer_holds_the_lock(tmp_path, rules, cli):
    env = env_for(tmp_path, rules, LEADSHARE_BUSY_TIMEOUT_MS="200")
    write_csv(tmp_path / "leads.csv", lead_rows(6))
    assert cli("import", "leads.csv").exit_code == 0
    db = tmp_path / "leadshare.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO meta (key, value) VALUES ('uncommitted', 'x')")  # a writer mid-transaction
    try:
        # another process, with a 200 ms busy timeout it would hit if reading waited for the lock
        mine = leadshare("mine", "--as", "ben", "--json", env=env, cwd=tmp_path)
        assert mine.returncode == 0, mine.stderr
        assert len(orjson.loads(mine.stdout)) == 2  # ben's two leads, read under the writer's lock
        for args in (("show", "1", "--json"), ("log", "--json"), ("verify", "--json"), ("export", "--format", "json"),
                     ("agents", "--json"), ("fairness", "--json"), ("explain", "1", "--json")):
            result = cli(*args)
            assert result.exit_code == 0, (args, result.stderr)
            orjson.loads(result.stdout)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_backup_while_another_process_keeps_importing_is_a_verifiable_copy(tmp_path, rules, cli):
    env = env_for(tmp_path, rules)
    for i in range(6):
        write_csv(tmp_path / f"n{i}.csv", lead_rows(150, start=i * 150))
    assert cli("import", "n0.csv").exit_code == 0
    plan = {"seed": 99, "ops": [["import", str(tmp_path / f"n{i}.csv")] for i in range(1, 6)]}
    (importer,) = start_workers(WORKER, [plan], env, tmp_path)
    copies = []
    while importer.poll() is None or len(copies) < 2:
        target = tmp_path / f"copy{len(copies)}.db"
        done = cli("backup", target)
        assert done.exit_code == 0, done.stderr
        copies.append(target)
        time.sleep(0.05)
    out, err = importer.communicate(timeout=60)
    assert importer.returncode == 0, err
    sizes = set()
    for copy in copies:
        checked = cli("verify", "--decisions", "--json", "--db", copy)
        report = orjson.loads(checked.stdout)
        assert checked.exit_code == 0 and report["ok"], (copy, report)
        assert oct(os.stat(copy).st_mode & 0o777) == oct(0o600)
        sizes.add(report["events"])
    assert len(sizes) >= 2, f"every backup saw the same ledger: {sizes}"
    print(f"\nbackups: {len(copies)} copies taken during 5 imports, event counts {sorted(sizes)}")
