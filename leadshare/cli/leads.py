"""Reading leads: `mine` and `show`."""

from __future__ import annotations

from typing import Annotated, Optional

import orjson
import typer

from leadshare.cli import app
from leadshare.cli._common import (
    LeadArgument, JsonOption, Where, acting_id, console, emit, ledger_options, local_time, open_ledger, reading, rules_in_force,
    table,
)
from leadshare.errors import LeadshareError

LEAD_FIELDS = (
    "id", "external_id", "name", "phone", "email", "source", "region", "status", "agent", "rule", "created_at",
    "assigned_at", "sla_due", "first_contact_at", "closed_at", "queued_reason", "batch",
)


def lead_json(lead: dict) -> dict:
    out = {k: lead.get(k) for k in LEAD_FIELDS}
    out["fields"] = orjson.loads(lead["attrs"]) if lead.get("attrs") else {}
    return out


MINE_TABLE_LIMIT = 50  # a table of more is scrolled past, not read


@app.command("mine")
@ledger_options
def mine(
    w: Where,
    all_: Annotated[bool, typer.Option("--all", help="Closed leads too.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, metavar="N", help=(
        f"Only the N most urgent [default {MINE_TABLE_LIMIT} in the table; --json gives all unless --limit is given].")
    )] = None,
    json_: JsonOption = False,
) -> None:
    """Your leads, most urgent first: not contacted yet by SLA due, then the rest (needs --as or LEADSHARE_AGENT)."""
    from leadshare import clock
    from leadshare.models import CLOSED_STATUSES

    team = rules_in_force(w, required=False, create=False)  # a granted login is its agent: no --as needed
    if not w.actor:
        raise LeadshareError("`mine` needs to know who you are", "pass --as AGENT_ID or set LEADSHARE_AGENT")
    if team is not None:
        w.actor = acting_id(team, w.actor)
    ledger = open_ledger(w, create=False)
    now = clock.to_utc_iso(clock.now(team.timezone if team else "UTC"))
    if limit is None and not json_:
        limit = MINE_TABLE_LIMIT
    rows = ledger.leads_of(w.actor, include_closed=all_, limit=limit)
    total = ledger.count_leads_of(w.actor, all_) if limit is not None and len(rows) == limit else len(rows)
    notes = ledger.last_notes([r["id"] for r in rows])
    data = [
        {
            "id": r["id"], "external_id": r["external_id"], "name": r["name"], "phone": r["phone"], "email": r["email"],
            "status": r["status"], "agent": r["agent"], "assigned_at": r["assigned_at"], "sla_due": r["sla_due"],
            "overdue": bool(r["sla_due"] and r["first_contact_at"] is None and r["sla_due"] < now and r["status"] not in CLOSED_STATUSES),
            "source": r["source"], "region": r["region"], "last_note": notes.get(r["id"]),
        }
        for r in rows
    ]
    tz = team.timezone if team else None

    def render() -> None:
        if team is not None:
            console().print(_standing(w, team, ledger), soft_wrap=True)
        kind = "" if all_ else "open "
        if not data:
            console().print(f"{w.actor}: no {kind}leads")
            return
        more = total - len(data)
        caption = f"the {len(data)} most urgent; {more:,} more (--limit N, or --json for all)" if more else None
        console().print(
            table(
                f"{w.actor}: {total:,} {kind}leads",
                ["id", "name", "phone", "status", "source", "region", "SLA due", "last note"],
                [[d["id"], d["name"], d["phone"] or d["email"], d["status"], d["source"], d["region"],
                  ("OVERDUE " if d["overdue"] else "") + local_time(d["sla_due"], tz), d["last_note"]] for d in data],
                caption=caption, tz=tz,
            )
        )

    emit(data, json_, render)


