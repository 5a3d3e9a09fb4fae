"""Earned tiers: visible criteria, one audited command to apply, and the engine uses them."""

from __future__ import annotations

import pytest

from conftest import lead_rows, write_csv


pytestmark = pytest.mark.both_backends


def test_tiers_are_earned_by_the_figures_and_applied_with_an_audited_event(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace(
        "  gold: {weight: 1.25}\n", "  gold: {weight: 1.25, min_closed: 2, min_conversion: 0.5, max_first_contact: 2h}\n"))
    write_csv(tmp_path / "leads.csv", lead_rows(6))
    cli.json("import", "leads.csv")  # aisyah 1, 4; ben 2, 5; chitra 3, 6
    for lead in ("2", "5"):
        cli("status", lead, "contacted", "--as", "ben", env={"LEADSHARE_NOW": "2026-11-25T11:00:00"})
        cli("status", lead, "won", "--as", "ben", env={"LEADSHARE_NOW": "2026-11-25T12:00:00"})
    for lead in ("1", "4"):
        cli("status", lead, "lost", "--note", "no budget", "--as", "aisyah")

    review = {r["agent"]: r for r in cli.json("tiers")}
    assert review["ben"]["earned"] == "gold" and review["ben"]["figures"]["conversion"] == 1.0
    assert review["ben"]["figures"]["median_first_contact_s"] == 3600
    assert review["aisyah"]["earned"] == "silver"  # no wins: the floor tier
    assert {c["criterion"]: c["met"] for c in review["aisyah"]["checks"]["gold"]} == {
        "min_closed": True, "min_conversion": False, "max_first_contact": False}

    assert cli("tiers", "--apply", "--as", "ben").exit_code == 2  # managers only
    cli.json("tiers", "--apply", "--as", "aisyah")
    event = cli.json("log", "--type", "tiers_applied")[0]
    assert event["data"]["changes"]["ben"]["to"] == "gold" and event["data"]["changes"]["aisyah"]["from"] == "gold"
    weights = {a["id"]: a["weight"] for a in cli.json("agents")}
    assert weights["ben"] == 1.25 and weights["aisyah"] == 1.0
    write_csv(tmp_path / "more.csv", lead_rows(1, start=10))
    cli.json("import", "more.csv")
    cands = {c["agent"]: c["weight"] for c in cli.json("explain", "7")["candidates"]}
    assert cands["ben"] == 1.25 and cands["aisyah"] == 1.0
    assert cli.json("verify", "--decisions")["ok"] is True


def test_tiers_without_criteria_are_given_by_hand(cli):
    assert cli("tiers", "--apply", "--as", "aisyah").exit_code == 2
    assert all(r["earned"] == r["tier"] and not r["change"] for r in cli.json("tiers"))
