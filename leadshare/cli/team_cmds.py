"""The team: `agents`, `leave add|list|cancel`, `backup`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import (
    DbOption, JsonOption, Where, console, emit, ledger_options, open_ledger, session, table, where,
)
from leadshare.errors import LeadshareError

leave_app = typer.Typer(help="Leave recorded in the ledger, on top of leave in the rules file.", no_args_is_help=True)
app.add_typer(leave_app, name="leave")


@app.command("agents")
@ledger_options
def agents(
    w: Where,
    json_: JsonOption = False,
) -> None:
    """The roster now: available or why not, open load / capacity, tier, weight, next time on duty."""
    from leadshare import roster

    s = session(w, create=False)
    data = roster.roster(s)

    def render() -> None:
        console().print(table(
            f"team at {s.now:%a %Y-%m-%d %H:%M} ({s.team.timezone})",
            ["agent", "name", "takes leads", "on duty", "open", "capacity", "tier", "weight", "this week", "next lead in"],
            [[a["id"], a["name"], "yes" if a["available"] else f"no: {a['reason']}",
              "yes" if a["on_duty"] else (a["off_duty"] or "no"), a["open"],
              "-" if a["capacity"] is None else a["capacity"], a["tier"] or "-", a["weight"],
              f"{a['week']['assigned']} of {a['week']['expected']:.1f}", _next_turns(a["rotation"])] for a in data],
            caption="this week: leads since Monday against what the rules intended; next lead in: leads each rule "
                    "decides before this agent's turn, if everyone stays as available as now",
        ))

    emit(data, json_, render)


def _next_turns(rotation: list[dict]) -> str:
    return ", ".join(f"'{r['rule']}' in {r['leads_until_turn']}" for r in rotation if r["leads_until_turn"]) or "-"


@leave_app.command("add")
@ledger_options
def leave_add(
    w: Where,
    agent: Annotated[str, typer.Argument(metavar="AGENT", help="Agent id.")],
    start: Annotated[str, typer.Argument(metavar="FROM", help="First day of leave, YYYY-MM-DD.")],
    end: Annotated[str, typer.Argument(metavar="TO", help="Last day of leave, YYYY-MM-DD.")],
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (shown in the roster and the log).")] = None,
    json_: JsonOption = False,
) -> None:
    """Record leave: the agent gets no new leads from FROM to TO (inclusive)."""
    from leadshare import workflow

    out = workflow.add_leave(session(w), agent, start, end, reason)

    def render() -> None:
        if not out["already_recorded"]:
            console().print(f"leave {out['id']}: {out['agent']} {out['from']} to {out['to']}")
        else:
            where_kept = f"as leave {out['id']}" if out["id"] else "in the rules file"
            console().print(f"{out['agent']}'s leave {out['from']} to {out['to']} is already recorded {where_kept}; nothing changed",
                            soft_wrap=True)

    emit(out, json_, render)


@leave_app.command("list")
@ledger_options
def leave_list(
    w: Where,
    json_: JsonOption = False,
) -> None:
    """All leave: from the rules file and from the ledger."""
    from leadshare import workflow

    data = workflow.list_leave(session(w, create=False))
    emit(data, json_, lambda: console().print(table("leave", ["id", "agent", "from", "to", "reason", "origin"],
                                                     [[r["id"] or "-", r["agent"], r["from"], r["to"], r["reason"], r["origin"]] for r in data])))


@leave_app.command("cancel")
@ledger_options
def leave_cancel(
    w: Where,
    leave_id: Annotated[int, typer.Argument(metavar="ID", help="The id shown by `leave list`.")],
) -> None:
    """Cancel leave recorded in the ledger."""
    from leadshare import workflow

    out = workflow.cancel_leave(session(w), leave_id)
    console().print(f"leave {out['id']} of {out['agent']} cancelled")


@app.command("backup")
def backup(
    ctx: typer.Context,
    target: Annotated[Path, typer.Argument(metavar="FILE", help="Where the copy goes (must not exist).")],
    db: DbOption = None,
) -> None:
    """A consistent online copy of the ledger (safe while others write)."""
    from leadshare import outputs

    w = where(ctx, db)
    outputs.refuse_database(target, w.db, "backup FILE")
    if target.exists():
        raise LeadshareError(f"{target}: already exists", "choose a new file name; a backup never overwrites")
    from leadshare.ledger import ledger_exists

    if not ledger_exists(w.db):
        raise LeadshareError(f"no ledger at {w.db_name}; nothing was backed up", "check --db or LEADSHARE_DB")
    ledger = open_ledger(w)
    ledger.backup_to(str(target))
    console().print(f"backed up {w.db_name} to {target} ({ledger.event_count()} events)")


@app.command("tiers")
@ledger_options
def tiers(
    w: Where,
    apply: Annotated[bool, typer.Option("--apply", help="Record the earned tiers (a manager); the engine uses them from then on.")] = False,
    json_: JsonOption = False,
) -> None:
    """Each agent's figures against the tiers' criteria, and the tier they would earn."""
    from leadshare import tiers as tiers_mod

    s = session(w, create=apply)
    rows = tiers_mod.apply(s) if apply else tiers_mod.review(s)

    def fmt(check: dict) -> str:
        need, have = check["need"], check["have"]
        if check["criterion"] == "max_first_contact":
            need, have = f"{need / 3600:g}h", "-" if have is None else f"{have / 3600:.1f}h"
        elif check["criterion"] == "min_conversion":
            need, have = f"{need:.0%}", "-" if have is None else f"{have:.0%}"
        return f"{'ok' if check['met'] else 'no'} {check['criterion']} {have} (need {need})"

    def render() -> None:
        names = [t.name for t in tiers_mod.earning_tiers(s.team)]
        if not names:
            console().print("no tier in the rules file has criteria: tiers are given by hand (see the README on earned tiers)")
        body = []
        for r in rows:
            f = r["figures"]
            conv = "-" if f["conversion"] is None else f"{f['conversion']:.0%}"
            body.append([r["agent"], r["tier"] or "-", f["closed"], conv] + ["; ".join(fmt(c) for c in r["checks"].get(n, [])) for n in names]
                        + [(r["earned"] or "-") + (" (change)" if r["change"] else "")])
        verb = "applied" if apply else "would earn"
        console().print(table("tiers", ["agent", "tier now", "closed", "conversion", *names, verb], body))

    emit(rows, json_, render)
