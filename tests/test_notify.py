"""`leadshare notify`: the outbox delivered through a command, SMTP or a webhook, against real
servers on 127.0.0.1; failures retried after a pause, nothing delivered twice."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import sys
import threading
import time
from contextlib import closing
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from conftest import NOW, TEAM_YAML, lead_rows, write_csv
from leadshare import clock, notify
from leadshare.config import load_team
from leadshare.ledger import open_ledger, outbox

NOW_UTC = "2026-11-25T02:00:00+00:00"  # NOW in Kuala Lumpur


pytestmark = pytest.mark.both_backends


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    """The webhook goes straight to the test server, whatever proxy the machine has."""
    for key in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)


# --------------------------------------------------------------------------- helpers


def at(minutes: float) -> str:
    """LEADSHARE_NOW `minutes` after the tests' NOW."""
    return (datetime.fromisoformat(NOW) + timedelta(minutes=minutes)).isoformat()


def team_yaml(notify_block: str | None) -> str:
    text = TEAM_YAML
    text = text.replace("    name: Aisyah Rahman\n", "    name: Aisyah Rahman\n    email: aisyah@example.com\n")
    text = text.replace("    name: Ben Lim\n", "    name: Ben Lim\n    email: ben@example.com\n")
    # chitra has no email on purpose
    if notify_block:
        text = text.replace("tiers:\n", notify_block.rstrip("\n") + "\ntiers:\n", 1)
    return text


