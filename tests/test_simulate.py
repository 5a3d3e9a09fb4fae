"""simulate: try new rules on a file from today's state without touching the ledger."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from conftest import TEAM_YAML, lead_rows, write_csv


pytestmark = pytest.mark.both_backends


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.sqlite_only  # the SQLite file's own bytes
def test_simulate_gives_the_fairness_under_new_rules_and_leaves_the_ledger_byte_identical(cli, tmp_path):
    write_csv(tmp_path / "old.csv", lead_rows(3))
    cli.json("import", "old.csv")  # rotation now continues after chitra
    (tmp_path / "new.yaml").write_text(TEAM_YAML.replace("strategy: round_robin\n", "strategy: weighted\n"))
    write_csv(tmp_path / "next.csv", lead_rows(9, start=100))
    cli("verify")  # settle the WAL so the file's bytes are what a reader sees
    before = {p.name: digest(p) for p in tmp_path.glob("leadshare.db*")}
    out = cli.json("simulate", "next.csv", "--rules", "new.yaml")
    after = {p.name: digest(p) for p in tmp_path.glob("leadshare.db*")}
    assert after["leadshare.db"] == before["leadshare.db"]
    # a reader of a WAL ledger may leave an empty log and its index behind; never content
    assert (tmp_path / "leadshare.db-wal").stat().st_size == 0 if "leadshare.db-wal" in after else True
    assert {k: v for k, v in after.items() if k in before} == before
    assert {"since", "until", "groups", "gini"} <= set(out)
    got = {g["key"]: g["assigned"] for g in out["groups"] if g["assigned"]}
    assert sum(got.values()) == 9
    for agent, weight in {"aisyah": 1.25, "ben": 1.0, "chitra": 1.0}.items():  # gold against silver
        assert abs(got[agent] - 9 * weight / 3.25) <= 1
        assert abs(next(g for g in out["groups"] if g["key"] == agent)["expected"] - 9 * weight / 3.25) < 0.01
    today = {g["key"]: g["assigned"] for g in out["current"]["groups"] if g["assigned"]}
    assert today == {"aisyah": 3, "ben": 3, "chitra": 3}
    assert cli.json("verify")["ok"]


def test_simulate_on_a_missing_ledger_creates_nothing(cli, tmp_path):
    (tmp_path / "new.yaml").write_text(TEAM_YAML)
    write_csv(tmp_path / "next.csv", lead_rows(2))
    out = cli.json("simulate", "next.csv", "--rules", "new.yaml")
    assert sum(g["assigned"] for g in out["groups"]) == 2
    assert not (tmp_path / "leadshare.db").exists()
