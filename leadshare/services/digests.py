"""The digests the chain keeps instead of personal data and stored rows: what `verify` recomputes
and what `forget` leaves standing once the salt is gone."""

from __future__ import annotations

import hashlib

import orjson

from leadshare.ledger.events import canonical
from leadshare.ledger.store import Ledger


def short_hash(obj: object) -> bytes:
    """16 bytes of sha256 over canonical JSON: enough to make any change evident, half the size."""
    return hashlib.sha256(canonical(obj)).digest()[:16]


# The two digests every imported lead needs, written for speed: canonical() of a list of plain
# values is orjson.dumps of it (sorting keys changes nothing without a dict), one call less each.
_sha256, _dumps = hashlib.sha256, orjson.dumps


def personal_digest(salt: bytes, *personal) -> bytes:
    """The digest the chain keeps of a lead's personal fields: (name, phone, email, phone_key,
    email_key, external_id) under the lead's own salt, which `forget` erases; for a lead from
    before per-lead salts, the first five under the ledger's salt."""
    return _sha256(salt + _dumps(personal)).digest()[:16]


def note_digest(salt: bytes, text: str) -> str:
    """A note's digest in its event, under its lead's salt (the ledger's for older leads)."""
    return short_hash([salt.hex(), text]).hex()


def salt_of(ledger: Ledger, lead: dict) -> bytes:
    return lead.get("salt") or ledger.salt


SALT_BYTES = 16


def row_digest(external_id, source, region, attrs: str, batch, created_at, pd: bytes | None) -> str:
    """What a lead's creating event certifies about its stored row (personal part by digest only),
    as short_hash() of the list. A lead with its own salt has external_id None here: its personal
    digest covers it, so `forget` can erase it and this digest still holds. The lead's id is the event's own `lead`, which the chain covers;
    leaving it out lets the digest be made before the id is known (while the file is being read)."""
    return _sha256(_dumps([external_id, source, region, attrs, batch, created_at, pd.hex() if pd else None])).digest()[:16].hex()
