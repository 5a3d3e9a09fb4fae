"""Working a lead after it is assigned: notes, statuses, handoffs, SLA sweeps, leave, forget."""

from __future__ import annotations

import pytest


import orjson

from conftest import ledger_conn, lead_rows, phone, write_csv


pytestmark = pytest.mark.both_backends


def imported(cli, tmp_path, n=3, **env):
    write_csv(tmp_path / "leads.csv", lead_rows(n))
    cli.json("import", "leads.csv", env=env or None)


def test_note_is_shared_on_the_timeline_and_in_mine(cli, tmp_path):
    imported(cli, tmp_path)  # lead 1 -> aisyah, 2 -> ben, 3 -> chitra
    assert cli("note", "1", "called, no answer", "--as", "aisyah").exit_code == 0
    timeline = cli.json("show", "1")["timeline"]
    assert timeline[-1]["type"] == "note" and timeline[-1]["data"]["text"] == "called, no answer"
    assert timeline[-1]["actor"] == "aisyah"
    assert cli.json("mine", "--as", "aisyah")[0]["last_note"] == "called, no answer"


def test_an_agent_may_not_touch_someone_elses_lead(cli, tmp_path):
    imported(cli, tmp_path)
    result = cli("note", "1", "mine now", "--as", "ben")
    assert result.exit_code == 2 and "belongs to aisyah" in result.stderr
    result = cli("status", "1", "qualified", "--as", "ben")
    assert result.exit_code == 2
    result = cli("reassign", "1", "--to", "ben", "--reason", "I know her", "--as", "ben")
    assert result.exit_code == 2 and "manager" in result.stderr
    assert cli.json("show", "1")["agent"] == "aisyah"


def test_status_needs_a_note_where_the_rules_require_one(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace("after_hours: assign\n", "after_hours: assign\nrequire_note: [contacted, lost]\n"))
    imported(cli, tmp_path)
    refused = cli("status", "2", "contacted", "--as", "ben")
    assert refused.exit_code == 2 and "needs a note" in refused.stderr
    assert cli.json("show", "2")["status"] == "new"
    assert cli("status", "2", "contacted", "--note", "spoke to her", "--as", "ben").exit_code == 0
    shown = cli.json("show", "2")
    assert shown["status"] == "contacted" and shown["first_contact_at"] is not None


def test_a_move_into_a_status_that_requires_a_note_carries_its_own_note(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace("after_hours: assign\n", "after_hours: assign\nrequire_note: [lost]\n"))
    imported(cli, tmp_path)
    assert cli("note", "2", "not interested after all", "--as", "ben").exit_code == 0
    refused = cli("status", "2", "lost", "--as", "ben")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == 'leadshare: moving lead 2 to lost needs a note (add --note "what happened")'
    assert cli.json("show", "2")["status"] == "new"
    assert cli("status", "2", "lost", "--note", "bought elsewhere", "--as", "ben").exit_code == 0
    assert cli.json("show", "2")["timeline"][-2]["data"]["text"] == "bought elsewhere"


def test_unknown_status_is_refused_with_the_pipeline(cli, tmp_path):
    imported(cli, tmp_path)
    result = cli("status", "1", "maybe", "--as", "aisyah")
    assert result.exit_code == 2 and "contacted" in result.stderr


def test_closing_frees_capacity_and_reopening_takes_a_manager(cli, tmp_path):
    imported(cli, tmp_path)
    cli("status", "2", "won", "--as", "ben")
    assert cli.json("mine", "--as", "ben") == []
    assert len(cli.json("mine", "--as", "ben", "--all")) == 1
    refused = cli("status", "2", "qualified", "--as", "ben")
    assert refused.exit_code == 2 and "manager" in refused.stderr
    assert cli("status", "2", "qualified", "--as", "aisyah").exit_code == 0


def test_handoff_moves_the_lead_with_its_story(cli, tmp_path):
    imported(cli, tmp_path)
    cli("note", "3", "wants a 3-room flat", "--as", "chitra")
    assert cli("reassign", "3", "--to", "ben", "--reason", "speaks Mandarin", "--as", "aisyah").exit_code == 0
    shown = cli.json("show", "3")
    assert shown["agent"] == "ben"
    texts = [t["data"].get("text") for t in shown["timeline"]]
    assert "wants a 3-room flat" in texts and "speaks Mandarin" in texts
    assert [m["id"] for m in cli.json("mine", "--as", "ben")] == [2, 3]
    proof = cli.json("verify", "--decisions")
    assert proof["ok"] and proof["decisions"] == 3
    assert proof["manual_reassignments"] == [
        {"seq": proof["manual_reassignments"][0]["seq"], "at": proof["manual_reassignments"][0]["at"], "lead": 3,
         "by": "aisyah", "from": "chitra", "to": "ben", "reason": "speaks Mandarin"}]


