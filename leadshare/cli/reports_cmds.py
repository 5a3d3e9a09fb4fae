"""Seeing the split: `fairness` and `dashboard`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import AsOption, DbOption, JsonOption, RulesOption, console, emit, rules_and_ledger, where
from leadshare.errors import LeadshareError

_DAY_ONLY = re.compile(r"\s*(\d{4}-\d{2}-\d{2}|today|yesterday)\s*", re.IGNORECASE)


def period_end(text: str, now: datetime) -> datetime:
    """--until WHEN: a bare date (or today, yesterday) means the end of that day, so
    `--since 2026-11-01 --until 2026-11-30` covers the whole of November 30."""
    from leadshare import clock

    start = clock.parse_when(text, now)
    if _DAY_ONLY.fullmatch(text):
        nxt = clock.localize(start.replace(tzinfo=None) + timedelta(days=1), start.tzinfo)
        return nxt - timedelta(seconds=1)
    return start


@app.command("fairness")
def fairness(
    ctx: typer.Context,
    since: Annotated[Optional[str], typer.Option("--since", help="WHEN: date, datetime or span (7d, 24h, 4w) [default 30d].")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="WHEN [default now]; a date means the end of that day.")] = None,
    by: Annotated[str, typer.Option("--by", help="agent, territory, source or rule.")] = "agent",
    json_: JsonOption = False,
    db: DbOption = None,
    rules: RulesOption = None,
    as_: AsOption = None,
) -> None:
    """Who got how many leads, against what the rules intended given who was available."""
    from leadshare import clock, reports

    by = by.strip().lower()
    if by not in reports.GROUPINGS:
        raise LeadshareError(f"--by {by}: not a grouping", "use one of: " + ", ".join(reports.GROUPINGS))
    w = where(ctx, db, rules, as_)
    team, ledger = rules_and_ledger(w)
    now = clock.now(team.timezone)
    start = clock.parse_when(since or "30d", now)
    end = period_end(until, now) if until else now
    if end <= start:
        raise LeadshareError(f"--since {since or '30d'} is not before --until {until or 'now'}",
                             "give a period that starts before it ends")
    data = reports.fairness(ledger, team, start, end, by=by)

    def render() -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        tz = clock.zone(team.timezone)
        period = (f"{clock.from_iso(data['since']).astimezone(tz):%Y-%m-%d %H:%M} to "
                  f"{clock.from_iso(data['until']).astimezone(tz):%Y-%m-%d %H:%M} ({team.timezone})")
        # (header, right-aligned, cells); narrow terminals drop the columns at the end of PRIORITY first
        cols: dict[str, tuple[bool, list[str]]] = {by: (False, [])}
        notes = {
            "in/out": "in/out: leads reassigned to / away from the agent in the period.",
            "within": f"within: Gini of the {by}'s split between agents (its expected is its own leads).",
            "contact": "contact: median time to first contact.",
            "won": "won: won / closed.",
        }
        names = ["assigned", "expected", "diff" if by == "agent" else "within", "open/cap" if by == "agent" else "open"]
        names += ["in/out"] if by == "agent" else ["agents off"]
        names += ["contact", "won", "share", "exp.share"]
        for n in names:
            cols[n] = (n != "agents off", [])
        for g in data["groups"]:
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
            for n, (_, values) in cols.items():
                values.append(cells[n])
        width = console().width
        shown = list(cols)

        def need(columns: list[str]) -> int:
            return sum(max(len(c), *(len(v) for v in cols[c][1]), 1) + 3 for c in columns) + 1  # padding, rules
        while need(shown) > width and len(shown) > 4:
            shown.pop()
        t = Table(title=f"fairness by {by}, {period}", box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False,
                  caption_justify="left")
        for n in shown:
            t.add_column(n, justify="right" if cols[n][0] else "left", no_wrap=n != "agents off")
        for i in range(len(data["groups"])):  # Text: a source or territory like "[/red]" is data, not markup
            t.add_row(*[Text(cols[n][1][i]) for n in shown])
        t.caption = " ".join(
            [f"{data['total']} leads assigned. Gini of assigned vs expected per agent: {data['gini']:.3f} "
             f"(0 = exactly as the rules intend). ! = more than {reports.TOLERANCE_LEADS} leads and "
             f"{reports.TOLERANCE_SHARE:.0%} of expected away."]
            + [notes[n] for n in shown if n in notes]
            + ([f"Wider terminal or --json: {', '.join(n for n in cols if n not in shown)}."] if len(shown) < len(cols) else [])
        )
        console().print(t)

    emit(data, json_, render)


@app.command("dashboard")
def dashboard(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write (atomically), e.g. dashboard.html.")],
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="How many days the charts cover.")] = 30,
    skip_verify: Annotated[bool, typer.Option("--skip-verify", help="Do not check the audit chain (faster on a large ledger).")] = False,
    db: DbOption = None,
    rules: RulesOption = None,
    as_: AsOption = None,
) -> None:
    """Write a self-contained HTML team dashboard: fairness, load, sources, SLA, imports, ledger check."""
    from leadshare import clock
    from leadshare import dashboard as page
    from leadshare.cli.export_cmd import write_atomically

    w = where(ctx, db, rules, as_)
    team, ledger = rules_and_ledger(w)
    now = clock.now(team.timezone)
    html = page.render(ledger, team, now, days=days, verify=not skip_verify)
    write_atomically(out, lambda fh: fh.write(html))
    console().print(f"dashboard written: {out}", markup=False)

