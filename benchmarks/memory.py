"""Memory of one import with its reading processes: the peak of their summed PSS.

    python benchmarks/memory.py FILE.csv [--rules RULES]

GNU time (what import.py reports) gives the peak RSS of the largest single process. An import
of a big file runs one process that decides and writes and one or two that read the file, which
share pages (the file itself) after fork(): PSS counts a shared page once, split between the
processes that map it, so the sum is what the import costs the machine. Sampled from
/proc/PID/smaps_rollup every 50 ms (Linux only).
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_csv  # noqa: E402

bench = importlib.import_module("import")  # import.py: the import benchmark's command and environment

FIELDS = ("Rss", "Pss", "Shared_Dirty", "Private_Dirty")


def children(pid: int) -> list[int]:
    kids: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.update(int(k) for k in f.read().split())
        except OSError:
            pass
    return sorted(kids)


def usage(pid: int) -> dict[str, int]:
    """MB of each FIELD for one process."""
    found = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in FIELDS:
                found[key] = int(value.split()[0]) // 1024
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--rules", default=None)
    args = ap.parse_args()
    rules = Path(args.rules) if args.rules else make_csv.write_rules(HERE / ".data" / "rules.yaml")
    with tempfile.TemporaryDirectory(dir=HERE / ".data") as work:
        db = Path(work) / "memory.db"
        cmd = [*bench.leadshare_cmd(), "--db", str(db), "--rules", str(rules), "import", args.csv, "--json"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=bench.env())
        peak, per_process, at = 0, [], 0.0
        while proc.poll() is None:
            try:
                pids = [proc.pid, *children(proc.pid)]
                sampled = [usage(pid) for pid in pids]
            except (OSError, ValueError):  # a process ended between the listing and the reading
                continue
            total = sum(s.get("Pss", 0) for s in sampled)
            if total > peak:
                peak, per_process, at = total, sampled, time.perf_counter() - started
            time.sleep(0.05)
        wall = time.perf_counter() - started
    print(f"{args.csv}: exit {proc.returncode}, {wall:.1f} s; peak of the summed PSS {peak} MB at {at:.1f} s")
    for name, sample in zip(["decides and writes"] + [f"reads ({k})" for k in range(1, len(per_process))], per_process):
        print(f"  {name}: " + ", ".join(f"{k} {sample.get(k, 0)} MB" for k in FIELDS))


if __name__ == "__main__":
    main()
