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
import sys
import time
from collections import Counter
from pathlib import Path

from _common import consistency_problems, env_for, finish, leadshare, scratch, spawn, sql, wait_for_write_lock, write_leads


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


class Ledgers:
    """The ledger the faults hit, replaced by a fresh one every so often (that keeps the checks
    fast); what the earlier ones held is counted."""

    def __init__(self) -> None:
        self.events = self.leads = 0
        self.folder = self.db = None
        self.env: dict = {}
        self.next_start = 1000  # customers in the files so far: each file brings new ones

    def fresh(self) -> None:
        self.count()
        self.folder = scratch("kill")
        self.db = self.folder / "leadshare.db"
        self.env = env_for(self.folder)
        write_leads(self.folder / "base.csv", 50)
        done = leadshare("import", "base.csv", env=self.env, cwd=self.folder)
        assert done.returncode == 0, done.stderr

    def count(self) -> None:
        if self.db is not None:
            self.events += sql(self.db, "SELECT count(*) FROM events")[0][0]
            self.leads += sql(self.db, "SELECT count(*) FROM leads")[0][0]
            self.db = None

    def new_file(self, name: str, rows: int, bad: int = 0) -> Path:
        path = write_leads(self.folder / name, rows, start=self.next_start, bad=bad)
        self.next_start += rows
        return path


def strike(proc, db: Path, rnd: random.Random, locked_share: float, anywhere_from: float) -> str:
    """Wait for the moment to strike: in the transaction (`locked_share` of the time, once the
    process holds the write lock) or anywhere from start-up on. Says which."""
    if rnd.random() < locked_share and wait_for_write_lock(db, proc):
        time.sleep(rnd.choice([0, rnd.uniform(0, 0.02), rnd.uniform(0, 0.1), rnd.uniform(0, 0.3)]))
        return "in-transaction"  # (or just after it, while committing and printing)
    time.sleep(rnd.uniform(anywhere_from, 0.9))
    return "anywhere"


def kill_once(led: Ledgers, k: int, rnd: random.Random, big: bool, outcomes: Counter) -> list[str]:
    """SIGKILL one import: the batch is whole or absent, the ledger holds, a re-run completes it."""
    failures = []
    rows = rnd.choice([300, 800, 1500, 3000] + ([25_000, 120_000] if big else []))
    path = led.new_file(f"k{k}.csv", rows, bad=rnd.randint(0, 3))
    leads_before = sql(led.db, "SELECT count(*) FROM leads")[0][0]
    proc = spawn("import", path.name, env=led.env, cwd=led.folder)
    when = strike(proc, led.db, rnd, 0.6, 0.0)
    proc.kill()
    proc.communicate()
    state = batch_state(led.db, path, leads_before)
    outcomes[(when, state if not state.startswith("HALF") else "HALF", proc.returncode == -signal.SIGKILL)] += 1
    if state.startswith("HALF"):
        failures.append(f"kill {k}: {state}")
    problems = consistency_problems(led.db)
    if problems:
        failures.append(f"kill {k} ({when}): {problems}")
    if state == "absent" or k % 10 == 0:  # running it again completes it
        again = leadshare("import", path.name, "--json", env=led.env, cwd=led.folder)
        if again.returncode not in (0, 1) or "Traceback" in again.stderr:
            failures.append(f"kill {k}: re-run exited {again.returncode}: {again.stderr.strip()[-300:]}")
        if batch_state(led.db, path, leads_before) != "whole":
            failures.append(f"kill {k}: the re-run did not complete the batch")
    return failures


