"""The ledger itself: `init`, `log`, `verify`."""

from __future__ import annotations

import re
from typing import Annotated, Optional

import orjson
import typer

from leadshare.cli import app
from leadshare.cli._common import (
    DbOption, JsonOption, RulesOption, Where, console, emit, ledger_options, local_time, open_ledger, reading, table,
    where,
)
from leadshare.errors import EXIT_ATTENTION, LeadshareError

_HASH = re.compile(r"[0-9a-fA-F]{64}")


@app.command("init")
def init(ctx: typer.Context, db: DbOption = None, rules: RulesOption = None) -> None:
    """Create the ledger (safe to run again: an existing ledger is only checked)."""
    w = where(ctx, db, rules)
    ledger = open_ledger(w)
    console().print(f"ledger ready: {w.db_name} ({ledger.event_count()} events)")


@app.command("log")
@ledger_options
def log(
    w: Where,
    lead: Annotated[Optional[str], typer.Option("--lead", help="Only this lead (id or external id).")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", help="Only events about this agent.")] = None,
    type_: Annotated[Optional[str], typer.Option("--type", help="Only this event type (imported, assigned, queued, duplicate, note, status, ...).")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="WHEN: a date, a datetime, or a span like 7d, 24h, 4w.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the newest N events.")] = None,
    json_: JsonOption = False,
) -> None:
    """The audit log, in ledger order."""
    from leadshare import clock
    from leadshare.services import find_lead

    team, ledger = reading(w)
    tz = team.timezone if team else "UTC"
    lead_id = find_lead(ledger, lead)["id"] if lead else None
    if agent and team is not None and team.agent(agent) is not None:
        agent = team.agent(agent).id  # the roster's spelling; an agent gone from it is matched as written
    since_at = clock.to_utc_iso(clock.parse_when(since, clock.now(tz))) if since else None
    rows = ledger.log(lead=lead_id, agent=agent, type_=type_, since=since_at, limit=limit)
    data = [
        {"seq": r["seq"], "at": r["at"], "type": r["type"], "lead": r["lead"], "agent": r["agent"], "actor": r["actor"],
         "login": r["login"], "data": orjson.loads(r["data"]), "hash": r["hash"].hex()}
        for r in rows
    ]

    def render() -> None:
        from leadshare.cli.leads import event_details

        texts = ledger.note_texts([(d["seq"], d["lead"]) for d in data if d["type"] == "note"])
        rows = []
        for d in data:
            event = {**d, "data": {**d["data"], "text": texts[d["seq"]]}} if d["seq"] in texts else d
            rows.append([d["seq"], local_time(d["at"], tz), d["type"], d["lead"], d["agent"], d["actor"], d["login"],
                         event_details(event), d["hash"][:12]])
        # `login` is empty on a SQLite ledger, and then left out
        console().print(table(f"audit log: {len(data)} events", ["seq", "at", "type", "lead", "agent", "by", "login", "details", "hash"],
                              rows, tz=tz))

    emit(data, json_, render)


@app.command("verify")
def verify(
    ctx: typer.Context,
    decisions: Annotated[bool, typer.Option("--decisions", help="Also re-derive every assignment from its recorded inputs.")] = False,
    expect_head: Annotated[Optional[str], typer.Option("--expect-head", help="The chain head hash you kept elsewhere (catches a cut-off log).")] = None,
    json_: JsonOption = False,
    db: DbOption = None,
    rules: RulesOption = None,
) -> None:
    """Check the audit chain, the database, and that the state replays from the log."""
    from leadshare import audit

    if expect_head is not None and not _HASH.fullmatch(expect_head.strip()):
        raise LeadshareError(f"--expect-head {expect_head[:80]!r}: not a whole chain hash (64 hex digits)",
                             "copy the full `chain head` that `leadshare verify` printed")
    w = where(ctx, db, rules)
    ledger = open_ledger(w, create=False)
    report = audit.verify(ledger, expect_head=expect_head and expect_head.strip(), decisions=decisions)

    def render() -> None:
        c = console()
        if report.ok:
            c.print(f"ok: {report.events} events, chain head {report.head}", soft_wrap=True)  # a hash copied whole
            if report.decisions is not None:
                c.print(f"ok: {report.decisions} rule decisions re-derived from their recorded inputs, each picking the same owner")
        else:
            c.print(f"PROBLEMS in {w.db_name} ({report.events} events read):")
            for p in report.problems:
                c.print(f"  {p}")
        for m in report.manual or []:
            c.print(f"  handed over by hand: lead {m['lead']} {m['from']} -> {m['to']} by {m['by']} ({m['reason']})")

    emit(report.as_json(), json_, render)
    if not report.ok:
        raise typer.Exit(EXIT_ATTENTION)
