"""`rules check`: validate a rules file before it decides anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import RulesOption, console, where
from leadshare.errors import EXIT_REFUSED

rules_app = typer.Typer(help="The rules file.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("check")
def check(
    ctx: typer.Context,
    path: Annotated[Optional[Path], typer.Argument(help="The rules file [default: --rules, LEADSHARE_RULES or ./rules.yaml].")] = None,
    rules: RulesOption = None,
) -> None:
    """Validate a rules file: every problem listed as FILE:LINE: message; exit 2 when there is any."""
    from leadshare.config import check_rules

    target = path or where(ctx, rules=rules).rules
    problems = check_rules(target)
    for line, message in problems:
        typer.echo(f"{target}:{line}: {message}", err=True)
    if problems:
        raise typer.Exit(EXIT_REFUSED)
    console().print(f"{target}: ok")
