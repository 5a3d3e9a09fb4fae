"""Make a realistic, messy lead CSV of N rows, and the rules file the benchmarks import with.

    python benchmarks/make_csv.py --rows 100000 --out /tmp/leads-100k.csv [--seed 8] [--start 0]

The file looks like a Malaysian property agency's ad-campaign export (Facebook, Instagram,
Google, PropertyGuru, walk-ins):

- phones written several ways, picked at random per row: `012-345 6789`, `+60 12-345 6789`,
  `6012 3456789`, `0123456789`, `+60123456789`, `012 345 6789`, `(012) 345-6789`, `'0123456789`
  (spreadsheet text marker), `60123456789.0` (spreadsheet float); 8-digit `011` numbers; about 7% KL
  landlines (`03-2161 1234`); a few Singapore numbers (`+65 9123 4567`);
- about 3% invalid phones (too short, `n/a`, spreadsheet scientific notation, `-`) and some rows
  with no phone at all; emails blank in about 12% of rows;
- emails in mixed case (`Nurul.Huda@Gmail.com`), some pasted as `Name <addr>` or with a trailing
  `;`, about 1% invalid (`ali@`, `siti.gmail.com`); about 1% of rows have neither a usable phone
  nor a usable email and are rejected;
- about 2% of rows are people seen earlier in the file coming back through another ad, with the
  phone written another way and the email in another case, under a new lead id;
- names with stray spaces; source, region, product, language, budget and created-time columns.

Deterministic: the same --rows, --seed and --start give the same bytes. People are numbered from
--start, so files made with different --start values never share a person (used to build big
ledgers from several files without every lead being a duplicate).
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

HEADER = [
    "Lead ID", "Full Name", "Mobile No", "Email Address", "Lead Source", "State", "Product",
    "Language", "Budget (RM)", "Created Time",
]

MALAY_FIRST = ["Nurul", "Siti", "Ahmad", "Muhammad", "Nur", "Aisyah", "Farah", "Hafiz", "Amirul", "Zulkifli",
               "Nabilah", "Faizal", "Azlan", "Aminah", "Haziq", "Izzati", "Khairul", "Syafiq", "Liyana", "Rosli"]
MALAY_LAST = ["Ahmad", "Abdullah", "Ismail", "Yusof", "Hassan", "Ibrahim", "Rahman", "Osman", "Salleh", "Hamid"]
CHINESE_FIRST = ["Wei Ming", "Kah Wai", "Mei Ling", "Chee Keong", "Siew Lan", "Jun Hao", "Li Ying", "Kok Leong",
                 "Hui Min", "Zi Xuan"]
CHINESE_LAST = ["Tan", "Lim", "Lee", "Wong", "Chong", "Ng", "Ong", "Teh", "Goh", "Chan", "Yap", "Loh"]
CHINESE_EN = ["Kevin", "Jason", "Michelle", "Alan", "Grace", "Vincent", "Jessica", "Daniel", "Karen", "Eric"]
INDIAN_FIRST = ["Priya", "Ramesh", "Kavitha", "Suresh", "Deepa", "Arjun", "Lakshmi", "Vijay", "Meena", "Ganesh"]
INDIAN_LAST = ["Subramaniam", "Krishnan", "Raj", "Nair", "Pillai", "Muthu", "Kumar", "Selvam", "Naidu", "Menon"]
DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "live.com.my",
           "yahoo.com.my", "streamyx.com", "company.com.my", "ymail.com"]
SOURCES = [("Facebook Lead Ads", 45), ("Instagram", 15), ("Google Ads", 15), ("PropertyGuru", 12),
           ("iProperty", 6), ("Walk-in", 4), ("Referral", 3)]
REGIONS = [("KL", 35), ("Selangor", 30), ("Johor", 10), ("Penang", 8), ("Perak", 5), ("Negeri Sembilan", 4),
           ("Melaka", 3), ("Sabah", 2), ("Sarawak", 2), ("", 1)]
PRODUCTS = [("residential", 70), ("commercial", 15), ("condo", 10), ("land", 5)]
LANGUAGES = [("en", 40), ("ms", 35), ("zh", 18), ("ta", 7)]
# The first three digits of valid Malaysian mobile numbers (after the 0), from the numbering plan.
MOBILE_HEADS = (
    [f"12{d}" for d in range(10)] + [f"16{d}" for d in range(10)] + [f"19{d}" for d in range(10)]
    + [f"13{d}" for d in range(1, 10)] + [f"17{d}" for d in range(1, 10)] + [f"14{d}" for d in (2, 3, 5, 6, 7, 8, 9)]
    + [f"10{d}" for d in (2, 3, 5, 6, 8)] + [f"18{d}" for d in (2, 3, 6)]
)
LANDLINE_HEADS = ["321", "322", "326", "327", "328"] + [f"38{d}" for d in range(10)]
BASE_TIME = datetime(2026, 11, 1, 0, 0)
# A multiplier coprime with 10 spreads person numbers over the subscriber digits without
# repeating, so no two people share a phone by accident (up to 63 million people).
_SPREAD = 48_271_129


def _weighted(pairs):
    values = [v for v, _ in pairs]
    weights = [w for _, w in pairs]
    return values, weights


_SRC = _weighted(SOURCES)
_REG = _weighted(REGIONS)
_PROD = _weighted(PRODUCTS)
_LANG = _weighted(LANGUAGES)


class Person:
    __slots__ = ("first", "last", "name", "kind", "national", "email_local", "domain")

    def __init__(self, n: int, rng: random.Random):
        group = rng.random()
        if group < 0.55:
            first, last = rng.choice(MALAY_FIRST), rng.choice(MALAY_LAST)
            name = f"{first} {'binti' if first in ('Nurul', 'Siti', 'Nur', 'Aisyah', 'Farah', 'Nabilah', 'Aminah', 'Izzati', 'Liyana') else 'bin'} {last}"
        elif group < 0.85:
            last = rng.choice(CHINESE_LAST)
            first = rng.choice(CHINESE_FIRST)
            name = f"{rng.choice(CHINESE_EN)} {last} {first}" if rng.random() < 0.4 else f"{last} {first}"
        else:
            first, last = rng.choice(INDIAN_FIRST), rng.choice(INDIAN_LAST)
            name = f"{first} {last}"
        self.first, self.last, self.name = first, last, name
        kind = rng.random()
        if kind < 0.07:  # KL landline: 03-2161 1234
            self.kind = "landline"
            self.national = LANDLINE_HEADS[n % len(LANDLINE_HEADS)] + f"{(n // len(LANDLINE_HEADS) * _SPREAD) % 10**6:06d}"
        elif kind < 0.09:  # 011: eight subscriber digits
            self.kind = "mobile11"
            self.national = f"11{1 + n % 5}" + f"{(n // 5 * _SPREAD) % 10**7:07d}"
        elif kind < 0.095:  # a Singapore mobile
            self.kind = "sg"
            self.national = f"9{n % 9}" + f"{(n // 9 * _SPREAD) % 10**6:06d}"
        else:
            self.kind = "mobile"
            self.national = MOBILE_HEADS[n % len(MOBILE_HEADS)] + f"{(n // len(MOBILE_HEADS) * _SPREAD) % 10**6:06d}"
        base = f"{first}.{last}".replace(" ", "").lower() if rng.random() < 0.6 else f"{first}{last}".replace(" ", "").lower()
        self.email_local = f"{base}{n}" if rng.random() < 0.8 else f"{base}.{n}"
        self.domain = rng.choice(DOMAINS)


def phone_text(p: Person, rng: random.Random) -> str:
    """The person's number written one of the ways people and spreadsheets write it."""
    nat = p.national
    if p.kind == "sg":
        return rng.choice([f"+65 {nat[:4]} {nat[4:]}", f"+65{nat}", f"0065 {nat}"])
    if p.kind == "landline":
        return rng.choice([f"0{nat[0]}-{nat[1:5]} {nat[5:]}", f"+60 {nat[0]}-{nat[1:5]} {nat[5:]}",
                           f"60{nat}", f"0{nat}", f"(0{nat[0]}) {nat[1:5]} {nat[5:]}", f"0{nat[0]} {nat[1:5]} {nat[5:]}"])
    head, sub = nat[:2], nat[2:]  # 12 | 3456789  or 11 | 23456789
    a, b = sub[:-4], sub[-4:]
    shape = rng.randrange(100)
    if shape < 22:
        return f"0{head}-{a} {b}"  # 012-345 6789
    if shape < 38:
        return f"+60 {head}-{a} {b}"  # +60 12-345 6789
    if shape < 50:
        return f"60{head} {sub}"  # 6012 3456789
    if shape < 66:
        return f"0{head}{sub}"  # 0123456789
    if shape < 78:
        return f"+60{head}{sub}"  # +60123456789
    if shape < 86:
        return f"0{head} {a} {b}"  # 012 345 6789
    if shape < 91:
        return f"(0{head}) {a}-{b}"  # (012) 345-6789
    if shape < 95:
        return f"'0{head}{sub}"  # a spreadsheet's text marker
    if shape < 98:
        return f"60{head}{sub}.0"  # a spreadsheet that read the column as numbers
    return f" 0{head}-{a}{b} "  # stray spaces


