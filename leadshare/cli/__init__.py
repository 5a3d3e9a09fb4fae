"""The command line: a thin Typer layer. Each command parses, calls one service or report, renders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from leadshare import __version__
from leadshare.cli._common import LeadshareGroup

app = typer.Typer(
    cls=LeadshareGroup,
    name="leadshare",
    help="Share sales leads fairly inside a team, by rules everyone can check.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # every command below inherits it
    add_completion=False,
    pretty_exceptions_show_locals=False,  # a traceback must never print a customer's phone number
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leadshare {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    db: Annotated[Optional[str], typer.Option("--db", help="Ledger file or postgresql:// URL [env LEADSHARE_DB; default ./leadshare.db].")] = None,
    rules: Annotated[Optional[Path], typer.Option("--rules", help="Rules file [env LEADSHARE_RULES; default ./rules.yaml].")] = None,
    as_: Annotated[Optional[str], typer.Option("--as", help="Who is acting [env LEADSHARE_AGENT].")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks [env LEADSHARE_DEBUG=1].")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Options given before the command apply to it; the same options after the command win."""


from leadshare.cli import db_cmds, export_cmd, help_cmd, imports, leads, ledger_cmds, notify_cmd, reports_cmds, rules_cmds, simulate_cmd, team_cmds, workflow_cmds  # noqa: E402,F401  (registers commands)


def main() -> None:
    every = list(app.registered_commands), list(app.registered_groups)
    _build_only_the_commands_named(sys.argv[1:])
    try:
        app()
    finally:  # the app is whole again for whoever runs it next in this process
        app.registered_commands[:], app.registered_groups[:] = every


def _build_only_the_commands_named(args: list[str]) -> None:
    """Typer turns every command's signature into a click command at each start (15 ms, a tenth
    of an agent's `mine`), though only a command named on the line can run: only those are built.
    Help, a typo or no command at all keeps every command, for the list and the suggestions."""
    words = set(args)
    if not words or words & {"help", "-h", "--help"}:
        return
    commands = [c for c in app.registered_commands
                if (c.name or typer.main.get_command_name(c.callback.__name__)) in words]
    groups = [g for g in app.registered_groups if g.name in words]
    if commands or groups:
        app.registered_commands[:] = commands
        app.registered_groups[:] = groups
