"""Fairness everyone can check: expected shares, tolerance and Gini, as a manager sees them."""

from __future__ import annotations

import pytest

from conftest import CSV_HEADER, TEAM_YAML, lead_rows, phone, write_csv
from leadshare import config, reports

CONTRACT_KEYS = {"key", "assigned", "share", "expected", "expected_share", "open", "capacity"}

# Two agents of different tiers sharing every lead by weight.
WEIGHTED_YAML = """\
timezone: Asia/Kuala_Lumpur
hours:
  mon-fri: "09:00-18:00"
tiers:
  gold: {weight: 1.25}
  silver: {weight: 1.0}
agents:
  - id: gold
    name: Gita Gold
    tier: gold
  - id: silver
    name: Sam Silver
    tier: silver
rules:
  - name: by weight
    pool: all
    strategy: weighted
"""


pytestmark = pytest.mark.both_backends


def by_key(data: dict) -> dict[str, dict]:
    return {g["key"]: g for g in data["groups"]}


# ---- the maths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 1, 1, 1], 0.0),
        ([5], 0.0),
        ([0, 0, 0, 4], 0.75),
        ([1, 2, 3, 4], 0.25),
        ([0, 2], 0.5),
        ([], 0.0),
        ([0, 0], 0.0),
    ],
)
def test_gini_of_known_vectors(values, expected):
    assert reports.gini(values) == pytest.approx(expected, abs=1e-6)


def test_gini_against_expected_is_zero_when_everyone_got_their_expected_share():
    # gold expected 10 and got 10, silver expected 8 and got 8: as intended, however unequal
    assert reports.gini([10, 8], [10, 8]) == 0.0
    assert reports.gini([10, 8, 0], [10, 8, 0]) == 0.0


def test_gini_with_expectations_treats_each_expectation_as_a_population():
    # expected 1 and 2, got 2 and 1: the same as three people holding 2, 0.5 and 0.5
    assert reports.gini([2, 1], [1, 2]) == pytest.approx(reports.gini([2, 0.5, 0.5])) == pytest.approx(1 / 3, abs=1e-6)
    # one agent got everything the other two were expected to share
    assert reports.gini([3, 0, 0], [1, 1, 1]) == pytest.approx(2 / 3, abs=1e-6)
    # a lead to someone nobody expected anything of still counts against fairness
    assert reports.gini([1, 1, 2], [2, 2, 0]) > 0


def test_expected_shares_follow_the_strategy_among_the_eligible():
    cands = [["gold", True, None, 1.25], ["silver", True, None, 1.0], ["away", False, "on leave until 2026-12-01", 1.0]]
    weighted = reports.expected_shares(cands, "weighted")
    assert weighted == pytest.approx({"gold": 5 / 9, "silver": 4 / 9})
    # a rotation takes turns whatever the tiers
    assert reports.expected_shares(cands, "round_robin") == pytest.approx({"gold": 0.5, "silver": 0.5})
    # least loaded intends the lead for whoever was least loaded then: the owner it recorded
    assert reports.expected_shares(cands, "least_loaded", "silver") == {"silver": 1.0}
    assert reports.expected_shares([["x", False, "capacity 0", 1.0]], "weighted") == {}


@pytest.mark.parametrize(
    ("assigned", "expected", "flagged"),
    [(5, 3, False), (6, 3, True), (0, 3, True), (1, 3.5, True), (110, 100, False), (111, 100, True), (88, 100, True)],
)
def test_tolerance_marks_only_gaps_of_more_than_two_leads_and_ten_percent(assigned, expected, flagged):
    assert reports.is_flagged(assigned, expected) is flagged


