"""Shared by the benchmark scripts: a description of the machine and of the code measured."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import time
from pathlib import Path


def machine() -> str:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, SQLite "
            f"{sqlite3.sqlite_version}, {platform.system()} {platform.release()}, "
            f"{time.strftime('%Y-%m-%d %H:%M')}, leadshare {code_version()}")


def code_version() -> str:
    """The commit the leadshare package comes from, and whether its files differ from it."""
    try:
        root = Path(__import__("leadshare").__file__).resolve().parent.parent
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "leadshare"], capture_output=True,
                               text=True).stdout.splitlines()
        return f"{head or '?'}" + (f" + {len(dirty)} changed files" if dirty else "")
    except Exception:  # noqa: BLE001 - only a label
        return "?"


GNU_TIME = "/usr/bin/time"


def run_measured(cmd: list[str], stdout, stderr, env: dict | None = None, cwd=None) -> dict:
    """Run cmd as a child and measure it: wall seconds, CPU seconds (user + sys), peak RSS in MB.

    Peak RSS comes from GNU time when it is installed: a child's own rusage (os.wait4) starts from
    the high-water mark of the process that spawned it, so a benchmark script holding 300 MB would
    report every small command as 300 MB. GNU time is a 1 MB process; its figure is the command's.
    """
    import tempfile

    use_time = os.path.exists(GNU_TIME)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = [GNU_TIME, "-f", "%U %S %M", "-o", tf.name, *cmd] if use_time else cmd
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        proc.returncode = rc
        cpu = usage.ru_utime + usage.ru_stime
        rss = usage.ru_maxrss / 1024
        if use_time:
            lines = [line for line in tf.read().splitlines() if line.strip()]
            try:
                user, sys_, kb = lines[-1].split()
                cpu, rss = float(user) + float(sys_), int(kb) / 1024
            except (IndexError, ValueError):
                pass
    return {"seconds": wall, "cpu": cpu, "rss_mb": rss, "rc": rc}
