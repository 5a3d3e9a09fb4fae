"""Seeing the split: `fairness` and `dashboard`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import JsonOption, Where, console, emit, ledger_options, open_ledger, rules_and_ledger, rules_in_force, table
from leadshare.errors import LeadshareError


@app.command("fairness")
@ledger_options
def fairness(
    w: Where,
    since: Annotated[Optional[str], typer.Option("--since", help="WHEN: date, datetime or span (7d, 24h, 4w) [default 30d].")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="WHEN [default now]; a date means the end of that day.")] = None,
    by: Annotated[str, typer.Option("--by", help="agent, territory, source or rule.")] = "agent",
    json_: JsonOption = False,
) -> None:
    """Who got how many leads, against what the rules intended given who was available."""
    from leadshare import clock, reports

    by = by.strip().lower()
    if by not in reports.GROUPINGS:
        raise LeadshareError(f"--by {by}: not a grouping", "use one of: " + ", ".join(reports.GROUPINGS))
    team = rules_in_force(w, create=False)
    now = clock.now(team.timezone)
    start, end = clock.period(since or "30d", until, now)
    if end is None:
        end = now
        if end <= start:
            raise LeadshareError(f"--since {since} is not before now", "give a period that starts before it ends")
    ledger = open_ledger(w, create=False)
    data = reports.fairness(ledger, team, start, end, by=by)

    def render() -> None:
        tz = clock.zone(team.timezone)
        period = (f"{clock.from_iso(data['since']).astimezone(tz):%Y-%m-%d %H:%M} to "
                  f"{clock.from_iso(data['until']).astimezone(tz):%Y-%m-%d %H:%M} ({team.timezone})")
        notes = {
            "in/out": "in/out: leads reassigned to / away from the agent in the period.",
            "within": f"within: Gini of the {by}'s split between agents (its expected is its own leads).",
            "contact": "contact: median time to first contact.",
            "won": "won: won / closed.",
        }
        names = [by, "assigned", "expected", "diff" if by == "agent" else "within", "open/cap" if by == "agent" else "open"]
        names += ["in/out"] if by == "agent" else ["agents off"]
        names += ["contact", "won", "share", "exp.share"]
        rows = [_fairness_cells(g, by) for g in data["groups"]]
        # narrow terminals lose the columns after the first four, the last first
        t = table(f"fairness by {by}, {period}", names, [[r[n] for n in names] for r in rows], droppable=names[4:])
        shown = [str(c.header) for c in t.columns]
        t.caption = " ".join(
            [f"{data['total']} leads assigned. Gini of assigned vs expected per agent: {data['gini']:.3f} "
             f"(0 = exactly as the rules intend). ! = more than {reports.TOLERANCE_LEADS} leads and "
             f"{reports.TOLERANCE_SHARE:.0%} of expected away."]
            + [notes[n] for n in shown if n in notes] + ([t.caption] if t.caption else [])
        )
        console().print(t)

    emit(data, json_, render)


def _fairness_cells(g: dict, by: str) -> dict[str, str]:
    from leadshare import reports

    mark = " !" if g["flagged"] else ""
    cells = {
        by: g["key"], "assigned": str(g["assigned"]), "expected": f"{g['expected']:.1f}",
        "share": f"{g['share']:.0%}", "exp.share": f"{g['expected_share']:.0%}",
        "contact": reports.minutes_text(g["median_first_contact_minutes"]),
        "won": "-" if g["conversion"] is None else f"{g['won']}/{g['closed']}",
    }
    if by == "agent":
        cells["diff"] = f"{g['difference']:+.1f}{mark}"
        cells["open/cap"] = f"{g['open']}/{'-' if g['capacity'] is None else g['capacity']}"
        cells["in/out"] = f"{g['reassigned_in']}/{g['reassigned_out']}"
    else:
        cells["within"] = f"{g['gini']:.2f}{mark}"
        cells["open"] = str(g["open"])
        cells["agents off"] = ", ".join(f"{a['key']} {a['difference']:+.1f}" for a in g["agents"] if a["flagged"]) or "-"
    return cells


@app.command("dashboard")
@ledger_options
def dashboard(
    w: Where,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write (atomically), e.g. dashboard.html.")],
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="How many days the charts cover.")] = 30,
    skip_verify: Annotated[bool, typer.Option("--skip-verify", help="Do not check the audit chain (faster on a large ledger).")] = False,
) -> None:
    """Write a self-contained HTML team dashboard: fairness, load, sources, SLA, imports, ledger check."""
    from leadshare import clock, outputs
    from leadshare import dashboard as page

    target = outputs.output_file(out, w.db)
    team, ledger = rules_and_ledger(w, create=False)
    now = clock.now(team.timezone)
    html = page.render(ledger, team, now, days=days, verify=not skip_verify)
    target.write(lambda fh: fh.write(html))
    if target.path is not None:
        console(stderr=target.is_stream).print(f"dashboard written: {out}")

