"""Working a lead: `add`, `note`, `status`, `reassign`, `sweep`, `explain`, `forget`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import (
    LeadArgument, JsonOption, NotifyOption, Where, console, deliver_if_asked, emit, ledger_options, local_time, reading, session,
    table,
)
from leadshare.errors import EXIT_ATTENTION, LeadshareError



@app.command("add")
@ledger_options
def add(
    w: Where,
    name: Annotated[str, typer.Option("--name", help="The customer's name.")],
    phone: Annotated[Optional[str], typer.Option("--phone", help="Phone, any common way of writing it.")] = None,
    email: Annotated[Optional[str], typer.Option("--email", help="Email address.")] = None,
    source: Annotated[Optional[str], typer.Option("--source", help="Where the lead came from (walk-in, call, ...).")] = None,
    field: Annotated[Optional[list[str]], typer.Option("--field", help="KEY=VALUE: a lead field the rules can test (region=KL, product=commercial); repeatable.")] = None,
    json_: JsonOption = False,
) -> None:
    """Record one lead by hand (a walk-in, a call): same checks, duplicates and rules as an import."""
    from leadshare import services

    fields = {}
    for item in field or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise LeadshareError(f"--field {item}: expected KEY=VALUE", "for example --field region=KL")
        fields[key.strip()] = value.strip()
    s = session(w)
    result = services.add_lead(s, name, phone, email, source, fields)
    for w in result.pop("warnings"):
        console(stderr=True).print(f"warning: {w}")

    def render() -> None:
        if result["duplicate_of"]:
            console().print(f"already a lead: {result['duplicate_of']} (recorded as a duplicate; its owner keeps it)")
        elif result["queued"]:
            console().print(f"lead {result['id']} is waiting in the queue (see `leadshare explain {result['id']}`)")
        else:
            console().print(f"lead {result['id']} goes to {result['agent']}")

    emit(result, json_, render)


@app.command("note")
@ledger_options
def note(
    w: Where,
    lead: LeadArgument,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The note, in quotes.")],
) -> None:
    """Append a shared note to a lead's timeline."""
    from leadshare import workflow

    out = workflow.add_note(session(w, acting="note"), lead, text)
    console().print(f"noted on lead {out['lead']}")


@app.command("status")
@ledger_options
def status(
    w: Where,
    lead: LeadArgument,
    new_status: Annotated[str, typer.Argument(metavar="STATUS", help="A status of the pipeline.")],
    note: Annotated[Optional[str], typer.Option("--note", help="What happened (some statuses require one).")] = None,
) -> None:
    """Move a lead in the pipeline."""
    from leadshare import workflow

    out = workflow.change_status(session(w, acting="status"), lead, new_status, note)
    console().print(f"lead {out['lead']}: {out['from']} -> {out['to']}")


@app.command("reassign")
@ledger_options
def reassign(
    w: Where,
    lead: Annotated[Optional[str], typer.Argument(metavar="LEAD", help="Lead id or external id (or use --from).")] = None,
    to: Annotated[Optional[str], typer.Option("--to", help="The new owner.")] = None,
    from_: Annotated[Optional[str], typer.Option("--from", help="Move all open leads of this agent (departure, long leave).")] = None,
    by_rules: Annotated[bool, typer.Option("--by-rules", help="With --from: spread the leads through the normal rules.")] = False,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why; it goes on each lead's timeline.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --from: show who would get what; change nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Hand over to an agent on leave all the same.")] = False,
    json_: JsonOption = False,
    notify: NotifyOption = False,
) -> None:
    """Hand a lead over, or move all of an agent's open leads (the notes travel with them)."""
    from leadshare import workflow

    if not reason:
        raise LeadshareError("a handover needs --reason", 'for example --reason "customer speaks Tamil"')
    s = session(w, acting="reassign")
    if from_ is not None:
        if lead is not None:
            raise LeadshareError("give a LEAD or --from AGENT, not both", "--from moves all of that agent's open leads")
        result = workflow.reassign_all(s, from_, to, by_rules, reason, dry_run=dry_run, force=force)

        def render() -> None:
            verb = "would move" if dry_run else "moved"
            console().print(f"{verb} {result['moved']} open leads of {from_}" + (f"; {result['stayed']} found nobody eligible and stay" if result["stayed"] else ""))
            if result["leads"]:
                console().print(table(None, ["lead", "to"], [[p["lead"], p["to"] or f"(stays: {p.get('reason')})"] for p in result["leads"]]))
    else:
        if lead is None or to is None or by_rules or dry_run:
            raise LeadshareError("reassign LEAD --to AGENT --reason TEXT, or reassign --from AGENT (--to AGENT | --by-rules) --reason TEXT",
                                 "see `leadshare reassign --help`")
        result = workflow.reassign(s, lead, to, reason, force=force)

        def render() -> None:
            console().print(f"lead {result['lead']}: {result['from']} -> {result['to']}")

    for warning in result["warnings"]:
        console(stderr=True).print(f"warning: {warning}", soft_wrap=True)
    emit(result, json_, render)
    if not dry_run:
        deliver_if_asked(s, notify)
    _exit_if_leads_stayed(result, from_)


