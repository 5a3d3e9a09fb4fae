"""`simulate`: what a file's leads would give under other rules, from today's state, writing nothing.

The ledger is copied (read-only) to a temporary file; the file is imported there under the current
rules and, on a second copy, under the new ones; each copy is then narrowed to the new batch and
the fairness report is read from it. The real ledger's bytes never change.
"""

from __future__ import annotations

import os
import tempfile

from leadshare import clock, importer, reports, services
from leadshare.ledger import copy_to_file, ledger_exists
from leadshare.ledger.store import Ledger
from leadshare.models import Team
from leadshare.tiers import with_earned_tiers


def _run(db: str, data: bytes, name: str, team: Team, workdir: str, label: str) -> dict:
    path = os.path.join(workdir, f"{label}.db")
    if ledger_exists(db):
        copy_to_file(db, path)
    ledger = Ledger.open(path)
    try:
        team = with_earned_tiers(team, ledger.earned_tiers())
        now = clock.now(team.timezone)
        s = services.Session(ledger=ledger, team=team, actor="simulation", now=now)
        parsed = importer.open_leads(data, name=name, region=team.phone_region)
        result = services.import_file(s, parsed, force=True)
        ledger.keep_only_batch(result.batch)
        table = reports.fairness(ledger, team, now, now, by="agent")
        table["imported"], table["duplicates"], table["rejected"] = result.imported, result.duplicates, result.rejected
        table["queued"] = result.queued
        return table
    finally:
        ledger.close()


def simulate(db: str, data: bytes, name: str, new_team: Team, current_team: Team | None) -> dict:
    """The fairness document under the new rules; `current` holds today's rules' one for comparison."""
    with tempfile.TemporaryDirectory(prefix="leadshare-simulate-") as workdir:
        new = _run(db, data, name, new_team, workdir, "new")
        if current_team is not None:
            new["current"] = _run(db, data, name, current_team, workdir, "current")
    return new
