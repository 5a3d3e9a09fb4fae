"""A notification as an e-mail: a subject that says what happened and to whom, a plain-text body
with the customer and the command that shows the lead, and headers that let a mail system drop a
repeat. Only the SMTP channel of `leadshare.notify` sends it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadshare import clock
from leadshare.models import Team

SUBJECTS = {
    "assigned": "New lead",
    "reassigned": "Lead handed over to you",
    "escalated": "Escalated lead",
    "sla_warning": "SLA warning",
}


def _flat(value: Any) -> str:
    """A header-safe single line."""
    return " ".join(str(value).split()) if value is not None else ""


def _customer(msg: dict) -> dict:
    return msg.get("customer") if isinstance(msg.get("customer"), dict) else {}


def _leads(msg: dict) -> list:
    """The leads of a digest (a message about several leads)."""
    return [x for x in msg.get("leads") or () if x is not None] if isinstance(msg.get("leads"), list) else []


def _subject(msg: dict) -> str:
    """What happened, to whom: the kind, then the customer and the lead (at most 150 characters)."""
    lead, ext = msg.get("lead"), msg.get("external_id")
    ref = f"lead {lead}" + (f", {_flat(ext)}" if ext else "") if lead is not None else _flat(ext)
    name = _flat(_customer(msg).get("name"))
    text = _flat(msg.get("text"))
    label = SUBJECTS.get(str(msg.get("kind")), str(msg.get("kind") or "notification").replace("_", " ").capitalize())
    if name or ref:
        subject = f"[leadshare] {label}: " + (f"{name} ({ref})" if name and ref else name or ref)
    elif text:  # a digest of several leads, or a message about no single lead: its own line says it best
        subject = f"[leadshare] {text}"
    else:
        leads = _leads(msg)
        subject = f"[leadshare] {label}" + (f": {len(leads)} leads" if leads else "")
    return subject[:149] + "…" if len(subject) > 150 else subject


def _contact_by(due: Any, team: Team) -> str:
    try:
        local = clock.from_iso(str(due)).astimezone(clock.zone(team.timezone))
        return f"{local:%a %Y-%m-%d %H:%M} ({team.timezone})"
    except Exception:  # noqa: BLE001 - an odd value is shown as it is
        return _flat(due)


def _body(msg: dict, team: Team, subject: str) -> str:
    """The plain-text mail: the message's own line, the customer, the lead, and the command to see it."""
    customer, lead, ext, leads = _customer(msg), msg.get("lead"), msg.get("external_id"), _leads(msg)
    lines = [_flat(msg.get("text")) or subject, ""]
    for caption, value in (("Customer", customer.get("name")), ("Phone", customer.get("phone")),
                           ("Email", customer.get("email"))):
        if value:
            lines.append(f"{caption + ':':<12}{_flat(value)}")
    if lead is not None:
        lines.append(f"{'Lead:':<12}{lead}" + (f" (external id {_flat(ext)})" if ext else ""))
    if msg.get("agent"):
        lines.append(f"{'For:':<12}{_flat(msg.get('agent_name') or msg['agent'])}")
    if msg.get("sla_due"):
        lines.append(f"{'Contact by:':<12}{_contact_by(msg['sla_due'], team)}")
    if lead is None and leads:
        lines.append(f"{'Leads:':<12}{', '.join(str(x) for x in leads)}")
    if lead is not None:
        lines += ["", f"The lead and its history: leadshare show {lead}"]
    elif leads:
        lines += ["", f"Your open leads: leadshare mine --as {msg.get('agent')}" if msg.get("agent") else
                  f"Each lead and its history: leadshare show {leads[0]}"]
    lines += ["", f"-- leadshare notification {msg.get('notification_id')}"]
    return "\n".join(lines) + "\n"


def email_message(msg: dict, team: Team, sender: str, to: str, now: datetime):
    """The mail for one notification: a subject saying what happened, a plain-text body with the customer."""
    from email.message import EmailMessage
    from email.utils import format_datetime

    subject = _subject(msg)
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = to
    mail["Date"] = format_datetime(now)
    domain = sender.rpartition("@")[2] or "leadshare.invalid"
    created = "".join(ch for ch in str(msg.get("created_at", "")) if ch.isdigit())
    # the same notification keeps its Message-ID on a retry, so a mail system can drop a repeat
    mail["Message-ID"] = f"<leadshare.{msg.get('notification_id')}.{created}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(_body(msg, team, subject))
    return mail
