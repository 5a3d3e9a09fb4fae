"""Phone, email and name normalisation: pure functions, no I/O.

Phones become E.164 through `phonenumbers` and count as real contacts only when the library says
the number is *valid*; emails go through `email-validator` (syntax only, never a DNS lookup).
Anything that does not pass is kept as written, trimmed, with a one-line warning.

Imports can hold a million rows and the libraries cost 15-30 us a value, so phone and email
results are cached, and the common shapes (a number of the default region written with spaces, dashes or
brackets and a leading 0, country code, `+` or international prefix; a plain ASCII
`local@domain.tld`) take a fast path. The fast paths are derived from the libraries' own data (the
region's phone metadata; email-validator's special-use domains and case-insensitive mailboxes)
and only ever answer when the library would give the very same answer; any other shape goes to
the library. `_phone_via_library` and `_email_via_library` are the reference the tests compare
them with.

The libraries are imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from leadshare.errors import LeadshareError, echo

__all__ = [
    "Normalised",
    "email_key",
    "is_phone_region",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
]

DEFAULT_REGION = "MY"

# Bounded so a million-row import cannot grow memory without limit; big enough to keep a team's
# repeat contacts and a re-imported file's rows.
_CACHE_SIZE = 1 << 16


class Normalised(NamedTuple):
    """One normalised phone or email (a tuple: an import makes two million of them)."""

    value: str | None  # what to store: normalised when usable, else the trimmed raw text; None when blank
    usable: bool  # counts as a real contact (dedupe, accepting a row)
    warning: str | None  # one short line when the raw value is kept, None otherwise


_BLANK = Normalised(None, False, None)


def _text(raw: object) -> str:
    return raw if type(raw) is str else str(raw)


def _written(raw: object) -> str:
    """A cell as written, trimmed; '' for none. (normalize_phone and normalize_email do this
    inline: they run for every cell of a file.)"""
    return "" if raw is None else _text(raw).strip()


# --------------------------------------------------------------------------------------------
# names


def normalize_name(raw: str | None) -> str:
    """Trimmed, runs of whitespace collapsed to one space, otherwise as written ('' for blank)."""
    if raw is None:
        return ""
    return " ".join(_text(raw).split())


def email_key(value: str) -> str:
    """The dedupe key of an email: the whole address lowercased."""
    return value.lower()


# --------------------------------------------------------------------------------------------
# phones: shared cleaning

# A spreadsheet that read a phone column as numbers writes `60123456789.0`.
_EXCEL_FLOAT = re.compile(r"(\+?[0-9]+)\.0+")
# ... or, once the number is wide, `6.01235E+10`: the last digits are gone for good.
_EXCEL_SCIENTIFIC = re.compile(r"[+-]?[0-9](?:\.[0-9]+)?[eE]\+?[0-9]+")
# A remark after the number, with no digit in it: `012-345 6789 (office)`, `... [HP]`. Left in,
# phonenumbers would read its letters as a vanity number.
_TRAILING_REMARK = re.compile(r"\s*[(\[][^0-9()\[\]]*[)\]]\s*\Z")
# Quotes around the number, and spaces, are trimmed from both ends.
_PHONE_TRIM = " '\"`\u2018\u2019\u201c\u201d"


def _clean_phone(text: str) -> str:
    """What the library is given: typography and spreadsheet debris removed, digits untouched."""
    if not text.isascii():
        # Fullwidth digits and plus, narrow and ideographic spaces become ASCII; bidi marks and
        # zero-width characters picked up when copying from chat apps are dropped.
        text = unicodedata.normalize("NFKC", text)
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = " ".join(text.split()).strip(_PHONE_TRIM)
    if text.endswith((")", "]")):
        text = _TRAILING_REMARK.sub("", text)
    if "." in text:
        excel = _EXCEL_FLOAT.fullmatch(text)
        if excel:
            text = excel.group(1)
    return text


# --------------------------------------------------------------------------------------------
# phones: the reference path


def is_phone_region(region: str) -> bool:
    """True for a region code phonenumbers knows (`MY`, `SG`, ...), in any case."""
    import phonenumbers

    return isinstance(region, str) and region.upper() in phonenumbers.SUPPORTED_REGIONS


def _check_region(region: str | None) -> str:
    region = (region or DEFAULT_REGION).upper()
    if not is_phone_region(region):
        raise LeadshareError(
            f"unknown phone region {region!r}",
            hint="use a two-letter country code such as MY or SG",
        )
    return region


def _phone_via_library(raw: str | None, region: str = DEFAULT_REGION) -> Normalised:
    """The reference: clean, phonenumbers.parse, valid -> E.164, anything else kept as written."""
    import phonenumbers

    region = _check_region(region)
    kept = _written(raw)
    if not kept:
        return _BLANK
    text = _clean_phone(kept)
    if _EXCEL_SCIENTIFIC.fullmatch(text):
        return Normalised(
            kept, False, f"phone {echo(kept)} was turned into a number by a spreadsheet and lost digits; kept as written"
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        why = {
            exc.TOO_LONG: " (too many digits: two numbers in one cell?)",
            exc.INVALID_COUNTRY_CODE: " (unknown country code)",
        }.get(exc.error_type, "")
        return Normalised(kept, False, f"phone {echo(kept)} is not a phone number{why}; kept as written")
    if phonenumbers.is_valid_number(number):
        return Normalised(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True, None)
    result = phonenumbers.ValidationResult
    why = {
        result.INVALID_COUNTRY_CODE: " (unknown country code)",
        result.TOO_SHORT: " (too short)",
        result.TOO_LONG: " (too long)",
        result.INVALID_LENGTH: " (wrong number of digits)",
    }.get(phonenumbers.is_possible_number_with_reason(number), "")
    return Normalised(kept, False, f"phone {echo(kept)} is not a valid number{why}; kept as written")


# --------------------------------------------------------------------------------------------
# phones: the fast path


@dataclass(frozen=True, slots=True)
class _PhonePlan:
    """What the fast path needs of one region, read from phonenumbers' metadata."""

    cc: str  # country calling code, e.g. "60"
    idd: re.Pattern[str] | None  # international dialling prefix, e.g. 00
    national_prefix: str | None  # e.g. "0"; None when the region strips none
    general: re.Pattern[str]  # the region's national number pattern (any type)
    too_long_from: int  # a national number this long or longer is TOO_LONG
    local_only: frozenset[int]  # lengths phonenumbers calls "possible, local only"
    valid_by_length: dict[int, re.Pattern[str]]  # length -> union of that length's number types


