"""The team right now: who can take a lead, and if not, why; their load and rotation."""

from __future__ import annotations

from leadshare import clock, engine
from leadshare.services import Session, situation


def roster(s: Session) -> list[dict]:
    calendar = clock.Calendar(s.team)
    now_situation = situation(s, calendar)
    out = []
    for agent in s.team.agents:
        reason, only_hour = engine.availability_reason(agent, now_situation)
        nxt = calendar.next_on_duty(agent, s.now) if agent.active else None
        out.append(
            {
                "id": agent.id,
                "name": agent.name,
                "role": agent.role,
                "available": reason is None,
                "reason": reason,
                # off duty under `after_hours: assign` still receives leads when nobody is on duty
                "takes_leads_after_hours": bool(only_hour and s.team.after_hours == "assign"),
                "open": now_situation.loads.get(agent.id, 0),
                "capacity": agent.capacity,
                "tier": agent.tier,
                "weight": agent.weight,
                "territories": list(agent.territories),
                "skills": list(agent.skills),
                "next_on_duty": clock.to_utc_iso(nxt) if nxt else None,
                "next_on_duty_local": f"{nxt:%a %H:%M}" if nxt and nxt != s.now else ("now" if nxt else None),
            }
        )
    return out