def test_departure_moves_every_open_lead_by_the_rules(cli, tmp_path):
    imported(cli, tmp_path, n=6)  # two each
    plan = cli.json("reassign", "--from", "chitra", "--by-rules", "--reason", "left the company", "--dry-run", "--as", "aisyah")
    assert plan["moved"] == 2 and all(p["to"] in ("aisyah", "ben") for p in plan["leads"])
    assert len(cli.json("mine", "--as", "chitra")) == 2  # a dry run changes nothing
    done = cli.json("reassign", "--from", "chitra", "--by-rules", "--reason", "left the company", "--as", "aisyah")
    assert done["leads"] == plan["leads"]
    assert cli.json("mine", "--as", "chitra") == []
    assert cli.json("verify", "--decisions")["ok"] is True


def test_sweep_moves_uncontacted_leads_on_and_escalates_at_the_end(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace("max_reassign: 2", "max_reassign: 1"))
    imported(cli, tmp_path, n=1)  # Wed 10:00 -> aisyah, due 14:00
    assert cli.json("sweep", env={"LEADSHARE_NOW": "2026-11-25T13:59:00"}) == {"checked": 0, "reassigned": 0, "escalated": 0, "warned": 0}
    first = cli.json("sweep", env={"LEADSHARE_NOW": "2026-11-25T14:00:00"})
    assert first["reassigned"] == 1
    moved = cli.json("show", "1")
    assert moved["agent"] == "ben"  # next eligible, never back to aisyah
    again = cli.json("sweep", env={"LEADSHARE_NOW": "2026-11-25T14:00:00"})
    assert again["reassigned"] == 0 and again["escalated"] == 0  # twice at one moment changes nothing
    result = cli("sweep", "--json", env={"LEADSHARE_NOW": "2026-11-25T18:01:00"})
    assert result.exit_code == 1  # past max_reassign: a human must look
    log = cli.json("log", "--type", "escalated")
    assert len(log) == 1 and log[0]["data"]["to"] == ["aisyah"]
    assert cli.json("verify")["ok"] is True


def test_sla_clock_skips_the_night_and_the_weekend(cli, tmp_path):
    # Friday 17:00: one working hour left, three more on Monday from 09:00
    imported(cli, tmp_path, n=1, LEADSHARE_NOW="2026-11-27T17:00:00")
    assert cli.json("show", "1")["sla_due"] == "2026-11-30T04:00:00+00:00"  # Mon 12:00 in Kuala Lumpur
    assert cli.json("sweep", env={"LEADSHARE_NOW": "2026-11-30T11:59:00"})["checked"] == 0


def test_leave_in_the_ledger_skips_the_agent(cli, tmp_path):
    assert cli("leave", "add", "ben", "2026-11-25", "2026-11-26", "--reason", "sick", "--as", "aisyah").exit_code == 0
    listed = cli.json("leave", "list")
    assert listed[0]["agent"] == "ben" and listed[0]["origin"] == "ledger"
    imported(cli, tmp_path, n=4)
    assert cli.json("mine", "--as", "ben") == []
    why = cli.json("explain", "1")
    assert {"agent": "ben", "eligible": False, "reason": "on leave until 2026-11-26"}.items() <= next(
        c for c in why["candidates"] if c["agent"] == "ben").items()
    cli("leave", "cancel", str(listed[0]["id"]), "--as", "aisyah")
    assert cli.json("leave", "list") == []
    assert [e["type"] for e in cli.json("log", "--agent", "ben") if e["type"].startswith("leave")] == ["leave_added", "leave_cancelled"]


def test_add_records_a_walk_in_through_the_same_rules(cli):
    out = cli.json("add", "--name", "Walk In", "--phone", phone(50), "--source", "walk-in", "--field", "region=KL")
    assert out["id"] == 1 and out["agent"] == "aisyah" and out["queued"] is False and out["duplicate_of"] is None
    again = cli.json("add", "--name", "Walk In", "--phone", "+60 12-300 0050")
    assert again["duplicate_of"] == 1 and again["id"] is None
    bad = cli("add", "--name", "Nobody", "--phone", "12")
    assert bad.exit_code == 2 and "phone" in bad.stderr