def after_interrupt(code: int, out: str, err: str, state: str, changed: bool) -> tuple[str, str | None]:
    """How an interrupted import ended, and what was wrong with it (None when nothing was)."""
    if "Traceback" in err:
        return "TRACEBACK", f"traceback on stderr: {err.strip().splitlines()[-1]}"
    if code == 130:
        says_saved = "saved" in err
        says_nothing = "nothing was changed" in err or "rolled back" in err
        if len(err.strip().splitlines()) != 1 or "interrupted" not in err:
            return "130 WITHOUT A MESSAGE", f"exit 130 without one 'interrupted' line: {err!r}"
        if changed and says_nothing:
            return "130 SAYS NOTHING CHANGED BUT COMMITTED", f"exit 130 and '{err.strip()}', yet the batch is in the ledger"
        if changed:
            return ("130 after the commit, says so" if says_saved else "130 committed (unclear message)"), None
        if says_saved:
            return "130 SAYS SAVED BUT NOTHING WRITTEN", f"exit 130 and '{err.strip()}', yet nothing was written"
        return "130 rolled back", None
    if code == 0:
        return ("0 committed", None) if state == "whole" else ("0 NOTHING WRITTEN", f"exit 0 but the batch is {state}")
    if code == -signal.SIGINT and state == "whole" and "imported" in out:
        return "died of SIGINT while exiting, after the commit and the summary", None
    return f"exit {code}", f"exit {code}: {err.strip()[-300:]}"


def interrupt_once(led: Ledgers, k: int, rnd: random.Random, big: bool, outcomes: Counter) -> list[str]:
    """Ctrl-C one import: exit 130 with one line that tells the truth, or exit 0 after the commit."""
    failures = []
    rows = rnd.choice([800, 1500, 3000] + ([25_000, 120_000] if big else []))
    path = led.new_file(f"i{k}.csv", rows)
    leads_before = sql(led.db, "SELECT count(*) FROM leads")[0][0]
    events_before = sql(led.db, "SELECT count(*) FROM events")[0][0]
    proc = spawn("import", path.name, env=led.env, cwd=led.folder, start_new_session=big)
    when = strike(proc, led.db, rnd, 0.7, 0.05)
    if big:
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the reading process gets it too
    else:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate()
    state = batch_state(led.db, path, leads_before)
    changed = sql(led.db, "SELECT count(*) FROM events")[0][0] != events_before
    kind, wrong = after_interrupt(proc.returncode, out, err, state, changed)
    if wrong:
        failures.append(f"sigint {k} ({when}): {wrong}")
    outcomes[(when, kind)] += 1
    problems = consistency_problems(led.db)
    if problems:
        failures.append(f"sigint {k}: {problems}")
    return failures


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
    led = Ledgers()
    led.fresh()
    failures: list[str] = []
    kill_outcomes: Counter = Counter()
    int_outcomes: Counter = Counter()
    started = time.monotonic()
    for k in range(args.kills):
        if k and k % args.fresh_every == 0:
            led.fresh()
        failures += kill_once(led, k, rnd, args.big, kill_outcomes)
        print(f"\rkills {k + 1}/{args.kills}, failures {len(failures)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    for k in range(args.interrupts):
        if k % args.fresh_every == 0:
            led.fresh()
        failures += interrupt_once(led, k, rnd, args.big, int_outcomes)
        print(f"\rinterrupts {k + 1}/{args.interrupts}, failures {len(failures)}", end="", file=sys.stderr)
    print(file=sys.stderr)

    led.count()
    time.sleep(2)
    left = leftover_imports()
    if left:
        failures.append(f"{len(left)} import processes outlived their kill or interrupt: {left[:10]}")
    print(f"\n{time.monotonic() - started:.0f} s; the ledgers held {led.events} events and {led.leads} leads in all")
    print(f"SIGKILL: {sum(kill_outcomes.values())} kills survived")
    for key, n in sorted(kill_outcomes.items()):
        print(f"  {n:5d}  killed {key[0]:15s} batch {key[1]:8s}")
    print(f"SIGINT: {sum(int_outcomes.values())} interrupts")
    for key, n in sorted(int_outcomes.items()):
        print(f"  {n:5d}  interrupted {key[0]:15s} -> {key[1]}")
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
