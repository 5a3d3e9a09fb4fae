"""The import promises of CONTRACT.md, as a manager at the command line sees them."""

from __future__ import annotations

import pytest


import orjson
import pytest

from conftest import CSV_HEADER, lead_rows, ledger_conn, phone, write_csv


pytestmark = pytest.mark.both_backends


def ledger_rows(table: str, db: str | None = None) -> list[tuple]:
    with ledger_conn(db) as conn:
        return conn.execute(f"SELECT * FROM {table}").fetchall()


def test_import_assigns_every_lead_one_owner_by_round_robin(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(9))
    out = cli.json("import", "leads.csv")
    assert out["rows"] == out["imported"] == out["assigned"] == 9
    assert out["duplicates"] == out["rejected"] == out["queued"] == 0
    assert out["rejects_file"] is None
    # dan is inactive: the three active agents share nine leads evenly, in roster order
    assert out["by_agent"] == {"aisyah": 3, "ben": 3, "chitra": 3}
    mine = cli.json("mine", "--as", "ben")
    assert len(mine) == 3 and all(m["agent"] == "ben" and m["status"] == "new" for m in mine)
    assert {"id", "external_id", "name", "phone", "email", "status", "agent", "assigned_at", "sla_due"} <= set(mine[0])
    assert mine[0]["phone"].startswith("+6012")


def test_rotation_continues_across_imports(cli, tmp_path):
    write_csv(tmp_path / "a.csv", lead_rows(2))
    write_csv(tmp_path / "b.csv", lead_rows(4, start=2))
    assert cli.json("import", "a.csv")["by_agent"] == {"aisyah": 1, "ben": 1}
    assert cli.json("import", "b.csv")["by_agent"] == {"chitra": 2, "aisyah": 1, "ben": 1}