def test_forget_erases_the_customer_and_keeps_the_chain(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", [f"FB-1,Canary Person,{phone(777)},canary@example.com,facebook,KL,residential"])
    cli.json("import", "leads.csv")
    cli("note", "1", "canary says call at 8pm", "--as", "aisyah")
    assert cli("forget", "1", "--as", "ben").exit_code == 2  # managers only
    assert cli("forget", "1", "--as", "aisyah").exit_code == 0
    shown = cli.json("show", "1")
    assert shown["name"] is None and shown["phone"] is None and shown["email"] is None
    assert cli.json("verify")["ok"] is True
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("leadshare.db*"))
    for canary in (b"Canary", b"60123000777", b"canary@example.com", b"call at 8pm"):
        assert canary not in raw


def test_forget_leaves_no_contact_kept_among_the_attributes(cli, tmp_path):
    """A list cell's other values, a second email or phone column, a first name beside the name, a
    message quoting a number: all attributes that recognise the person, erased with the person;
    the rest stays, and the chain still verifies (the forgotten event certifies the row left)."""
    header = "Lead ID,Name,First Name,emails,contact_numbers,Secondary Email,Work Phone,Message,Product\n"
    write_csv(tmp_path / "leads.csv", [
        f'FB-1,Abu Bakar,Abu,"abu@example.com; abu.kerja@example.com","{phone(1)}; {phone(2)}",abu.home@example.com,'
        f'{phone(3)},"call me on {phone(4)} after 8pm",condo',
        f"FB-2,Siti,Siti,siti@example.com,{phone(5)},,,,landed",
    ], header=header)
    assert cli("import", "leads.csv").exit_code == 0
    result = cli("forget", "FB-1", "--as", "aisyah")
    assert result.exit_code == 0, result.stderr
    assert cli.json("show", "1")["fields"] == {"product": "condo"}
    assert cli.json("show", "2")["fields"]["first_name"] == "Siti"  # another person's stay
    with ledger_conn() as conn:
        stored = b"".join(str(row).encode() for table in ("events", "leads", "other_contacts")
                          for row in conn.execute(f"SELECT * FROM {table}").fetchall())
    left = [s for s in (b"abu.kerja", b"abu.home", b"Abu", phone(2).encode(), phone(3).encode(), phone(4).encode(),
                        phone(4).replace("-", "")[1:].encode()) if s in stored]
    assert left == []
    assert cli.json("verify")["ok"] is True
    assert cli.json("verify", "--decisions")["ok"] is True
    with ledger_conn() as conn:  # what is left of the attributes is still certified
        conn.execute("""UPDATE leads SET attrs = '{"product":"landed"}' WHERE id = 1""")
    assert any("lead 1: stored fields differ" in p for p in cli.json("verify", code=1)["problems"])


def test_forget_again_erases_what_an_earlier_forget_left_among_the_attributes(cli, tmp_path, monkeypatch):
    """A lead forgotten before forget knew contact attributes: forgetting it again finishes the job."""
    write_csv(tmp_path / "leads.csv", ["FB-1,Abu,abu@example.com,abu.home@example.com,condo"],
              header="Lead ID,Name,Email,Secondary Email,Product\n")
    assert cli("import", "leads.csv").exit_code == 0
    with monkeypatch.context() as older:
        older.setattr("leadshare.personal.without_personal", dict)  # as forget once was: attributes untouched
        assert cli("forget", "1", "--as", "aisyah").exit_code == 0
    assert cli.json("show", "1")["fields"]["secondary_email"] == "abu.home@example.com"
    again = cli("forget", "1", "--as", "aisyah")
    assert again.exit_code == 0 and "erased now what an earlier forget left (secondary_email)" in again.stdout
    assert cli.json("show", "1")["fields"] == {"product": "condo"}
    assert cli.json("verify")["ok"] is True


def test_backup_is_a_consistent_verifiable_copy(cli, tmp_path):
    imported(cli, tmp_path)
    assert cli("backup", "copy.db").exit_code == 0
    assert cli.json("verify", "--db", "copy.db")["ok"] is True
    assert cli("backup", "copy.db").exit_code == 2  # never overwrites


