"""Shared by the stress scripts: a scratch folder with the test team, CSV files, and the checks
that must hold on a ledger after anything at all has happened to it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CSV_HEADER, NOW, TEAM_YAML, lead_rows  # noqa: E402

CLOSED = ("won", "lost")


_SCRATCH: list[Path] = []


def scratch(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"leadshare-{prefix}-"))
    (folder / "rules.yaml").write_text(TEAM_YAML)
    _SCRATCH.append(folder)
    return folder


def cleanup(keep: bool) -> None:
    """Remove the scratch folders, unless something failed (then they are kept for a look)."""
    if keep:
        print("kept for inspection: " + ", ".join(map(str, _SCRATCH)))
        return
    for folder in _SCRATCH:
        shutil.rmtree(folder, ignore_errors=True)


def env_for(folder: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSHARE_")}
    env.update(LEADSHARE_DB=str(folder / "leadshare.db"), LEADSHARE_RULES=str(folder / "rules.yaml"), LEADSHARE_NOW=NOW,
               LEADSHARE_CACHE_DIR=str(folder / ".rules-cache"))  # not the user's own cache
    env.update(extra)
    return env


def write_leads(path: Path, n: int, start: int = 0, bad: int = 0) -> Path:
    rows = lead_rows(n, start=start) + [f"BAD-{start}-{k},No Contact {k},,,web,KL,residential" for k in range(bad)]
    path.write_text(CSV_HEADER + "\n".join(rows) + "\n")
    return path


def leadshare(*args, env: dict, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "leadshare", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, **kw)


def sql(db: Path, query: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def verify(db: Path, decisions: bool = True) -> tuple[bool, list[str]]:
    """`verify --decisions` in this process (the same code as the command)."""
    from leadshare import audit
    from leadshare.ledger.store import Ledger

    ledger = Ledger.open(db)
    try:
        report = audit.verify(ledger, decisions=decisions)
        return report.ok, report.problems
    finally:
        ledger.close()


def consistency_problems(db: Path) -> list[str]:
    """What must hold on any ledger: one owner or queued, one open lead per customer, counts add up."""
    problems = []
    bad = sql(db, "SELECT id FROM leads WHERE (agent IS NULL) = (queued_reason IS NULL) "
                  "AND status NOT IN ('won', 'lost') AND forgotten_at IS NULL")
    if bad:
        problems.append(f"leads with no owner and no queue reason, or both: {bad[:10]}")
    reopened = ("SELECT lead FROM events WHERE type = 'status' AND json_extract(data, '$.from') IN ('won', 'lost') "
                "AND json_extract(data, '$.to') NOT IN ('won', 'lost')")
    for column in ("phone_key", "email_key", "external_id"):
        twice = sql(db, f"SELECT {column}, count(*) FROM leads WHERE {column} IS NOT NULL AND status NOT IN ('won', 'lost') "
                        f"AND id NOT IN ({reopened}) GROUP BY {column} HAVING count(*) > 1")
        if twice:
            problems.append(f"one customer, several open leads by {column}: {twice[:10]}")
    row = sql(db, "SELECT coalesce(sum(rows), 0), coalesce(sum(imported), 0), coalesce(sum(duplicates), 0), "
                  "coalesce(sum(rejected), 0) FROM imports")[0]
    if row[0] != row[1] + row[2] + row[3]:
        problems.append(f"rows {row[0]} != imported {row[1]} + duplicates {row[2]} + rejected {row[3]}")
    leads = sql(db, "SELECT count(*) FROM leads")[0][0]
    if row[1] != leads:
        problems.append(f"imports say {row[1]} leads were created, the leads table has {leads}")
    ok, verify_problems = verify(db)
    if not ok:
        problems.append(f"verify --decisions: {verify_problems[:5]}")
    return problems


def wait_for_write_lock(db: Path, proc: subprocess.Popen, timeout: float = 60) -> bool:
    """Poll until `proc` holds the ledger's write lock; False if it ended first."""
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return True
                raise
            time.sleep(0.002)
        return False
    finally:
        probe.close()
