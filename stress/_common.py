"""Shared by the stress scripts: a scratch folder with the test team, CSV files, the checks that
must hold on a ledger after anything at all has happened to it, and the closing report. Running
leadshare as processes comes from `tests/ledger_processes.py`, which the crash and concurrency
tests use too; neither needs pytest."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import ledger_processes  # noqa: E402
from ledger_processes import (  # noqa: E402,F401 (the scripts take them from here, after the path is set)
    WORKER_START, WorkerFailed, leadshare, spawn, sql, start_workers, wait_for_write_lock, worker_results,
)
from sample_team import TEAM_YAML, lead_rows, no_contact_rows, write_csv  # noqa: E402


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
    """A leadshare process's environment on the scratch folder's ledger and rules."""
    return ledger_processes.env_for(folder, LEADSHARE_CACHE_DIR=str(folder / ".rules-cache"), **extra)  # not the user's own cache


def write_leads(path: Path, n: int, start: int = 0, bad: int = 0) -> Path:
    """`n` customers from `start` on, then `bad` rows an import rejects."""
    return write_csv(path, lead_rows(n, start=start) + no_contact_rows(bad, start))


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


def finish(failures: list[str]) -> int:
    """Print the failures (the first 40), remove the scratch folders unless something failed, and
    give the script's exit status."""
    print(f"failures: {len(failures)}")
    for f in failures[:40]:
        print("  " + f)
    cleanup(keep=bool(failures))
    return 1 if failures else 0