def test_fairness_is_maths_on_plain_values_that_needs_no_ledger():
    team = config.parse_team(WEIGHTED_YAML)
    by_weight = {"agent": "gold", "candidates": [["gold", True, None, 1.25], ["silver", True, None, 1.0]],
                 "strategy": "weighted", "rule": "by weight", "kept": 0, "region": "KL", "source": "web",
                 "n": 9, "won": 1, "closed": 2}
    kept = dict(by_weight, agent="silver", candidates=None, strategy=None, rule=None, kept=1, region="kl", n=3, won=0, closed=0)
    contact = {"agent": "gold", "region": "KL", "source": "web", "rule": "by weight",
               "assigned_at": "2026-11-25T02:00:00+00:00", "first_contact_at": "2026-11-25T02:30:00+00:00"}
    facts = {"decisions": [by_weight, kept], "first_contacts": [contact],
             "reassignments": [{"src": "gold", "dst": "silver", "sla": 1, "n": 1}], "open": {"gold": 4}}

    data = reports.fairness_of(facts, team, "2026-11-01T00:00:00+00:00", "2026-11-30T00:00:00+00:00")
    gold, silver = by_key(data)["gold"], by_key(data)["silver"]
    assert data["total"] == 12 and data["by"] == "agent"
    assert (gold["assigned"], gold["expected"], gold["open"]) == (9, 5.0, 4)
    assert (silver["assigned"], silver["expected"], silver["open"]) == (3, 7.0, 0)  # 4 of the 9, and its kept 3
    assert (gold["reassigned_out"], gold["reassigned_out_sla"], silver["reassigned_in"]) == (1, 1, 1)
    assert (gold["median_first_contact_minutes"], gold["conversion"]) == (30.0, 0.5)
    assert data["gini"] == reports.gini([9, 3], [5, 7])

    facts["open"] = {"KL": 2, "kl": 1}
    territory = reports.fairness_of(facts, team, "2026-11-01T00:00:00+00:00", "2026-11-30T00:00:00+00:00", by="territory")
    (kl,) = territory["groups"]  # one territory, however it is spelt
    assert (kl["key"], kl["assigned"], kl["expected"], kl["open"]) == ("KL", 12, 12.0, 3)
    assert [(a["key"], a["assigned"], a["expected"]) for a in kl["agents"]] == [("gold", 9, 5.0), ("silver", 3, 7.0)]


# ---- through the command line ---------------------------------------------------------------


def test_weighted_rule_expects_gold_five_ninths_and_silver_four_ninths(cli, tmp_path, rules):
    rules.write_text(WEIGHTED_YAML)
    write_csv(tmp_path / "leads.csv", lead_rows(18))
    cli.json("import", "leads.csv")
    data = cli.json("fairness")
    assert {"since", "until", "groups", "gini"} <= set(data)
    assert all(CONTRACT_KEYS <= set(g) for g in data["groups"])
    groups = by_key(data)
    assert [g["key"] for g in data["groups"]] == ["gold", "silver"]
    assert groups["gold"]["expected"] == pytest.approx(10.0)  # 18 x 1.25 / 2.25
    assert groups["silver"]["expected"] == pytest.approx(8.0)  # 18 x 1.0 / 2.25
    assert groups["gold"]["expected_share"] == pytest.approx(5 / 9, abs=1e-6)
    assert (groups["gold"]["assigned"], groups["silver"]["assigned"]) == (10, 8)
    assert groups["gold"]["share"] == pytest.approx(10 / 18, abs=1e-6)
    assert groups["gold"]["difference"] == 0 and not groups["gold"]["flagged"]
    assert data["gini"] == 0.0
    assert data["total"] == 18
    assert groups["gold"]["open"] == 10 and groups["gold"]["capacity"] is None


def test_round_robin_expects_an_even_split_whatever_the_tiers(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(9))
    cli.json("import", "leads.csv")
    groups = by_key(cli.json("fairness"))
    # aisyah is gold, ben silver, chitra has no tier; dan is inactive and expects nothing
    assert {k: g["expected"] for k, g in groups.items()} == {"aisyah": 3.0, "ben": 3.0, "chitra": 3.0}
    assert "dan" not in groups


LEAVE_YAML = TEAM_YAML.replace("    tier: silver\n", '    tier: silver\n    leave: ["2026-11-23..2026-11-24"]\n')


