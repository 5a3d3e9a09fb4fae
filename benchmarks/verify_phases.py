"""Where `verify` spends its time, phase by phase, in process (no profiler), on a kept ledger.

    python benchmarks/verify_phases.py benchmarks/.data/reads-1000000.db

Times, each on its own: the hash chain alone over the whole log (the figure issue 8 sets at
300k events/s), the one pass that links the chain and replays the log, SQLite's integrity
check, the notes against their events' digests, the leads against the replay, then the whole
`audit.verify` as `leadshare verify` runs it (the integrity check and the notes in a child
process beside the log pass).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import machine  # noqa: E402

from leadshare import audit  # noqa: E402
from leadshare.ledger import events as ev  # noqa: E402
from leadshare.ledger.store import Ledger  # noqa: E402


def timed(label: str, events: int, work):
    t = time.perf_counter()
    value = work()
    seconds = time.perf_counter() - t
    print(f"| {label} | {seconds:.2f} | {events / seconds:,.0f} |", flush=True)
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    args = ap.parse_args()
    ledger = Ledger.open_readonly(args.db)
    events = ledger.event_count()
    leads = ledger.scalar("SELECT count(*) FROM leads")
    print(f"machine: {machine()}")
    print(f"ledger: {args.db}: {events:,} events, {leads:,} leads\n")
    print("| phase | seconds | events/s |")
    print("|---|---:|---:|")

    def chain_only():
        chain = ev.Chain()
        for row in ledger.iter_events():
            chain.link(row)
        assert not chain.problems, chain.problems
        return chain

    timed("hash chain alone (read + link every event)", events, chain_only)
    report = audit.Report()
    replay = audit._Replay(report)
    timed("one pass: chain + replay of the log", events, lambda: replay.read(ledger.iter_events(), ev.Chain()))
    timed("SQLite integrity check", events, ledger.integrity_problems)
    timed("notes against their events' digests", events, lambda: audit._check_notes(ledger))
    timed("leads against the replay, fairness counts", events, lambda: audit._compare_leads(ledger, report, replay))
    assert report.ok, report.problems
    result = timed("whole verify (integrity and notes in a child beside the log pass)", events,
                   lambda: audit.verify(ledger))
    assert result.ok, result.problems


if __name__ == "__main__":
    main()
