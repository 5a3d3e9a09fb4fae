"""The validated-rules cache: a shortcut that never changes an answer."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from leadshare import config, rules_cache
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
