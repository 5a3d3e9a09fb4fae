"""Read benchmark: whole-process times of the everyday commands on a big ledger.

    python benchmarks/reads.py --leads 100000 [--chunk 100000] [--repeat 5] [--keep]

Builds (once, kept under --workdir as reads-N.db with --keep) a ledger holding about N leads with
leadshare itself: first a CRM's history moved in with `import --keep-owner` (files of --chunk
rows with owner and status columns, 99% won or lost), then --fresh new leads shared by the rules
(so `mine` sees a realistic open list and fairness/explain have decisions). Distinct people in
each file; ~97% of rows become leads, the rest are in-file duplicates or rejects. Then times each
command as a fresh process, best of --repeat, with LEADSHARE_NOW fixed one hour after the imports:

    mine --as AGENT --json, mine --as AGENT --limit 50 --json, mine --as AGENT (the table),
    show ID --json, explain ID --json, agents --json, fairness --json (30 days),
    log --limit 50 --json, verify --json (events/s), --help, and mine on an empty ledger (startup).

Run with the python of a virtual environment that installed leadshare with `pip install .` to time
it as users get it (an editable install adds its own finder to every start: about 10 ms).

Commands the installed leadshare does not have are skipped. Targets (issue 8, at 1M leads and
3M events): mine/show/explain < 250 ms, fairness/agents < 1 s, --help and empty mine < 200 ms,
verify > 300k events/s.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_csv  # noqa: E402
from _common import machine, run_measured  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent
READ_NOW = "2026-11-25T11:00:00+08:00"


def leadshare() -> list[str]:
    exe = BIN / "leadshare"
    return [str(exe)] if exe.exists() else [PY, "-m", "leadshare"]


def env(now: str) -> dict:
    e = dict(os.environ)
    e["LEADSHARE_NOW"] = now
    e["COLUMNS"] = "200"
    e.pop("LEADSHARE_DEBUG", None)
    # Byte-compiled modules, as an installed package has them, kept out of the source tree
    # (this checkout is an editable install and PYTHONDONTWRITEBYTECODE may be set).
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    e["PYTHONPYCACHEPREFIX"] = str(HERE / ".data" / "pycache")
    return e


def timed(cmd: list[str], now: str) -> dict:
    """One run: wall seconds and peak RSS of the command, with its output."""
    import tempfile

    with tempfile.TemporaryFile() as o, tempfile.TemporaryFile() as e:
        r = run_measured(cmd, o, e, env=env(now))
        o.seek(0)
        e.seek(0)
        r["out"], r["err"] = o.read(), e.read()
        return r


def best_of(cmd: list[str], repeat: int, now: str = READ_NOW) -> dict:
    runs = [timed(cmd, now) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    best["median"] = sorted(r["seconds"] for r in runs)[len(runs) // 2]
    return best


def add_notes(db: Path, rules: Path, events_per_lead: int) -> None:
    """Give the log the depth of a real one: each owned lead gets notes from its owner until the
    log holds about `events_per_lead` events per lead (each through leadshare's own note use case)."""
    sys.path.insert(0, str(HERE.parent))
    os.environ["LEADSHARE_NOW"] = make_csv.NOW
    from leadshare import clock, workflow
    from leadshare.config import load_team
    from leadshare.ledger.store import Ledger
    from leadshare.services import Session

    t0 = time.perf_counter()
    team = load_team(rules)
    ledger = Ledger.open(db)
    owned = ledger.conn.execute("SELECT id, agent FROM leads WHERE agent IS NOT NULL ORDER BY id").fetchall()
    wanted = ledger.conn.execute("SELECT count(*) FROM leads").fetchone()[0] * events_per_lead
    missing = wanted - ledger.conn.execute("SELECT count(*) FROM events").fetchone()[0]
    now = clock.now(team.timezone)
    texts = ("called, no answer; will try again after lunch", "sent the brochure and price list on WhatsApp",
             "customer asked for a viewing on Saturday morning")
    added = 0
    while added < missing:
        with ledger.write():
            for lead_id, agent in owned:
                if added >= missing:
                    break
                workflow.add_note(Session(ledger, team, actor=agent, now=now), str(lead_id), texts[added % len(texts)])
                added += 1
        print(f"  notes: {added:,} of {missing:,}", flush=True)
    ledger.conn.close()
    print(f"  added {added:,} notes in {time.perf_counter() - t0:.1f}s", flush=True)


def build(db: Path, rules: Path, leads: int, chunk: int, fresh: int, workdir: Path, seed: int,
          events_per_lead: int) -> None:
    """History first (owner and status kept, 99% closed), then `fresh` new leads shared by the rules,
    then notes until the log holds `events_per_lead` events per lead."""
    part = Path(str(db) + ".part")
    for suffix in ("", "-wal", "-shm"):
        Path(str(part) + suffix).unlink(missing_ok=True)
    fresh = min(fresh, leads)
    plan = []
    done = 0
    while done < leads - fresh:
        rows = min(chunk, leads - fresh - done)
        plan.append((rows, True))
        done += rows
    if fresh:
        plan.append((fresh, False))
    t_all = time.perf_counter()
    for n, (rows, history) in enumerate(plan):
        start = 30_000_000 + n * chunk
        csv_path = workdir / f"reads-{rows}-s{seed}-p{start}{'-history' if history else ''}.csv"
        if not csv_path.exists():
            make_csv.write_csv(csv_path, rows, seed, start, history=history)
        r = timed(leadshare() + ["--db", str(part), "--rules", str(rules), "import", str(csv_path), "--json",
                                 "--rejects", str(workdir / "reads.rejected.csv")] + (["--keep-owner"] if history else []),
                  make_csv.NOW)
        if r["rc"] not in (0, 1):
            raise SystemExit(f"import of {csv_path} failed ({r['rc']}): {r['err'][-2000:].decode(errors='replace')}")
        res = json.loads(r["out"])
        what = "history, --keep-owner" if history else "new leads, shared by the rules"
        print(f"  import {n + 1} ({what}): {rows:,} rows in {r['seconds']:.1f}s ({r['rss_mb']:.0f} MB): "
              f"{res['imported']:,} leads, {res['duplicates']:,} duplicates, {res['rejected']:,} rejected", flush=True)
        csv_path.unlink()
    if events_per_lead > 1:
        add_notes(part, rules, events_per_lead)
    conn = sqlite3.connect(part)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    os.rename(part, db)
    print(f"  built {db} in {time.perf_counter() - t_all:.1f}s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=250_000, help="rows per history file while building")
    ap.add_argument("--fresh", type=int, default=10_000, help="new leads shared by the rules after the history")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--events-per-lead", type=int, default=3, help="notes are added until the log holds this many events per lead")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--workdir", default=str(HERE / ".data"))
    ap.add_argument("--keep", action="store_true", help="keep the built ledger for the next run (it is reused when present)")
    ap.add_argument("--rebuild", action="store_true", help="build the ledger again even when one is kept (after code changes)")
    ap.add_argument("--postgres", metavar="URL", help="time the reads on this PostgreSQL database instead, the built "
                    "ledger copied into it with `db copy` while it is empty")
    args = ap.parse_args()

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rules = make_csv.write_rules(workdir / "rules.yaml")
    db = workdir / f"reads-{args.leads}.db"
    if args.rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    if not db.exists():
        print(f"building a ledger of ~{args.leads:,} leads: history in files of {args.chunk:,} rows, then "
              f"{args.fresh:,} new ones", flush=True)
        build(db, rules, args.leads, args.chunk, args.fresh, workdir, args.seed, args.events_per_lead)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n_leads = conn.execute("SELECT count(*) FROM leads").fetchone()[0]
    n_events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    n_open = conn.execute("SELECT count(*) FROM leads WHERE status NOT IN ('won', 'lost')").fetchone()[0]
    # a lead the rules decided (the newest import), for show and explain
    mid = conn.execute("SELECT max(id) - 100 FROM leads").fetchone()[0]
    conn.close()
    size_mb = db.stat().st_size / 1e6
    print(f"machine: {machine()}")
    print(f"ledger: {db} ({size_mb:.0f} MB): {n_leads:,} leads ({n_open:,} open), {n_events:,} events; lead for show/explain: {mid}")

    help_text = subprocess.run(leadshare() + ["--help"], capture_output=True, text=True, env=env(READ_NOW)).stdout
    have = lambda cmd: f"  {cmd} " in help_text  # noqa: E731
    target = str(db)
    if args.postgres:
        copied = subprocess.run(leadshare() + ["db", "copy", str(db), args.postgres], capture_output=True, text=True,
                                env=env(READ_NOW))
        print("copied into PostgreSQL" if copied.returncode == 0 else f"PostgreSQL: {copied.stderr.strip()}", flush=True)
        target = args.postgres
    base = leadshare() + ["--db", target, "--rules", str(rules)]
    agent = make_csv.AGENTS[3]
    cases: list[tuple[str, list[str], str]] = [
        ("leadshare --help (startup)", leadshare() + ["--help"], "< 200 ms"),
    ]
    empty = workdir / "reads-empty.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(empty) + suffix).unlink(missing_ok=True)
    subprocess.run(leadshare() + ["--db", str(empty), "--rules", str(rules), "init"], capture_output=True, env=env(READ_NOW))
    cases.append(("mine --as AGENT --json, empty ledger", leadshare() + ["--db", str(empty), "--rules", str(rules), "mine",
                                                                          "--as", agent, "--json"], "< 200 ms"))
    cases.append((f"mine --as {agent} --json", base + ["mine", "--as", agent, "--json"], "< 250 ms"))
    cases.append((f"mine --as {agent} --limit 50 --json", base + ["mine", "--as", agent, "--limit", "50", "--json"], "< 250 ms"))
    cases.append((f"mine --as {agent} (the table an agent reads)", base + ["mine", "--as", agent], "< 250 ms"))
    cases.append((f"show {mid} --json", base + ["show", str(mid), "--json"], "< 250 ms"))
    if have("explain"):
        cases.append((f"explain {mid} --json", base + ["explain", str(mid), "--json"], "< 250 ms"))
    if have("agents"):
        cases.append(("agents --json", base + ["agents", "--json"], "< 1 s"))
    cases.append(("fairness --json (30 days)", base + ["fairness", "--json"], "< 1 s"))
    cases.append(("log --limit 50 --json", base + ["log", "--limit", "50", "--json"], ""))
    cases.append(("verify --json", base + ["verify", "--json"], "> 300k events/s"))

    print(f"\nreads on {n_leads:,} leads / {n_events:,} events{', PostgreSQL over TCP' if args.postgres else ''}, "
          f"best of {args.repeat} (median beside it)")
    print("| command | best ms | median ms | peak RSS MB | output | target |")
    print("|---|---:|---:|---:|---:|---|")
    for name, cmd, target in cases:
        r = best_of(cmd, args.repeat)
        out = r["out"]
        note = f"{len(out) / 1024:,.0f} KB"
        if r["rc"] not in (0, 1):
            note = f"exit {r['rc']}: {r['err'].decode(errors='replace').strip().splitlines()[-1][:120] if r['err'] else ''}"
        elif name.startswith("mine") and out:
            try:
                data = json.loads(out)
                count = len(data) if isinstance(data, list) else len(data.get("leads", data))
                note += f", {count:,} leads"
            except ValueError:
                pass
        elif name.startswith("verify") and out:
            try:
                data = json.loads(out)
                note += f", ok={data.get('ok')}, {n_events / r['seconds']:,.0f} events/s"
            except ValueError:
                pass
        print(f"| {name} | {r['seconds'] * 1000:,.0f} | {r['median'] * 1000:,.0f} | {r['rss_mb']:.0f} | {note} | {target} |",
              flush=True)

    for suffix in ("", "-wal", "-shm"):
        Path(str(empty) + suffix).unlink(missing_ok=True)
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
