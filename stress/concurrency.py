"""Many processes on one ledger, round after round, with the checks after each round.

    python stress/concurrency.py                         # 8 processes x 40 operations x 5 rounds
    python stress/concurrency.py --procs 6 --ops 100 --rounds 10

Round 1: every process imports its own (overlapping) file at the same moment, the same shared
file is imported by all of them too, and the round-robin split must be within one lead of even.
Later rounds: imports, assign, SLA sweeps at an advancing clock (real reassignments and
escalations), statuses up to won and lost, notes, handovers, leave, reads and backups, all at
once. After each round: one owner or queued, one open lead per customer, counts add up,
`verify --decisions` passes, and no command crashed, hit the busy timeout or wrote half.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from _common import (WORKER_START, WorkerFailed, consistency_problems, env_for, finish, leadshare, scratch, sql,
                     start_workers, verify, worker_results, write_leads)

WORKER = WORKER_START + r"""
AGENTS = ("aisyah", "ben", "chitra")
def call(args, env=None):
    r = runner.invoke(app, args, env=env)
    exc = None if r.exception is None or isinstance(r.exception, SystemExit) else repr(r.exception)
    results.append({"args": args, "code": r.exit_code, "stderr": r.stderr[-800:], "stdout": r.stdout[:4000] if "--json" in args else "", "exc": exc})
    return r
now = {"LEADSHARE_NOW": plan["now"]}
for op in plan["ops"]:
    kind = op[0]
    if kind == "import":
        call(["import", op[1], "--json"], env=now)
    elif kind == "assign":
        call(["assign", "--json"], env=now)
    elif kind == "sweep":
        call(["sweep", "--json"], env=now)
    elif kind in ("status", "note", "handover"):
        agent = rnd.choice(AGENTS)
        mine = runner.invoke(app, ["mine", "--as", agent, "--json"], env=now)
        leads = json.loads(mine.stdout) if mine.exit_code == 0 else []
        if not leads:
            continue
        lead = str(rnd.choice(leads)["id"])
        if kind == "status":
            call(["status", lead, rnd.choice(["contacted", "qualified", "qualified", "won", "lost"]), "--as", agent], env=now)
        elif kind == "note":
            call(["note", lead, "worker %d was here" % plan["seed"], "--as", agent], env=now)
        else:
            call(["reassign", lead, "--to", rnd.choice([a for a in AGENTS if a != agent]), "--reason", "handover", "--as", "aisyah"], env=now)
    elif kind == "leave":
        day = plan["now"][:10]
        r = call(["leave", "add", rnd.choice(AGENTS), day, day, "--as", "aisyah", "--json"], env=now)
        if r.exit_code == 0 and rnd.random() < 0.7:
            call(["leave", "cancel", str(json.loads(r.stdout)["id"]), "--as", "aisyah"], env=now)
    elif kind == "read":
        call(rnd.choice([["log", "--limit", "50", "--json"], ["fairness", "--json"], ["agents", "--json"],
                         ["export", "--format", "json"], ["show", "1", "--json"], ["verify", "--json"]]), env=now)
    elif kind == "backup":
        target = os.path.join(plan["dir"], "backup-%d-%d.db" % (plan["seed"], len(results)))
        call(["backup", target], env=now)
