"""Where an import's time goes, without a profiler's overhead: wall time per phase, in process.

    python benchmarks/phases.py FILE.csv [--rules RULES] [--db DB]

Runs leadshare's own import path (importer.open_leads, or read_leads in older versions, then
services.import_file into a fresh ledger) with light timers wrapped around the functions that make up each phase. Per-row
functions are timed call by call (two perf_counter calls each, about 0.1 us), so phase sums are
within a few percent of an untimed run; what is left over is the loop bodies themselves (row
assembly, dedupe look-ups, building row tuples). A wrapper that finds its function renamed is
skipped and its time shows up in the remainder.

From 20,000 rows leadshare reads the file in a child process (see importer.ParsedStream.chunks):
the parse phases then time only this process waiting for the child, and the per-row reading
functions run (timed, unreported) in the child. The table is this process's time, which is
what decides the import's wall time once the child keeps ahead.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_csv  # noqa: E402

spent: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)
_stack: list[float] = []  # time spent in timed callees of each timed call in progress


def _charge(label: str, elapsed: float) -> None:
    """Exclusive time: a timed call inside another is charged to its own phase only."""
    inner = _stack.pop()
    spent[label] += elapsed - inner
    if _stack:
        _stack[-1] += elapsed


def wrap(owner, attr: str, label: str) -> None:
    fn = getattr(owner, attr, None)
    if fn is None:
        print(f"  (no {getattr(owner, '__name__', owner)}.{attr}: not timed)")
        return
    clock = time.perf_counter

    def timed(*a, **k):
        t = clock()
        _stack.append(0.0)
        try:
            return fn(*a, **k)
        finally:
            _charge(label, clock() - t)
            calls[label] += 1

    setattr(owner, attr, timed)


def wrap_exit(owner, attr: str, label: str) -> None:
    """Time only the closing part of a context manager (an index rebuild, a COMMIT)."""
    import contextlib

    fn = getattr(owner, attr, None)
    if fn is None:
        print(f"  (no {getattr(owner, '__name__', owner)}.{attr}: not timed)")
        return

    @contextlib.contextmanager
    def timed(*a, **k):
        cm = fn(*a, **k)
        value = cm.__enter__()
        try:
            yield value
        except BaseException:
            if not cm.__exit__(*sys.exc_info()):
                raise
            return
        t = time.perf_counter()
        _stack.append(0.0)
        try:
            cm.__exit__(None, None, None)
        finally:
            _charge(label, time.perf_counter() - t)
            calls[label] += 1

    setattr(owner, attr, timed)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--rules", default=None)
    ap.add_argument("--db", default=str(HERE / ".data" / "phases.db"))
    args = ap.parse_args()
    os.environ["LEADSHARE_NOW"] = make_csv.NOW

    t_start = time.perf_counter()
    from leadshare import clock, contacts, engine, importer, services  # noqa: F401
    from leadshare.config import load_team
    from leadshare.ledger.store import Ledger

    t_imports = time.perf_counter() - t_start
    rules = Path(args.rules) if args.rules else make_csv.write_rules(HERE / ".data" / "rules.yaml")
    for suffix in ("", "-wal", "-shm"):
        Path(args.db + suffix).unlink(missing_ok=True)

    # per-row work
    rows_module = getattr(importer, "reading", importer)  # where the row loop lives (older versions: one module)
    wrap(rows_module, "normalize_phone", "parse: phone normalisation")
    wrap(rows_module, "normalize_email", "parse: email normalisation")
    wrap(rows_module, "normalize_name", "parse: name normalisation")
    wrap(services._Decider, "decide", "import: engine decision (+ candidate-set hash)")
    wrap(services._Decider, "new_lead", "import: row and event template per decision")
    if hasattr(services, "_NewLead"):
        wrap(services._NewLead, "event", "import: the lead's event from its template")
    import_module = getattr(services, "importing", services)  # where the import's steps live (older versions: one module)
    wrap(import_module, "personal_digest", "import: personal digest (sha256)")
    wrap(import_module, "row_digest", "import: row digest (canonical JSON + sha256)")
    wrap(import_module, "lead_fields", "import: lead fields for the rules")
    # bulk steps
    wrap(Ledger, "matching_leads", "import: dedupe query against the ledger")
    wrap(Ledger, "insert_leads", "sqlite: insert leads (executemany)")
    wrap(Ledger, "append", "events: chain links (JSON + sha256), rows, executemany")
    if hasattr(services, "_BatchWriter"):
        wrap(services._BatchWriter, "add", "import: batch writer add (row tuples)")
        wrap(services._BatchWriter, "flush", "import: batch writer flush (seq look-up, row tuples)")
    wrap_exit(Ledger, "bulk_load", "sqlite: rebuild lead indexes after the load")
    wrap_exit(Ledger, "write", "sqlite: COMMIT (+ chain head)")

    t0 = time.perf_counter()
    team = load_team(rules)
    t_rules = time.perf_counter() - t0
    data = Path(args.csv).read_bytes()
    t0 = time.perf_counter()
    streamed_path = hasattr(importer, "open_leads")
    if streamed_path:  # the streaming reader `leadshare import` uses
        parsed = importer.open_leads(data, name=args.csv, region=team.phone_region)
        chunks = type(parsed).chunks

        def timed_chunks(self, *a, **k):
            it = chunks(self, *a, **k)
            while True:
                t = time.perf_counter()
                _stack.append(0.0)
                try:
                    batch = next(it)
                except StopIteration:
                    return
                finally:
                    _charge("parse: decode, CSV reader, row assembly (the rest of reading)", time.perf_counter() - t)
                yield batch

        type(parsed).chunks = timed_chunks
    else:
        parsed = importer.read_leads(data, name=args.csv, region=team.phone_region)
    t_parse = time.perf_counter() - t0
    rss_parse = rss_mb()
    t0 = time.perf_counter()
    ledger = Ledger.open(args.db)
    s = services.Session(ledger=ledger, team=team, now=clock.now(team.timezone))
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = services.import_file(s, parsed)
    t_import = time.perf_counter() - t0
    ledger.close()

    rest = "parse: decode, CSV reader, row assembly (the rest of reading)"
    if streamed_path:  # opening: hash, decode, header; the rows were read inside import_file
        spent[rest] += t_parse
    else:  # read_leads parsed the whole file before the import
        spent[rest] += t_parse - sum(v for k, v in spent.items() if k.startswith("parse:"))
    fixed = t_imports + t_rules + t_open
    total = fixed + t_parse + t_import
    remainder = total - fixed - sum(spent.values())

    print(f"{args.csv}: {result.rows:,} rows -> {result.imported:,} leads, {result.duplicates:,} duplicates, "
          f"{result.rejected:,} rejected")
    print(f"peak RSS after {'opening' if streamed_path else 'parsing'} the file {rss_parse:.0f} MB, "
          f"at the end {rss_mb():.0f} MB\n")
    print("| phase | seconds | share | calls |")
    print("|---|---:|---:|---:|")
    rows = [("modules imported", t_imports, 0), ("rules file loaded", t_rules, 0), ("ledger opened", t_open, 0)]
    order = sorted(spent, key=lambda k: (not k.startswith("parse:"), not k.startswith("import:"), k))
    rows += [(k, spent[k], calls.get(k, 0)) for k in order]
    rows.append(("import: loop body, dedupe dict, GC (the rest of import_file)", remainder, 0))
    for name, secs, n in rows:
        print(f"| {name} | {secs:.2f} | {secs / total:.0%} | {n:,} |" if n else f"| {name} | {secs:.2f} | {secs / total:.0%} | |")
    print(f"| **total** | **{total:.2f}** | | |")
    for suffix in ("", "-wal", "-shm"):
        Path(args.db + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
