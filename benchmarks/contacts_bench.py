"""How fast phone and email normalisation is, fast path against library, on messy import data.

    python benchmarks/contacts_bench.py [--n 100000] [--seed 7] [--repeat 3]

Makes N realistic values of each kind (Malaysian mobiles and landlines written the ways people
and spreadsheets write them, about 3% invalid and a few percent odd forms; addresses in mixed
case, some with a display name, about 3% invalid), then prints microseconds per call for:

- library:     the reference path alone (phonenumbers / email-validator on every value)
- fast path:   the fast path alone, and the share of values it answers
- normalize:   the public function with an empty cache (fast path, library for the rest)
- normalize, repeated: the same file again with the cache warm (a re-import, `--force`)

Times are CPU time of this process (best of --repeat), so other load on the machine distorts
them less. It also checks that every value normalises to exactly what the library gives.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leadshare import contacts  # noqa: E402
from leadshare.contacts import (  # noqa: E402
    _email_cached,
    _email_fast,
    _email_via_library,
    _phone_cached,
    _phone_fast,
    _phone_via_library,
    normalize_email,
    normalize_phone,
)

MOBILE_PREFIXES = ["10", "11", "12", "13", "14", "16", "17", "18", "19"]
LANDLINE_AREAS = ["3", "4", "5", "6", "7", "9", "82", "88"]


def national_number(rng: random.Random) -> str:
    """A Malaysian national number that phonenumbers calls valid: 80% mobiles, 20% landlines."""
    while True:
        if rng.random() < 0.8:
            prefix = rng.choice(MOBILE_PREFIXES)
            rest = 8 if prefix == "11" else 7
        else:
            prefix = rng.choice(LANDLINE_AREAS)
            rest = 8 if prefix == "3" else (6 if len(prefix) == 2 else 7)
        nsn = prefix + "".join(rng.choice("0123456789") for _ in range(rest))
        if _phone_via_library("0" + nsn, "MY").usable:
            return nsn


def written_phone(rng: random.Random) -> str:
    nsn = national_number(rng)
    head, tail = nsn[:2] if nsn[0] == "1" else nsn[:1], nsn[2:] if nsn[0] == "1" else nsn[1:]
    a, b = tail[:-4], tail[-4:]
    roll = rng.random()
    if roll < 0.03:  # invalid: digits missing or extra, words, junk
        return rng.choice([f"0{nsn[:-3]}", f"0{nsn}55", "n/a", f"0{head}-{a}", "-", f"+60 {nsn[:5]}"])
    if roll < 0.05:  # odd forms only the library reads
        return rng.choice([f"tel: 0{head}-{a} {b}", f"０{nsn}", f"0{head}\u00a0{a}\u00a0{b}", f"0{head}-{a}{b} ext 12",
                           f"\u202a+60 {head}-{a} {b}\u202c", f"HP: 0{head}-{a}{b}"])
    forms = [
        f"0{head}-{a} {b}", f"0{head}-{a}{b}", f"0{nsn}", f"0{head} {a} {b}", f"+60 {head}-{a} {b}",
        f"+60{nsn}", f"60{head}-{a}{b}", f"60{nsn}", f"0060{nsn}", f"(0{head}) {a} {b}", f"'0{nsn}",
        f"60{nsn}.0", f"{nsn}", f"+60 {head} {a} {b}",
    ]
    return rng.choice(forms)


FIRST = ["ahmad", "siti", "wei ling", "raj", "nurul", "jason", "mei", "kumar", "aisyah", "daniel", "farah", "chong"]
LAST = ["tan", "lim", "abdullah", "wong", "lee", "krishnan", "ismail", "ng", "rahman", "ong"]
DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "yahoo.com.my", "outlook.com", "company.com.my", "icloud.com",
           "live.com.my", "unimas.my", "petronas.com"]


def written_email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST).replace(" ", ""), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first}{last}{rng.randint(1, 9999)}", f"{first}_{last}",
                        f"{first[0]}{last}{rng.randint(70, 99)}", f"{first}{rng.randint(100, 99999)}"])
    domain = rng.choice(DOMAINS)
    case = rng.random()
    if case < 0.3:
        local = local.title()
    elif case < 0.4:
        local, domain = local.upper(), domain.upper()
    elif case < 0.55:
        domain = domain.title()
    roll = rng.random()
    if roll < 0.03:  # invalid
        return rng.choice([f"{local}@", f"{local}.{domain}", f"{local}@@{domain}", f"{local}@{domain.split('.')[0]}",
                           f"{local} @{domain}", f"{local}@{domain}.."])
    if roll < 0.06:  # display names and other wrappings
        return rng.choice([f"{first.title()} {last.title()} <{local}@{domain}>", f"mailto:{local}@{domain}",
                           f" '{local}@{domain}' "])
    return f"{local}@{domain}"


def per_call(fn, values, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for value in values:
            fn(value)
        best = min(best, time.process_time() - start)
    return best / len(values) * 1e6


def cold(fn, cache_clear, values, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        cache_clear()
        start = time.process_time()
        for value in values:
            fn(value)
        best = min(best, time.process_time() - start)
    return best / len(values) * 1e6


def compare(kind: str, values: list[str], via_library, fast, normalize, clear_cache, repeat: int) -> None:
    """One kind of value: the fast path and normalize_KIND (cold and repeated) against the library,
    and whether they give the same answers. `fast` takes the value as written."""
    library = [via_library(v) for v in values]
    fast_answers = sum(1 for v in values if v.strip() and fast(v) is not None)
    clear_cache()
    mismatches = sum(1 for v, ref in zip(values, library) if normalize(v) != ref)
    print(f"{kind}s")
    print(f"  usable per the library         {sum(r.usable for r in library) / len(library):7.1%}")
    print(f"  answered by the fast path      {fast_answers / len(values):7.1%}")
    library_us = per_call(via_library, values, repeat)
    fast_us = per_call(fast, values, repeat)
    print(f"  library path                   {library_us:7.2f} us")
    print(f"  fast path alone                {fast_us:7.2f} us")
    cold_us = cold(normalize, clear_cache, values, repeat)
    print(f"  normalize_{kind}, cold cache    {cold_us:7.2f} us   ({library_us / cold_us:.1f}x the library path)")
    again = values[: contacts._CACHE_SIZE]
    for v in again:
        normalize(v)
    print(f"  normalize_{kind}, repeated      {per_call(normalize, again, repeat):7.2f} us")
    print(f"  differences from the library   {mismatches:7d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    phones = [written_phone(rng) for _ in range(args.n)]
    emails = [written_email(rng) for _ in range(args.n)]
    repeat = args.repeat

    # Warm the libraries' own lazy loading (metadata, regexes) before timing anything.
    for value in phones[:200]:
        _phone_via_library(value, "MY")
    for value in emails[:200]:
        _email_via_library(value)

    print(f"{args.n:,} values of each kind, best of {repeat}; CPU microseconds per call\n")

    compare("phone", phones, lambda v: _phone_via_library(v, "MY"), lambda v: _phone_fast(v.strip(), "MY"),
            normalize_phone, _phone_cached.cache_clear, repeat)
    print()
    compare("email", emails, _email_via_library, lambda v: _email_fast(v.strip()),
            normalize_email, _email_cached.cache_clear, repeat)


if __name__ == "__main__":
    main()