def test_agent_on_leave_half_the_period_expects_about_half(cli, tmp_path, rules):
    rules.write_text(LEAVE_YAML)
    write_csv(tmp_path / "mon.csv", lead_rows(12))
    write_csv(tmp_path / "wed.csv", lead_rows(12, start=100))
    # Monday: ben is on leave, so aisyah and chitra share the day's leads
    assert cli.json("import", "mon.csv", env={"LEADSHARE_NOW": "2026-11-23T10:00:00"})["by_agent"] == {"aisyah": 6, "chitra": 6}
    # Wednesday: ben is back, three share them
    assert cli.json("import", "wed.csv", env={"LEADSHARE_NOW": "2026-11-25T10:00:00"})["by_agent"] == {"aisyah": 4, "ben": 4, "chitra": 4}

    data = cli.json("fairness", "--since", "2026-11-23", "--until", "2026-11-25")
    groups = by_key(data)
    assert {k: g["expected"] for k, g in groups.items()} == {"aisyah": 10.0, "ben": 4.0, "chitra": 10.0}
    # present for half the leads, ben expects half of an even third of them
    assert groups["ben"]["expected"] == pytest.approx(24 / 3 / 2)
    assert all(g["assigned"] == g["expected"] and not g["flagged"] for g in groups.values())
    assert data["gini"] == 0.0

    # a date --until covers that whole day; the Monday alone shows ben expecting nothing
    monday = by_key(cli.json("fairness", "--since", "2026-11-23", "--until", "2026-11-23"))
    assert {k: g["expected"] for k, g in monday.items()} == {"aisyah": 6.0, "ben": 0.0, "chitra": 6.0}
    assert monday["ben"]["assigned"] == 0
    # a span back from now
    last_day = by_key(cli.json("fairness", "--since", "24h"))
    assert {k: g["expected"] for k, g in last_day.items()} == {"aisyah": 4.0, "ben": 4.0, "chitra": 4.0}


def test_a_reassigned_lead_counts_for_its_new_owner_and_shows_as_in_and_out(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(6))
    cli.json("import", "leads.csv")
    bens = [m["id"] for m in cli.json("mine", "--as", "ben")]
    result = cli("reassign", str(bens[0]), "--to", "chitra", "--reason", "speaks Tamil", "--as", "aisyah")
    assert result.exit_code == 0, result.stderr
    groups = by_key(cli.json("fairness"))
    assert (groups["ben"]["assigned"], groups["ben"]["reassigned_out"], groups["ben"]["reassigned_in"]) == (1, 1, 0)
    assert (groups["chitra"]["assigned"], groups["chitra"]["reassigned_in"], groups["chitra"]["reassigned_out"]) == (3, 1, 0)
    # what the rules intended does not move with a hand-over
    assert groups["ben"]["expected"] == groups["chitra"]["expected"] == 2.0
    assert groups["ben"]["difference"] == -1.0 and groups["chitra"]["difference"] == 1.0
    assert not groups["chitra"]["flagged"]  # one lead is within tolerance


def test_leads_moved_far_from_expected_are_flagged_and_raise_the_gini(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(9))
    cli.json("import", "leads.csv")
    assert cli.json("fairness")["gini"] == 0.0
    for lead in cli.json("mine", "--as", "ben"):
        assert cli("reassign", str(lead["id"]), "--to", "aisyah", "--reason", "ben left", "--as", "aisyah").exit_code == 0
    data = cli.json("fairness")
    groups = by_key(data)
    assert groups["aisyah"]["assigned"] == 6 and groups["aisyah"]["flagged"]
    assert groups["ben"]["assigned"] == 0 and groups["ben"]["flagged"]
    assert not groups["chitra"]["flagged"]
    assert data["gini"] == pytest.approx(reports.gini([6, 0, 3]))
    assert data["tolerance"] == {"leads": reports.TOLERANCE_LEADS, "share": reports.TOLERANCE_SHARE}
    table = cli("fairness")
    assert table.exit_code == 0 and "!" in table.stdout


def test_median_first_contact_and_conversion_per_agent(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(6))  # aisyah gets leads 1 and 4 at 10:00
    cli.json("import", "leads.csv")
    for lead, at in ((1, "2026-11-25T10:30:00"), (4, "2026-11-25T11:30:00")):
        result = cli("status", str(lead), "contacted", "--note", "called", "--as", "aisyah", env={"LEADSHARE_NOW": at})
        assert result.exit_code == 0, result.stderr
    later = {"LEADSHARE_NOW": "2026-11-25T12:00:00"}
    assert cli("status", "1", "won", "--note", "signed", "--as", "aisyah", env=later).exit_code == 0
    assert cli("status", "4", "lost", "--note", "no budget", "--as", "aisyah", env=later).exit_code == 0
    groups = by_key(cli.json("fairness", env=later))
    assert groups["aisyah"]["median_first_contact_minutes"] == 60.0  # 30 and 90 minutes
    assert groups["aisyah"]["conversion"] == 0.5
    assert (groups["aisyah"]["won"], groups["aisyah"]["closed"]) == (1, 2)
    assert groups["ben"]["median_first_contact_minutes"] is None and groups["ben"]["conversion"] is None
    assert groups["aisyah"]["open"] == 0 and groups["ben"]["open"] == 2


def test_by_territory_expected_is_the_groups_own_leads_and_the_split_inside_is_shown(cli, tmp_path):
    rows = [f"T-{i},Customer {i},{phone(i)},,facebook,{region},residential"
            for i, region in enumerate(["KL", "KL", "kl", "KL", "Penang", "Penang"])]
    write_csv(tmp_path / "leads.csv", rows)
    cli.json("import", "leads.csv")
    agent_view = cli.json("fairness")
    data = cli.json("fairness", "--by", "territory")
    assert data["by"] == "territory"
    groups = by_key(data)
    assert list(groups) == ["KL", "Penang"]  # matched case-insensitively, most leads first
    kl = groups["KL"]
    assert (kl["assigned"], kl["expected"], kl["difference"]) == (4, 4.0, 0.0)
    assert kl["share"] == pytest.approx(4 / 6, abs=1e-6) and kl["open"] == 4
    assert CONTRACT_KEYS <= set(kl)
    assert sum(a["assigned"] for a in kl["agents"]) == 4
    assert sum(a["expected"] for a in kl["agents"]) == pytest.approx(4.0, abs=1e-3)  # rounded to 4 places each
    assert data["gini"] == agent_view["gini"]  # the headline figure is always per agent
    for by in ("source", "rule"):
        out = cli.json("fairness", "--by", by)
        assert sum(g["assigned"] for g in out["groups"]) == 6
    assert by_key(cli.json("fairness", "--by", "source"))["facebook"]["assigned"] == 6
    assert by_key(cli.json("fairness", "--by", "rule"))["everyone"]["assigned"] == 6


def test_fairness_table_for_people(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    cli.json("import", "leads.csv")
    result = cli("fairness")
    assert result.exit_code == 0
    assert "aisyah" in result.stdout and "Gini" in result.stdout
    result = cli("fairness", "--by", "source")
    assert result.exit_code == 0 and "facebook" in result.stdout


@pytest.mark.parametrize(
    "args",
    [("--by", "team"), ("--since", "2026-11-26", "--until", "2026-11-20"), ("--since", "last tuesday")],
)
def test_fairness_refuses_a_bad_grouping_or_period_with_one_line(cli, args):
    result = cli("fairness", *args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_fairness_of_an_empty_ledger(cli):
    data = cli.json("fairness")
    assert data["gini"] == 0.0 and data["total"] == 0
    assert all(g["assigned"] == 0 and g["share"] == 0.0 for g in data["groups"])


def test_queued_and_kept_owner_leads(cli, tmp_path):
    # an owner kept from another CRM was not shared by the rules: expected as given
    (tmp_path / "crm.csv").write_text(CSV_HEADER.strip() + ",Owner\n" + f"C-1,Ali,{phone(1)},,crm,KL,residential,ben\n")
    cli.json("import", "crm.csv", "--keep-owner")
    groups = by_key(cli.json("fairness"))
    assert (groups["ben"]["assigned"], groups["ben"]["expected"]) == (1, 1.0)
    assert groups["aisyah"]["expected"] == 0.0


def test_markup_like_sources_show_as_written(cli, tmp_path):
    rows = [f"M-{i},Customer {i},{phone(i)},,[/red] [bold]ads,KL,residential" for i in range(2)]
    write_csv(tmp_path / "leads.csv", rows)
    cli.json("import", "leads.csv")
    result = cli("fairness", "--by", "source")
    assert result.exit_code == 0, result.stderr
    assert "[/red] [bold]ads" in result.stdout
