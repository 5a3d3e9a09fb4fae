"""leadshare as real processes on one ledger, for the crash and concurrency tests and the stress
scripts alike: their environment, starting them, workers that wait at a common start gate, the
write-lock probe and a plain look at the ledger's tables. Plain Python (no pytest, no leadshare),
so `stress/` runs without a test framework installed."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sample_team import NOW

# The start of a worker process (`python -c WORKER_START + its plan's steps, PLAN_JSON`): the
# command line built once, then in-process calls (milliseconds each, not a Python start-up). It
# says it is ready and waits at the gate, so that all workers start their plans at once.
WORKER_START = r"""
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
"""


class WorkerFailed(Exception):
    """A worker process died before the start or ended with an error."""


def env_for(folder: Path, rules: Path | None = None, db: Path | None = None, **extra) -> dict:
    """The environment of a leadshare process on `db` (default folder/leadshare.db) with `rules`
    (default folder/rules.yaml) at the sample team's clock: none of this process's LEADSHARE_
    settings but the rules cache folder, which the tests point at their own temporary folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSHARE_") or k == "LEADSHARE_CACHE_DIR"}
    env.update(LEADSHARE_DB=str(db or folder / "leadshare.db"), LEADSHARE_RULES=str(rules or folder / "rules.yaml"),
               LEADSHARE_NOW=NOW)
    env.update(extra)
    return env


def leadshare(*args, env: dict, cwd: Path, **kw) -> subprocess.CompletedProcess:
    """Run one leadshare command to its end, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "leadshare", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, **kw)


def spawn(*args, env: dict, cwd: Path, preexec=None, **kw) -> subprocess.Popen:
    """Start one leadshare command, its output piped as text."""
    return subprocess.Popen([sys.executable, "-m", "leadshare", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, preexec_fn=preexec, **kw)


def sql(db: Path, query: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def wait_for_write_lock(db: Path, proc: subprocess.Popen, timeout: float = 60) -> bool:
    """Poll until `proc` holds the ledger's write lock (its transaction has begun); False if it
    ended first. Each probe takes and drops the lock at once, so it only delays the other."""
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


def start_workers(worker: str, plans: list[dict], env: dict, cwd: Path) -> list[subprocess.Popen]:
    """Start a `worker` script per plan and open the start gate once every one is ready. Each plan
    gets `gate`, `ready` and `dir` (the folder the workers share)."""
    gate = cwd / "gate"
    gate.unlink(missing_ok=True)
    procs = []
    for i, plan in enumerate(plans):
        ready = cwd / f"ready{i}"
        ready.unlink(missing_ok=True)
        plan.update(gate=str(gate), ready=str(ready), dir=str(cwd))
        procs.append(subprocess.Popen([sys.executable, "-c", worker, json.dumps(plan)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env, cwd=cwd))
    deadline = time.monotonic() + 60
    while not all((cwd / f"ready{i}").exists() for i in range(len(plans))):
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise WorkerFailed(f"a worker died before the start: {dead[0].communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            raise WorkerFailed("the workers did not start within a minute")
        time.sleep(0.01)
    gate.touch()
    return procs


def worker_results(procs: list[subprocess.Popen], timeout: float | None = None) -> list[list[dict]]:
    """What each worker saw: the JSON list it printed last."""
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        if p.returncode != 0 or "Traceback" in err:
            raise WorkerFailed(f"a worker crashed: {err[-3000:]}")
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs
