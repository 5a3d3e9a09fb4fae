"""The validated-rules cache: a shortcut that never changes an answer."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from leadshare import config, models, rules_cache
from leadshare.errors import RulesError
from tests.conftest import TEAM_YAML

EXAMPLE = Path(__file__).resolve().parent.parent / "rules.example.yaml"


def _no_validation(monkeypatch):
    def refuse(path):
        raise AssertionError("validated again although the file did not change")

    monkeypatch.setattr(config, "load_team", refuse)


def test_second_load_comes_from_the_cache_and_equals_the_validated_team(tmp_path, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text(EXAMPLE.read_text())
    first = rules_cache.load_team(rules)
    assert first == config.load_team(rules)
    _no_validation(monkeypatch)
    assert rules_cache.load_team(rules) == first


def test_cached_rules_know_the_public_holidays_without_the_calendar_package(tmp_path):
    """`mine` from cached rules names the same public holiday as freshly validated rules: around
    this year without importing the calendars (0.1 s of every command), beyond it by looking up."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(EXAMPLE.read_text())
    env = {**os.environ, "LEADSHARE_CACHE_DIR": str(tmp_path / "cache"), "LEADSHARE_NOW": "2026-11-25T10:00:00+08:00"}
    probe = (
        "import json, sys; from datetime import date; from leadshare import clock, rules_cache; "
        f"c = clock.Calendar(rules_cache.load_team({str(rules)!r})); "
        "near = [c.holiday(date(2026, 2, 1)), c.holiday(date(2027, 2, 1)), c.holiday(date(2026, 3, 3))]; "
        "calendars = 'holidays' in sys.modules; "
        "print(json.dumps([near, calendars, c.holiday(date(2031, 2, 1))]))"
    )

    def run():
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    fresh, cached = run(), run()
    assert fresh[0] == cached[0]
    assert all("Federal Territory Day" in name for name in cached[0][:2])
    assert fresh[1] is True and cached[1] is False
    assert fresh[2] == cached[2] and "Federal Territory Day" in cached[2]


def test_an_edited_file_is_validated_again(rules):
    before = rules_cache.load_team(rules)
    rules.write_text(TEAM_YAML.replace("first_contact: 4h", "first_contact: 2h"))
    after = rules_cache.load_team(rules)
    assert before.sla.first_contact.total_seconds() == 4 * 3600
    assert after.sla.first_contact.total_seconds() == 2 * 3600


def test_an_invalid_file_is_never_cached(rules):
    rules_cache.load_team(rules)
    rules.write_text(TEAM_YAML.replace("after_hours: assign", "after_hours: sometimes"))
    with pytest.raises(RulesError):
        rules_cache.load_team(rules)
    with pytest.raises(RulesError):  # and still refused on the next run
        rules_cache.load_team(rules)


def test_the_same_bytes_elsewhere_are_their_own_entry(tmp_path):
    # A relative notify.command is anchored at the file's folder, so a copy must not reuse it.
    text = TEAM_YAML + "notify:\n  command: ./notify.sh\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "rules.yaml").write_text(text)
    (tmp_path / "b" / "rules.yaml").write_text(text)
    a = rules_cache.load_team(tmp_path / "a" / "rules.yaml")
    b = rules_cache.load_team(tmp_path / "b" / "rules.yaml")
    assert a.notify.command == str(tmp_path / "a" / "notify.sh")
    assert b.notify.command == str(tmp_path / "b" / "notify.sh")


def _slot_files():
    folder = rules_cache.cache_dir()
    return [os.path.join(folder, f) for f in os.listdir(folder) if f.startswith("rules-")]


def test_a_damaged_cache_file_is_ignored(rules):
    expected = rules_cache.load_team(rules)
    [slot] = _slot_files()
    with open(slot, "r+b") as f:
        blob = f.read()
        f.seek(len(blob) - 20)
        f.write(b"\xff" * 20)
    assert rules_cache.load_team(rules) == expected


def test_a_planted_pickle_runs_nothing(rules, tmp_path):
    rules_cache.load_team(rules)
    [slot] = _slot_files()
    head_len = len(rules_cache._FORMAT) + 32
    with open(slot, "rb") as f:
        head = f.read(head_len)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(slot, "wb") as f:
        f.write(head + pickle.dumps(Evil()))
    team = rules_cache.load_team(rules)
    assert not marker.exists()
    assert team == config.load_team(rules)


def test_an_unwritable_cache_folder_only_costs_the_shortcut(rules, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("LEADSHARE_CACHE_DIR", str(blocker / "cache"))
    assert rules_cache.load_team(rules) == config.load_team(rules)


def test_a_missing_file_says_so(tmp_path):
    from leadshare.errors import LeadshareError

    with pytest.raises(LeadshareError, match="not found"):
        rules_cache.load_team(tmp_path / "nope.yaml")



def _plant_other_notify_command(rules, tmp_path) -> models.NotifyChannel:
    """Rewrite the cached entry so that its team runs another program on notify; returns that channel."""
    team = rules_cache.load_team(rules)
    [slot] = _slot_files()
    head_len = len(rules_cache._FORMAT) + 32
    with open(slot, "rb") as f:
        head = f.read(head_len)
    planted = models.NotifyChannel(kind="command", command=str(tmp_path / "their-script.sh"))
    with open(slot, "wb") as f:
        f.write(head + pickle.dumps(dataclasses.replace(team, notify=planted)))
    return planted


def _assert_validated_again(rules, planted) -> None:
    team = rules_cache.load_team(rules)
    assert team.notify != planted
    assert team == config.load_team(rules)


def test_cached_rules_are_used_from_a_private_folder(rules, tmp_path):
    # The control for the tests below: the same entry in a folder only its user can write is
    # taken as the user's own.
    planted = _plant_other_notify_command(rules, tmp_path)
    assert rules_cache.load_team(rules).notify == planted


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777], ids=oct)
def test_cached_rules_in_a_folder_others_can_write_are_not_used(rules, tmp_path, mode):
    planted = _plant_other_notify_command(rules, tmp_path)
    os.chmod(rules_cache.cache_dir(), mode)
    _assert_validated_again(rules, planted)


def test_cached_rules_others_can_write_are_not_used(rules, tmp_path):
    planted = _plant_other_notify_command(rules, tmp_path)
    [slot] = _slot_files()
    os.chmod(slot, 0o666)
    _assert_validated_again(rules, planted)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_cached_rules_owned_by_someone_else_are_not_used(rules, tmp_path):
    planted = _plant_other_notify_command(rules, tmp_path)
    [slot] = _slot_files()
    os.chown(slot, 65534, 65534)
    _assert_validated_again(rules, planted)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_cached_rules_in_a_folder_owned_by_someone_else_are_not_used(rules, tmp_path):
    planted = _plant_other_notify_command(rules, tmp_path)
    os.chown(rules_cache.cache_dir(), 65534, 65534)
    _assert_validated_again(rules, planted)


def test_rules_check_never_says_ok_on_a_planted_entry(cli, rules):
    # Someone who can write the shared folder plants a valid team under the key of a broken file.
    valid = rules_cache.load_team(rules)
    rules.write_text(TEAM_YAML.replace("after_hours: assign", "after_hours: sometimes"))
    name = str(rules)
    os.chmod(rules_cache.cache_dir(), 0o777)
    with open(rules_cache._slot(name), "wb") as f:
        f.write(rules_cache._FORMAT + rules_cache._key(rules.read_bytes(), name) + pickle.dumps(valid))
    result = cli("rules", "check", name)
    assert result.exit_code == 2
    assert "after_hours 'sometimes' is not one of assign, queue" in result.stderr
    assert "ok" not in result.stdout
    with pytest.raises(RulesError):
        rules_cache.load_team(rules)


def test_a_cache_folder_others_can_write_is_not_written_into(rules, tmp_path, monkeypatch):
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("LEADSHARE_CACHE_DIR", str(shared))
    rules_cache.load_team(rules)
    assert os.listdir(shared) == []


def test_the_cache_folder_is_created_0700_and_its_entries_0600(rules, tmp_path, monkeypatch):
    folder = tmp_path / "fresh" / "leadshare"
    monkeypatch.setenv("LEADSHARE_CACHE_DIR", str(folder))
    old = os.umask(0o022)
    try:
        rules_cache.load_team(rules)
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    [slot] = _slot_files()
    assert stat.S_IMODE(os.stat(slot).st_mode) == 0o600