def test_agents_roster_says_who_is_available_and_why_not(cli, tmp_path):
    cli("leave", "add", "chitra", "2026-11-20", "2026-12-05", "--as", "chitra")
    data = {a["id"]: a for a in cli.json("agents")}
    assert data["aisyah"]["available"] is True and data["aisyah"]["weight"] == 1.25
    assert data["chitra"]["reason"] == "on leave until 2026-12-05"
    assert data["dan"]["reason"] == "inactive"
    night = {a["id"]: a for a in cli.json("agents", env={"LEADSHARE_NOW": "2026-11-25T22:00:00"})}
    assert night["ben"]["on_duty"] is False and night["ben"]["off_duty"] == "off duty until Thu 09:00"


def test_agents_see_their_week_against_expected_and_their_next_turn(cli, tmp_path):
    imported(cli, tmp_path, n=4)  # aisyah, ben, chitra, aisyah: ben is next in 'everyone'
    data = {a["id"]: a for a in cli.json("agents")}
    assert data["aisyah"]["week"]["assigned"] == 2
    assert abs(data["ben"]["week"]["expected"] - 4 / 3) < 0.01
    turns = {r["rule"]: r["leads_until_turn"] for r in data["chitra"]["rotation"]}
    assert turns == {"everyone": 2}
    assert {r["rule"]: r["leads_until_turn"] for r in data["ben"]["rotation"]} == {"everyone": 1}
    assert data["dan"]["rotation"] == [{"rule": "everyone", "strategy": "round_robin", "leads_until_turn": None}]
    shown = cli("mine", "--as", "chitra")
    assert "this week 1 leads, 1.3 expected" in " ".join(shown.stdout.split())


# ---- promises added after the first release ---------------------------------------------------


def test_lead_actions_without_an_identity_ask_who_is_acting(cli, tmp_path):
    imported(cli, tmp_path)
    for args in (("note", "1", "called"), ("status", "1", "contacted"), ("reassign", "1", "--to", "ben", "--reason", "x"),
                 ("forget", "1")):
        refused = cli(*args)
        assert refused.exit_code == 2, args
        assert refused.stderr.startswith(f"leadshare: who is acting? `{args[0]}` changes a lead as a person"), refused.stderr
    assert [e["type"] for e in cli.json("log", "--lead", "1")] == ["assigned"]
    assert cli("note", "1", "nightly check", "--as", "system").exit_code == 0
    assert cli.json("show", "1")["timeline"][-1]["actor"] == "system"


def test_agent_ids_match_ignoring_case(cli, tmp_path):
    imported(cli, tmp_path)
    assert cli("note", "2", "called", "--as", "Ben").exit_code == 0
    assert cli.json("show", "2")["timeline"][-1]["actor"] == "ben"
    assert [m["id"] for m in cli.json("mine", "--as", "BEN")] == [2]
    assert cli("reassign", "3", "--to", "Ben", "--reason", "speaks Tamil", "--as", "AISYAH").exit_code == 0
    assert cli.json("show", "3")["agent"] == "ben"
    assert cli.json("reassign", "--from", "Ben", "--to", "Chitra", "--reason", "moves", "--as", "aisyah")["moved"] == 2
    assert cli.json("leave", "add", "CHITRA", "2026-12-01", "2026-12-02", "--as", "aisyah")["agent"] == "chitra"
    assert {e["agent"] for e in cli.json("log", "--agent", "Chitra")} == {"chitra"}
    assert [r["id"] for r in orjson.loads(cli("export", "--agent", "CHITRA", "--format", "json").stdout)] == [2, 3]


def test_reassigning_to_an_agent_on_leave_is_refused_unless_forced(cli, tmp_path):
    imported(cli, tmp_path)
    cli("leave", "add", "ben", "2026-11-24", "2026-11-27", "--as", "aisyah")
    refused = cli("reassign", "1", "--to", "ben", "--reason", "knows her", "--as", "aisyah")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == ("leadshare: ben is on leave until 2026-11-27 (pass --force to hand over anyway, "
                                      "or choose someone who is in)")
    assert cli("reassign", "--from", "chitra", "--to", "ben", "--reason", "x", "--as", "aisyah").exit_code == 2
    assert cli.json("show", "1")["agent"] == "aisyah"
    forced = cli("reassign", "1", "--to", "ben", "--reason", "knows her", "--force", "--as", "aisyah")
    assert forced.exit_code == 0 and "warning: ben is on leave until 2026-11-27; handed over anyway" in forced.stderr
    event = cli.json("log", "--lead", "1", "--type", "reassigned")[0]
    assert event["data"]["on_leave"] == "on leave until 2026-11-27"


