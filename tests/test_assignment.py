"""The full engine through the CLI: after hours, holidays, capacity, CRM moves, explain."""

from __future__ import annotations

import pytest

from conftest import CSV_HEADER, lead_rows, phone, write_csv


pytestmark = pytest.mark.both_backends


def test_after_hours_queue_waits_for_opening_time_then_assign_takes_the_queue_oldest_first(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace("after_hours: assign", "after_hours: queue"))
    write_csv(tmp_path / "night.csv", lead_rows(3))
    out = cli.json("import", "night.csv", env={"LEADSHARE_NOW": "2026-11-25T23:00:00"})
    assert out["queued"] == 3 and out["assigned"] == 0
    assert cli.json("explain", "1")["queued_reason"] == "nobody eligible in rule 'everyone'"
    assert cli.json("assign", env={"LEADSHARE_NOW": "2026-11-26T08:59:00"}) == {"assigned": 0, "queued": 3}
    assert cli.json("assign", env={"LEADSHARE_NOW": "2026-11-26T09:00:00"}) == {"assigned": 3, "queued": 0}
    assert [cli.json("show", str(i))["agent"] for i in (1, 2, 3)] == ["aisyah", "ben", "chitra"]
    assert cli.json("verify", "--decisions")["ok"] is True


def test_after_hours_assign_starts_the_sla_clock_at_the_next_working_hour(cli, tmp_path):
    write_csv(tmp_path / "night.csv", lead_rows(1))
    cli.json("import", "night.csv", env={"LEADSHARE_NOW": "2026-11-25T23:00:00"})
    shown = cli.json("show", "1")
    assert shown["agent"] == "aisyah"
    assert shown["sla_due"] == "2026-11-26T05:00:00+00:00"  # Thu 09:00 + 4h = 13:00 in Kuala Lumpur
    why = cli.json("explain", "1")
    assert all(c["eligible"] and c["reason"] is None for c in why["candidates"] if c["agent"] != "dan")
    night = {a["id"]: a for a in cli.json("agents", env={"LEADSHARE_NOW": "2026-11-25T23:00:00"})}
    assert night["ben"]["available"] and night["ben"]["off_duty"] == "off duty until Thu 09:00"


def test_a_public_holiday_is_off_duty_with_its_name(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace("phone_region: MY\n", "phone_region: MY\nholidays: {country: MY, subdiv: KUL}\n"))
    write_csv(tmp_path / "merdeka.csv", lead_rows(1))
    cli.json("import", "merdeka.csv", env={"LEADSHARE_NOW": "2026-08-31T10:00:00"})
    assert cli.json("show", "1")["sla_due"] == "2026-09-01T05:00:00+00:00"  # the clock waits for Tue 09:00
    rules.write_text(rules.read_text().replace("after_hours: assign", "after_hours: queue"))
    write_csv(tmp_path / "merdeka2.csv", lead_rows(1, start=1))
    cli.json("import", "merdeka2.csv", env={"LEADSHARE_NOW": "2026-08-31T10:00:00"})
    reasons = {c["agent"]: c["reason"] for c in cli.json("explain", "2")["candidates"]}
    assert reasons["ben"] == "public holiday: National Day"


def test_capacity_is_never_exceeded_and_capacity_zero_pauses_an_agent(cli, tmp_path, rules):
    text = rules.read_text().replace("    tier: silver\n", "    tier: silver\n    capacity: 1\n", 1)
    text = text.replace("    skills: [ta, en]\n", "    skills: [ta, en]\n    capacity: 0\n")
    rules.write_text(text)
    write_csv(tmp_path / "leads.csv", lead_rows(5))
    cli.json("import", "leads.csv")
    owners = [cli.json("show", str(i))["agent"] for i in range(1, 6)]
    assert owners.count("ben") == 1 and "chitra" not in owners and owners.count("aisyah") == 4
    reasons = {c["agent"]: c["reason"] for c in cli.json("explain", "5")["candidates"]}
    assert reasons["ben"] == "at capacity 1/1" and reasons["chitra"] == "capacity 0" and reasons["dan"] == "inactive"


def test_explain_says_why_earlier_rules_did_not_decide(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(1))
    cli.json("import", "leads.csv")
    why = cli.json("explain", "FB-0")
    assert why["agent"] == "aisyah" and why["rule"] == "everyone" and why["strategy"] == "round_robin"
    assert why["skipped"] == [{"rule": "commercial", "why": "product is 'residential', not commercial"}]
    assert {"lead", "agent", "rule", "strategy", "candidates"} <= set(why)
    assert why["rules_version"] and len(why["rules_version"]) == 64
    assert why["state"] == {"last": None, "start": "aisyah"}
    text = cli("explain", "1").stdout
    assert "rule 'commercial' did not decide" in text and "inactive" in text


