"""Notifications a use case leaves in the outbox for `notify` to deliver."""

from __future__ import annotations

from leadshare.services.session import Session


def notification(s: Session, kind: str, lead: dict | None, agent_id: str, text: str, sla_due: str | None = None,
                 leads: list[int] | None = None) -> dict:
    """One outbox payload: enough for a WhatsApp, SMS or mail bridge to tell the agent what to do.
    A batch import sends each agent one digest (`leads`) instead of one message per lead."""
    agent = s.team.agent(agent_id)
    lead = lead or {}
    return {
        "kind": kind,
        "at": s.at,
        "lead": lead.get("id"),
        "leads": leads or ([lead["id"]] if lead.get("id") else []),
        "external_id": lead.get("external_id"),
        "agent": agent_id,
        "agent_name": agent.name if agent else agent_id,
        "to_email": agent.email if agent else None,
        "to_phone": agent.phone if agent else None,
        "text": text,
        "customer": {"name": lead.get("name"), "phone": lead.get("phone"), "email": lead.get("email")} if lead else None,
        "source": lead.get("source"),
        "region": lead.get("region"),
        "sla_due": sla_due,
    }


def _enqueue(s: Session, items: list[tuple[int, dict]]) -> None:
    """(seq, payload) pairs into the outbox, when the team has a channel to deliver them through."""
    if s.team.notify is None or not items:
        return
    s.ledger.enqueue_notifications(
        [{"seq": seq, "created_at": s.at, "kind": p["kind"], "agent": p["agent"], "lead": p["lead"], "payload": p} for seq, p in items]
    )
