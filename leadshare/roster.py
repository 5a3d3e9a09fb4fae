"""The team right now: who can take a lead, and if not, why; their load and rotation."""

from __future__ import annotations

from leadshare import clock, engine
from leadshare.services import Session, situation


def roster(s: Session, only: str | None = None) -> list[dict]:
    """Every agent's standing, or only that of agent `only` (`mine`'s line: the turns of the
    others cost as much again each)."""
    calendar = clock.Calendar(s.team)
    now_situation = situation(s, calendar)
    rotation = s.ledger.rotation()
    week = this_week(s)
    out = []
    for agent in s.team.agents:
        if only is not None and agent.id != only:
            continue
        reason, _ = engine.availability_reason(agent, now_situation)
        nxt = calendar.next_on_duty(agent, s.now) if agent.active else None
        out.append(
            {
                "id": agent.id,
                "name": agent.name,
                "role": agent.role,
                "available": reason is None,  # would be eligible for a new lead now
                "reason": reason,
                # under `after_hours: assign` an agent off duty still gets leads; the SLA waits
                "on_duty": agent.id not in now_situation.off_duty,
                "off_duty": now_situation.off_duty.get(agent.id),
                "open": now_situation.loads.get(agent.id, 0),
                "capacity": agent.capacity,
                "tier": agent.tier,
                "weight": agent.weight,
                "territories": list(agent.territories),
                "skills": list(agent.skills),
                "next_on_duty": clock.to_utc_iso(nxt) if nxt else None,
                "next_on_duty_local": f"{nxt:%a %H:%M}" if nxt and nxt != s.now else ("now" if nxt else None),
                "week": week.get(agent.id, {"assigned": 0, "expected": 0.0}),
                "rotation": leads_until_turn(s, now_situation, rotation, agent.id),
            }
        )
    return out


def this_week(s: Session) -> dict[str, dict]:
    """Each agent's leads since Monday 00:00 (team time) against what the rules intended."""
    from datetime import timedelta

    from leadshare import reports

    local = s.now.astimezone(clock.zone(s.team.timezone))
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    table = reports.fairness(s.ledger, s.team, monday, s.now, by="agent")
    return {g["key"]: {"since": table["since"], "assigned": g["assigned"], "expected": g["expected"]} for g in table["groups"]}


def _lead_for(rule, agent) -> dict:
    """A lead this rule would take and, for a territory pool, from the agent's own territory."""
    lead = {engine.field_key(k): v[0] for k, v in rule.when}
    if rule.pool.kind == "territory" and agent.territories:
        lead[engine.field_key(rule.pool.field or "region")] = agent.territories[0]
    return lead


def leads_until_turn(s: Session, now_situation: engine.Situation, rotation: dict, agent_id: str, bound: int = 200) -> list[dict]:
    """For each rule whose pool holds the agent: how many leads that rule must decide before one
    is the agent's, if everyone stays as available as they are now (None: not eligible now)."""
    from dataclasses import replace

    agent = s.team.agent(agent_id)
    out = []
    for rule in s.team.rules:
        if agent is None or engine.pool_reason(rule.pool, agent, _lead_for(rule, agent)) is not None:
            continue
        lead = _lead_for(rule, agent)
        solo = replace(s.team, rules=(replace(rule, fallback="queue"),))
        state = dict(rotation)
        loads = dict(now_situation.loads)
        turn = None
        for n in range(1, bound + 1):
            decision, new_state = engine.decide(lead, solo, replace(now_situation, loads=loads), state)
            if decision.agent is None:
                break
            if decision.agent == agent_id:
                turn = n
                break
            state[rule.name] = new_state
            loads[decision.agent] = loads.get(decision.agent, 0) + 1
        out.append({"rule": rule.name, "strategy": rule.strategy, "leads_until_turn": turn})
    return out
