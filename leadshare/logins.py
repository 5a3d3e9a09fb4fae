"""Who acts, when the ledger's server says who is connected.

On a PostgreSQL ledger the login is known to the server (`session_user`), so it is the identity,
not `--as`: the database's owner is the system (cron) and may act as anyone, as on SQLite; a login
the owner granted (`leadshare db grant LOGIN --agent ID`) acts as that roster agent and nobody
else; any other login acts as nobody. A SQLite file knows no logins: there `--as` decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadshare.errors import Refused


@dataclass(frozen=True)
class Identity:
    login: str
    owner: bool  # owns the ledger's schema (or is a superuser): the system identity
    agent: str | None  # the roster agent the login was granted, if any


def grant_hint(login: str) -> str:
    return f"the ledger's owner runs `leadshare db grant {login} --agent ID`"


def acting_agent(identity: Identity, requested: str | None) -> str | None:
    """The agent a command acts as: the owner's choice (`--as`), else the login's own agent.

    Refused when a login was never granted (or was revoked), and when it names another agent."""
    if identity.owner:
        return requested
    if identity.agent is None:
        raise Refused(f"login '{identity.login}' is not granted any agent on this ledger (never granted, or revoked)",
                      grant_hint(identity.login))
    if requested is not None and requested.lower() != identity.agent.lower():
        raise Refused(f"login '{identity.login}' acts as '{identity.agent}' and may not act as '{requested}'",
                      "drop --as / LEADSHARE_AGENT; each agent connects with their own login")
    return identity.agent
