"""`db copy`: move a whole ledger between a SQLite file and a PostgreSQL database; `db grant`,
`db revoke`, `db roles`: which PostgreSQL logins act as which roster agents."""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import typer

from leadshare.cli import app
from leadshare.cli._common import JsonOption, Where, console, emit, ledger_options, open_ledger, table, team_in_force
from leadshare.errors import LeadshareError

db_app = typer.Typer(help="The ledger's database: copy it between SQLite and PostgreSQL; grant logins.", no_args_is_help=True)
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
        f"copied {out['events']} events and {out['leads']} leads from {out['from']} to {out['to']}; chain head {out['head']}", soft_wrap=True))


def _owner_ledger(w: Where, action: str):
    """The PostgreSQL ledger, opened by its owner: logins exist only on a server."""
    from leadshare.ledger import is_url
    from leadshare.ledger.postgres import roles

    if not is_url(w.db):
        raise LeadshareError(f"{w.db_name}: `db {action}` needs a PostgreSQL ledger (a SQLite file has no logins)",
                             "point --db or LEADSHARE_DB at a postgresql:// URL; `leadshare db copy` moves a file there")
    ledger = open_ledger(w)
    roles.require_owner(ledger, f"run `db {action}`")
    return ledger


@db_app.command("grant")
@ledger_options
def grant(
    w: Where,
    login: Annotated[str, typer.Argument(metavar="LOGIN", help="An existing PostgreSQL login.")],
    agent: Annotated[str, typer.Option("--agent", help="The roster agent id the login acts as.")],
) -> None:
    """Let a PostgreSQL login act as a roster agent (a manager when the roster says role: manager);
    owner only. The login gets only the privileges the commands need."""
    from leadshare import clock
    from leadshare.ledger.postgres import roles

    ledger = _owner_ledger(w, "grant")
    team = team_in_force(w, ledger)
    member = team.find(agent)
    roles.grant(ledger, login, member.id, clock.to_utc_iso(clock.now(team.timezone)), "system")
    role = "manager" if member.is_manager else "agent"
    console().print(f"login {login} now acts as {role} {member.id} on {w.db_name}", soft_wrap=True)


@db_app.command("revoke")
@ledger_options
def revoke(
    w: Where,
    login: Annotated[str, typer.Argument(metavar="LOGIN", help="A granted PostgreSQL login.")],
) -> None:
    """Take back a login's grant and its privileges on the ledger; owner only."""
    from leadshare import clock
    from leadshare.ledger.postgres import roles

    ledger = _owner_ledger(w, "revoke")
    team = team_in_force(w, ledger, required=False)  # its time zone reads LEADSHARE_NOW
    agent = roles.revoke(ledger, login, clock.to_utc_iso(clock.now(team.timezone if team else "UTC")), "system")
    console().print(f"login {login} no longer acts as {agent} on {w.db_name}", soft_wrap=True)


@db_app.command("roles")
@ledger_options
def roles_(w: Where, json_: JsonOption = False) -> None:
    """The logins granted on the ledger and the agent each acts as; owner only."""
    from leadshare.ledger.postgres import roles

    ledger = _owner_ledger(w, "roles")
    data = roles.roles(ledger)
    def render() -> None:  # the URL on a line of its own: as a title it would wrap the narrow table
        console().print(f"logins of {w.db_name}", soft_wrap=True)
        console().print(table(None, ["role", "agent"], [[r["role"], r["agent"]] for r in data]))

    emit(data, json_, render)
