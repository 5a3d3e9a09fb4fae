"""Reading it all: `mine` and its limit, tables that fit the terminal, times on the team's clock."""

from __future__ import annotations

import sqlite3

from conftest import lead_rows, phone, write_csv


def imported(cli, tmp_path, rows):
    write_csv(tmp_path / "leads.csv", rows)
    cli.json("import", "leads.csv")


def test_mine_table_shows_the_most_urgent_leads_and_says_how_many_more(cli, tmp_path):
    imported(cli, tmp_path, lead_rows(9))  # aisyah: 1, 4, 7
    cli("status", "4", "contacted", "--note", "called", "--as", "aisyah")  # contacted: no longer urgent
    shown = cli("mine", "--as", "aisyah", "--limit", "2", env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    ids = [line.split()[0] for line in shown.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert ids == ["1", "7"]
    assert "aisyah: 3 open leads" in shown.stdout and "the 2 most urgent; 1 more" in shown.stdout
    assert [m["id"] for m in cli.json("mine", "--as", "aisyah")] == [1, 7, 4]  # --json: all
    assert [m["id"] for m in cli.json("mine", "--as", "aisyah", "--limit", "2")] == [1, 7]


def test_mine_table_defaults_to_the_50_most_urgent(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace("  - id: ben\n", "  - id: ben\n    active: false\n")
                     .replace("  - id: chitra\n", "  - id: chitra\n    active: false\n"))
    imported(cli, tmp_path, lead_rows(53))
    shown = cli("mine", "--as", "aisyah", env={"COLUMNS": "200"})
    assert "aisyah: 53 open leads" in shown.stdout and "the 50 most urgent; 3 more" in shown.stdout
    assert len(cli.json("mine", "--as", "aisyah")) == 53


def test_mine_reads_only_the_leads_it_shows(cli, tmp_path):
    """The limit is the query's: open leads come in the index's order, no sort of all of them."""
    from leadshare.ledger.store import OPEN_LEADS, URGENCY

    imported(cli, tmp_path, lead_rows(3))
    with sqlite3.connect(tmp_path / "leadshare.db") as conn:
        plan = " ".join(r[3] for r in conn.execute(
            f"EXPLAIN QUERY PLAN SELECT * FROM leads WHERE agent = ? AND {OPEN_LEADS} ORDER BY {URGENCY} LIMIT 50", ["ben"]))
    assert "USING INDEX leads_open_urgency (agent=?)" in plan and "TEMP B-TREE" not in plan, plan


def test_tables_drop_empty_columns_before_cutting_a_value(cli, tmp_path):
    name = "Nur Aisyah binti Abdullah Rahman Shah"
    imported(cli, tmp_path, [f",{name},{phone(1)},,,,"])
    cli("note", "1", "wants a corner unit facing the park, asked twice about parking bays", "--as", "aisyah")
    shown = cli("mine", "--as", "aisyah", env={"COLUMNS": "80"}).stdout
    header = next(line for line in shown.splitlines() if line.lstrip().startswith("id"))
    assert "source" not in header and "region" not in header
    # the room the empty columns left goes to the name and the note: they wrap, no word is cut
    assert "…" not in shown and set(name.split()) <= set(shown.split())


def test_tables_never_cut_phone_numbers_or_times(cli, tmp_path):
    name = "Nur Aisyah binti Abdullah Rahman Shah"
    imported(cli, tmp_path, [f"FB-1,{name},{phone(1)},someone@example.com,facebook-lead-ads-campaign,Kuala Lumpur,x"])
    cli("note", "1", "wants a corner unit facing the park, asked twice about parking bays", "--as", "aisyah")
    for width in ("60", "80"):
        shown = cli("mine", "--as", "aisyah", env={"COLUMNS": width}).stdout
        assert "+60123000001" in shown and "2026-11-25 14:00" in shown, shown
    timeline = cli("show", "1", env={"COLUMNS": "60"}).stdout
    assert "2026-11-25 10:00" in timeline


def test_times_inside_text_are_shown_on_the_team_clock(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace("max_reassign: 2", "max_reassign: 1"))
    imported(cli, tmp_path, lead_rows(1))  # aisyah, due 14:00 in Kuala Lumpur
    assert cli.json("sweep", env={"LEADSHARE_NOW": "2026-11-25T14:00:00"})["reassigned"] == 1
    mine = cli("mine", "--as", "ben", env={"COLUMNS": "200", "LEADSHARE_NOW": "2026-11-25T14:00:00"}).stdout
    assert "not contacted by 2026-11-25 14:00 Asia/Kuala_Lumpur" in mine and "+00:00" not in mine
    cli("note", "1", "customer asked for 2026-11-26T02:00:00+00:00", "--as", "system")
    for args in (("show", "1"), ("log", "--lead", "1")):
        out = " ".join(cli(*args, env={"COLUMNS": "200"}).stdout.split())
        assert "customer asked for 2026-11-26 10:00" in out and "+00:00" not in out, args


def test_log_table_has_a_details_column(cli, tmp_path):
    imported(cli, tmp_path, lead_rows(3))
    cli("note", "2", "call back Friday", "--as", "ben")
    cli("reassign", "2", "--to", "chitra", "--reason", "speaks Tamil", "--as", "aisyah")
    out = cli("log", env={"COLUMNS": "200"}).stdout
    assert "details" in out.splitlines()[2]
    for text in ("3 rows: 3 imported, 0 duplicates, 0 rejected, 0 queued", "rule 'everyone' (round_robin)",
                 "call back Friday", "speaks Tamil", "ben -> chitra"):
        assert text in out, text


def test_since_given_with_until_counts_back_from_until(cli, tmp_path):
    imported(cli, tmp_path, lead_rows(3))  # Wed 2026-11-25 10:00
    june = cli.json("fairness", "--since", "7d", "--until", "2026-06-30")
    assert (june["since"], june["until"]) == ("2026-06-23T15:59:59+00:00", "2026-06-30T15:59:59+00:00")
    assert sum(g["assigned"] for g in june["groups"]) == 0
    day = cli.json("fairness", "--since", "1d", "--until", "2026-11-25T12:00")
    assert day["since"] == "2026-11-24T04:00:00+00:00" and sum(g["assigned"] for g in day["groups"]) == 3
    exported = cli("export", "--since", "1d", "--until", "2026-11-24T12:00", "--format", "json")
    assert exported.exit_code == 0 and exported.stdout.strip() == "[]"


def test_agents_table_shows_this_week_against_expected_and_leads_until_the_next_turn(cli, tmp_path):
    imported(cli, tmp_path, lead_rows(4))  # aisyah, ben, chitra, aisyah: ben is next in 'everyone'
    rows = {line.split()[0]: line for line in cli("agents", env={"COLUMNS": "250"}).stdout.splitlines() if line.strip()}
    assert "this week" in rows["agent"] and "next lead in" in rows["agent"]
    assert "2 of 1.3" in rows["aisyah"] and "'everyone' in 1" in rows["ben"] and "'everyone' in 2" in rows["chitra"]


def test_a_narrow_terminal_leaves_out_the_last_fairness_columns_and_says_which(cli, tmp_path):
    imported(cli, tmp_path, lead_rows(6))
    narrow = " ".join(cli("fairness", env={"COLUMNS": "60"}).stdout.split())
    assert "agent assigned expected diff" in narrow and "exp.share" not in narrow.split("Wider")[0]
    assert "Wider terminal or --json: contact, won, share, exp.share." in narrow
    assert "Wider terminal" not in cli("fairness", env={"COLUMNS": "200"}).stdout


def test_a_terminal_too_narrow_for_whole_values_still_shows_every_column(cli, tmp_path):
    imported(cli, tmp_path, lead_rows(3))
    shown = cli("mine", "--as", "ben", env={"COLUMNS": "40"}).stdout
    header = next(line for line in shown.splitlines() if line.lstrip().startswith("id"))
    names = header.split()
    assert names[:2] == ["id", "name"] and names[2].startswith("pho") and len(names) == 7, header  # cut, not gone
