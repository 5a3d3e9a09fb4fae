"""Seeing the split: `fairness`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import AsOption, DbOption, JsonOption, RulesOption, console, emit, load_team, open_ledger, table, where
from leadshare.errors import LeadshareError

# A group is marked when it got this many leads more or fewer than expected and that is over 10% of
# what was expected: small teams see one-lead wobbles all the time, which rotation evens out.
TOLERANCE_LEADS = 2
TOLERANCE_SHARE = 0.10


@app.command("fairness")
def fairness(
    ctx: typer.Context,
    since: Annotated[Optional[str], typer.Option("--since", help="WHEN: date, datetime or span (7d, 24h, 4w) [default 30d].")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="WHEN [default now].")] = None,
    by: Annotated[str, typer.Option("--by", help="agent, territory, source or rule.")] = "agent",
    json_: JsonOption = False,
    db: DbOption = None,
    rules: RulesOption = None,
    as_: AsOption = None,
) -> None:
    """Who got how many leads, against what the rules intended given who was available."""
    from leadshare import clock, reports

    if by not in reports.GROUPINGS:
        raise LeadshareError(f"--by {by}: not a grouping", "use one of: " + ", ".join(reports.GROUPINGS))
    w = where(ctx, db, rules, as_)
    team = load_team(w)
    ledger = open_ledger(w)
    now = clock.now(team.timezone)
    start = clock.parse_when(since or "30d", now)
    end = clock.parse_when(until, now) if until else now
    if end <= start:
        raise LeadshareError(f"--since {since} is not before --until {until or 'now'}", "give a period that starts before it ends")
    data = reports.fairness(ledger, team, start, end, by=by)

    def render() -> None:
        rows = []
        for g in data["groups"]:
            diff = g["assigned"] - g["expected"]
            off = abs(diff) >= TOLERANCE_LEADS and abs(diff) > TOLERANCE_SHARE * max(g["expected"], 1)
            rows.append([
                g["key"], g["assigned"], f"{g['share']:.1%}", f"{g['expected']:.1f}", f"{g['expected_share']:.1%}",
                f"{diff:+.1f}" + (" !" if off else ""),
                "" if g["open"] is None else g["open"], "-" if g["capacity"] is None else g["capacity"],
            ])
        caption = (f"{data['total']} leads decided; Gini of assigned/expected {data['gini']:.3f} (0 = exactly as the rules intend). "
                   f"! marks a gap of {TOLERANCE_LEADS}+ leads and over {TOLERANCE_SHARE:.0%} of expected.")
        console().print(table(f"fairness by {by}, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({team.timezone})",
                              [by, "assigned", "share", "expected", "exp. share", "diff", "open", "capacity"], rows, caption=caption))

    emit(data, json_, render)
