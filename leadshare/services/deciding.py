"""Deciding a run of leads in memory (an import, the queue, a hand-over): the engine's choices,
with rotation and loads advanced lead by lead, the candidate sets stored once, and each new
lead's row and event made from its decision."""

from __future__ import annotations

from types import MappingProxyType
from typing import Iterable, Mapping, NamedTuple

from leadshare import clock, engine
from leadshare.ledger.events import NewEvent, canonical
from leadshare.models import Decision, RuleState
from leadshare.services.digests import short_hash
from leadshare.services.session import Session, situation


_NO_FIELDS: Mapping[str, object] = MappingProxyType({})  # a lead's fields when no rule reads them
_ROW_PLACE = "\u2063row\u2063"  # where a lead's row digest goes in its event's JSON made once


class _NewLead(NamedTuple):
    """The part of a new lead's row and event that follows from its decision alone."""

    type: str  # of the event: assigned or queued
    agent: str | None
    rule: str | None
    strategy: str | None
    assigned_at: str | None
    sla_start: str | None
    sla_due: str | None
    queued_reason: str | None
    closed_at: str | None
    data: dict  # the event's data, the row digest left out
    data_parts: list[str] | None  # its JSON before and after the row digest; None: made whole for each lead

    def event(self, lead_id: int, row: str) -> tuple:
        """The lead's NewEvent, as the plain tuple it is (a million of them: half the cost)."""
        parts = self.data_parts
        if parts is None:  # the place-holder showed up elsewhere too (a rule named like it)
            return self.type, lead_id, self.agent, {**self.data, "row": row}
        return self.type, lead_id, self.agent, f'{parts[0]}"{row}"{parts[1]}'


class _Decider:
    """Decides a run of leads against one moment: rotation and loads advance in memory as leads
    are assigned, and the events and projection rows are gathered for one bulk write."""

    def __init__(self, s: Session):
        self.s = s
        self.calendar = clock.Calendar(s.team)
        self.loads = s.ledger.open_loads()
        self.situation = situation(s, self.calendar, self.loads)
        self._base_away = dict(self.situation.away)
        self.rotation: dict[str, RuleState] = s.ledger.rotation()
        self.changed_rules: set[str] = set()
        self.candidate_sets: dict[bytes, str] = {}
        self._sla: dict[str, tuple[str | None, str | None]] = {}
        self._cache: dict = {}  # the engine's, for this team and situation
        self._hashes: dict[tuple, tuple] = {}  # (id of candidates, skipped) -> (candidates, stored hash)
        self._new_leads: dict[tuple, tuple] = {}  # (id of decision, cands, status) -> (decision, _NewLead)

    def exclude(self, agents: Iterable[str], why: str) -> None:
        """Decide the next leads as if these agents were away (a handover, an SLA move)."""
        away = dict(self._base_away)  # exclusions are per lead, never carried to the next
        away.update((agent, why) for agent in agents)
        self.situation = engine.Situation(away=away, off_duty=self.situation.off_duty, loads=self.loads,
                                          after_hours_assign=self.situation.after_hours_assign)
        self._cache = {}

    def decide(self, fields: Mapping[str, object], previous_owner: str | None) -> tuple[Decision, bytes | None]:
        decision, state = engine.decide(fields, self.s.team, self.situation, self.rotation, previous_owner, self._cache)
        rule, agent, candidates = decision.rule, decision.agent, decision.candidates
        if state is not None and rule is not None:
            self.rotation[rule] = state
            self.changed_rules.add(rule)
        if agent is not None:
            self.loads[agent] = self.loads.get(agent, 0) + 1
        cands = None
        if candidates or decision.skipped:
            # the engine's cache hands back the same candidates tuple for alike leads; the entry
            # keeps that tuple alive, so its id cannot be reused by another lead's candidates
            key = (id(candidates), decision.skipped)
            entry = self._hashes.get(key)
            if entry is not None and entry[0] is candidates:
                cands = entry[1]
            else:
                body = {
                    "candidates": [[c.agent, c.eligible, c.reason, c.weight] for c in decision.candidates],
                    "skipped": [list(x) for x in decision.skipped],
                }
                cands = short_hash(body)
                self.candidate_sets.setdefault(cands, canonical(body).decode())
                if len(self._hashes) < 10_000:
                    self._hashes[key] = (decision.candidates, cands)
        return decision, cands

    def sla(self, agent_id: str) -> tuple[str | None, str | None]:
        """(SLA clock start, SLA due) for a lead given to this agent now; one computation per agent."""
        if agent_id not in self._sla:
            agent = self.s.team.agent(agent_id)
            start = due = None
            if agent is not None:
                nxt = self.calendar.next_on_duty(agent, self.s.now)
                start = clock.to_utc_iso(nxt) if nxt else None
                if self.s.team.sla.first_contact is not None:
                    d = self.calendar.add_working_time(agent, self.s.now, self.s.team.sla.first_contact)
                    due = clock.to_utc_iso(d) if d else None
            self._sla[agent_id] = (start, due)
        return self._sla[agent_id]

    def decision_event(self, lead_id: int, decision: Decision, cands: bytes | None, extra: dict) -> NewEvent:
        data = dict(extra)
        if "batch" not in data:  # a batch's leads share the rules version its import recorded
            data["rules"] = self.s.team.content_hash
        if cands is not None:
            data["cands"] = cands.hex()
        if decision.rule is not None:
            data["rule"] = decision.rule
        if decision.agent is None:
            data["reason"] = decision.queued_reason
            return NewEvent("queued", lead=lead_id, data=data)
        data["strategy"] = decision.strategy
        if decision.state:
            data["state"] = dict(decision.state)
        if decision.returning:
            data["returning"] = True
        sla_start, sla_due = self.sla(decision.agent)
        data["sla_start"] = sla_start
        data["sla_due"] = sla_due
        return NewEvent("assigned", lead=lead_id, agent=decision.agent, data=data)

    def new_lead(self, decision: Decision, cands: bytes | None, batch: int, status: str) -> "_NewLead":
        """What an imported lead's row and event take from its decision. The engine hands back the
        same Decision for alike leads, whose events then differ only in the row digest: this is
        made once per decision, with the event's JSON cut where each lead's digest goes."""
        key = (id(decision), cands, status)
        found = self._new_leads.get(key)
        if found is not None and found[0] is decision:
            return found[1]
        event = self.decision_event(0, decision, cands, {"batch": batch, "new": True, "row": _ROW_PLACE, "status": status})
        parts = canonical(event.data).decode().split(f'"{_ROW_PLACE}"')
        agent = decision.agent
        sla_start, sla_due = self.sla(agent) if agent else (None, None)
        made = _NewLead(
            event.type, agent, decision.rule, decision.strategy if agent else None, self.s.at if agent else None,
            sla_start, sla_due, decision.queued_reason, self.s.at if status in self.s.team.closed_statuses else None,
            event.data, parts if len(parts) == 2 else None,
        )
        if len(self._new_leads) < 10_000:  # the entry keeps the decision alive, so its id stays its own
            self._new_leads[key] = (decision, made)
        return made

    def save(self) -> None:
        self.s.ledger.add_candidate_sets(self.candidate_sets)
        self.s.ledger.save_rotation({r: self.rotation[r] for r in self.changed_rules})


def lead_fields(external_id, source, region, attrs: Mapping[str, object]) -> dict[str, object]:
    """The fields rules can test: the file's own columns (already snake_case) and the standard ones."""
    fields = dict(attrs)
    fields.update(external_id=external_id, source=source, region=region)
    return fields
