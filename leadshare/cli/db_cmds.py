"""`db copy`: move a whole ledger between a SQLite file and a PostgreSQL database."""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import typer

from leadshare.cli import app
from leadshare.cli._common import JsonOption, console, emit

db_app = typer.Typer(help="The ledger's database: copy it between SQLite and PostgreSQL.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("copy")
def copy(
    source: Annotated[str, typer.Argument(metavar="FROM", help="The ledger to copy: a file or a postgresql:// URL.")],
    target: Annotated[str, typer.Argument(metavar="TO", help="An empty ledger to fill: a new file or an empty database.")],
    json_: JsonOption = False,
) -> None:
    """Copy a whole ledger into an empty one (SQLite file or PostgreSQL URL, either way); the
    target's chain head equals the source's and `verify` holds on it."""
    from leadshare.errors import LedgerError
    from leadshare.ledger import display_name, ledger_exists, open_ledger
    from leadshare.ledger.copy import copy_ledger

    if not ledger_exists(source):
        raise LedgerError(f"{source}: no ledger there", "name an existing ledger file or a postgresql:// URL")
    with closing(open_ledger(source)) as from_, closing(open_ledger(target)) as to:
        out = copy_ledger(from_, to)
    out.update({"from": display_name(source), "to": display_name(target)})
    emit(out, json_, lambda: console().print(
        f"copied {out['events']} events and {out['leads']} leads from {out['from']} to {out['to']}; chain head {out['head']}"))