def test_reimport_of_same_file_changes_nothing(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    first = cli.json("import", "leads.csv")
    events = len(ledger_rows("events"))
    again = cli("import", "leads.csv")
    assert again.exit_code == 0
    assert f"already imported as batch {first['batch']}" in again.stdout
    second = cli.json("import", "leads.csv")
    assert second["already_imported"] is True and second["batch"] == first["batch"]
    assert len(ledger_rows("events")) == events


def test_reimport_reports_this_runs_counts_with_the_original_batch(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(3) + ["FB-X,No Contact,,,facebook,KL,residential"])
    first = cli.json("import", "leads.csv", code=1)
    again = cli.json("import", "leads.csv")
    assert again["already_imported"] is True and again["batch"] == first["batch"]
    assert again["rows"] == 4
    counts = ("imported", "duplicates", "rejected", "assigned", "queued")
    assert {k: again[k] for k in counts} == dict.fromkeys(counts, 0)
    assert again["by_agent"] == {} and again["rejects_file"] is None


def test_force_reads_again_but_rows_still_deduplicate(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    cli.json("import", "leads.csv")
    out = cli.json("import", "leads.csv", "--force")
    assert out["batch"] == 2 and out["imported"] == 0 and out["duplicates"] == 3
    assert len(ledger_rows("leads")) == 3


def test_dry_run_writes_nothing(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(3) + ["FB-X,No Contact,,,facebook,KL,residential"])
    cli("init")  # a ledger that is there, empty (with none, a dry run creates none: test_safety)
    out = cli.json("import", "leads.csv", "--dry-run", code=1)
    assert out["imported"] == 3 and out["rejected"] == 1 and out["dry_run"] is True
    assert ledger_rows("leads") == [] and ledger_rows("events") == []
    assert not (tmp_path / "leads.rejected.csv").exists()


def test_rejected_rows_go_beside_the_file_with_a_reason_and_exit_1(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(2) + ["FB-X,Siti,n/a,siti@@mail,facebook,KL,residential"])
    result = cli("import", "leads.csv", "--json")
    assert result.exit_code == 1
    rejects = tmp_path / "leads.rejected.csv"
    text = rejects.read_text()
    assert "reason" in text.splitlines()[0] and "Siti" in text and "n/a" in text
    assert orjson.loads(result.stdout)["rejects_file"] == "leads.rejected.csv"


def test_counts_add_up_with_duplicates_in_file_and_across_batches(cli, tmp_path):
    rows = lead_rows(3) + [
        # the same person as FB-0 written another way, and as FB-1 by email in other case
        "FB-100,Customer Zero,+60 12-300 0000,,instagram,KL,residential",
        "FB-101,Customer One,,C1@EXAMPLE.COM,web,KL,residential",
    ]
    write_csv(tmp_path / "a.csv", rows)
    out = cli.json("import", "a.csv")
    assert (out["rows"], out["imported"], out["duplicates"]) == (5, 3, 2)
    write_csv(tmp_path / "b.csv", [f"WEB-9,Customer Two,6012{3000002}, ,web,KL,residential"])
    out = cli.json("import", "b.csv")
    assert (out["imported"], out["duplicates"]) == (0, 1)
    shown = cli.json("show", "FB-2")
    dup = [t for t in shown["timeline"] if t["type"] == "duplicate"]
    assert dup and dup[0]["data"]["source"] == "web"
    assert shown["agent"] is not None  # the owner stays


def test_file_without_phone_or_email_column_is_refused_whole(cli, tmp_path):
    (tmp_path / "bad.csv").write_text("Name,Address\nAli,Jalan 1\n")
    result = cli("import", "bad.csv")
    assert result.exit_code == 2
    assert "Name" in result.stderr and "--map" in result.stderr
    assert "Traceback" not in result.stderr
    assert ledger_rows("events") == []


def test_map_option_reads_an_oddly_named_column(cli, tmp_path):
    (tmp_path / "odd.csv").write_text("Customer,Hp\nAli,012-3456789\n")
    out = cli.json("import", "odd.csv", "--map", "phone=Hp", "--map", "name=Customer")
    assert out["imported"] == 1
    assert cli.json("show", "1")["phone"] == "+60123456789"


def test_nobody_eligible_means_the_lead_waits_in_the_queue(cli, tmp_path, rules):
    rules.write_text(rules.read_text().replace("  - name: everyone\n    pool: all\n    strategy: round_robin\n", ""))
    write_csv(tmp_path / "leads.csv", lead_rows(1))
    out = cli.json("import", "leads.csv")
    assert out["queued"] == 1 and out["assigned"] == 0
    shown = cli.json("show", "1")
    assert shown["agent"] is None and shown["queued_reason"] == "no rule matched"


def test_source_option_fills_rows_without_a_source(cli, tmp_path):
    (tmp_path / "walkins.csv").write_text("name,phone\nAli,012-3456789\n")
    cli.json("import", "walkins.csv", "--source", "walk-in")
    assert cli.json("show", "1")["source"] == "walk-in"


def test_import_from_stdin(cli):
    result = cli("import", "-", "--json", input=CSV_HEADER + f"FB-1,Ali,{phone(1)},,facebook,KL,residential\n")
    assert result.exit_code == 0, result.stderr
    assert cli.json("show", "FB-1")["name"] == "Ali"


def test_unknown_lead_is_exit_2_with_one_line(cli):
    cli("init")
    result = cli("show", "999")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "999" in result.stderr


def test_returning_customer_goes_back_to_the_previous_owner(cli, tmp_path):

    write_csv(tmp_path / "a.csv", lead_rows(1))
    cli.json("import", "a.csv")
    owner = cli.json("show", "1")["agent"]
    with ledger_conn() as conn:  # the lead was won (status changes come with the workflow)
        conn.execute("UPDATE leads SET status = 'won' WHERE id = 1")
    write_csv(tmp_path / "b.csv", [f"IG-1,Customer Again,{phone(0)},,instagram,KL,residential"])
    out = cli.json("import", "b.csv")
    assert out["imported"] == 1
    again = cli.json("show", "IG-1")
    assert again["agent"] == owner and again["rule"] == "returning customer"


def test_a_big_file_is_deduplicated_against_the_ledger_too(cli, tmp_path):
    write_csv(tmp_path / "big.csv", lead_rows(3000))
    assert cli.json("import", "big.csv")["imported"] == 3000
    again = cli.json("import", "big.csv", "--force")
    assert (again["imported"], again["duplicates"]) == (0, 3000)


def _chunked_scenario(cli, tmp_path, monkeypatch, chunk: int) -> tuple[dict, list[tuple]]:
    from leadshare import services

    monkeypatch.setattr(services.importing, "WRITE_CHUNK", chunk)
    write_csv(tmp_path / "a.csv", lead_rows(6))
    cli.json("import", "a.csv")
    with ledger_conn() as conn:  # an earlier lead was won: a returning customer
        conn.execute("UPDATE leads SET status = 'won' WHERE id = 2")
    rows = lead_rows(8, start=10) + [
        "IG-0,Again Zero,,C0@EXAMPLE.COM,instagram,KL,residential",  # a ledger lead, by email
        "IG-1,Again One,+60 12-300 0001,,instagram,KL,residential",  # a won ledger lead: new, same owner
        f"IG-2,Again Ten,6012{3000010},,instagram,KL,residential",  # this file's first new lead
        "FB-X,No Contact,,,facebook,KL,residential",  # rejected
        "IG-3,Again Seventeen,,c17@example.com,web,KL,residential",  # this file's last new lead
        "IG-4,Again One Again,012 300 0001,c1@example.com,web,KL,residential",  # IG-1's new lead, not the won one
        f"FB-5,Five Again,{phone(99)},,web,KL,residential",  # a ledger lead, by external id
    ]
    write_csv(tmp_path / "b.csv", rows)
    out = cli.json("import", "b.csv", code=1)
    dups = [(r[3], r[4], r[5]) for r in ledger_rows("events") if r[3] == "duplicate"]
    return out, dups


def test_a_file_read_in_chunks_deduplicates_across_chunks_and_against_the_ledger(cli, tmp_path, monkeypatch):
    out, dups = _chunked_scenario(cli, tmp_path, monkeypatch, chunk=3)
    assert (out["rows"], out["imported"], out["duplicates"], out["rejected"]) == (15, 9, 5, 1)
    assert out["rows"] == out["imported"] + out["duplicates"] + out["rejected"]
    # (type, lead, agent): each duplicate points at the lead it repeats
    assert [d[1] for d in dups] == [1, 7, 14, 15, 6]
    again = cli.json("show", "IG-1")
    assert again["rule"] == "returning customer"


@pytest.mark.sqlite_only  # a second ledger file / SQLite's own index list
def test_chunk_size_does_not_change_an_import(cli, tmp_path, monkeypatch):
    small, small_dups = _chunked_scenario(cli, tmp_path, monkeypatch, chunk=2)
    leads = [r[:5] + r[8:11] + r[13:16] for r in ledger_rows("leads")]
    other = tmp_path / "other"
    other.mkdir()
    (other / "rules.yaml").write_text((tmp_path / "rules.yaml").read_text())
    monkeypatch.chdir(other)
    big, big_dups = _chunked_scenario(cli, other, monkeypatch, chunk=20_000)
    assert small == big and small_dups == big_dups
    assert leads == [r[:5] + r[8:11] + r[13:16] for r in ledger_rows("leads")]


@pytest.mark.sqlite_only  # a second ledger file / SQLite's own index list
def test_a_file_bigger_than_the_ledger_reads_the_ledger_keys_once(cli, tmp_path, monkeypatch):
    from leadshare import services

    from leadshare.ledger import store

    # as for a big file into a smaller ledger: indexes rebuilt after the load
    monkeypatch.setattr(services.importing, "BULK_LEADS", 1)
    monkeypatch.setattr(store, "BULK_LEADS", 1)
    out, dups = _chunked_scenario(cli, tmp_path, monkeypatch, chunk=3)
    assert (out["rows"], out["imported"], out["duplicates"], out["rejected"]) == (15, 9, 5, 1)
    assert [d[1] for d in dups] == [1, 7, 14, 15, 6]
    with ledger_conn() as conn:
        counted = conn.execute(
            "SELECT assigned_at, agent, coalesce(cands, x''), coalesce(rule, ''), coalesce(strategy, ''), "
            "coalesce(source, ''), coalesce(region, ''), status, count(*) FROM leads "
            "WHERE agent IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8").fetchall()
        kept = conn.execute("SELECT * FROM assignment_counts ORDER BY 1, 2, 3, 4, 5, 6, 7, 8").fetchall()
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'leads'")}
    assert kept == counted and sum(r[-1] for r in kept) == 15
    assert {"leads_phone", "leads_email", "leads_open_urgency", "leads_sla"} <= indexes  # all back


def test_row_warnings_show_the_first_ten_and_count_the_rest(cli, tmp_path, monkeypatch):
    from leadshare import services

    monkeypatch.setattr(services.importing, "WRITE_CHUNK", 4)
    write_csv(tmp_path / "w.csv", [f"W-{i},Person {i},n/a,p{i}@example.com,web,KL,residential" for i in range(14)])
    result = cli("import", "w.csv", "--json")
    assert result.exit_code == 0, result.stderr
    shown = [line for line in result.stderr.splitlines() if " row " in line]
    assert len(shown) == 10 and shown[0].startswith("warning: w.csv row 1 (line 2): ")
    assert "4 more fields kept as written" in result.stderr
    assert orjson.loads(result.stdout)["imported"] == 14


def test_every_event_an_import_writes_holds_canonical_json(cli, tmp_path, rules):
    # Alike leads share their event's JSON made once with the row digest set in; it must read
    # back as exactly what canonical() makes of it, for every kind of decision in one batch.
    from leadshare.ledger.events import canonical

    rules.write_text(rules.read_text().replace("    pool: all\n", "    pool: all\n    when: {source: facebook}\n"))
    write_csv(tmp_path / "a.csv", lead_rows(2))
    cli.json("import", "a.csv")
    with ledger_conn() as conn:
        conn.execute("UPDATE leads SET status = 'won' WHERE id = 1")
    rows = lead_rows(6, start=2) + [f"IG-0,Back Again,{phone(0)},,facebook,KL,residential",
                                    "IG-9,Somebody,0129999999,,instagram,KL,residential"]
    write_csv(tmp_path / "b.csv", rows)
    out = cli.json("import", "b.csv")
    assert out["queued"] == 1 and out["imported"] == 8
    kinds = set()
    with ledger_conn() as conn:
        stored = conn.execute("SELECT type, data FROM events").fetchall()
    for type_, data in stored:
        kinds.add((type_, orjson.loads(data).get("rule")))
        assert data == canonical(orjson.loads(data)).decode()
    assert {("assigned", "everyone"), ("assigned", "returning customer"), ("queued", None), ("imported", None)} <= kinds


def test_lead_digests_are_the_canonical_hashes_they_stand_for():
    # personal_digest and row_digest skip canonical() for speed; they must hash the same bytes.
    import hashlib

    from leadshare.ledger.events import canonical
    from leadshare.services import personal_digest, row_digest, short_hash

    salt = bytes(range(16))
    for name, phone, email in [("Siti Nur", "+60123456789", None), ("王小明 \"Q\"", None, "a@b.co"), ("", "", "")]:
        pd = personal_digest(salt, name, phone, email, phone, email and email.lower())
        assert pd == hashlib.sha256(salt + canonical([name, phone, email, phone, email and email.lower()])).digest()[:16]
        attrs = canonical({"z": "ü", "a": "1"}).decode()
        for digest in (pd, None):
            got = row_digest("FB-1", "facebook", None, attrs, 3, "2026-11-25T02:00:00+00:00", digest)
            assert got == short_hash(["FB-1", "facebook", None, attrs, 3, "2026-11-25T02:00:00+00:00",
                                      digest.hex() if digest else None]).hex()


def test_an_event_whose_json_cannot_be_cut_at_the_row_is_made_whole(cli, tmp_path, monkeypatch):
    # The row digest's place-holder must occur once in the JSON made for alike leads; here it
    # is the rule's own name as well, so each lead's event is made whole, and reads the same.
    from leadshare import services

    monkeypatch.setattr(services.deciding, "_ROW_PLACE", "everyone")
    write_csv(tmp_path / "a.csv", lead_rows(3))
    cli.json("import", "a.csv")
    with ledger_conn() as conn:
        rows = conn.execute("SELECT e.data, l.id FROM events e JOIN leads l ON l.decided_seq = e.seq ORDER BY l.id").fetchall()
    digests = [orjson.loads(data)["row"] for data, _ in rows]
    assert len(rows) == 3 and len(set(digests)) == 3 and all(len(d) == 32 for d in digests)
    assert all(orjson.loads(data)["rule"] == "everyone" for data, _ in rows)
    assert cli.json("verify")["ok"] is True


def test_a_row_whose_cells_are_all_empty_is_skipped_with_a_warning_not_rejected(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(2) + [",,,,,,", ",,"])
    result = cli("import", "leads.csv", "--json")
    assert result.exit_code == 0, result.stderr
    out = orjson.loads(result.stdout)
    assert out["rows"] == out["imported"] == 2 and out["rejected"] == 0  # blank lines are no rows of leads
    assert "warning: leads.csv: skipped 2 blank lines" in result.stderr
    assert not (tmp_path / "leads.rejected.csv").exists()


# --- how the file was read ----------------------------------------------------------------------

HUBSPOT_HEADER = "Record ID,First Name,Last Name,Email,Phone Number,State/Region,Lead Status,Product Interest,Preferred Language\n"
RULES_ON_CRM_COLUMNS = """\
timezone: Asia/Kuala_Lumpur
phone_region: MY
agents:
  - {id: aisyah, name: Aisyah, territories: [KL], skills: [commercial]}
  - {id: ben, name: Ben, territories: [KL], skills: [zh]}
  - {id: chitra, name: Chitra, territories: [Penang]}
rules:
  - {name: chinese, when: {language: zh}, pool: {skills: [zh]}, strategy: round_robin}
  - {name: commercial, when: {product: commercial}, pool: {skills: [commercial]}, strategy: round_robin}
  - {name: by territory, pool: {territory: region}, strategy: round_robin}
"""


def test_import_says_how_it_read_each_column(cli, tmp_path):
    write_csv(tmp_path / "hubspot.csv", [f"H-1,Ali,Bakar,ali@example.com,{phone(1)},KL,New,residential,ms"],
              header=HUBSPOT_HEADER)
    result = cli("import", "hubspot.csv", "--json")
    assert result.exit_code == 0, result.stderr
    for line in ("'Record ID' -> external_id", "'First Name' -> first_name", "'Phone Number' -> phone",
                 "'State/Region' -> region", "'Lead Status' -> attribute status",
                 "'Product Interest' -> attribute product_interest",
                 "'Preferred Language' -> attribute preferred_language"):
        assert f"hubspot.csv: {line}\n" in result.stderr
    columns = orjson.loads(result.stdout)["columns"]
    assert columns["State/Region"] == "region" and columns["Product Interest"] == "attribute product_interest"
    assert len(columns) == 9


def test_a_status_column_is_said_to_be_the_leads_own_only_with_keep_owner(cli, tmp_path):
    write_csv(tmp_path / "hubspot.csv", [f"H-1,Ali,Bakar,ali@example.com,{phone(1)},KL,contacted,residential,ms"],
              header=HUBSPOT_HEADER)
    plain = cli("import", "hubspot.csv", "--dry-run", "--json")
    assert orjson.loads(plain.stdout)["columns"]["Lead Status"] == "attribute status"
    kept = cli("import", "hubspot.csv", "--keep-owner", "--json")
    assert "hubspot.csv: 'Lead Status' -> status\n" in kept.stderr
    assert orjson.loads(kept.stdout)["columns"]["Lead Status"] == "status"


def test_rules_on_product_language_and_territory_match_crm_columns(cli, tmp_path, rules):
    rules.write_text(RULES_ON_CRM_COLUMNS)
    write_csv(tmp_path / "hubspot.csv", [
        f"H-1,Wei,Chen,wei@example.com,{phone(1)},KL,New,residential,zh",
        f"H-2,Ali,Bakar,ali@example.com,{phone(2)},KL,New,commercial,ms",
        f"H-3,Devi,Raj,devi@example.com,{phone(3)},Penang,New,residential,ta",
    ], header=HUBSPOT_HEADER)
    out = cli.json("import", "hubspot.csv")
    assert out["by_agent"] == {"ben": 1, "aisyah": 1, "chitra": 1}


def test_map_names_any_attribute_for_the_rules(cli, tmp_path, rules):
    rules.write_text(RULES_ON_CRM_COLUMNS)
    write_csv(tmp_path / "zoho.csv", [f"Z-1,Ali,{phone(1)},Web,Commercial"],
              header="Record Id,Full Name,Mobile,Lead Source,Interest\n")
    result = cli("import", "zoho.csv", "--map", "product=Interest", "--json")
    assert result.exit_code == 0, result.stderr
    assert "zoho.csv: 'Interest' -> attribute product\n" in result.stderr
    assert "zoho.csv: 'Lead Source' -> source\n" in result.stderr
    assert orjson.loads(result.stdout)["by_agent"] == {"aisyah": 1}


def test_leads_holding_state_region_as_an_attribute_still_match_a_territory_pool(cli, tmp_path, rules):
    # how a ledger from before `State/Region` was a region synonym holds such a lead
    rules.write_text(RULES_ON_CRM_COLUMNS)
    write_csv(tmp_path / "old.csv", [f"O-1,Devi,{phone(3)},Penang"], header="Lead ID,Name,Phone,State/Region\n")
    out = cli.json("import", "old.csv", "--map", "state_region=State/Region")
    assert out["columns"]["State/Region"] == "attribute state_region"
    assert out["by_agent"] == {"chitra": 1}


def test_facebook_lead_ads_and_krayin_headers_are_synonyms(cli, tmp_path):
    write_csv(tmp_path / "fb.csv", [f"l:1,2026-11-25,Siti Aminah,{phone(5)},siti@example.com,KL"],
              header="id,created_time,full_name,phone_number,email,state\n")
    out = cli.json("import", "fb.csv")
    assert {k: v for k, v in out["columns"].items() if not v.startswith("attribute")} == {
        "id": "external_id", "full_name": "name", "phone_number": "phone", "email": "email", "state": "region"}


# --- what a dry run shows -------------------------------------------------------------------------


def test_dry_run_lists_the_rows_it_would_reject_with_line_and_reason(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(2) + ["FB-X,No Contact,,,facebook,KL,residential",
                                                     "FB-Y,Bad,n/a,siti@@mail,facebook,KL,residential"])
    out = cli.json("import", "leads.csv", "--dry-run", code=1)
    assert [r["line"] for r in out["rejects"]] == [4, 5]
    assert out["rejects"][0]["reason"].startswith("no usable phone or email (phone is empty; email is empty)")
    assert "'n/a'" in out["rejects"][1]["reason"]
    human = cli("import", "leads.csv", "--dry-run")
    assert human.exit_code == 1
    assert "would reject:" in human.stdout and "  line 4: no usable phone or email" in human.stdout
    assert not (tmp_path / "leads.rejected.csv").exists()


def test_import_summary_does_not_wrap_mid_sentence_when_stdout_is_not_a_terminal(cli, tmp_path):
    name = "a-rather-long-name-for-the-nightly-export-from-the-crm.csv"
    write_csv(tmp_path / name, lead_rows(3))
    result = cli("import", name)
    assert result.exit_code == 0
    summary = next(line for line in result.stdout.splitlines() if line.startswith(name))
    assert summary.endswith("0 duplicates, 0 rejected")


# --- bounded messages -----------------------------------------------------------------------------


def test_no_phone_or_email_column_error_lists_at_most_20_columns(cli, tmp_path):
    (tmp_path / "wide.csv").write_text(",".join(f"col{i}" for i in range(10_000)) + "\n" + "x," * 9_999 + "x\n")
    result = cli("import", "wide.csv")
    assert result.exit_code == 2
    assert "'col19' ... and 9,980 more" in result.stderr and "'col20'" not in result.stderr
    assert len(result.stderr) < 2_000


def test_an_error_quotes_at_most_about_200_characters_of_a_value(cli, tmp_path):
    (tmp_path / "one-line.csv").write_text("z" * 5_000_000)  # one line, no newline: all header
    result = cli("import", "one-line.csv")
    assert result.exit_code == 2
    assert "(5,000,000 characters)" in result.stderr and len(result.stderr) < 1_000


def test_a_utf8_file_with_a_bad_byte_keeps_its_chinese_names_and_warns_with_the_row(cli, tmp_path):
    rows = [f"FB-1,张伟,{phone(1)},,facebook,KL,residential", f"FB-2,陈大文 \xff,{phone(2)},,facebook,KL,residential"]
    data = (CSV_HEADER + "\n".join(rows) + "\n").encode("utf-8").replace("\xff".encode("utf-8"), b"\xff")
    (tmp_path / "leads.csv").write_bytes(data)
    result = cli("import", "leads.csv")
    assert result.exit_code == 0, result.stderr
    assert "warning: leads.csv row 2 (line 3): holds bytes that are not UTF-8" in result.stderr
    assert "张伟" in cli("show", "1").stdout


@pytest.mark.parametrize("ledger_read_whole", [False, True])
def test_every_value_of_a_list_cell_matches_duplicates(cli, tmp_path, monkeypatch, ledger_read_whole):
    if ledger_read_whole:  # a file bigger than the ledger: its keys are read once, not per chunk
        monkeypatch.setattr("leadshare.services.importing.BULK_LEADS", 1)
    write_csv(tmp_path / "first.csv", [f"FB-1,Siti,{phone(1)},siti@example.com,facebook,KL,residential"])
    cli.json("import", "first.csv")
    krayin = 'name,emails,contact_numbers\n'
    write_csv(tmp_path / "persons.csv", [
        # Siti again: her known email is this cell's second value
        '"Siti A","[{""label"":""work"",""value"":""s.work@example.com""},{""label"":""home"",""value"":""siti@example.com""}]",',
        f'Abu,abu@example.com; abu.kerja@example.com,"{phone(7)}"',
        f"Abu again,abu.kerja@example.com,",  # the second email of the row above
    ], header=krayin)
    out = cli.json("import", "persons.csv")
    assert out["columns"] == {"name": "name", "emails": "email", "contact_numbers": "phone"}
    assert (out["imported"], out["duplicates"], out["rejected"]) == (1, 2, 0)
    # a later file: Abu by his second email, known only from the list cell
    write_csv(tmp_path / "later.csv", ["FB-9,Abu,,ABU.KERJA@example.com,web,KL,residential"] + lead_rows(2, start=20))
    assert cli.json("import", "later.csv")["duplicates"] == 1


def test_forget_erases_a_list_cells_other_phones_and_emails(cli, tmp_path):
    write_csv(tmp_path / "persons.csv", [f'Abu,abu@example.com; abu.kerja@example.com,"{phone(7)}; {phone(8)}"'],
              header="name,emails,contact_numbers\n")
    cli.json("import", "persons.csv")
    assert len(ledger_rows("other_contacts")) == 2
    assert cli("forget", "1", "--as", "aisyah").exit_code == 0
    assert ledger_rows("other_contacts") == []
