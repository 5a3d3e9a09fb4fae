"""`leadshare help [COMMAND ...]`: the same text as `--help`, for those who type it as a word."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.errors import LeadshareError


@app.command("help")
def help_(
    ctx: typer.Context,
    command: Annotated[Optional[list[str]], typer.Argument(metavar="[COMMAND]...", help="A command, e.g. `import` or `leave add`.")] = None,
) -> None:
    """Show the help of leadshare or of one command."""
    root = ctx.find_root()
    target, target_ctx = root.command, root
    for word in command or []:
        sub = getattr(target, "commands", {}).get(word)
        if sub is None:
            known = ", ".join(sorted(getattr(target, "commands", {}))) or "none"
            raise LeadshareError(f"no command '{' '.join(command)}'", f"commands: {known}")
        target_ctx = sub.make_context(word, [], parent=target_ctx, resilient_parsing=True)
        target = sub
    typer.echo(target.get_help(target_ctx))