def write_rules(path: Path, notify_block: str | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(team_yaml(notify_block))
    return path


def payload(lead: int, agent: str, kind: str = "assigned", name: str = "Siti Aminah") -> dict:
    return {
        "kind": kind,
        "lead": lead,
        "external_id": f"FB-{lead}",
        "agent": agent,
        "agent_name": {"aisyah": "Aisyah Rahman", "ben": "Ben Lim", "chitra": "Chitra Devi"}.get(agent, agent),
        "to_email": f"{agent}@example.com" if agent != "chitra" else None,
        "to_phone": None,
        "text": f"New lead {lead} (FB-{lead}) for you: {name}, +60123000{lead:03d}; contact by 14:00",
        "customer": {"name": name, "phone": f"+60123000{lead:03d}", "email": f"c{lead}@example.com"},
        "sla_due": "2026-11-25T06:00:00+00:00",
    }


def the_ledger(db: str | None = None):
    """The ledger the CLI uses (LEADSHARE_DB names the PostgreSQL one)."""
    return open_ledger(db or os.environ.get("LEADSHARE_DB") or "leadshare.db")


def enqueue(*notes: tuple[int, str] | dict, db: str | None = None, seq: int = 0) -> None:
    """Put notifications in the outbox the way the use cases do: inside a write transaction."""
    ledger = the_ledger(db)
    try:
        rows = []
        for n in notes:
            p = n if isinstance(n, dict) else payload(*n)
            rows.append({"seq": seq, "created_at": NOW_UTC, "kind": p["kind"], "agent": p["agent"], "lead": p["lead"],
                         "payload": p})
        with ledger.write():
            ledger.enqueue_notifications(rows)
    finally:
        ledger.close()


def outbox_rows(db: str | None = None) -> list[dict]:
    with closing(the_ledger(db)) as ledger:
        return ledger.query("SELECT * FROM outbox ORDER BY id")


def events(type_: str, db: str | None = None) -> list[tuple]:
    with closing(the_ledger(db)) as ledger:
        return [tuple(r.values()) for r in ledger.query(
            "SELECT lead, agent, actor, data FROM events WHERE type = ? ORDER BY seq", (type_,))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


COMMAND_SCRIPT = """\
#!{python}
# A notification hook: appends what it gets to received.jsonl in its working folder.
import os, sys, time
data = sys.stdin.read()
with open("calls.log", "a") as f:
    f.write("call\\n")
time.sleep(float(os.environ.get("HOOK_DELAY", "0")))
if os.path.exists("broken"):
    sys.stderr.write("\\n  mail relay down\\n   try later  \\n")
    sys.exit(1)
with open("received.jsonl", "a") as f:
    f.write(data)
"""


def write_hook(folder: Path, name: str = "notify-hook.py", body: str = COMMAND_SCRIPT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body.format(python=sys.executable))
    path.chmod(0o755)
    return path


def received(folder: Path) -> list[dict]:
    path = folder / "received.jsonl"
    return [orjson.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def calls(folder: Path) -> int:
    path = folder / "calls.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def command_rules(tmp_path) -> Path:
    """The team's rules in their own folder with a command hook beside them."""
    folder = tmp_path / "team"
    write_hook(folder)
    return write_rules(folder / "rules.yaml", "notify:\n  command: ./notify-hook.py\n")


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 Message accepted for delivery"

    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SimpleNamespace(port=port, envelopes=handler.envelopes)
    finally:
        controller.stop()


@pytest.fixture
def webhook():
    requests: list[dict] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            code = statuses.pop(0) if statuses else 200
            answer = b"relay is down" if code >= 400 else b"ok"
            self.send_response(code)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/hooks/leads?token=s3cret",
                              requests=requests, statuses=statuses)
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- command


def test_command_gets_one_json_notification_on_stdin_in_the_rules_folder(cli, tmp_path, command_rules):
    enqueue((1, "ben"), (2, "aisyah", "reassigned"))
    out = cli.json("notify", "--rules", command_rules)
    assert (out["delivered"], out["failed"], out["pending"]) == (2, 0, 0)
    assert out["channel"] == "command"
    got = received(command_rules.parent)  # the hook ran in the rules file's folder
    assert [g["lead"] for g in got] == [1, 2]
    first = got[0]
    assert first["notification_id"] == 1
    assert {k: first[k] for k in payload(1, "ben")} == payload(1, "ben")
    assert got[1]["kind"] == "reassigned" and got[1]["agent"] == "aisyah"
    rows = outbox_rows()
    assert all(r["delivered_at"] == NOW_UTC and r["attempts"] == 1 and r["last_error"] is None for r in rows)


def test_a_delivered_notification_is_never_sent_again(cli, tmp_path, command_rules, monkeypatch):
    enqueue((1, "ben"))
    assert cli.json("notify", "--rules", command_rules)["delivered"] == 1
    for later in (0, 10, 60 * 24 * 7):
        monkeypatch.setenv("LEADSHARE_NOW", at(later))
        out = cli.json("notify", "--rules", command_rules)
        assert (out["delivered"], out["failed"], out["pending"]) == (0, 0, 0)
    assert calls(command_rules.parent) == 1 and len(received(command_rules.parent)) == 1
    assert len(events("notified")) == 1


def test_delivery_shows_in_the_audit_log_and_the_chain_still_verifies(cli, tmp_path, command_rules):
    write_csv(tmp_path / "leads.csv", lead_rows(2))
    cli.json("import", "leads.csv", "--rules", command_rules)
    before = len([r for r in outbox_rows() if r["delivered_at"] is None])  # whatever the import itself queued
    ledger = the_ledger()
    assigned = [tuple(r.values()) for r in ledger.query("SELECT seq, lead, agent FROM events WHERE type = 'assigned' ORDER BY seq")]
    with ledger.write():
        ledger.enqueue_notifications([
            {"seq": seq, "created_at": NOW_UTC, "kind": "assigned", "agent": agent, "lead": lead,
             "payload": payload(lead, agent)} for seq, lead, agent in assigned
        ])
    mine = [r["id"] for r in outbox_rows()][-len(assigned):]
    ledger.close()

    out = cli.json("notify", "--rules", command_rules, "--as", "aisyah")
    assert out["delivered"] == before + len(assigned) and out["failed"] == 0 and out["pending"] == 0

    log = cli.json("log", "--type", "notified", "--rules", command_rules)
    by_outbox = {e["data"]["outbox"]: e for e in log}
    for outbox_id, (_, lead, agent) in zip(mine, assigned):
        e = by_outbox[outbox_id]
        assert e["data"] == {"outbox": outbox_id, "kind": "assigned", "channel": "command"}
        assert (e["lead"], e["agent"], e["actor"]) == (lead, agent, "aisyah")
    timeline = cli.json("show", str(assigned[0][1]), "--rules", command_rules)["timeline"]
    assert "notified" in [t["type"] for t in timeline]
    verified = cli.json("verify", "--rules", command_rules)
    assert verified["ok"], verified["problems"]


def test_failing_command_is_retried_only_after_the_pause_and_delivered_once(cli, tmp_path, command_rules, monkeypatch):
    folder = command_rules.parent
    (folder / "broken").touch()
    enqueue((1, "ben"))

    first = cli("notify", "--json", "--rules", command_rules)
    assert first.exit_code == 1  # done, but a human should look
    out = orjson.loads(first.stdout)  # stdout is the JSON document alone; the warning went to stderr
    assert (out["delivered"], out["failed"], out["pending"]) == (0, 1, 1)
    assert "mail relay down" in first.stderr
    row = outbox_rows()[0]
    assert row["attempts"] == 1 and row["delivered_at"] is None
    assert row["last_error"] == "exit status 1: mail relay down try later"  # stderr, trimmed to one line
    assert row["next_try_at"] == "2026-11-25T02:01:00+00:00"  # 1 minute later
    assert out["notifications"][0]["next_try_at"] == row["next_try_at"]

    # not due yet: nothing is tried, nothing failed, exit 0
    for when in (0, 0.5):
        monkeypatch.setenv("LEADSHARE_NOW", at(when))
        out = cli.json("notify", "--rules", command_rules)
        assert (out["delivered"], out["failed"], out["pending"]) == (0, 0, 1)
    assert calls(folder) == 1

    # due again and still failing: the pause grows to 5 minutes
    monkeypatch.setenv("LEADSHARE_NOW", at(1))
    assert cli.json("notify", "--rules", command_rules, code=1)["failed"] == 1
    row = outbox_rows()[0]
    assert row["attempts"] == 2 and row["next_try_at"] == "2026-11-25T02:06:00+00:00"
    monkeypatch.setenv("LEADSHARE_NOW", at(5))
    assert cli.json("notify", "--rules", command_rules)["failed"] == 0
    assert calls(folder) == 2

    # fixed: the next due run delivers it, and no run after that sends it again
    (folder / "broken").unlink()
    monkeypatch.setenv("LEADSHARE_NOW", at(6))
    out = cli.json("notify", "--rules", command_rules)
    assert (out["delivered"], out["failed"], out["pending"]) == (1, 0, 0)
    monkeypatch.setenv("LEADSHARE_NOW", at(60 * 24))
    assert cli.json("notify", "--rules", command_rules)["delivered"] == 0
    assert calls(folder) == 3
    assert len(received(folder)) == 1
    row = outbox_rows()[0]
    assert row["attempts"] == 3 and row["delivered_at"] == "2026-11-25T02:06:00+00:00" and row["last_error"] is None


def test_failures_show_in_the_table_for_people(cli, tmp_path, command_rules):
    (command_rules.parent / "broken").touch()
    enqueue((1, "ben"))
    result = cli("notify", "--rules", command_rules)
    assert result.exit_code == 1
    assert "failed" in result.stdout and "mail relay down" in result.stdout
    assert "retry after 2026-11-25 10:01" in result.stdout
    assert "1 still pending" in result.stdout


def test_a_hanging_command_is_stopped_at_the_timeout(cli, tmp_path, monkeypatch):
    folder = tmp_path / "team"
    write_hook(folder, "slow.py", "#!{python}\nimport time\ntime.sleep(30)\n")
    rules = write_rules(folder / "rules.yaml", "notify:\n  command: ./slow.py\n")
    monkeypatch.setattr(notify, "TIMEOUT", 0.5)
    enqueue((1, "ben"))
    started = time.monotonic()
    out = cli.json("notify", "--rules", rules, code=1)
    assert time.monotonic() - started < 10
    assert out["failed"] == 1 and "timed out after 0.5s" in out["notifications"][0]["error"]
    assert outbox_rows()[0]["last_error"].startswith("notify.command timed out")


def test_a_missing_command_fails_every_due_notification_with_the_reason(cli, tmp_path):
    rules = write_rules(tmp_path / "rules.yaml", "notify:\n  command: ./no-such-hook.sh\n")
    enqueue((1, "ben"), (2, "aisyah"))
    out = cli.json("notify", "--rules", rules, code=1)
    assert (out["delivered"], out["failed"], out["pending"]) == (0, 2, 2)
    for row in outbox_rows():
        assert "no-such-hook.sh not found" in row["last_error"] and row["attempts"] == 1


def test_a_command_in_rules_read_from_the_ledger_is_never_run(tmp_path):
    """An agent's machine reads a shared ledger's rules; a command a manager wrote there is not run."""
    from leadshare.rules_cache import team_from_text

    marker = tmp_path / "ran"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    team = team_from_text(TEAM_YAML + f"notify:\n  command: {hook}\n", "the rules in postgresql://db/leadshare")
    sender = notify._sender(team.notify, team, clock.now(team.timezone))
    with pytest.raises(notify.ChannelDown, match="comes from the rules in the ledger"):
        sender.send({"id": 1}, {"id": 1})
    assert not marker.exists()


# --------------------------------------------------------------------------- no channel


def test_without_a_channel_notifications_stay_pending(cli, tmp_path):
    write_rules(tmp_path / "rules.yaml", None)
    enqueue((1, "ben"), (2, "aisyah"))
    result = cli("notify", "--json")
    assert result.exit_code == 0
    out = orjson.loads(result.stdout)
    assert (out["delivered"], out["failed"], out["pending"]) == (0, 0, 2) and out["channel"] is None
    assert "no notify channel" in result.stderr
    people = cli("notify")
    assert people.exit_code == 0
    assert "no notify channel" in people.stdout and "2 notifications are waiting" in people.stdout
    assert all(r["attempts"] == 0 and r["next_try_at"] is None and r["delivered_at"] is None for r in outbox_rows())
    assert events("notified") == []


def test_notify_with_an_empty_outbox(cli, tmp_path, command_rules):
    result = cli("notify", "--rules", command_rules)
    assert result.exit_code == 0 and "nothing due to send" in result.stdout
    assert calls(command_rules.parent) == 0


# --------------------------------------------------------------------------- smtp


def test_smtp_mails_the_agent_at_their_roster_address(cli, tmp_path, smtp_server):
    write_rules(tmp_path / "rules.yaml",
                f"notify:\n  smtp: {{host: 127.0.0.1, port: {smtp_server.port}, from: leads@example.com}}\n")
    enqueue((7, "ben"))
    out = cli.json("notify")
    assert (out["delivered"], out["failed"], out["pending"], out["channel"]) == (1, 0, 0, "smtp")
    assert len(smtp_server.envelopes) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.mail_from == "leads@example.com"
    assert envelope.rcpt_tos == ["ben@example.com"]
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert mail["To"] == "ben@example.com" and mail["From"] == "leads@example.com"
    assert mail["Subject"] == "[leadshare] New lead: Siti Aminah (lead 7, FB-7)"
    assert mail.get_content_type() == "text/plain"
    body = mail.get_content()
    assert body.startswith("New lead 7 (FB-7) for you: Siti Aminah")
    assert "+60123000007" in body and "c7@example.com" in body
    assert "2026-11-25 14:00 (Asia/Kuala_Lumpur)" in body  # the SLA due time on the team's clock
    assert "leadshare show 7" in body
    assert events("notified")[0][3] == '{"channel":"smtp","kind":"assigned","outbox":1}'


def test_smtp_without_an_agent_email_fails_with_the_reason(cli, tmp_path, smtp_server):
    write_rules(tmp_path / "rules.yaml",
                f"notify:\n  smtp: {{host: 127.0.0.1, port: {smtp_server.port}, from: leads@example.com}}\n")
    enqueue((1, "chitra"), (2, "aisyah"))
    out = cli.json("notify", code=1)
    assert (out["delivered"], out["failed"], out["pending"]) == (1, 1, 1)
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [["aisyah@example.com"]]
    failed = outbox_rows()[0]
    assert failed["delivered_at"] is None
    assert "chitra has no email address" in failed["last_error"] and "add `email:`" in failed["last_error"]


def test_smtp_server_down_fails_and_is_retried_later(cli, tmp_path, smtp_server, monkeypatch):
    closed = free_port()
    write_rules(tmp_path / "rules.yaml", f"notify:\n  smtp: {{host: 127.0.0.1, port: {closed}, from: leads@example.com}}\n")
    enqueue((1, "ben"), (2, "aisyah"))
    out = cli.json("notify", code=1)
    assert (out["delivered"], out["failed"], out["pending"]) == (0, 2, 2)
    assert all(f"smtp 127.0.0.1:{closed}: cannot connect" in r["last_error"] for r in outbox_rows())

    # the server is back (the rules now point at it) and the pause is over
    write_rules(tmp_path / "rules.yaml",
                f"notify:\n  smtp: {{host: 127.0.0.1, port: {smtp_server.port}, from: leads@example.com}}\n")
    monkeypatch.setenv("LEADSHARE_NOW", at(1))
    out = cli.json("notify")
    assert (out["delivered"], out["failed"], out["pending"]) == (2, 0, 0)
    assert sorted(e.rcpt_tos[0] for e in smtp_server.envelopes) == ["aisyah@example.com", "ben@example.com"]


# --------------------------------------------------------------------------- webhook


def test_webhook_posts_the_json_notification(cli, tmp_path, webhook):
    write_rules(tmp_path / "rules.yaml", f"notify:\n  webhook: {webhook.url}\n")
    enqueue((3, "ben", "sla_warning"))
    out = cli.json("notify")
    assert (out["delivered"], out["failed"], out["pending"], out["channel"]) == (1, 0, 0, "webhook")
    assert len(webhook.requests) == 1
    request = webhook.requests[0]
    assert request["path"] == "/hooks/leads?token=s3cret"
    assert request["headers"]["Content-Type"] == "application/json"
    body = orjson.loads(request["body"])
    assert body["notification_id"] == 1 and body["kind"] == "sla_warning"
    assert body["customer"] == payload(3, "ben")["customer"] and body["sla_due"] == "2026-11-25T06:00:00+00:00"


def test_webhook_500_fails_then_is_retried(cli, tmp_path, webhook, monkeypatch):
    write_rules(tmp_path / "rules.yaml", f"notify:\n  webhook: {webhook.url}\n")
    webhook.statuses.append(500)
    enqueue((1, "ben"))
    out = cli.json("notify", code=1)
    assert (out["delivered"], out["failed"], out["pending"]) == (0, 1, 1)
    row = outbox_rows()[0]
    assert "HTTP 500" in row["last_error"] and "relay is down" in row["last_error"]
    assert "s3cret" not in row["last_error"]  # the webhook's secret path never lands in the ledger
    assert row["next_try_at"] == "2026-11-25T02:01:00+00:00"

    monkeypatch.setenv("LEADSHARE_NOW", at(0.5))
    assert cli.json("notify")["delivered"] == 0
    assert len(webhook.requests) == 1

    monkeypatch.setenv("LEADSHARE_NOW", at(1))
    out = cli.json("notify")
    assert (out["delivered"], out["failed"], out["pending"]) == (1, 0, 0)
    monkeypatch.setenv("LEADSHARE_NOW", at(600))
    assert cli.json("notify")["delivered"] == 0
    ids = [orjson.loads(r["body"])["notification_id"] for r in webhook.requests]
    assert ids == [1, 1]  # the same notification, tried twice, delivered once
    assert len(events("notified")) == 1


def test_webhook_redirect_is_not_followed_and_counts_as_failed(cli, tmp_path, webhook):
    write_rules(tmp_path / "rules.yaml", f"notify:\n  webhook: {webhook.url}\n")
    webhook.statuses.append(302)
    enqueue((1, "ben"))
    out = cli.json("notify", code=1)
    assert out["failed"] == 1 and "HTTP 302" in out["notifications"][0]["error"]
    assert len(webhook.requests) == 1


# --------------------------------------------------------------------------- concurrency and claims


def test_two_runs_at_once_never_send_the_same_notification(tmp_path, command_rules, monkeypatch):
    monkeypatch.setenv("HOOK_DELAY", "0.02")
    monkeypatch.setattr(notify, "BATCH", 3)  # small claims, so the two runs take turns
    enqueue(*[(i, "ben") for i in range(1, 13)])
    team = load_team(command_rules)
    now = clock.now(team.timezone)
    barrier = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        ledger = the_ledger()
        try:
            barrier.wait()
            results.append(notify.deliver_pending(ledger, team, now))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            ledger.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(r["delivered"] for r in results) == 12 and sum(r["failed"] for r in results) == 0
    ids = sorted(g["notification_id"] for g in received(command_rules.parent))
    assert ids == list(range(1, 13))  # each exactly once
    assert calls(command_rules.parent) == 12
    assert sorted(orjson.loads(e[3])["outbox"] for e in events("notified")) == list(range(1, 13))


def test_a_claimed_notification_waits_for_its_claim_to_run_out(cli, tmp_path, command_rules, monkeypatch):
    """A run that died after claiming: no other run sends the row until the claim ends."""
    enqueue((1, "ben"))
    ledger = the_ledger()
    with ledger.write():
        claimed = outbox.claim_due(ledger, NOW_UTC, "2026-11-25T02:15:00+00:00", 10)
    ledger.close()
    assert [r["id"] for r in claimed] == [1]
    out = cli.json("notify", "--rules", command_rules)
    assert (out["delivered"], out["pending"]) == (0, 1)
    monkeypatch.setenv("LEADSHARE_NOW", at(15))
    assert cli.json("notify", "--rules", command_rules)["delivered"] == 1
    assert calls(command_rules.parent) == 1


def test_deliver_pending_can_run_right_after_a_commit(tmp_path, command_rules):
    """What `import/assign/sweep --notify` call."""
    enqueue((1, "ben"))
    team = load_team(command_rules)
    ledger = the_ledger()
    try:
        result = notify.deliver_pending(ledger, team, clock.now(team.timezone))
    finally:
        ledger.close()
    assert (result["delivered"], result["failed"], result["pending"]) == (1, 0, 0)
    assert events("notified")[0][2] == "system"


# --------------------------------------------------------------------------- small parts


def test_retry_pause_grows_then_stays_at_six_hours():
    pauses = [notify.retry_delay(n) for n in range(1, 8)]
    assert pauses == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                      timedelta(hours=6), timedelta(hours=6), timedelta(hours=6)]


def test_forgetting_a_customer_erases_them_from_the_outbox(tmp_path):
    enqueue((1, "ben"), (2, "ben"))
    ledger = the_ledger()
    with ledger.write():
        assert outbox.erase_personal(ledger, 1) == 1
    ledger.close()
    first, second = (orjson.loads(r["payload"]) for r in outbox_rows())
    assert first["customer"] == {"name": None, "phone": None, "email": None}
    assert "Siti" not in first["text"] and "+6012" not in first["text"]
    assert second["customer"]["name"] == "Siti Aminah"


def test_smtp_digest_of_several_leads_reads_well(cli, tmp_path, smtp_server):
    write_rules(tmp_path / "rules.yaml",
                f"notify:\n  smtp: {{host: 127.0.0.1, port: {smtp_server.port}, from: leads@example.com}}\n")
    digest = payload(0, "ben") | {"lead": None, "leads": [4, 5, 6], "external_id": None, "customer": None,
                                  "sla_due": None, "text": "3 new leads for you from leads.csv"}
    enqueue(digest)
    assert cli.json("notify")["delivered"] == 1
    mail = email.message_from_bytes(smtp_server.envelopes[0].original_content, policy=email.policy.default)
    assert mail["Subject"] == "[leadshare] 3 new leads for you from leads.csv"
    body = mail.get_content()
    assert "Leads:      4, 5, 6" in body and "leadshare mine --as ben" in body
    assert events("notified")[0][:2] == (None, "ben")