def test_keep_owner_brings_history_and_pipeline_from_another_crm(cli, tmp_path):
    (tmp_path / "crm.csv").write_text(
        "Lead ID,Name,Phone,Lead Owner,Lead Status\n"
        f"SF-1,Old Won,{phone(1)},ben,won\n"
        f"SF-2,Open One,{phone(2)},Chitra Devi,qualified\n"
        f"SF-3,Unknown Owner,{phone(3)},zara,contacted\n"
    )
    out = cli.json("import", "crm.csv", "--keep-owner")
    assert out["kept_owner"] == 2 and out["unknown_owners"] == ["row 3: zara"]
    assert (cli.json("show", "SF-1")["agent"], cli.json("show", "SF-1")["status"]) == ("ben", "won")
    assert (cli.json("show", "SF-2")["agent"], cli.json("show", "SF-2")["status"]) == ("chitra", "qualified")
    assert cli.json("show", "SF-3")["rule"] == "everyone"
    assert cli.json("explain", "SF-1")["kind"] == "kept from the imported file"
    # without --keep-owner the columns are only attributes
    (tmp_path / "crm2.csv").write_text(f"Name,Phone,Lead Owner\nNew Person,{phone(9)},ben\n")
    cli.json("import", "crm2.csv")
    assert cli.json("show", "4")["fields"]["owner"] == "ben"
    assert cli.json("verify", "--decisions")["ok"] is True


def test_returning_customer_after_a_won_deal_goes_back_to_the_same_agent(cli, tmp_path):
    write_csv(tmp_path / "a.csv", lead_rows(2))
    cli.json("import", "a.csv")
    cli("status", "2", "won", "--as", "ben")
    (tmp_path / "b.csv").write_text(CSV_HEADER + f"IG-9,Returning,{phone(1)},,instagram,KL,residential\n")
    cli.json("import", "b.csv")
    why = cli.json("explain", "IG-9")
    assert why["agent"] == "ben" and why["rule"] == "returning customer"
    assert why["kind"].startswith("returning customer")


def test_the_example_rules_file_exercises_every_strategy(tmp_path):
    from pathlib import Path

    from leadshare.config import load_team

    team = load_team(Path(__file__).parent.parent / "rules.example.yaml")
    assert {r.strategy for r in team.rules} == {"round_robin", "weighted", "least_loaded"}


def test_many_returning_customers_each_record_their_own_owner_as_candidate(cli, tmp_path):
    write_csv(tmp_path / "a.csv", lead_rows(9))
    cli.json("import", "a.csv")
    owners = {i: cli.json("show", str(i))["agent"] for i in range(1, 10)}
    for i, owner in owners.items():
        assert cli("status", str(i), "lost", "--as", owner).exit_code == 0
    (tmp_path / "b.csv").write_text(CSV_HEADER + "".join(f"B-{i},Again {i},+60 12-{3000000 + i:07d},,web,KL,x\n" for i in range(9)))
    cli.json("import", "b.csv")
    for i in range(9):
        why = cli.json("explain", f"B-{i}")
        assert why["agent"] == owners[i + 1] and [c["agent"] for c in why["candidates"]] == [owners[i + 1]]
    assert cli.json("verify", "--decisions")["ok"] is True


def test_least_loaded_makes_up_for_other_rules_and_is_not_called_unfair_for_it(cli, tmp_path, rules):
    text = rules.read_text().replace("  - name: commercial\n", "  - name: english\n    when: {language: en}\n    pool: {skills: [en]}\n"
                                     "    strategy: least_loaded\n  - name: commercial\n")
    rules.write_text(text)
    (tmp_path / "a.csv").write_text("Name,Phone,Product\n" + "".join(f"P{i},{phone(i)},commercial\n" for i in range(4)))
    cli.json("import", "a.csv")  # commercial: aisyah alone has the skill -> 4 open leads
    (tmp_path / "b.csv").write_text("Name,Phone,Language\n" + "".join(f"E{i},{phone(100 + i)},en\n" for i in range(6)))
    cli.json("import", "b.csv")  # english, least loaded: ben and chitra catch up first
    groups = {g["key"]: g for g in cli.json("fairness")["groups"]}
    assert (groups["ben"]["assigned"], groups["chitra"]["assigned"]) == (3, 3)
    assert all(not g.get("flagged") for g in groups.values())
    assert groups["ben"]["expected"] == 3 and groups["aisyah"]["expected"] == 4