def _exit_if_leads_stayed(result: dict, from_: str | None) -> None:
    """`--by-rules` that found nobody for some leads is not done: name them, exit 1."""
    stayed = [p["lead"] for p in result.get("leads", []) if not p["to"]]
    if not stayed:
        return
    shown = ", ".join(map(str, stayed[:20])) + (f" and {len(stayed) - 20:,} more" if len(stayed) > 20 else "")
    verb = "would stay" if result["dry_run"] else "stay"
    console(stderr=True).print(f"leadshare: {len(stayed)} leads {verb} with {from_}, nobody eligible took them: {shown} "
                               f"(see `leadshare explain LEAD`; hand them over with --to AGENT)", soft_wrap=True)
    raise typer.Exit(EXIT_ATTENTION)


@app.command("sweep")
@ledger_options
def sweep(
    w: Where,
    json_: JsonOption = False,
    notify: NotifyOption = False,
) -> None:
    """SLA check (cron, every few minutes): move or escalate leads not contacted in time."""
    from leadshare import workflow

    s = session(w)
    result, code = workflow.sweep(s)
    deliver_if_asked(s, notify)
    emit(result, json_, lambda: console().print(
        f"checked {result['checked']} overdue leads: {result['reassigned']} reassigned, {result['escalated']} escalated, {result['warned']} warned"))
    raise typer.Exit(code)


@app.command("explain")
@ledger_options
def explain(
    w: Where,
    lead: LeadArgument,
    json_: JsonOption = False,
) -> None:
    """Why this lead went to this agent: the rule, every candidate and why not, as decided then."""
    from leadshare import workflow

    team, ledger = reading(w)
    out = workflow.explain(ledger, lead)

    def render() -> None:
        c = console()
        tz = team.timezone if team else None
        who = out["agent"] or f"nobody yet: waiting ({out['queued_reason']})"
        c.print(f"lead {out['lead']} {out['external_id'] or ''} -> {who}")
        if out["kind"]:
            c.print(f"  {out['kind']} at {local_time(out['decided_at'], tz)} by {out.get('decided_by')}; rule '{out['rule']}' ({out['strategy'] or '-'}); rules version {str(out['rules_version'])[:12]}")
        for sk in out["skipped"]:
            c.print(f"  rule '{sk['rule']}' did not decide: {sk['why']}")
        if out["candidates"]:
            c.print(table("candidates", ["agent", "eligible", "why not", "weight"],
                          [[x["agent"], "yes" if x["eligible"] else "no", x["reason"] or "", x["weight"]] for x in out["candidates"]]))
        if out["state"]:
            st = out["state"]
            if "current" in st:
                c.print("  weighted round-robin values before this lead: " + ", ".join(f"{a} {v / 1000:g}" for a, v in st["current"].items()))
            if "start" in st:
                c.print(f"  rotation: last chosen {st.get('last') or '(nobody yet)'}, so the turn started at {st['start']}")
            if "loads" in st:
                c.print("  open leads then: " + ", ".join(f"{a} {n}/{st.get('capacities', {}).get(a, '-')}" for a, n in st["loads"].items()))
        for h in out.get("handoffs", []):
            c.print(f"  then handed from {h.get('from')} to {h.get('to')} by {h['by']}: {h.get('reason')}")

    emit(out, json_, render)


@app.command("forget")
@ledger_options
def forget(
    w: Where,
    lead: LeadArgument,
) -> None:
    """Erase a customer's personal fields, keeping the audit chain verifiable (manager only)."""
    from leadshare import workflow

    out = workflow.forget(session(w, acting="forget"), lead)
    if not out["complete"]:
        console(stderr=True).print(
            f"lead {out['lead']}: erased from the ledger, but another program is still reading older pages of it; "
            f"old copies remain in the -wal file until it stops. Run `leadshare forget {out['lead']}` again then.")
        raise typer.Exit(EXIT_ATTENTION)
    erased = ", ".join(out["attributes"])
    if out["again"]:
        what = f"erased now what an earlier forget left ({erased})" if erased else "already erased; no old copies remain"
    else:
        what = "name, phone, email and notes erased" + (f", with {erased}" if erased else "")
    console().print(f"lead {out['lead']}: {what}; the audit chain still verifies")
    if out["note"]:
        console().print(out["note"])