print(json.dumps(results))
"""

REFUSALS = ("already", "belongs to", "closed", "won", "lost", "nothing to change", "no lead", "needs a note", "only open leads")
KINDS = ["import", "assign", "sweep", "status", "status", "note", "handover", "leave", "read", "read", "backup"]


def run_round(folder: Path, plans: list[dict], env: dict) -> list[dict]:
    try:
        return [call for seen in worker_results(start_workers(WORKER, plans, env, folder)) for call in seen]
    except WorkerFailed as exc:
        raise SystemExit(str(exc)) from None


def round_plans(folder: Path, args, rnd: random.Random, rnd_no: int, first: int, clock: datetime) -> tuple[list[dict], Path]:
    """Each process's plan for one round, and the file all of them import: their own files start
    at customer `first`, 100 apart, so each overlaps the next by 20."""
    plans = []
    shared = write_leads(folder / f"shared{rnd_no}.csv", 100, start=100_000 + rnd_no * 1000)
    for w in range(args.procs):
        own = write_leads(folder / f"r{rnd_no}w{w}.csv", 120, start=first + w * 100, bad=2)
        ops = [["import", str(own)], ["import", str(shared)]]
        if rnd_no > 0:
            ops += [[rnd.choice(KINDS), str(own)] for _ in range(args.ops - 2)]
        plans.append({"seed": rnd_no * 1000 + w, "ops": ops, "now": clock.isoformat()})
    return plans, shared


def check_calls(calls: list[dict], rnd_no: int, shared: Path, tally: dict[str, Counter]) -> list[str]:
    """What went wrong in the round's commands; exit codes and refusals are counted in `tally`."""
    failures = []
    shared_imports = [json.loads(c["stdout"]) for c in calls if c["args"][:2] == ["import", str(shared)] and c["code"] in (0, 1)]
    if sum(1 for s in shared_imports if not s.get("already_imported")) != 1:
        failures.append(f"round {rnd_no}: the shared file went in {len(shared_imports)} times, not once")
    for c in calls:
        tally["codes"][c["code"]] += 1
        if c["exc"] or "Traceback" in c["stderr"] or "unexpected" in c["stderr"]:
            failures.append(f"round {rnd_no}: {c['args']}: {c['exc'] or c['stderr'].strip()[-300:]}")
        elif "busy" in c["stderr"]:
            failures.append(f"round {rnd_no}: {c['args']}: gave up on the lock: {c['stderr'].strip()}")
        elif c["code"] == 2:
            hit = next((r for r in REFUSALS if r in c["stderr"]), None)
            tally["refusals"][hit or c["stderr"].strip()[:80]] += 1
        elif c["code"] not in (0, 1):
            failures.append(f"round {rnd_no}: {c['args']}: exit {c['code']}")
    return failures


def check_ledger(folder: Path, db: Path, rnd_no: int) -> list[str]:
    """The ledger's invariants after a round (and in round 0 the even split), and every backup verifies."""
    failures = []
    if rnd_no == 0:
        counts = dict(sql(db, "SELECT agent, count(*) FROM events WHERE type = 'assigned' "
                              "AND json_extract(data, '$.rule') = 'everyone' GROUP BY agent"))
        if max(counts.values()) - min(counts.values()) > 1:
            failures.append(f"round 0: round-robin not within one of even: {counts}")
        print(f"round 0 split: {counts}", file=sys.stderr)
    for problem in consistency_problems(db):
        failures.append(f"round {rnd_no}: {problem}")
    for backup in folder.glob("backup-*.db"):
        ok, problems = verify(backup)
        if not ok:
            failures.append(f"round {rnd_no}: backup {backup.name} does not verify: {problems[:3]}")
        backup.unlink()
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--ops", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    folder = scratch("concurrency")
    db = folder / "leadshare.db"
    env = env_for(folder)
    leadshare("init", env=env, cwd=folder, check=True)
    failures: list[str] = []
    tally: dict[str, Counter] = {"codes": Counter(), "refusals": Counter()}
    commands = 0
    clock = datetime(2026, 11, 25, 10, 0)
    started = time.monotonic()

    for rnd_no in range(args.rounds):
        plans, shared = round_plans(folder, args, rnd, rnd_no, rnd_no * (args.procs * 100 + 20), clock)
        calls = run_round(folder, plans, env)
        commands += len(calls)
        failures += check_calls(calls, rnd_no, shared, tally)
        failures += check_ledger(folder, db, rnd_no)
        clock += timedelta(hours=rnd.choice([1, 3, 5, 20]))
        print(f"round {rnd_no + 1}/{args.rounds}: {len(calls)} commands, failures so far {len(failures)}", file=sys.stderr)

    leads = sql(db, "SELECT count(*) FROM leads")[0][0]
    events = sql(db, "SELECT count(*) FROM events")[0][0]
    types = dict(sql(db, "SELECT type, count(*) FROM events GROUP BY type"))
    print(f"\n{args.procs} processes x {args.ops} operations x {args.rounds} rounds: {commands} commands in "
          f"{time.monotonic() - started:.0f} s")
    print(f"ledger {db}: {events} events, {leads} leads; {types}")
    print(f"exit codes: {dict(tally['codes'])}; refusals (exit 2, expected under contention): {dict(tally['refusals'])}")
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
