"""Leads out: `export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import Where, console, ledger_options, open_ledger, rules_in_force
from leadshare.errors import LeadshareError, NotFound


def _split(values: Optional[list[str]]) -> list[str]:
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def _statuses(wanted: Optional[list[str]], team) -> list[str]:
    """--status values as statuses of the pipeline (`open` and `closed` stand for all of those)."""
    from leadshare.models import CLOSED_STATUSES

    statuses: list[str] = []
    known = team.statuses if team else None
    for s in _split(wanted):
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
    return list(dict.fromkeys(statuses))


@app.command("export")
@ledger_options
def export(
    w: Where,
    status: Annotated[Optional[list[str]], typer.Option(
        "--status", metavar="STATUS", help="Only leads in this status (repeat or comma-separate; `open` and `closed` mean all of those).")] = None,
    agent: Annotated[Optional[list[str]], typer.Option("--agent", metavar="AGENT", help="Only leads this agent owns (repeat or comma-separate).")] = None,
    since: Annotated[Optional[str], typer.Option("--since", metavar="WHEN", help="Only leads that came in from WHEN (date, datetime or span: 7d, 24h, 4w).")] = None,
    until: Annotated[Optional[str], typer.Option("--until", metavar="WHEN", help="Only leads that came in up to WHEN (a date means the end of that day).")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", metavar="csv|json|jsonl", help="csv (spreadsheet-safe), json or jsonl (values never altered) [default: from the --out extension, else csv].")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file (atomically; new files are readable only by you) instead of stdout; - is stdout.")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="csv cells exactly as stored, for scripts (not spreadsheet-safe).")] = False,
) -> None:
    """Leads out as csv, json or jsonl, with their owner, times and last note."""
    from leadshare import clock, export as exports, outputs

    fmt = exports.export_format(fmt, str(out) if out else None)
    target = outputs.output_file(out if out is not None else "-", w.db)
    team = rules_in_force(w, required=False, create=False)
    statuses = _statuses(status, team)
    agents = _split(agent)
    if team is not None:
        for a in agents:
            if team.agent(a) is None:
                raise NotFound(f"--agent {a}: no agent '{a}' in {team.path}", "agents: " + ", ".join(x.id for x in team.agents))
        agents = [team.agent(a).id for a in agents]  # the roster's spelling: `--agent Ben` is ben
    now = clock.now(team.timezone if team else "UTC")
    start, end = clock.period(since, until, now)
    ledger = open_ledger(w, create=False)
    rows = exports.export_rows(ledger, team, statuses, agents, start, end)
    keys = exports.export_attribute_keys(ledger, statuses, agents, start, end) if fmt == "csv" else ()
    count = target.write(lambda fh: exports.write_export(rows, fmt, fh, keys, plain))
    if target.path is not None:
        console(stderr=target.is_stream).print(f"exported {count} lead{'s' if count != 1 else ''} to {out}")
