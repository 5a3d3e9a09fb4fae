"""Kill imports at random moments, over and over, and check the ledger after every kill.

    python stress/kill.py                  # 200 SIGKILLs, then 100 SIGINTs
    python stress/kill.py --kills 1000 --interrupts 300 --seed 7

SIGKILL: the batch is wholly present or wholly absent, `verify --decisions` passes, and running
the import again completes it. SIGINT (Ctrl-C): exit 130 with one 'interrupted ... nothing was
changed' line and nothing written, or, when the signal came after the commit, exit 0 with the
batch in; never a traceback, and never 'nothing was changed' when something was.

Prints the figures at the end and exits 1 when anything went wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from _common import cleanup, consistency_problems, env_for, scratch, sql, wait_for_write_lock, write_leads


def batch_state(db: Path, path: Path, leads_before: int) -> str:
    """'whole', 'absent', or a description of the half state."""
    file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    imported = sql(db, "SELECT imported FROM imports WHERE file_hash = ? ORDER BY batch LIMIT 1", (file_hash,))
    leads = sql(db, "SELECT count(*) FROM leads")[0][0]
    if not imported:
        return "absent" if leads == leads_before else f"HALF: {leads - leads_before} leads without an import row"
    return "whole" if leads == leads_before + imported[0][0] else f"HALF: import row says {imported[0][0]}, leads grew {leads - leads_before}"


def leftover_imports() -> list[int]:
    """Running `python -m leadshare import` processes (a killed import's reading child would be one)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"leadshare" in argv and b"import" in argv and state not in ("Z", "X"):
            found.append(int(pid))
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--interrupts", type=int, default=100)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--fresh-every", type=int, default=20, help="start a new ledger every N faults (keeps checks fast)")
    ap.add_argument("--big", action="store_true",
                    help="also 25,000- and 120,000-row files (read in one and in two more processes) and "
                         "Ctrl-C sent to the whole process group")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    totals = {"events": 0, "leads": 0}

    def fresh_ledger():
        folder = scratch("kill")
        env = env_for(folder)
        write_leads(folder / "base.csv", 50)
        done = subprocess.run([sys.executable, "-m", "leadshare", "import", "base.csv"], env=env, cwd=folder,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return folder, folder / "leadshare.db", env

    def tally(db):
        totals["events"] += sql(db, "SELECT count(*) FROM events")[0][0]
        totals["leads"] += sql(db, "SELECT count(*) FROM leads")[0][0]

    folder, db, env = fresh_ledger()
    failures: list[str] = []
    kill_outcomes: Counter = Counter()
    next_start = 1000
    started = time.monotonic()

    # ---- SIGKILL -------------------------------------------------------------------------
    for k in range(args.kills):
        if k and k % args.fresh_every == 0:
            tally(db)
            folder, db, env = fresh_ledger()
        rows = rnd.choice([300, 800, 1500, 3000] + ([25_000, 120_000] if args.big else []))
        path = write_leads(folder / f"k{k}.csv", rows, start=next_start, bad=rnd.randint(0, 3))
        next_start += rows
        leads_before = sql(db, "SELECT count(*) FROM leads")[0][0]
        proc = subprocess.Popen([sys.executable, "-m", "leadshare", "import", path.name], env=env, cwd=folder,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if rnd.random() < 0.6 and wait_for_write_lock(db, proc):
            time.sleep(rnd.choice([0, rnd.uniform(0, 0.02), rnd.uniform(0, 0.1), rnd.uniform(0, 0.3)]))
            when = "in-transaction"  # (or just after it, while committing and printing)
        else:
            time.sleep(rnd.uniform(0.0, 0.9))
            when = "anywhere"
        proc.kill()
        proc.communicate()
        state = batch_state(db, path, leads_before)
        kill_outcomes[(when, state if not state.startswith("HALF") else "HALF", proc.returncode == -signal.SIGKILL)] += 1
        if state.startswith("HALF"):
            failures.append(f"kill {k}: {state}")
        problems = consistency_problems(db)
        if problems:
            failures.append(f"kill {k} ({when}): {problems}")
        if state == "absent" or k % 10 == 0:  # running it again completes it
            again = subprocess.run([sys.executable, "-m", "leadshare", "import", path.name, "--json"], env=env, cwd=folder,
                                   capture_output=True, text=True)
            if again.returncode not in (0, 1) or "Traceback" in again.stderr:
                failures.append(f"kill {k}: re-run exited {again.returncode}: {again.stderr.strip()[-300:]}")
            if batch_state(db, path, leads_before) != "whole":
                failures.append(f"kill {k}: the re-run did not complete the batch")
        print(f"\rkills {k + 1}/{args.kills}, failures {len(failures)}", end="", file=sys.stderr)
    print(file=sys.stderr)

    # ---- SIGINT --------------------------------------------------------------------------
    int_outcomes: Counter = Counter()
    for k in range(args.interrupts):
        if k % args.fresh_every == 0:
            tally(db)
            folder, db, env = fresh_ledger()
        rows = rnd.choice([800, 1500, 3000] + ([25_000, 120_000] if args.big else []))
        path = write_leads(folder / f"i{k}.csv", rows, start=next_start)
        next_start += rows
        leads_before = sql(db, "SELECT count(*) FROM leads")[0][0]
        events_before = sql(db, "SELECT count(*) FROM events")[0][0]
        proc = subprocess.Popen([sys.executable, "-m", "leadshare", "import", path.name], env=env, cwd=folder,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=args.big)
        if rnd.random() < 0.7 and wait_for_write_lock(db, proc):
            time.sleep(rnd.choice([0, rnd.uniform(0, 0.02), rnd.uniform(0, 0.1), rnd.uniform(0, 0.3)]))
            when = "in-transaction"
        else:
            time.sleep(rnd.uniform(0.05, 0.9))
            when = "anywhere"
        if args.big:
            os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the reading process gets it too
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate()
        state = batch_state(db, path, leads_before)
        changed = sql(db, "SELECT count(*) FROM events")[0][0] != events_before
        if "Traceback" in err:
            kind = "TRACEBACK"
            failures.append(f"sigint {k} ({when}): traceback on stderr: {err.strip().splitlines()[-1]}")
        elif proc.returncode == 130:
            says_saved = "saved" in err
            says_nothing = "nothing was changed" in err or "rolled back" in err
            if len(err.strip().splitlines()) != 1 or "interrupted" not in err:
                kind = "130 WITHOUT A MESSAGE"
                failures.append(f"sigint {k} ({when}): exit 130 without one 'interrupted' line: {err!r}")
            elif changed and says_nothing:
                kind = "130 SAYS NOTHING CHANGED BUT COMMITTED"
                failures.append(f"sigint {k}: exit 130 and '{err.strip()}', yet the batch is in the ledger")
            elif changed:
                kind = "130 after the commit, says so" if says_saved else "130 committed (unclear message)"
            else:
                kind = "130 rolled back" if not says_saved else "130 SAYS SAVED BUT NOTHING WRITTEN"
                if says_saved:
                    failures.append(f"sigint {k}: exit 130 and '{err.strip()}', yet nothing was written")
        elif proc.returncode == 0:
            kind = "0 committed" if state == "whole" else "0 NOTHING WRITTEN"
            if state != "whole":
                failures.append(f"sigint {k}: exit 0 but the batch is {state}")
        elif proc.returncode == -signal.SIGINT and state == "whole" and "imported" in out:
            kind = "died of SIGINT while exiting, after the commit and the summary"
        else:
            kind = f"exit {proc.returncode}"
            failures.append(f"sigint {k} ({when}): exit {proc.returncode}: {err.strip()[-300:]}")
        int_outcomes[(when, kind)] += 1
        problems = consistency_problems(db)
        if problems:
            failures.append(f"sigint {k}: {problems}")
        print(f"\rinterrupts {k + 1}/{args.interrupts}, failures {len(failures)}", end="", file=sys.stderr)
    print(file=sys.stderr)

    tally(db)
    time.sleep(2)
    left = leftover_imports()
    if left:
        failures.append(f"{len(left)} import processes outlived their kill or interrupt: {left[:10]}")
    print(f"\n{time.monotonic() - started:.0f} s; the ledgers held {totals['events']} events and {totals['leads']} leads in all")
    print(f"SIGKILL: {sum(kill_outcomes.values())} kills survived")
    for key, n in sorted(kill_outcomes.items()):
        print(f"  {n:5d}  killed {key[0]:15s} batch {key[1]:8s}")
    print(f"SIGINT: {sum(int_outcomes.values())} interrupts")
    for key, n in sorted(int_outcomes.items()):
        print(f"  {n:5d}  interrupted {key[0]:15s} -> {key[1]}")
    print(f"failures: {len(failures)}")
    for f in failures[:40]:
        print("  " + f)
    cleanup(keep=bool(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