_plans: dict[str, _PhonePlan | None] = {}


def _build_plan(region: str) -> _PhonePlan | None:
    """The region's plan, or None when its metadata is too rich for the fast path to mirror."""
    from phonenumbers import PhoneMetadata
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return None
    cc = str(meta.country_code)
    # One region behind the calling code (not NANPA's +1 or GB's +44 with its islands), and no
    # shorter calling code that is a prefix of it.
    if COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code) != (region,):
        return None
    if any(int(cc[:n]) in COUNTRY_CODE_TO_REGION_CODE for n in range(1, len(cc))):
        return None
    # A national prefix that is plain digits, without carrier codes or transform rules.
    np = meta.national_prefix_for_parsing
    if np is not None and (not np.isdigit() or meta.national_prefix_transform_rule):
        return None
    general = meta.general_desc
    if general is None or not general.national_number_pattern or not general.possible_length:
        return None
    lengths = tuple(general.possible_length)
    if any(n < 1 for n in lengths):
        return None

    descs = [
        meta.premium_rate,
        meta.toll_free,
        meta.shared_cost,
        meta.voip,
        meta.personal_number,
        meta.pager,
        meta.uan,
        meta.voicemail,
        meta.fixed_line,
    ]
    if not meta.same_mobile_and_fixed_line_pattern:
        descs.append(meta.mobile)
    valid_by_length: dict[int, re.Pattern[str]] = {}
    for length in lengths:
        patterns = [
            d.national_number_pattern
            for d in descs
            if d is not None
            and d.national_number_pattern
            and (not d.possible_length or length in d.possible_length)
        ]
        if patterns:
            valid_by_length[length] = re.compile("|".join(f"(?:{p})" for p in patterns))

    return _PhonePlan(
        cc=cc,
        idd=re.compile(meta.international_prefix) if meta.international_prefix else None,
        national_prefix=np or None,
        general=re.compile(general.national_number_pattern),
        too_long_from=max(lengths) + 1,
        local_only=frozenset(general.possible_length_local_only or ()),
        valid_by_length=valid_by_length,
    )


