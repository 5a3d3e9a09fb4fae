"""The sample team the tests and the stress scripts run: its rules file, its clock, and lead files
of distinct customers. Plain Python (no pytest, no leadshare), so `stress/` runs without a test
framework installed."""

from __future__ import annotations

import textwrap
from pathlib import Path

# A Wednesday morning in Kuala Lumpur: everyone with team hours is on duty.
NOW = "2026-11-25T10:00:00"

TEAM_YAML = """\
timezone: Asia/Kuala_Lumpur
phone_region: MY
hours:
  mon-fri: "09:00-18:00"
after_hours: assign
sla:
  first_contact: 4h
  on_breach: reassign
  max_reassign: 2
tiers:
  gold: {weight: 1.25}
  silver: {weight: 1.0}
agents:
  - id: aisyah
    name: Aisyah Rahman
    role: manager
    territories: [KL, Selangor]
    skills: [commercial, ms, en]
    tier: gold
  - id: ben
    name: Ben Lim
    territories: [KL]
    skills: [zh, en]
    tier: silver
  - id: chitra
    name: Chitra Devi
    territories: [Penang]
    skills: [ta, en]
  - id: dan
    name: Dan Wong
    territories: [Johor]
    skills: [en]
    active: false
rules:
  - name: commercial
    when: {product: commercial}
    pool: {skills: [commercial]}
    strategy: round_robin
    fallback: next
  - name: everyone
    pool: all
    strategy: round_robin
"""

CSV_HEADER = "Lead ID,Full Name,Mobile No,Email Address,Lead Source,State,Product\n"


def write_csv(path: Path, rows: list[str], header: str = CSV_HEADER) -> Path:
    path.write_text(header + "".join(textwrap.dedent(r).strip() + "\n" for r in rows))
    return path


def phone(n: int) -> str:
    """A distinct valid Malaysian mobile number, written the local way."""
    return f"012-{3000000 + n:07d}"


def lead_rows(n: int, start: int = 0, product: str = "residential") -> list[str]:
    return [f"FB-{i},Customer {i},{phone(i)},c{i}@example.com,facebook,KL,{product}" for i in range(start, start + n)]


def no_contact_rows(n: int, tag: object) -> list[str]:
    """Rows with neither phone nor email, which an import rejects; `tag` keeps their ids apart."""
    return [f"BAD-{tag}-{k},No Contact {k},,,web,KL,residential" for k in range(n)]
