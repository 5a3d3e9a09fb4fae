"""`rules check`: validate a rules file before it decides anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import RulesOption, console, terminal_safe, where
from leadshare.errors import EXIT_ATTENTION, EXIT_REFUSED

rules_app = typer.Typer(help="The rules file.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("check")
def check(
    ctx: typer.Context,
    path: Annotated[Optional[Path], typer.Argument(metavar="[PATH]", help="The rules file [default: --rules, LEADSHARE_RULES or ./rules.yaml].")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when there are warnings (gaps), not only errors.")] = False,
    rules: RulesOption = None,
) -> None:
    """Validate a rules file and warn about gaps: every problem as FILE:LINE: message on stderr.

    Exit 2 on errors; with no errors, warnings exit 0 (1 with --strict)."""
    from leadshare.config import check_rules, lint_team, load_team

    target = path or where(ctx, rules=rules).rules
    problems = check_rules(target)
    for line, message in problems:
        typer.echo(terminal_safe(f"{target}:{line}: {message}", one_line=True), err=True)
    if problems:
        raise typer.Exit(EXIT_REFUSED)
    warnings = lint_team(load_team(target))
    for line, message in warnings:
        typer.echo(terminal_safe(f"{target}:{line}: warning: {message}", one_line=True), err=True)
    team_ok = f"{target}: ok" + (f", {len(warnings)} warning{'s' if len(warnings) > 1 else ''}" if warnings else "")
    console().print(team_ok)
    if warnings and strict:
        raise typer.Exit(EXIT_ATTENTION)
