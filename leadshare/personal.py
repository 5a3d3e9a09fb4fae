"""What among a lead's attributes can recognise its person, so that `forget` erases it with the
name, phone, email and external id: a column read as one of those but kept beside the chosen one
(`Secondary Email`, `Work Phone`, `First Name`, a repeated `Phone` kept as `phone_2`), a list
cell's other values (`other_phones`, `other_emails`), a CRM's bare `id`, and any text that holds
an email address or a phone number (a `Message` column: "call me on 012-345 6789")."""

from __future__ import annotations

import re

from leadshare.importer.header import synonym_field

_PERSON_FIELDS = frozenset({"name", "first_name", "last_name", "phone", "email", "external_id"})
_ALWAYS = frozenset({"other_phones", "other_emails", "id"})
_REPEAT_SUFFIX = re.compile(r"_\d+$")  # a later column named like an earlier one
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[A-Za-z]{2,}")
# A number as people write a phone: + or a leading 0, then eight digits or more however spaced.
# Dates, amounts and postcodes do not start that way, so they stay.
_PHONE = re.compile(r"(?<![\d.,])(?:\+|0)\d(?:[\s().-]{0,2}\d){7,}")


def recognises_person(key: str, value: object) -> bool:
    """True for an attribute that is contact data by its column, or holds some in its text."""
    if key in _ALWAYS or synonym_field(_REPEAT_SUFFIX.sub("", key)) in _PERSON_FIELDS:
        return True
    text = value if isinstance(value, str) else str(value)
    return bool(_EMAIL.search(text) or _PHONE.search(text))


def without_personal(attrs: dict[str, object]) -> dict[str, object]:
    """The attributes that stay once the person is forgotten."""
    return {key: value for key, value in attrs.items() if not recognises_person(key, value)}