def _plan_for(region: str) -> _PhonePlan | None:
    try:
        return _plans[region]
    except KeyError:
        plan = _plans[region] = _build_plan(_check_region(region))
        return plan


_calling_codes: frozenset[str] = frozenset()


def _calling_code(digits: str) -> str | None:
    """The calling code digits start with, read the way phonenumbers reads it (shortest first)."""
    global _calling_codes
    if not _calling_codes:
        from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

        _calling_codes = frozenset(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)
    if digits[:1] == "0":
        return None
    for n in (1, 2, 3):
        if digits[:n] in _calling_codes:
            return digits[:n]
    return None


def _plan_for_calling_code(cc: str) -> _PhonePlan | None:
    """The plan of the one region behind a calling code; None for shared or non-geographic codes."""
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    regions = COUNTRY_CODE_TO_REGION_CODE.get(int(cc), ())
    return _plan_for(regions[0]) if len(regions) == 1 and regions[0] != "001" else None


# Digits with spaces, dashes, dots or brackets, after an optional `+`.
_FAST_PHONE = re.compile(r"(\+?)([0-9 ().-]+)")
# Longer strings go to the library, which refuses input beyond its own limit (250 characters).
_FAST_PHONE_MAX_CHARS = 64


def _phone_fast(text: str, region: str = DEFAULT_REGION) -> Normalised | None:
    """The common shapes of a number of the default region, without phonenumbers.parse.

    `text` is the raw value, trimmed. Returns None whenever the shape is not one this function
    can prove the library would read the same way; the caller then asks the library.
    """
    plan = _plan_for(region)
    if plan is None or not text.isascii():
        return None
    # The same cleaning as the library path (a spreadsheet's leading ', a trailing .0, a remark
    # in brackets), so only phonenumbers.parse itself has to be mirrored below.
    text = _clean_phone(text)
    if len(text) > _FAST_PHONE_MAX_CHARS:
        return None
    shape = _FAST_PHONE.fullmatch(text)
    if shape is None:
        return None
    # (str.replace chains beat str.translate and re.sub several times over on strings this short.)
    digits = shape.group(2).replace(" ", "").replace("-", "").replace(".", "").replace("(", "").replace(")", "")
    if not 6 <= len(digits) <= 17:
        return None
    cc = plan.cc
    np = plan.national_prefix

    idd = None
    if not shape.group(1) and plan.idd is not None:
        idd = plan.idd.match(digits)
    if shape.group(1) or idd is not None:  # +CC NSN, or IDD CC NSN (0060 12-345 6789)
        rest = digits[idd.end():] if idd is not None else digits
        if not rest.startswith(cc):  # another country: its own region's plan
            cc = _calling_code(rest)
            if cc is None:
                return None
            plan = _plan_for_calling_code(cc)
            if plan is None:
                return None
            np = plan.national_prefix
        nsn = rest[len(cc):]
    else:
        if digits.startswith(cc):  # CC NSN without the plus, e.g. 6012-345 6789
            nsn = digits[len(cc):]
            # phonenumbers drops the calling code only when the whole is no national number
            # of the region, or is too long to be one.
            if plan.general.fullmatch(digits) and not (
                len(digits) >= plan.too_long_from and len(digits) not in plan.local_only
            ):
                return None
        elif np is not None and digits.startswith(np):  # national prefix, e.g. 012-345 6789
            nsn = digits[len(np):]
        else:  # the national number alone, e.g. 12-345 6789 (a spreadsheet ate the 0)
            nsn = digits

    if nsn[:1] == "0" or (np is not None and nsn.startswith(np)):
        return None
    valid = plan.valid_by_length.get(len(nsn))
    if valid is None or not plan.general.fullmatch(nsn) or not valid.fullmatch(nsn):
        return None
    return Normalised(f"+{cc}{nsn}", True, None)


# Only what the library answers is cached: the fast path costs less than a cache look-up of a
# number seen once, and most numbers in a file are.
_phone_cached = lru_cache(maxsize=_CACHE_SIZE)(_phone_via_library)


def normalize_phone(raw: str | None, region: str = DEFAULT_REGION) -> Normalised:
    """E.164 when phonenumbers says the number is valid; otherwise kept as written, with a warning.

    `region` is the default for numbers written without a country code (`MY` when None or empty).
    """
    if raw is None:
        return _BLANK
    raw = _text(raw)
    text = raw.strip()
    if not text:
        return _BLANK
    region = region.upper() if region else DEFAULT_REGION
    fast = _phone_fast(text, region)
    return fast if fast is not None else _phone_cached(raw, region)


