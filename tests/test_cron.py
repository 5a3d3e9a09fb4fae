"""A team run by three cron lines: the nightly import, the SLA sweep, and notify."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from conftest import TEAM_YAML, lead_rows, write_csv


pytestmark = pytest.mark.both_backends


def run(tmp_path, *args, now):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSHARE_") or k == "LEADSHARE_CACHE_DIR"}
    env.update(LEADSHARE_DB=os.environ.get("LEADSHARE_DB") or str(tmp_path / "team.db"), LEADSHARE_RULES=str(tmp_path / "rules.yaml"), LEADSHARE_NOW=now,
               NOTIFY_LOG=str(tmp_path / "sent.jsonl"))
    return subprocess.run([sys.executable, "-m", "leadshare", *args], capture_output=True, text=True, env=env, cwd=tmp_path)


def sent(tmp_path) -> list[dict]:
    path = tmp_path / "sent.jsonl"
    return [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def test_three_cron_lines_run_a_team(tmp_path, backend):
    (tmp_path / "gateway.sh").write_text('#!/bin/sh\ncat >> "$NOTIFY_LOG"\necho >> "$NOTIFY_LOG"\n')
    (tmp_path / "gateway.sh").chmod(0o755)
    (tmp_path / "rules.yaml").write_text(TEAM_YAML.replace("after_hours: assign\n", "after_hours: assign\nnotify:\n  command: ./gateway.sh\n"))
    write_csv(tmp_path / "nightly.csv", lead_rows(4))

    nightly = run(tmp_path, "import", "nightly.csv", "--notify", "--json", now="2026-11-25T02:00:00")
    assert nightly.returncode == 0, nightly.stderr
    digests = sent(tmp_path)
    assert sorted(n["agent"] for n in digests) == ["aisyah", "ben", "chitra"]
    assert next(n for n in digests if n["agent"] == "aisyah")["leads"] == [1, 4]

    quiet = run(tmp_path, "sweep", "--notify", "--json", now="2026-11-25T12:59:00")  # due at 13:00 (09:00 + 4h)
    assert orjson.loads(quiet.stdout)["reassigned"] == 0

    run(tmp_path, "status", "1", "contacted", "--as", "aisyah", now="2026-11-25T10:00:00")
    late = run(tmp_path, "sweep", "--notify", "--json", now="2026-11-25T13:00:00")
    assert orjson.loads(late.stdout) == {"checked": 3, "reassigned": 3, "escalated": 0, "warned": 0}
    handed = [n for n in sent(tmp_path) if n["kind"] == "reassigned"]
    assert len(handed) == 3 and all(n["text"] for n in handed)

    again = run(tmp_path, "notify", "--json", now="2026-11-25T13:05:00")
    assert orjson.loads(again.stdout)["delivered"] == 0  # nothing is sent twice
    assert orjson.loads(run(tmp_path, "verify", "--json", now="2026-11-25T13:06:00").stdout)["ok"] is True


def test_on_breach_notify_only_warns_once(tmp_path, backend):
    (tmp_path / "rules.yaml").write_text(TEAM_YAML.replace("on_breach: reassign", "on_breach: notify"))
    write_csv(tmp_path / "nightly.csv", lead_rows(1))
    run(tmp_path, "import", "nightly.csv", now="2026-11-25T10:00:00")
    first = orjson.loads(run(tmp_path, "sweep", "--json", now="2026-11-25T14:30:00").stdout)
    assert first["warned"] == 1 and first["reassigned"] == 0
    second = orjson.loads(run(tmp_path, "sweep", "--json", now="2026-11-25T15:00:00").stdout)
    assert second["warned"] == 0
    log = orjson.loads(run(tmp_path, "log", "--type", "sla_warning", "--json", now="2026-11-25T15:00:00").stdout)
    assert len(log) == 1 and log[0]["agent"] == "aisyah"


def test_the_readme_cron_lines_run_from_the_home_folder(tmp_path, backend):
    """The README's cron lines, run as cron runs them: from another folder, with no leadshare
    settings in the environment; they go to the team's folder and name its ledger and rules."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = re.search(r"```cron\n(.*?)```", readme, re.DOTALL).group(1)
    commands = [line.split(maxsplit=5)[5] for line in block.splitlines() if line[:1].isdigit() or line[:1] == "*"]
    assert len(commands) == 3
    team, exports, home = tmp_path / "agency", tmp_path / "exports", tmp_path / "home"
    for folder in (team, exports, home):
        folder.mkdir()
    (team / "rules.yaml").write_text(TEAM_YAML)
    write_csv(exports / "leads-2026-11-25.csv", lead_rows(2))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSHARE_") or k == "LEADSHARE_CACHE_DIR"}
    env.update(LEADSHARE_NOW="2026-11-25T10:00:00", HOME=str(home))
    for command in commands:
        command = (command.replace("/srv/agency", str(team)).replace("/data/exports", str(exports))
                   .replace("$(date +\\%F)", "2026-11-25").replace("leadshare ", f"{sys.executable} -m leadshare ", 1))
        done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, env=env, cwd=home)
        assert done.returncode == 0, (command, done.stderr)
    assert (team / "leadshare.db").exists() and os.listdir(home) == []


def test_the_nightly_import_summary_is_one_line_in_the_cron_mail(tmp_path, backend):
    (tmp_path / "rules.yaml").write_text(TEAM_YAML)
    name = "leads-exported-nightly-from-the-agency-crm-2026-11-25.csv"
    write_csv(tmp_path / name, lead_rows(4) + ["FB-X,No Contact,,,facebook,KL,residential"])
    nightly = run(tmp_path, "import", name, now="2026-11-25T02:00:00")
    assert nightly.returncode == 1, nightly.stderr
    summary = [line for line in nightly.stdout.splitlines() if line.startswith(name)]
    assert summary == [f"{name}: imported 4 of 5 rows as batch 1: 4 assigned, 0 queued, 0 duplicates, 1 rejected"]
    assert f"rejected rows and their reasons: {name[:-4]}.rejected.csv" in nightly.stdout.splitlines()