def bad_phone(rng: random.Random) -> str:
    return rng.choice(["012-345", "n/a", "-", "6.01235E+10", "12345", "0000000000", "call me", "012-345 678 9012 34"])


def email_text(p: Person, rng: random.Random) -> str:
    local = p.email_local
    style = rng.randrange(100)
    if style < 50:
        addr = f"{local}@{p.domain}"
    elif style < 75:
        addr = f"{'.'.join(w.capitalize() for w in local.split('.'))}@{p.domain.capitalize()}"
    elif style < 85:
        addr = f"{local}@{p.domain}".upper()
    elif style < 95:
        addr = f"{local.capitalize()}@{p.domain}"
    elif style < 98:
        addr = f"{p.first} {p.last} <{local}@{p.domain.upper()}>"
    else:
        addr = f"{local}@{p.domain};"
    return addr


def bad_email(p: Person, rng: random.Random) -> str:
    return rng.choice([f"{p.email_local}@", f"{p.email_local}.gmail.com", f"{p.email_local}@gmail", "-", "no email"])


def messy_name(name: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.05:
        return f"  {name} "
    if r < 0.08:
        return name.upper()
    if r < 0.10:
        return name.replace(" ", "  ", 1)
    return name


def budget(rng: random.Random) -> str:
    v = rng.randrange(200, 3000) * 1000
    r = rng.random()
    if r < 0.6:
        return str(v)
    if r < 0.8:
        return f"{v // 1000}k"
    if r < 0.9:
        return f"RM{v:,}"
    return ""


# A CRM's history moved in (--history): every lead has an owner and a status, most are closed.
HISTORY_STATUSES = [("lost", 72), ("won", 27), ("new", 0.5), ("contacted", 0.3), ("qualified", 0.2)]
_HIST = _weighted(HISTORY_STATUSES)


def write_csv(path: str | Path, rows: int, seed: int = 8, start: int = 0, history: bool = False) -> dict:
    """Write the file; returns counts of what was put in it.

    history: add `Lead Owner` and `Lead Status` columns (a benchmark agent and a status, 99% of
    them won or lost), for `import --keep-owner`: years of leads moved in from another CRM.
    """
    rng = random.Random(f"{seed}:{start}:{rows}:{history}")
    people: list[Person] = []
    stats = {"rows": rows, "repeats": 0, "bad_phone": 0, "no_phone": 0, "bad_email": 0, "no_email": 0, "neither": 0}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(HEADER + (["Lead Owner", "Lead Status"] if history else []))
        for i in range(rows):
            repeat = people and rng.random() < 0.02
            if repeat:
                p = people[rng.randrange(len(people))]
                stats["repeats"] += 1
            else:
                p = Person(start + len(people) + 1, rng)
                people.append(p)
            r = rng.random()
            if repeat:
                phone, email = phone_text(p, rng), email_text(p, rng)
            elif r < 0.01:  # neither usable: the row is rejected
                phone, email = bad_phone(rng), rng.choice(["", bad_email(p, rng)])
                stats["neither"] += 1
            elif r < 0.03:
                phone, email = bad_phone(rng), email_text(p, rng)
                stats["bad_phone"] += 1
            elif r < 0.05:
                phone, email = "", email_text(p, rng)
                stats["no_phone"] += 1
            elif r < 0.06:
                phone, email = phone_text(p, rng), bad_email(p, rng)
                stats["bad_email"] += 1
            elif r < 0.18:
                phone, email = phone_text(p, rng), ""
                stats["no_email"] += 1
            else:
                phone, email = phone_text(p, rng), email_text(p, rng)
            src = rng.choices(*_SRC)[0]
            prefix = {"Facebook Lead Ads": "FB", "Instagram": "IG", "Google Ads": "GA", "PropertyGuru": "PG",
                      "iProperty": "IP", "Walk-in": "WI", "Referral": "RF"}[src]
            created = BASE_TIME + timedelta(seconds=(start + i) * 37 % (24 * 86400))
            extra = [rng.choice(AGENTS), rng.choices(*_HIST)[0]] if history else []
            w.writerow([
                f"{prefix}-{seed}-{start + i + 1}",
                messy_name(p.name, rng),
                phone,
                email,
                src,
                rng.choices(*_REG)[0],
                rng.choices(*_PROD)[0],
                rng.choices(*_LANG)[0],
                budget(rng),
                created.strftime("%Y-%m-%d %H:%M"),
                *extra,
            ])
    return stats


AGENTS = ["aisyah", "jason", "priya", "farid", "mei", "ravi", "nadia", "kevin", "siti", "daniel"]
NOW = "2026-11-25T10:00:00+08:00"  # a Wednesday, working hours in Kuala Lumpur


def rules_text() -> str:
    lines = [
        "# benchmark rules: ten agents, one round-robin rule over everyone",
        "timezone: Asia/Kuala_Lumpur",
        "phone_region: MY",
        'hours: {mon-fri: "09:00-18:00", sat: "09:00-13:00"}',
        "after_hours: assign",
        "sla: {first_contact: 4h}",
        "agents:",
    ]
    for a in AGENTS:
        lines += [f"  - id: {a}", f"    name: {a.capitalize()}"]
    lines += ["rules:", "  - name: everyone", "    pool: all", "    strategy: round_robin", ""]
    return "\n".join(lines)


def write_rules(path: str | Path) -> Path:
    path = Path(path)
    path.write_text(rules_text(), encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--start", type=int, default=0, help="first person number (distinct people across files)")
    ap.add_argument("--rules", help="also write the benchmark rules file here")
    ap.add_argument("--history", action="store_true", help="add owner and status columns, mostly closed leads")
    args = ap.parse_args()
    stats = write_csv(args.out, args.rows, args.seed, args.start, args.history)
    if args.rules:
        write_rules(args.rules)
    print(stats)


if __name__ == "__main__":
    main()
