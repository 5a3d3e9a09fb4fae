"""PostgreSQL logins as roster agents: who is connected, and what the owner grants them.

A granted login holds only what the commands need: it reads the ledger and appends to the log
(INSERT, never UPDATE, DELETE or TRUNCATE on events; the server stamps its own login on each
event), and writes the projections its commands keep. It gets nothing on the schema itself (no
CREATE, no DDL) and owns nothing, so it can neither drop the append-only triggers nor take a
privilege it was not given. Whatever it changes through psql outside the commands, `verify`
finds by replaying the log.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from leadshare.errors import LeadshareError, Refused
from leadshare.ledger.events import NewEvent
from leadshare.ledger.postgres.migrations import SCHEMA
from leadshare.logins import Identity

# What the commands of an agent or a manager write, table by table (SELECT on every table besides).
WRITES = {
    "events": "INSERT",
    "meta": "INSERT, UPDATE",  # the chain head, recorded after each write (row security: that row only)
    "leads": "INSERT, UPDATE",
    "notes": "INSERT, UPDATE",  # forget erases a note's text in place
    "rotation": "INSERT, UPDATE",
    "outbox": "INSERT, UPDATE",
    "candidate_sets": "INSERT",
    "rules_versions": "INSERT",
    "imports": "INSERT, UPDATE",
    "leave": "INSERT, UPDATE",
    "agent_tiers": "INSERT, UPDATE",
    "assignment_counts": "INSERT, UPDATE, DELETE",  # kept by a trigger on leads, run as the writer
    "other_contacts": "INSERT, DELETE",  # forget erases a lead's other phones and emails
}


def identity(ledger) -> Identity:
    """Who the server says is connected. A database whose ledger knows no logins yet (none, or one
    from before them) is opened as by its owner, who creates or migrates it; any other login is
    still held back there by the privileges it lacks."""
    raw = ledger.conn.raw
    try:  # one round trip on every command; the fallback only where there is nothing to ask yet
        login, owner, agent = raw.execute("SELECT session_user::text, owner, agent FROM leadshare.login_identity()").fetchone()
    except (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName):
        return Identity(raw.execute("SELECT session_user::text").fetchone()[0], owner=True, agent=None)
    return Identity(login, owner=bool(owner), agent=agent)


def require_owner(ledger, action: str) -> None:
    if not ledger.identity().owner:
        raise Refused(f"login '{ledger.login}' may not {action}: only the ledger's owner may",
                      "connect as the database's owner, the login that created the ledger")


def grant(ledger, login: str, agent: str, at: str, actor: str) -> None:
    """Let `login` act as `agent`: the mapping, its event, and the login's privileges, together."""
    if ledger.scalar("SELECT 1 FROM pg_roles WHERE rolname = ?", (login,)) is None:
        raise LeadshareError(f"login '{login}' does not exist on the server",
                             f"create it first: CREATE ROLE \"{login}\" LOGIN PASSWORD '...'; (or createuser --pwprompt {login})")
    if ledger.scalar("SELECT rolsuper OR pg_has_role(?, (SELECT nspowner FROM pg_namespace WHERE nspname = ?), 'MEMBER') "
                     "FROM pg_roles WHERE rolname = ?", (login, SCHEMA, login)):
        raise Refused(f"login '{login}' owns the ledger (or is a superuser): it acts as the system, not as an agent",
                      "grant a login of the agent's own")
    with ledger.write():
        ledger.conn.execute("INSERT INTO logins (role, agent) VALUES (?, ?) ON CONFLICT (role) DO UPDATE SET agent = excluded.agent",
                            (login, agent))
        ledger.append([NewEvent("login_granted", agent=agent, data={"login": login})], at=at, actor=actor)
        _give_privileges(ledger, login)


def _give_privileges(ledger, login: str) -> None:
    role = sql.Identifier(login)
    run = ledger.conn.raw.execute
    run(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), role))
    run(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), role))
    for table, privileges in WRITES.items():
        run(sql.SQL(f"GRANT {privileges} ON {{}} TO {{}}").format(sql.Identifier(SCHEMA, table), role))


def give_privileges_again(ledger) -> None:
    """After a schema step: every granted login that still exists gets what its commands need on
    the tables the step added. Inside the migration's transaction."""
    for (login,) in ledger.conn.execute("SELECT l.role FROM logins l JOIN pg_roles r ON r.rolname = l.role"):
        _give_privileges(ledger, login)


def revoke(ledger, login: str, at: str, actor: str) -> str:
    """Take back what grant() gave; the agent the login acted as."""
    agent = ledger.scalar("SELECT agent FROM logins WHERE role = ?", (login,))
    if agent is None:
        raise LeadshareError(f"login '{login}' is not granted on this ledger", "`leadshare db roles` lists the granted logins")
    with ledger.write():
        ledger.conn.execute("DELETE FROM logins WHERE role = ?", (login,))
        ledger.append([NewEvent("login_revoked", agent=agent, data={"login": login})], at=at, actor=actor)
        if ledger.scalar("SELECT 1 FROM pg_roles WHERE rolname = ?", (login,)) is not None:
            role = sql.Identifier(login)
            ledger.conn.raw.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(sql.Identifier(SCHEMA), role))
            ledger.conn.raw.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(sql.Identifier(SCHEMA), role))
    return agent


# What no login but the owner may do to the log; the trigger that keeps each event's login true.
_LOG_PRIVILEGES = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER")
_OWN_LOGIN_TRIGGER = "events_own_login"


def log_protection_problems(ledger) -> list[str]:
    """Privileges on the log granted outside leadshare, and the login trigger if it was dropped."""
    problems = [
        f"login {role} may {privilege} the audit log (granted outside leadshare); "
        f"the owner runs: REVOKE {privilege} ON {SCHEMA}.events FROM {role}"
        for role, privilege in ledger.conn.raw.execute(
            "SELECT r.rolname, p.privilege FROM pg_roles r CROSS JOIN unnest(%s::text[]) AS p(privilege) "
            "WHERE NOT r.rolsuper AND left(r.rolname, 3) <> 'pg_' "
            "AND NOT pg_has_role(r.oid, (SELECT nspowner FROM pg_namespace WHERE nspname = %s), 'MEMBER') "
            "AND has_table_privilege(r.oid, 'leadshare.events', p.privilege) ORDER BY 1, 2",
            (list(_LOG_PRIVILEGES), SCHEMA),
        )
    ]
    if ledger.scalar("SELECT 1 FROM pg_trigger WHERE tgname = ? AND tgrelid = 'leadshare.events'::regclass",
                     (_OWN_LOGIN_TRIGGER,)) is None:
        problems.append(f"the trigger {_OWN_LOGIN_TRIGGER} was dropped outside leadshare: events written since may "
                        "name a login other than the one that wrote them")
    return problems


def roles(ledger) -> list[dict]:
    return ledger.query("SELECT role, agent FROM logins ORDER BY role")
