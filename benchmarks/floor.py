"""Reference (a), the floor: what storing the leads with an audit chain costs in plain Python.

    python benchmarks/floor.py FILE.csv DB [--now ISO]

stdlib csv + sqlite3 only, normalising nothing: every row becomes a lead (columns as read, the
other columns as sorted-key JSON, like leadshare's attrs), assigned round-robin over ten agents
with a counter kept in the database, plus one audit row per lead whose 32-byte hash chains
sha256(previous hash + the row). The same lead indexes leadshare keeps for dedupe and `mine`
(phone, email, agent + status). One transaction, WAL, synchronous=NORMAL, executemany.

Appends to DB when it already holds a floor ledger (for the "import into a big ledger" run).
`naive.py` is this plus the contact libraries called on every row.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sqlite3
import sys
from typing import Callable

AGENTS = ["aisyah", "jason", "priya", "farid", "mei", "ravi", "nadia", "kevin", "siti", "daniel"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS leads (
    id INTEGER PRIMARY KEY, external_id TEXT, name TEXT, phone TEXT, email TEXT, source TEXT,
    region TEXT, attrs TEXT NOT NULL, created_at TEXT NOT NULL, status TEXT NOT NULL, agent TEXT
);
CREATE INDEX IF NOT EXISTS leads_phone ON leads (phone);
CREATE INDEX IF NOT EXISTS leads_email ON leads (email);
CREATE INDEX IF NOT EXISTS leads_agent_status ON leads (agent, status);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, type TEXT NOT NULL, lead INTEGER, agent TEXT,
    data TEXT NOT NULL, hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (rule TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""

CORE = ("Lead ID", "Full Name", "Mobile No", "Email Address", "Lead Source", "State")


def run(path: str, db: str, now: str, normalise: Callable[[str, str], tuple[str, str]] | None = None) -> int:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    for stmt in SCHEMA.split(";"):
        if stmt.strip():
            conn.execute(stmt)
    next_id = (conn.execute("SELECT max(id) FROM leads").fetchone()[0] or 0) + 1
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = row if row else (0, bytes(32))
    counter = conn.execute("SELECT n FROM counter WHERE rule = 'everyone'").fetchone()
    leads, audit, turn = build_rows(path, now, next_id, seq, prev, counter[0] if counter else 0, normalise)
    conn.executemany("INSERT INTO leads VALUES (?,?,?,?,?,?,?,?,?,?,?)", leads)
    conn.executemany("INSERT INTO audit VALUES (?,?,?,?,?,?,?)", audit)
    conn.execute(
        "INSERT INTO counter (rule, n) VALUES ('everyone', ?) ON CONFLICT (rule) DO UPDATE SET n = excluded.n", (turn,)
    )
    conn.execute("COMMIT")
    conn.close()
    return len(leads)


def build_rows(path: str, now: str, next_id: int, seq: int, prev: bytes, turn: int,
               normalise: Callable[[str, str], tuple[str, str]] | None = None) -> tuple[list, list, int]:
    """Every row of the file as a lead row and its chained audit row, and the round-robin turn after them."""
    leads, audit = [], []
    sha = hashlib.sha256
    dumps = json.dumps
    nagents = len(AGENTS)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        core = [header.index(c) for c in CORE]
        rest = [(i, h) for i, h in enumerate(header) if h not in CORE]
        i_ext, i_name, i_phone, i_email, i_source, i_region = core
        for cells in reader:
            if not cells:
                continue
            phone, email = cells[i_phone], cells[i_email]
            if normalise is not None:
                phone, email = normalise(phone, email)
            agent = AGENTS[turn % nagents]
            turn += 1
            attrs = dumps({h: cells[i] for i, h in rest if cells[i]}, sort_keys=True, separators=(",", ":"))
            lead_id = next_id
            next_id += 1
            leads.append((lead_id, cells[i_ext], cells[i_name], phone, email, cells[i_source], cells[i_region],
                          attrs, now, "new", agent))
            seq += 1
            data = dumps([seq, now, "assigned", lead_id, agent, cells[i_ext], cells[i_name], phone, email, attrs],
                         separators=(",", ":"))
            prev = sha(prev + data.encode()).digest()
            audit.append((seq, now, "assigned", lead_id, agent, data, prev))
    return leads, audit, turn


def main(normalise=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("db")
    ap.add_argument("--now", default="2026-11-25T02:00:00Z")
    args = ap.parse_args()
    n = run(args.csv, args.db, args.now, normalise)
    print(json.dumps({"rows": n}))


if __name__ == "__main__":
    sys.exit(main())