def test_reassigning_beyond_capacity_warns_and_is_recorded(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace("    tier: silver\n", "    tier: silver\n    capacity: 1\n"))
    imported(cli, tmp_path)  # ben holds lead 2
    done = cli("reassign", "1", "--to", "ben", "--reason", "knows her", "--as", "aisyah")
    assert done.exit_code == 0
    assert "warning: ben now holds 2 open leads, over their capacity of 1" in done.stderr
    assert cli.json("log", "--lead", "1", "--type", "reassigned")[0]["data"]["over_capacity"] == "2/1"


def test_reassign_by_rules_that_leaves_leads_behind_exits_1_and_names_them(cli, tmp_path):
    imported(cli, tmp_path, n=6)  # chitra holds 3 and 6
    for agent in ("aisyah", "ben"):
        cli("leave", "add", agent, "2026-11-25", "2026-11-25", "--as", "aisyah")
    result = cli("reassign", "--from", "chitra", "--by-rules", "--reason", "long leave", "--json", "--as", "aisyah")
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["stayed"] == 2
    assert "2 leads stay with chitra, nobody eligible took them: 3, 6" in result.stderr
    assert [m["id"] for m in cli.json("mine", "--as", "chitra")] == [3, 6]


def test_adding_the_same_leave_twice_changes_nothing_and_says_so(cli):
    first = cli.json("leave", "add", "ben", "2026-12-01", "2026-12-05", "--as", "aisyah")
    again = cli("leave", "add", "ben", "2026-12-01", "2026-12-05", "--as", "aisyah")
    assert again.exit_code == 0
    assert again.stdout.strip() == f"ben's leave 2026-12-01 to 2026-12-05 is already recorded as leave {first['id']}; nothing changed"
    assert len(cli.json("leave", "list")) == 1
    assert len(cli.json("log", "--type", "leave_added")) == 1


def test_reopening_is_refused_while_the_customer_has_a_newer_open_lead(cli, tmp_path):
    write_csv(tmp_path / "a.csv", [f"FB-1,Siti,{phone(1)},siti@example.com,facebook,KL,residential"])
    cli.json("import", "a.csv")
    assert cli("status", "1", "won", "--as", "aisyah").exit_code == 0
    write_csv(tmp_path / "b.csv", [f"GG-9,Siti,{phone(1)},,google,KL,residential"])
    assert cli.json("import", "b.csv")["imported"] == 1  # a returning customer: lead 2
    refused = cli("status", "1", "qualified", "--as", "aisyah")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == ("leadshare: lead 1 stays won: the same customer has an open lead 2 (owner aisyah) "
                                      "(work on lead 2 instead (`leadshare show 2`))")
    assert cli.json("show", "1")["status"] == "won"


def test_explain_names_the_previous_owner_of_a_returning_customer(cli, tmp_path):
    write_csv(tmp_path / "a.csv", [f"FB-1,Siti,{phone(1)},siti@example.com,facebook,KL,residential"] + lead_rows(2, start=10))
    cli.json("import", "a.csv")  # Siti -> aisyah
    cli("status", "1", "lost", "--as", "aisyah")
    write_csv(tmp_path / "b.csv", [f"GG-9,Siti,{phone(1)},,google,KL,residential"])
    cli.json("import", "b.csv")
    why = cli.json("explain", "GG-9")
    assert (why["agent"], why["previous_owner"], why["previous_lead"]) == ("aisyah", "aisyah", 1)
    assert "returning customer: offered to the previous owner, aisyah (lead 1, lost)" in cli("explain", "GG-9").stdout


@pytest.mark.sqlite_only  # a shared ledger hands out the rules it holds, time zone and all
def test_times_shown_without_the_teams_time_zone_say_they_are_utc(cli, tmp_path, rules):
    cli("import", write_csv(tmp_path / "leads.csv", lead_rows(2)))
    owner = cli.json("show", "FB-0")["agent"]
    rules.unlink()  # an agent with only the ledger: no rules file, so no team time zone
    table = cli("--as", owner, "mine").stdout
    assert " UTC" in table and "2026-11-25 02:00 UTC" in cli("show", "FB-0").stdout