# --------------------------------------------------------------------------------------------
# emails


_DISPLAY_NAME = re.compile(r"[^<>]*<([^<>]*)>")


def _email_candidate(text: str) -> str:
    """The address inside what people paste: `Name <addr>`, quotes, `mailto:`, a trailing `;`."""
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    for _ in range(8):
        before = text
        text = text.strip().rstrip(",;")
        if len(text) >= 2 and text[0] + text[-1] in ('""', "''", "``", "\u201c\u201d", "\u2018\u2019", "<>"):
            text = text[1:-1]
        elif text[:7].lower() == "mailto:":
            text = text[7:].split("?", 1)[0]
        else:
            named = _DISPLAY_NAME.fullmatch(text)
            if named:
                text = named.group(1)
        if text == before:
            break
    return text


def _email_via_library(raw: str | None) -> Normalised:
    """The reference: email_validator's normalized form (syntax only), else kept as written."""
    from email_validator import EmailNotValidError, validate_email

    kept = _written(raw)
    if not kept:
        return _BLANK
    address = _email_candidate(kept)
    try:
        checked = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_empty_local=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            globally_deliverable=True,
            test_environment=False,
        )
    except EmailNotValidError as exc:
        reason = str(exc).rstrip(".") or "invalid"
        reason = reason[:1].lower() + reason[1:]
        return Normalised(kept, False, f"email {echo(kept)} is not a valid address ({reason}); kept as written")
    return Normalised(checked.normalized, True, None)


# local@domain.tld in plain ASCII: dot-separated atoms of letters, digits, `_ + -`; hostname
# labels; a final label of letters only.
_FAST_EMAIL = re.compile(
    r"([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{1,63})"
)


@dataclass(frozen=True, slots=True)
class _EmailPlan:
    max_length: int  # of the whole address
    max_domain: int
    special_use: re.Pattern[str]  # the special-use domains email-validator refuses
    case_insensitive: frozenset[str]  # mailboxes email-validator lowercases (RFC 2142)


_email_plan: _EmailPlan | None = None


def _build_email_plan() -> _EmailPlan:
    import email_validator
    from email_validator import rfc_constants

    names = "|".join(re.escape(d) for d in email_validator.SPECIAL_USE_DOMAIN_NAMES)
    return _EmailPlan(
        max_length=rfc_constants.EMAIL_MAX_LENGTH,
        max_domain=rfc_constants.DOMAIN_MAX_LENGTH,
        special_use=re.compile(rf"(?:\A|\.)(?:{names})\Z") if names else re.compile(r"(?!)"),
        case_insensitive=frozenset(rfc_constants.CASE_INSENSITIVE_MAILBOX_NAMES),
    )


def _email_fast(text: str) -> Normalised | None:
    """A plain ASCII address, without email_validator; None when the library must decide.

    `text` is the raw value, trimmed.
    """
    global _email_plan
    plan = _email_plan
    if plan is None:
        plan = _email_plan = _build_email_plan()
    m = _FAST_EMAIL.fullmatch(text)
    if m is None:
        # `Name <addr>`, `addr;`, `mailto:addr`: the library is given the address inside, and
        # so is this. (An address the pattern takes holds nothing _email_candidate would strip.)
        text = _email_candidate(text)
        m = _FAST_EMAIL.fullmatch(text)
        if m is None:
            return None
    if len(text) > plan.max_length:
        return None
    local, domain = m.groups()
    # `--` is Punycode (xn--) or a reserved label shape: the library's business.
    if "--" in domain or len(domain) > plan.max_domain:
        return None
    domain = domain.lower()
    if plan.special_use.search(domain):
        return None
    if local.lower() in plan.case_insensitive:
        local = local.lower()
    return Normalised(f"{local}@{domain}", True, None)


_email_cached = lru_cache(maxsize=_CACHE_SIZE)(_email_via_library)  # as _phone_cached


def normalize_email(raw: str | None) -> Normalised:
    """email-validator's normalized address (domain lowercased); otherwise kept as written, with a warning."""
    if raw is None:
        return _BLANK
    raw = _text(raw)
    text = raw.strip()
    if not text:
        return _BLANK
    fast = _email_fast(text)
    return fast if fast is not None else _email_cached(raw)
