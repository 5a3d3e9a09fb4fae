"""A lead added by hand (a walk-in, a call): an import of one record."""

from __future__ import annotations

import hashlib

from leadshare import contacts
from leadshare.errors import LeadshareError
from leadshare.ledger.events import canonical
from leadshare.services.importing import import_file
from leadshare.services.session import Session


def add_lead(s: Session, name: str, phone: str | None, email: str | None, source: str | None,
             fields: dict[str, str]) -> dict:
    """One lead by hand (a walk-in, a call): the same checks, duplicate rules and rules as an import."""
    from leadshare import importer

    p = contacts.normalize_phone(phone, s.team.phone_region) if phone else contacts.Normalised(None, False, None)
    e = contacts.normalize_email(email) if email else contacts.Normalised(None, False, None)
    if not p.usable and not e.usable:
        problems = [w for w in (p.warning, e.warning) if w] or ["no phone or email given"]
        raise LeadshareError("the lead has no usable phone or email: " + "; ".join(problems),
                             "give --phone with a valid number (e.g. 012-345 6789) or --email")
    attrs = {importer.attr_name(k): v for k, v in fields.items()}
    region = attrs.pop("region", None) or attrs.pop("territory", None) or attrs.pop("state", None)
    external_id = attrs.pop("external_id", None) or attrs.pop("lead_id", None)
    record = importer.LeadRecord(
        row=1, line=1, external_id=external_id, name=contacts.normalize_name(name), phone=p.value, phone_usable=p.usable,
        email=e.value, email_usable=e.usable, source=source, region=region, attrs=attrs,
        warnings=[w for w in (p.warning, e.warning) if w],
    )
    fingerprint = hashlib.sha256(canonical(["add", s.at, s.actor, name, phone, email, source, fields])).hexdigest()
    parsed = importer.ParsedFile(name="add", content_hash=fingerprint, encoding="utf-8", delimiter=",", columns=[],
                                 mapping={}, records=[record])
    result = import_file(s, parsed, force=True)
    if result.duplicates:
        return {"id": None, "agent": None, "queued": False, "duplicate_of": result.duplicate_of[0], "warnings": record.warnings}
    agent = next(iter(result.by_agent), None)
    return {"id": result.first_lead, "agent": agent, "queued": agent is None, "duplicate_of": None, "warnings": record.warnings}
