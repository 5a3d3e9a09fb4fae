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
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from _common import cleanup, consistency_problems, env_for, scratch, sql, write_leads

WORKER = r"""
import json, os, random, sys, time
from typer.testing import CliRunner
import typer.testing
from leadshare.cli import app
if hasattr(typer.testing, "_get_command"):  # build the command tree once
    _cmd = typer.testing._get_command(app)
    typer.testing._get_command = lambda a: _cmd
plan = json.loads(sys.argv[1])
runner = CliRunner()
rnd = random.Random(plan["seed"])
open(plan["ready"], "w").close()
while not os.path.exists(plan["gate"]):
    time.sleep(0.002)
results = []
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


def run_round(folder: Path, plans: list[dict], env: dict) -> list[dict]:
    gate = folder / "gate"
    gate.unlink(missing_ok=True)
    procs = []
    for i, plan in enumerate(plans):
        plan.update(gate=str(gate), ready=str(folder / f"ready{i}"), dir=str(folder))
        (folder / f"ready{i}").unlink(missing_ok=True)
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(plan)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env, cwd=folder))
    while not all((folder / f"ready{i}").exists() for i in range(len(plans))):
        for p in procs:
            if p.poll() is not None:
                raise SystemExit(f"a worker died before the start: {p.communicate()[1][-2000:]}")
        time.sleep(0.01)
    gate.touch()
    calls = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a worker crashed: {err[-3000:]}")
        calls += json.loads(out.strip().splitlines()[-1])
    return calls


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
    subprocess.run([sys.executable, "-m", "leadshare", "init"], env=env, cwd=folder, check=True, capture_output=True)
    failures: list[str] = []
    codes: Counter = Counter()
    commands = 0
    refusals: Counter = Counter()
    clock = datetime(2026, 11, 25, 10, 0)
    next_start = 0
    started = time.monotonic()

    for rnd_no in range(args.rounds):
        plans = []
        shared = write_leads(folder / f"shared{rnd_no}.csv", 100, start=100_000 + rnd_no * 1000)
        for w in range(args.procs):
            own = write_leads(folder / f"r{rnd_no}w{w}.csv", 120, start=next_start + w * 100, bad=2)  # 20 overlap the next
            if rnd_no == 0:
                ops = [["import", str(own)], ["import", str(shared)]]
            else:
                kinds = ["import", "assign", "sweep", "status", "status", "note", "handover", "leave", "read", "read", "backup"]
                ops = [["import", str(own)], ["import", str(shared)]] + [[rnd.choice(kinds), str(own)] for _ in range(args.ops - 2)]
            plans.append({"seed": rnd_no * 1000 + w, "ops": ops, "now": clock.isoformat()})
        next_start += args.procs * 100 + 20
        calls = run_round(folder, plans, env)
        commands += len(calls)
        shared_imports = [json.loads(c["stdout"]) for c in calls if c["args"][:2] == ["import", str(shared)] and c["code"] in (0, 1)]
        if sum(1 for s in shared_imports if not s.get("already_imported")) != 1:
            failures.append(f"round {rnd_no}: the shared file went in {len(shared_imports)} times, not once")
        for c in calls:
            codes[c["code"]] += 1
            if c["exc"] or "Traceback" in c["stderr"] or "unexpected" in c["stderr"]:
                failures.append(f"round {rnd_no}: {c['args']}: {c['exc'] or c['stderr'].strip()[-300:]}")
            elif "busy" in c["stderr"]:
                failures.append(f"round {rnd_no}: {c['args']}: gave up on the lock: {c['stderr'].strip()}")
            elif c["code"] == 2:
                hit = next((r for r in REFUSALS if r in c["stderr"]), None)
                refusals[hit or c["stderr"].strip()[:80]] += 1
            elif c["code"] not in (0, 1):
                failures.append(f"round {rnd_no}: {c['args']}: exit {c['code']}")
        if rnd_no == 0:
            counts = dict(sql(db, "SELECT agent, count(*) FROM events WHERE type = 'assigned' "
                                  "AND json_extract(data, '$.rule') = 'everyone' GROUP BY agent"))
            if max(counts.values()) - min(counts.values()) > 1:
                failures.append(f"round 0: round-robin not within one of even: {counts}")
            print(f"round 0 split: {counts}", file=sys.stderr)
        for problem in consistency_problems(db):
            failures.append(f"round {rnd_no}: {problem}")
        for backup in folder.glob("backup-*.db"):
            from _common import verify

            ok, problems = verify(backup)
            if not ok:
                failures.append(f"round {rnd_no}: backup {backup.name} does not verify: {problems[:3]}")
            backup.unlink()
        clock += timedelta(hours=rnd.choice([1, 3, 5, 20]))
        print(f"round {rnd_no + 1}/{args.rounds}: {len(calls)} commands, failures so far {len(failures)}", file=sys.stderr)

    leads = sql(db, "SELECT count(*) FROM leads")[0][0]
    events = sql(db, "SELECT count(*) FROM events")[0][0]
    types = dict(sql(db, "SELECT type, count(*) FROM events GROUP BY type"))
    print(f"\n{args.procs} processes x {args.ops} operations x {args.rounds} rounds: {commands} commands in "
          f"{time.monotonic() - started:.0f} s")
    print(f"ledger {db}: {events} events, {leads} leads; {types}")
    print(f"exit codes: {dict(codes)}; refusals (exit 2, expected under contention): {dict(refusals)}")
    print(f"failures: {len(failures)}")
    for f in failures[:40]:
        print("  " + f)
    cleanup(keep=bool(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
