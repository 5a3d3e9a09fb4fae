"""Leads out: `export`, and the atomic file writing the reports share."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Annotated, Callable, Optional, TypeVar

import typer

from leadshare.cli import app
from leadshare.cli._common import AsOption, DbOption, RulesOption, console, rules_and_ledger, where
from leadshare.errors import LeadshareError, NotFound

T = TypeVar("T")


def write_atomically(path: Path, write: Callable[[IO[str]], T], *, private: bool = False) -> T:
    """Write a text file so that readers see the old file or the whole new one, never a half:
    a temporary file in the same folder, flushed to disk, then renamed over `path`.

    A file that already exists keeps its permissions; a new one gets the usual ones, or owner-only
    when `private` (it holds customers' personal data). Any failure leaves `path` as it was,
    removes the temporary file and raises one LeadshareError naming the file."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise LeadshareError(f"{path}: is a folder; nothing was written", "give a file name, e.g. --out leads.csv")
    if not folder.is_dir():
        raise LeadshareError(f"{path}: the folder {folder} does not exist; nothing was written",
                             "create the folder first or choose another --out")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(path, folder, exc) from None
    try:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            if private:
                mode = 0o600
            else:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            result = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _write_error(path, folder, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return result


def _write_error(path: Path, folder: Path, exc: OSError) -> LeadshareError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return LeadshareError(f"{path}: cannot write in {folder} (read-only or not yours); nothing was written",
                              "choose another --out or fix the folder's permissions")
    if exc.errno == errno.ENOSPC:
        return LeadshareError(f"{path}: the disk is full; nothing was written", "free some space and run it again")
    return LeadshareError(f"{path}: cannot write ({exc.strerror or type(exc).__name__}); nothing was written",
                          "choose another --out")


def _split(values: Optional[list[str]]) -> list[str]:
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


@app.command("export")
def export(
    ctx: typer.Context,
    status: Annotated[Optional[list[str]], typer.Option(
        "--status", metavar="STATUS", help="Only leads in this status (repeat or comma-separate; `open` and `closed` mean all of those).")] = None,
    agent: Annotated[Optional[list[str]], typer.Option("--agent", metavar="AGENT", help="Only leads this agent owns (repeat or comma-separate).")] = None,
    since: Annotated[Optional[str], typer.Option("--since", metavar="WHEN", help="Only leads that came in from WHEN (date, datetime or span: 7d, 24h, 4w).")] = None,
    until: Annotated[Optional[str], typer.Option("--until", metavar="WHEN", help="Only leads that came in up to WHEN (a date means the end of that day).")] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="csv|json|jsonl", help="csv (spreadsheet-safe), json or jsonl (values never altered).")] = "csv",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file (atomically; new files are readable only by you) instead of stdout.")] = None,
    db: DbOption = None,
    rules: RulesOption = None,
    as_: AsOption = None,
) -> None:
    """Leads out as csv, json or jsonl, with their owner, times and last note."""
    from leadshare import clock, reports
    from leadshare.cli.reports_cmds import period
    from leadshare.models import CLOSED_STATUSES

    fmt = fmt.strip().lower()
    if fmt not in reports.EXPORT_FORMATS:
        raise LeadshareError(f"--format {fmt}: not a format", "use one of: " + ", ".join(reports.EXPORT_FORMATS))
    w = where(ctx, db, rules, as_)
    team, ledger = rules_and_ledger(w, required=False)
    statuses: list[str] = []
    known = team.statuses if team else None
    for s in _split(status):
        s = s.lower()
        if known is not None and s in known:
            statuses.append(s)
        elif s == "closed":
            statuses += [c for c in CLOSED_STATUSES]
        elif s == "open":
            statuses += [c for c in (team.open_statuses if team else ("new", "contacted", "qualified"))]
        elif known is None:
            statuses.append(s)
        else:
            raise LeadshareError(f"--status {s}: not a status of the pipeline",
                                 "use one of: " + ", ".join((*known, "open", "closed")))
    agents = _split(agent)
    if team is not None:
        for a in agents:
            if team.agent(a) is None:
                raise NotFound(f"--agent {a}: no agent '{a}' in {team.path}", "agents: " + ", ".join(x.id for x in team.agents))
        agents = [team.agent(a).id for a in agents]  # the roster's spelling: `--agent Ben` is ben
    now = clock.now(team.timezone if team else "UTC")
    start, end = period(since, until, now)
    rows = reports.export_rows(ledger, team, list(dict.fromkeys(statuses)), agents, start, end)

    if out is None or str(out) == "-":
        try:
            reports.write_export(rows, fmt, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # `leadshare export | head`: the reader has had enough
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
        return
    count = write_atomically(out, lambda fh: reports.write_export(rows, fmt, fh), private=True)
    console().print(f"exported {count} lead{'s' if count != 1 else ''} to {out}", markup=False)
