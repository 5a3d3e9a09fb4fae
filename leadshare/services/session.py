"""What every use case starts from: the Session (who acts, on which ledger, under which rules,
at what time), the rules version it decides under, the team's situation right now, a lead by
reference."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

from leadshare import clock, engine
from leadshare.errors import NotFound
from leadshare.ledger.events import NewEvent
from leadshare.ledger.store import Ledger
from leadshare.models import Team


@dataclass
class Session:
    """Who acts, on which ledger, under which rules, at what time."""

    ledger: Ledger
    team: Team
    actor: str = "system"
    now: datetime = field(default_factory=lambda: clock.now("UTC"))

    @functools.cached_property
    def at(self) -> str:
        return clock.to_utc_iso(self.now)


def record_rules(s: Session) -> None:
    """The ledger keeps every distinct rules file it has run under, and the one in force: when the
    rules differ from the last loaded, a `rules_loaded` event carries the whole file (the chain
    covers it; agents of a shared ledger read the rules from it). Call inside a transaction."""
    from leadshare.ledger.rules_log import latest_rules

    last = latest_rules(s.ledger)
    if last is not None and last.hash == s.team.content_hash:
        return
    if not s.ledger.has_rules_version(s.team.content_hash):
        s.ledger.add_rules_version(s.team.content_hash, s.team.path, s.team.text, s.at)
    data = {"rules": s.team.content_hash, "path": s.team.path, "text": s.team.text}
    s.ledger.append([NewEvent("rules_loaded", data=data)], at=s.at, actor=s.actor)


def load_rules_with_first_change(s: Session) -> None:
    """The owner (system) or a manager running under rules other than the ledger's last loaded puts
    them in force with the command's first change, in its transaction (a command that changes
    nothing loads nothing); an agent's own copy of the rules never replaces the team's."""
    agent = s.team.agent(s.actor)
    if s.actor == "system" or (agent is not None and agent.is_manager):
        s.ledger.before_first_write(lambda: record_rules(s))


def ledger_leave(ledger: Ledger) -> dict[str, list[tuple]]:
    from datetime import date

    out: dict[str, list[tuple]] = {}
    for agent, start, end in ledger.leave_spans():
        out.setdefault(agent, []).append((date.fromisoformat(start), date.fromisoformat(end)))
    return out


def situation(s: Session, calendar: clock.Calendar, loads: dict[str, int] | None = None) -> engine.Situation:
    """Who is away or off duty right now, and everyone's open load."""
    extra = ledger_leave(s.ledger)
    away, off = {}, {}
    for agent in s.team.agents:
        until = calendar.leave_until(agent, s.now, extra.get(agent.id, ()))
        if until is not None:
            away[agent.id] = f"on leave until {until.isoformat()}"
            continue
        reason = calendar.off_duty_reason(agent, s.now)
        if reason:
            off[agent.id] = reason
    return engine.Situation(
        away=away,
        off_duty=off,
        loads=loads if loads is not None else s.ledger.open_loads(),
        after_hours_assign=s.team.after_hours == "assign",
    )


def find_lead(ledger: Ledger, ref: str) -> dict:
    lead = ledger.lead(ref)
    if lead is None:
        raise NotFound(f"no lead '{ref}' in {ledger.path}", "use the id shown by `leadshare mine` or `leadshare log`, or the lead's external id")
    return lead
