"""The queue: leads that waited for someone to be available, assigned when someone is."""

from __future__ import annotations

from typing import Iterable

import orjson

from leadshare.ledger.events import NewEvent
from leadshare.ledger.store import Ledger
from leadshare.services.deciding import _Decider, lead_fields
from leadshare.services.notifying import _enqueue, notification
from leadshare.services.session import Session, record_rules


def assign_waiting(s: Session) -> dict:
    """Assign queued leads, oldest first (cron at opening time, or after a rules change)."""
    with s.ledger.write():
        record_rules(s)
        decider = _Decider(s)
        updates, assigned, queued = [], 0, 0
        lead_events: list[NewEvent] = []
        waiting = s.ledger.queued_leads(s.team.closed_statuses)
        owners = {lead_id: earlier["agent"] for lead_id, earlier in previous_leads(s.ledger, waiting, s.team.closed_statuses).items()}
        for lead in waiting:
            fields = lead_fields(lead["external_id"], lead["source"], lead["region"], orjson.loads(lead["attrs"]))
            decision, cands = decider.decide(fields, owners.get(lead["id"]))
            if decision.agent is None:
                queued += 1
                if decision.queued_reason != lead["queued_reason"]:
                    lead_events.append(decider.decision_event(lead["id"], decision, cands, {}))
                    updates.append([None, decision.rule, None, cands, len(lead_events) - 1, None, None, None,
                                    decision.queued_reason, lead["id"]])
                continue
            event = decider.decision_event(lead["id"], decision, cands, {})
            lead_events.append(event)
            updates.append([decision.agent, decision.rule, decision.strategy, cands, len(lead_events) - 1, s.at,
                            event.data["sla_start"], event.data["sla_due"], None, lead["id"]])
            assigned += 1
        seqs = s.ledger.append(lead_events, at=s.at, actor=s.actor)
        for u in updates:
            u[4] = seqs[u[4]]
        s.ledger.update_assignment([tuple(u) for u in updates])
        by_id = {lead["id"]: lead for lead in waiting}
        _enqueue(s, [(u[4], notification(s, "assigned", by_id[u[9]], u[0], f"New lead {u[9]} for you (it was waiting in the queue)", u[7]))
                     for u in updates if u[0]])
        decider.save()
    return {"assigned": assigned, "queued": queued}


def previous_leads(ledger: Ledger, leads: Iterable[dict], closed: Iterable[str]) -> dict[int, dict]:
    """For returning customers: the most recent earlier, closed and owned lead of the same person."""
    leads = list(leads)
    matches = ledger.matching_leads(
        (), (l["phone_key"] for l in leads if l["phone_key"]), (l["email_key"] for l in leads if l["email_key"])
    )
    closed = set(closed)
    out: dict[int, dict] = {}
    for lead in leads:
        for m in matches:  # newest first
            if m["id"] < lead["id"] and m["agent"] and m["status"] in closed and (
                (lead["phone_key"] and m["phone_key"] == lead["phone_key"])
                or (lead["email_key"] and m["email_key"] == lead["email_key"])
            ):
                out[lead["id"]] = m
                break
    return out