@app.command("show")
@ledger_options
def show(
    w: Where,
    lead: LeadArgument,
    json_: JsonOption = False,
) -> None:
    """One lead: its fields, owner, status, SLA due and the whole timeline of events and notes."""
    from leadshare.services import find_lead

    team, ledger = reading(w)
    row = find_lead(ledger, lead)
    notes = ledger.notes_of(row["id"])
    timeline = []
    for e in ledger.timeline(row["id"]):
        data = orjson.loads(e["data"])
        if e["seq"] in notes:
            data["text"] = notes[e["seq"]]["text"]
        timeline.append({"seq": e["seq"], "at": e["at"], "type": e["type"], "actor": e["actor"], "agent": e["agent"],
                         "login": e["login"], "data": data})
    out = lead_json(row)
    out["timeline"] = timeline
    tz = team.timezone if team else None

    def render() -> None:
        c = console()
        c.print(f"lead {out['id']} {out['external_id'] or ''}  {out['name'] or ''}")
        c.print(f"  phone {out['phone'] or '-'}   email {out['email'] or '-'}")
        c.print(f"  source {out['source'] or '-'}   region {out['region'] or '-'}   " + "  ".join(f"{k} {v}" for k, v in out["fields"].items()))
        owner = out["agent"] or f"nobody: waiting ({out['queued_reason']})"
        c.print(f"  owner {owner}   status {out['status']}   SLA due {local_time(out['sla_due'], tz) or '-'}")
        # `login` is empty on a SQLite ledger, and then left out
        c.print(table("timeline", ["seq", "at", "type", "by", "login", "agent", "details"],
                      [[t["seq"], local_time(t["at"], tz), t["type"], t["actor"], t["login"], t["agent"], event_details(t)]
                       for t in timeline], tz=tz))

    emit(out, json_, render)


def _standing(w, team, ledger) -> str:
    """One line so an agent sees their own fairness: load, this week against expected, next turn."""
    from leadshare import clock, roster
    from leadshare.services import Session
    from leadshare.tiers import with_earned_tiers

    s = Session(ledger=ledger, team=with_earned_tiers(team, ledger.earned_tiers()), actor=w.actor, now=clock.now(team.timezone))
    (me,) = roster.roster(s, only=w.actor)
    cap = f"/{me['capacity']}" if me["capacity"] is not None else ""
    turns = ", ".join(f"'{r['rule']}' in {r['leads_until_turn']}" for r in me["rotation"] if r["leads_until_turn"])
    return (f"{w.actor}: {me['open']}{cap} open; this week {me['week']['assigned']} leads, "
            f"{me['week']['expected']:.1f} expected by the rules" + (f"; your next lead: {turns}" if turns else ""))


# Keys of event data that are proofs or machinery (digests, hashes, rotation state), not news.
_UNSHOWN = {"rules", "row", "cands", "state", "digest", "hash", "new", "sla_start", "batch", "file", "pd"}


def event_details(event: dict) -> str:
    """One line saying what an event did, for the `show` timeline and the `log` table."""
    d, kind = event["data"], event["type"]
    if kind == "rules_loaded":  # its text is the whole rules file: `rules show` prints it
        return f"rules version {str(d.get('rules'))[:12]} from {d.get('path')}"
    if "text" in d:
        return d["text"]
    if kind == "assigned":
        if d.get("kept"):
            return "owner kept from the imported file"
        return f"rule '{d.get('rule')}' ({d.get('strategy')})" + (", returning customer" if d.get("returning") else "")
    if kind == "queued":
        return d.get("reason") or ""
    if kind == "duplicate":
        return f"same customer again in batch {d.get('batch')} row {d.get('row')} (source {d.get('source') or '-'})"
    if kind in ("status", "reassigned"):
        how = {"sla": "SLA sweep", "by_rules": "by the rules", "on_leave": "forced: {}", "over_capacity": "over capacity {}"}
        notes = [text.format(d[k]) for k, text in how.items() if d.get(k)]
        return f"{d.get('from')} -> {d.get('to')}" + (f" ({', '.join(notes)})" if notes else "")
    if kind == "imported":
        return (f"{d.get('rows')} rows: {d.get('imported')} imported, {d.get('duplicates')} duplicates, "
                f"{d.get('rejected')} rejected, {d.get('queued')} queued")
    return ", ".join(f"{k}={v}" for k, v in d.items() if k not in _UNSHOWN)
