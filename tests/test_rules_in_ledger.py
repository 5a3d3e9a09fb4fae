"""The rules travel in the ledger: the rules in force are the last loaded, stored whole in the log."""

from __future__ import annotations

import pytest

from conftest import lead_rows, write_csv

pytestmark = pytest.mark.both_backends


def rules_events(cli) -> list[dict]:
    return cli.json("log", "--type", "rules_loaded")


def imported(cli, tmp_path, n=3):
    write_csv(tmp_path / "leads.csv", lead_rows(n))
    cli.json("import", "leads.csv")


def test_rules_loaded_event_stores_the_whole_rules_file(cli, tmp_path, rules):
    imported(cli, tmp_path)
    [event] = rules_events(cli)
    assert event["data"]["text"] == rules.read_text()


def test_rules_are_loaded_again_only_when_they_differ_from_the_last_loaded(cli, tmp_path, rules):
    first = rules.read_text()
    imported(cli, tmp_path)
    cli.json("assign")
    assert len(rules_events(cli)) == 1
    rules.write_text(first.replace("max_reassign: 2", "max_reassign: 3"))
    cli.json("assign")
    rules.write_text(first)  # back to the first rules: in force again, so loaded again
    cli.json("assign")
    assert [e["data"]["text"] for e in rules_events(cli)] == [first, first.replace("max_reassign: 2", "max_reassign: 3"), first]


def test_a_manager_running_with_changed_rules_loads_them(cli, tmp_path, rules):
    imported(cli, tmp_path)
    rules.write_text(rules.read_text().replace("max_reassign: 2", "max_reassign: 3"))
    assert cli("note", "1", "called", "--as", "aisyah").exit_code == 0
    last = rules_events(cli)[-1]
    assert last["actor"] == "aisyah" and "max_reassign: 3" in last["data"]["text"]


def test_an_agent_running_with_changed_rules_does_not_load_them(cli, tmp_path, rules):
    imported(cli, tmp_path)
    rules.write_text(rules.read_text().replace("max_reassign: 2", "max_reassign: 3"))
    assert cli("note", "2", "called", "--as", "ben").exit_code == 0
    assert len(rules_events(cli)) == 1


def test_rules_show_prints_the_ledgers_rules_in_force(cli, tmp_path, rules):
    loaded = rules.read_text()
    imported(cli, tmp_path)
    rules.write_text(loaded.replace("max_reassign: 2", "max_reassign: 3"))  # edited, not run yet
    shown = cli("rules", "show")
    assert shown.exit_code == 0 and shown.stdout == loaded
    assert "rules in force: loaded into" in shown.stderr
    as_json = cli.json("rules", "show")
    assert as_json["source"] == "ledger" and as_json["text"] == loaded and as_json["seq"] == 1


def test_rules_show_without_loaded_rules_prints_the_local_file(cli, tmp_path, rules, backend):
    shown = cli("rules", "show")
    assert shown.exit_code == 0 and shown.stdout == rules.read_text()
    assert "the ledger holds none yet" in shown.stderr
    if backend == "sqlite":
        assert not (tmp_path / "leadshare.db").exists()


def test_rules_show_with_no_rules_anywhere_exits_2(cli, tmp_path, rules):
    rules.unlink()
    shown = cli("rules", "show")
    assert shown.exit_code == 2 and "no rules in force" in shown.stderr


def test_the_log_table_names_a_rules_version_in_one_line_not_the_whole_file(cli, tmp_path, rules):
    imported(cli, tmp_path)
    table = cli("log", "--type", "rules_loaded", env={"COLUMNS": "200"})
    data = cli.json("log", "--type", "rules_loaded")[0]["data"]
    assert f"rules version {data['rules'][:12]} from {data['path']}" in table.stdout
    assert "timezone:" not in table.stdout
