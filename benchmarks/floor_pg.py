"""Reference (a) on PostgreSQL, the floor there: floor.py's work written with psycopg COPY.

    python benchmarks/floor_pg.py FILE.csv postgresql://...

The same rows as floor.py (built by its build_rows: no normalising, round-robin over ten agents,
one audit row per lead chaining sha256), the same indexes (phone, email, agent + status), into an
empty or floor-holding database, in one transaction, with COPY.
"""

from __future__ import annotations

import argparse
import json
import sys

import psycopg

from floor import build_rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS leads (
    id bigint PRIMARY KEY, external_id text, name text, phone text, email text, source text,
    region text, attrs text NOT NULL, created_at timestamptz NOT NULL, status text NOT NULL, agent text
);
CREATE INDEX IF NOT EXISTS leads_phone ON leads (phone);
CREATE INDEX IF NOT EXISTS leads_email ON leads (email);
CREATE INDEX IF NOT EXISTS leads_agent_status ON leads (agent, status);
CREATE TABLE IF NOT EXISTS audit (
    seq bigint PRIMARY KEY, at timestamptz NOT NULL, type text NOT NULL, lead bigint, agent text,
    data text NOT NULL, hash bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (rule text PRIMARY KEY, n bigint NOT NULL);
"""


def run(path: str, url: str, now: str) -> int:
    with psycopg.connect(url) as conn:  # one transaction, committed on leaving
        conn.execute(SCHEMA)
        next_id = (conn.execute("SELECT max(id) FROM leads").fetchone()[0] or 0) + 1
        row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = row if row else (0, bytes(32))
        counter = conn.execute("SELECT n FROM counter WHERE rule = 'everyone'").fetchone()
        leads, audit, turn = build_rows(path, now, next_id, seq, prev, counter[0] if counter else 0)
        with conn.cursor() as cur:
            for table, rows in (("leads", leads), ("audit", audit)):
                with cur.copy(f"COPY {table} FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
        conn.execute("INSERT INTO counter (rule, n) VALUES ('everyone', %s) "
                     "ON CONFLICT (rule) DO UPDATE SET n = excluded.n", (turn,))
    return len(leads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("url")
    ap.add_argument("--now", default="2026-11-25T02:00:00Z")
    args = ap.parse_args()
    print(json.dumps({"rows": run(args.csv, args.url, args.now)}))


if __name__ == "__main__":
    sys.exit(main())
