"""Reference (c), the naive same-work script: the floor plus the contact libraries on every row.

    python benchmarks/naive.py FILE.csv DB

Exactly floor.py, except that each row's phone goes through phonenumbers.parse (region MY) and,
when valid, format_number(E164), and each email through
email_validator.validate_email(check_deliverability=False), with no cache and no fast path; a
value the library refuses is stored as written. This is what "normalise every lead" costs when
the libraries are simply called.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

import floor

E164 = phonenumbers.PhoneNumberFormat.E164


def normalise(phone: str, email: str) -> tuple[str, str]:
    if phone:
        try:
            number = phonenumbers.parse(phone, "MY")
            if phonenumbers.is_valid_number(number):
                phone = phonenumbers.format_number(number, E164)
        except phonenumbers.NumberParseException:
            pass
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            pass
    return phone, email


if __name__ == "__main__":
    floor.main(normalise)
