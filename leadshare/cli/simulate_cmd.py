"""Trying rules before using them: `simulate`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from leadshare.cli import app
from leadshare.cli._common import DbOption, JsonOption, console, emit, ledger_there, table, where


@app.command("simulate")
def simulate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The CSV to try the rules on.")],
    rules: Annotated[Path, typer.Option("--rules", help="The new rules file to try.")],
    json_: JsonOption = False,
    db: DbOption = None,
) -> None:
    """What the fairness table would be under other rules, from today's state; writes nothing."""
    from leadshare import simulate as sim
    from leadshare.config import load_team as load
    from leadshare.errors import InputError

    root = ctx.find_root().params
    current_path = Path(root.get("rules") or os.environ.get("LEADSHARE_RULES") or "rules.yaml")
    w = where(ctx, db, rules)
    if not file.is_file():
        raise InputError(f"{file}: no such file", "check the path of the CSV")
    new_team = load(rules)
    current = load(current_path) if current_path.exists() and current_path.resolve() != rules.resolve() else None
    ledger_there(w.db)  # none: today's state is an empty ledger (simulate never creates one)
    data = sim.simulate(w.db, file.read_bytes(), str(file), new_team, current)

    def render() -> None:
        before = {g["key"]: g for g in (data.get("current") or {}).get("groups", [])}
        rows = []
        for g in data["groups"]:
            b = before.get(g["key"])
            rows.append([g["key"], "-" if b is None else b["assigned"], g["assigned"], f"{g['expected']:.1f}", f"{g['share']:.1%}"])
        cols = ["agent", f"today ({current_path.name})" if current else "today", f"with {rules.name}", "expected", "share"]
        console().print(table(f"simulation of {file.name}: {data['imported']} leads, {data['queued']} would wait in the queue", cols, rows,
                              caption=f"Gini {data['gini']:.3f} with {rules.name}" + (f", {data['current']['gini']:.3f} today" if current else "")
                              + "; the ledger was not changed"))

    emit(data, json_, render)
