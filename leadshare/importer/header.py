"""The header plan: which column is which field, matched on the synonyms of CRM and ad-platform
exports (or named by --map), and the attribute name of every other column. Resolved once a file."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from leadshare.errors import ECHO_ITEMS, InputError, echo, echo_list

# The fields of a lead a column can be read as (--map also names any attribute).
FIELDS = (
    "name",
    "first_name",
    "last_name",
    "phone",
    "email",
    "source",
    "region",
    "external_id",
    "owner",
    "status",
)

# Synonyms, in order of preference within a field; matched on header_key() (letters and digits
# only, lowercase), so "Mobile No.", "mobile_no" and "MobileNo" are all "mobileno". Among them the
# headers of HubSpot (`State/Region`, `Lead Status`, `Original Source`), Zoho (`Lead Source`,
# `Mobile`), Facebook Lead Ads (`full_name`, `phone_number`, `id`) and Krayin (`emails`,
# `contact_numbers`, whose cells hold lists). Later phone and email synonyms (`Work Phone`) are
# the fallbacks tried when the first gives nothing usable.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": (
        "name", "full name", "lead name", "contact name", "customer name", "client name",
        "your name", "person name", "nama", "nama penuh", "姓名", "名字",
    ),
    "first_name": ("first name", "firstname", "given name", "forename", "fname"),
    "last_name": ("last name", "lastname", "surname", "family name", "lname"),
    "phone": (
        "phone", "mobile", "mobile phone", "mobile no", "mobile number", "mobile phone number",
        "phone number", "phone no", "contact number", "contact no", "contact phone", "tel",
        "tel no", "telephone", "telephone number", "whatsapp", "whatsapp number", "whatsapp no",
        "cell", "cell phone", "handphone", "no hp", "hp no", "no tel", "no telefon", "telefon",
        "nombor telefon", "your phone", "user phone", "电话", "手机", "手机号", "联系电话",
        "phones", "phone numbers", "contact numbers", "mobile numbers", "mobiles", "telephones",
        "primary phone", "work phone", "business phone", "home phone", "other phone", "alternate phone",
        "secondary phone",
    ),
    "email": (
        "email", "e-mail", "email address", "e-mail address", "email id", "mail", "emel",
        "alamat emel", "your email", "user email", "邮箱", "电子邮件",
        "emails", "email addresses", "primary email", "work email", "business email", "personal email",
        "secondary email", "other email", "alternate email",
    ),
    "source": (
        "source", "lead source", "channel", "lead channel", "utm source", "sumber", "original source",
        "source of lead",
    ),
    "region": (
        "region", "state", "territory", "area", "sales region", "sales territory", "negeri",
        "state/region", "state region", "state province", "province",
    ),
    "external_id": ("external id", "lead id", "ext id", "record id", "crm id", "contact id", "person id"),
    "owner": ("owner", "lead owner", "contact owner", "record owner", "assigned to"),
    "status": ("status", "lead status"),
}
_BARE_ID = "id"  # external id only when no explicit external-id column exists

_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")  # lookarounds: linear even on 30,000 capitals
_NON_WORD = re.compile(r"[\W_]+")
_SF_SUFFIX = re.compile(r"__c$", re.IGNORECASE)


def _fold(text: str) -> str:
    """Trim, drop a BOM and a Salesforce __c suffix, strip accents."""
    text = text.strip().lstrip("\ufeff").strip()
    text = _SF_SUFFIX.sub("", text)
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text


def header_key(header: str) -> str:
    """The matching key of a header: case, spaces, `_`, `-`, punctuation and `__c` ignored."""
    return _NON_WORD.sub("", _fold(header)).lower()


def attr_name(header: str) -> str:
    """snake_case attribute name of a header: 'Budget (RM)' -> 'budget_rm', 'LeadSource' -> 'lead_source'."""
    text = _fold(header)
    text = _CAMEL_2.sub("_", _CAMEL_1.sub(r"\1_\2", text))
    return _NON_WORD.sub("_", text).strip("_").lower()


_KEY_TO_FIELD: dict[str, tuple[str, int]] = {}
for _field, _names in _SYNONYMS.items():
    for _rank, _syn in enumerate(_names):
        _KEY_TO_FIELD.setdefault(header_key(_syn), (_field, _rank))


def synonym_field(header: str) -> str | None:
    """The field a header is a synonym of ('Secondary Email' -> email, 'first_name' -> first_name)."""
    hit = _KEY_TO_FIELD.get(header_key(header))
    return hit[0] if hit else None


_FIELD_ALIASES = {header_key(f): f for f in FIELDS}
_FIELD_ALIASES.update({"fullname": "name", "mobile": "phone", "externalid": "external_id", "emailaddress": "email"})


def _accepted_fields() -> str:
    return ", ".join(FIELDS)


def map_target(name: str) -> str:
    """What --map NAME=COLUMN reads the column as: a field ('Mobile' -> phone), else an attribute
    under its snake_case name ('Product' -> product); '' for a name with no letter or digit."""
    return _FIELD_ALIASES.get(header_key(name)) or attr_name(name)


def parse_map_options(items: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """['phone=Tel No', 'product=Product Interest'] -> {'phone': 'Tel No', 'product': 'Product Interest'}."""
    mapping: dict[str, str] = {}
    for item in items or ():
        name_part, sep, column = item.partition("=")
        target = map_target(name_part) if sep else ""
        column = column.strip()
        if not sep or not column or not target:
            raise InputError(
                f"--map {echo(item)}: expected NAME=COLUMN with NAME a field ({_accepted_fields()}) or an attribute name",
                "e.g. --map phone='Tel No' --map product='Product Interest'",
            )
        if target in mapping and mapping[target] != column:
            raise InputError(
                f"--map {echo(item)}: {target} is already mapped to {echo(mapping[target])}",
                f"give --map {target}=COLUMN once",
            )
        mapping[target] = column
    return mapping


def _columns_list(columns: list[str]) -> str:
    if not columns:
        return "(none)"
    shown = [echo(c) if c.strip() else f"(blank column {i})" for i, c in enumerate(columns[:ECHO_ITEMS], 1)]
    return echo_list(shown, len(columns))


@dataclass(slots=True)
class ColumnPlan:
    """Column indexes resolved once per file."""

    ncols: int
    index: dict[str, int]  # field -> column index
    phone_alt: tuple[int, ...]  # other phone columns, tried when the main one gives nothing usable
    email_alt: tuple[int, ...]
    attrs: tuple[tuple[int, str], ...]  # (column index, attribute name)
    mapping: dict[str, str]
    warnings: list[str]
    read_as: dict[str, str]  # each column as written -> 'region' or 'attribute product_interest'


def plan_columns(columns: list[str], user_map: dict[str, str], name: str) -> ColumnPlan:
    """Read the header: --map first, then the synonyms, then every other column as an attribute.
    Raises InputError for a --map naming no column, or a file with no phone and no email column."""
    keys = [header_key(c) for c in columns]
    index, user_map, named = _mapped_columns(columns, keys, user_map, name)
    alt = _matched_columns(keys, index, user_map, set(named))
    _prefer_the_name_column(index, user_map)
    # Fallback phone/email columns: only when the field was matched, not when it was mapped.
    phone_alt = tuple(i for i in alt["phone"] if "phone" not in user_map and i != index.get("phone"))
    email_alt = tuple(i for i in alt["email"] if "email" not in user_map and i != index.get("email"))

    if "phone" not in index and "email" not in index:
        raise InputError(
            f"{name}: no phone or email column; columns found: {_columns_list(columns)}",
            "name the column with --map phone=COLUMN or --map email=COLUMN",
        )
    warnings: list[str] = []
    if "name" not in index and "first_name" not in index and "last_name" not in index:
        warnings.append("no name column: leads are imported without a name (use --map name=COLUMN)")
    attrs = _attribute_columns(columns, index, named)
    warnings.extend(_repeated_columns(columns, keys, index, attrs))
    mapping = {fld: columns[i] for fld, i in index.items()}
    read_as = _read_as(columns, index, attrs)
    return ColumnPlan(len(columns), index, phone_alt, email_alt, tuple(attrs), mapping, warnings, read_as)


def _mapped_columns(
    columns: list[str], keys: list[str], given: dict[str, str], name: str
) -> tuple[dict[str, int], dict[str, str], dict[int, str]]:
    """--map wins: (field -> column index, field -> column as given, column index -> attribute
    name given), fields and attributes by their own names."""
    index: dict[str, int] = {}
    user_map: dict[str, str] = {}
    named: dict[int, str] = {}
    for target_given, wanted in given.items():
        target = map_target(target_given)
        shown = f"--map {echo(target_given)}={echo(wanted)}"
        if not target:
            raise InputError(f"{shown}: no name to read the column as",
                             f"NAME is a field ({_accepted_fields()}) or an attribute name")
        found = _column_named(columns, keys, wanted)
        if found is None:
            raise InputError(
                f"{name}: {shown}: no column {echo(wanted)}; columns found: {_columns_list(columns)}",
                "give one of the columns found, as written in the header",
            )
        other = named.get(found) or next((f for f, i in index.items() if i == found), None)
        if other is not None:
            raise InputError(
                f"{name}: {shown}: column {echo(columns[found])} is already mapped to {other}",
                "map each column to one name",
            )
        if target in FIELDS:
            user_map[target] = wanted
            index[target] = found
        else:
            named[found] = target
    return index, user_map, named


def _column_named(columns: list[str], keys: list[str], wanted: str) -> int | None:
    """The column --map names: as written, else ignoring case, else by its matching key."""
    found = next((i for i, c in enumerate(columns) if c == wanted), None)
    if found is None:
        found = next((i for i, c in enumerate(columns) if c.strip().casefold() == wanted.strip().casefold()), None)
    if found is None:
        wk = header_key(wanted)
        found = next((i for i, k in enumerate(keys) if k and k == wk), None)
    return found


def _matched_columns(
    keys: list[str], index: dict[str, int], user_map: dict[str, str], named: set[int]
) -> dict[str, list[int]]:
    """Synonyms, into `index`: the best-ranked synonym wins, then the leftmost column; columns
    --map named are no longer candidates. Returns every column matching phone and email, for
    the fallbacks."""
    taken = set(index.values()) | named
    best: dict[str, tuple[int, int]] = {}  # field -> (rank, column)
    alt: dict[str, list[int]] = {"phone": [], "email": []}
    bare_id: int | None = None
    for i, k in enumerate(keys):
        if i in taken or not k:
            continue
        if k == _BARE_ID:
            if bare_id is None:
                bare_id = i
            continue
        hit = _KEY_TO_FIELD.get(k)
        if hit is None:
            continue
        fld, rank = hit
        if fld in alt:
            alt[fld].append(i)
        if fld in user_map:
            continue
        if fld not in best or rank < best[fld][0]:
            best[fld] = (rank, i)
    for fld, (_, i) in best.items():
        index[fld] = i
    if "external_id" not in index and "external_id" not in user_map and bare_id is not None:
        index["external_id"] = bare_id
    return alt


def _prefer_the_name_column(index: dict[str, int], user_map: dict[str, str]) -> None:
    """A name column makes first/last plain attributes, unless they were mapped on purpose (then
    a name column found by its header is the attribute)."""
    if "name" in index and "name" not in user_map and ("first_name" in user_map or "last_name" in user_map):
        del index["name"]
    if "name" in index:
        for fld in ("first_name", "last_name"):
            if fld in index and fld not in user_map:
                del index[fld]


def _attribute_columns(columns: list[str], index: dict[str, int], named: dict[int, str]) -> list[tuple[int, str]]:
    """Every column that is not a core field is kept as an attribute; owner/status under those
    names, one --map named under its name. A later column named like a core one (or like one
    --map named) gets a suffix (`Phone`, `Phone` -> phone, phone_2)."""
    core = {i for f, i in index.items() if f not in ("owner", "status")}
    special = {index[f]: f for f in ("owner", "status") if f in index}
    used: dict[str, int] = {attr_name(columns[i]): i for i in sorted(core) if attr_name(columns[i])}
    used.update({key: i for i, key in named.items()})
    attrs: list[tuple[int, str]] = []
    for i, col in enumerate(columns):
        if i in core:
            continue
        if i in named:
            attrs.append((i, named[i]))
            continue
        base = special.get(i) or attr_name(col) or f"column_{i + 1}"
        key = base
        if key in used:
            n = 2
            while f"{base}_{n}" in used:
                n += 1
            key = f"{base}_{n}"
        used[key] = i
        attrs.append((i, key))
    return attrs


def _repeated_columns(
    columns: list[str], keys: list[str], index: dict[str, int], attrs: list[tuple[int, str]]
) -> list[str]:
    """Same header written twice (or the same field matched twice): say so, once per name."""
    warnings: list[str] = []
    seen: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k:
            seen.setdefault(k, []).append(i)
    attr_of = dict(attrs)
    for k, where in seen.items():
        if len(where) > 1:
            first = columns[where[0]].strip()
            role = next((f for f, i in index.items() if i == where[0]), None)
            later = echo_list([attr_of[i] for i in where[1:ECHO_ITEMS + 1] if i in attr_of], len(where) - 1)
            used_as = f"used as {role}" if role else "kept"
            places = echo_list([str(i + 1) for i in where[:ECHO_ITEMS]], len(where))
            warnings.append(
                f"column {echo(first)} appears {len(where)} times (columns {places}):"
                f" the first is {used_as}, later ones are kept as attributes {later}"
            )
    return warnings


def _read_as(columns: list[str], index: dict[str, int], attrs: list[tuple[int, str]]) -> dict[str, str]:
    """How each column was read, keyed by the column as written (a repeated or blank one by its
    place): 'region', or 'attribute product_interest'."""
    role = {i: fld for fld, i in index.items()}
    for i, key in attrs:
        role.setdefault(i, f"attribute {key}")  # owner and status stay themselves
    read_as: dict[str, str] = {}
    for i, col in enumerate(columns):
        label = col.strip()
        if not label or label in read_as:
            label = f"{label or '(blank)'} (column {i + 1})"
        read_as[label] = role[i]
    return read_as
