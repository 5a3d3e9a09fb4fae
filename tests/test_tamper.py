"""Tamper evidence over a ledger of a couple of thousand events.

The ledger is built once per module (imports with duplicates, notes, statuses, handoffs, leave)
and copied for each case; each case tampers with the copy the way someone with the file and the
sqlite3 shell would (dropping the append-only triggers first) and runs `leadshare verify --json`.
Every tampering must be reported, and where the hash chain breaks the first bad seq is named.

What the chain alone cannot see (a cut-off or fully rehashed tail) is caught with the head kept
elsewhere: `verify --expect-head HASH`.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import NOW, TEAM_YAML, lead_rows, write_csv
from leadshare.cli import app

EXAMPLES = int(os.environ.get("TAMPER_EXAMPLES", "3"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
AGENTS = ("aisyah", "ben", "chitra")




def run(*args, env=None):
    result = CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> dict:
    """A ledger with ~2,000 events of every common kind, checkpointed into one file."""
    folder = tmp_path_factory.mktemp("golden")
    rules = folder / "rules.yaml"
    rules.write_text(TEAM_YAML)
    db = folder / "golden.db"
    env = {"LEADSHARE_DB": str(db), "LEADSHARE_RULES": str(rules), "LEADSHARE_NOW": NOW}
    write_csv(folder / "a.csv", lead_rows(1000))
    write_csv(folder / "b.csv", lead_rows(900, start=800))  # 200 duplicates
    for name in ("a.csv", "b.csv"):
        assert run("import", folder / name, "--json", env=env).exit_code == 0
    # notes, statuses, handoffs and leave an hour later, through the use cases the commands call
    from leadshare import workflow
    from leadshare.cli._common import Where, session

    def as_(actor):
        old = os.environ.get("LEADSHARE_NOW")
        os.environ["LEADSHARE_NOW"] = "2026-11-25T11:00:00"
        try:
            return session(Where(db=db, rules=rules, actor=actor))
        finally:
            os.environ["LEADSHARE_NOW"] = old or NOW

    with sqlite3.connect(db) as conn:
        owners = dict(conn.execute("SELECT id, agent FROM leads WHERE id < 40"))
    sessions = {a: as_(a) for a in AGENTS}
    for lead, owner in owners.items():
        workflow.add_note(sessions[owner], str(lead), f"called customer {lead}")
        if lead % 2:
            workflow.change_status(sessions[owner], str(lead), "contacted")
        if lead % 5 == 0:
            workflow.reassign(sessions["aisyah"], str(lead), next(a for a in AGENTS if a != owner), "speaks the language")
    workflow.add_leave(sessions["aisyah"], "ben", "2026-12-01", "2026-12-05", "holiday")
    for s in sessions.values():
        s.ledger.close()
    write_csv(folder / "c.csv", lead_rows(100, start=1600))
    later = dict(env, LEADSHARE_NOW="2026-11-25T11:00:00")
    assert run("import", folder / "c.csv", env=later).exit_code == 0
    verified = orjson.loads(run("verify", "--json", "--decisions", env=env).stdout)
    assert verified["ok"], verified
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        events = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
        types = dict(conn.execute("SELECT type, count(*) FROM events GROUP BY type"))
    assert events >= 2000, events
    return {"db": db, "rules": rules, "events": events, "head": verified["head"], "types": types}


@pytest.fixture
def fresh(golden, tmp_path):
    """A private copy of the golden ledger for one case."""
    counter = iter(range(10**9))

    def copy() -> Path:
        target = tmp_path / f"case{next(counter)}.db"
        shutil.copyfile(golden["db"], target)
        return target

    return copy


def tamper(db: Path, *statements: tuple[str, tuple]) -> None:
    """Change the file as a person with sqlite3 would: triggers dropped, then the edits."""
    with sqlite3.connect(db) as conn:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'").fetchall():
            conn.execute(f'DROP TRIGGER "{name}"')
        for sql, params in statements:
            conn.execute(sql, params)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def verify(db: Path, golden: dict, *extra: str) -> dict:
    result = run("verify", "--json", "--db", db, "--rules", golden["rules"], *extra)
    assert result.exit_code in (1, 2), f"tampering went unnoticed: exit {result.exit_code}, {result.stdout[:300]}"
    if result.exit_code == 2:
        pytest.fail(f"verify refused the tampered ledger instead of reporting it: {result.stderr.strip()}")
    out = orjson.loads(result.stdout)
    assert out["ok"] is False and out["problems"], out
    return out


def row(db: Path, seq: int) -> dict:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM events WHERE seq = ?", (seq,)).fetchone())


def test_the_untouched_copy_verifies(golden, fresh):
    out = orjson.loads(run("verify", "--json", "--db", fresh(), "--rules", golden["rules"]).stdout)
    assert out["ok"] is True and out["events"] == golden["events"]


# ---- the chain: changed, deleted, reordered -----------------------------------------------------


def _changed(value, column: str):
    if column == "hash":
        return bytes([value[0] ^ 1]) + value[1:]
    if column == "data":
        return value[:-1] + ',"x":1}' if value != "{}" else '{"x":1}'
    if column == "at":
        return value.replace(":00+", ":01+") if ":00+" in value else value + " "
    if column == "lead":
        return 1 if value is None else value + 1
    if column == "agent":
        return "mallory" if value is None else next(a for a in AGENTS if a != value) if value in AGENTS else None
    if column == "actor":
        return "mallory"
    if column == "type":
        return "note" if value != "note" else "status"
    raise AssertionError(column)


@SETTINGS
@given(data=st.data())
def test_a_changed_event_is_caught_at_its_seq(golden, fresh, data):
    db = fresh()
    seq = data.draw(st.integers(1, golden["events"]), label="seq")
    column = data.draw(st.sampled_from(["at", "actor", "type", "lead", "agent", "data", "hash"]), label="column")
    new = _changed(row(db, seq)[column], column)
    tamper(db, (f"UPDATE events SET {column} = ? WHERE seq = ?", (new, seq)))
    out = verify(db, golden)
    assert out["problems"][0].startswith(f"event {seq}:"), (seq, column, out["problems"][:3])


GARBAGE = {"empty_object": "{}", "cut_json": '{"batch":', "a_list": "[]", "null": "null", "plain_text": "not json",
           "not_utf8": b"\xff\xfe{}"}


def test_an_event_whose_data_is_garbage_is_reported_not_crashed_on(golden, fresh):
    """Someone hand-edits an `assigned` event's data into something that is not its JSON: verify
    must report that event, not stop with an unexpected error."""
    failures = []
    for kind, value in GARBAGE.items():
        db = fresh()
        with sqlite3.connect(db) as conn:
            seq = conn.execute("SELECT min(seq) FROM events WHERE type = 'assigned'").fetchone()[0]
        tamper(db, ("UPDATE events SET data = CAST(? AS TEXT) WHERE seq = ?", (value, seq)))
        result = run("verify", "--json", "--db", db, "--rules", golden["rules"])
        if result.exit_code != 1 or not orjson.loads(result.stdout)["problems"][0].startswith(f"event {seq}:"):
            failures.append(f"{kind}: exit {result.exit_code} {result.stderr.strip() or result.stdout[:120]}")
    assert not failures, failures


@SETTINGS
@given(data=st.data())
def test_deleted_events_are_caught_at_the_first_missing_seq(golden, fresh, data):
    db = fresh()
    first = data.draw(st.integers(1, golden["events"] - 1), label="first")
    last = data.draw(st.integers(first, min(first + 20, golden["events"] - 1)), label="last")
    tamper(db, ("DELETE FROM events WHERE seq BETWEEN ? AND ?", (first, last)))
    out = verify(db, golden)
    assert out["problems"][0].startswith(f"event {first}:") and "missing" in out["problems"][0], out["problems"][:3]


@SETTINGS
@given(data=st.data())
def test_reordered_events_are_caught_at_the_first_moved_seq(golden, fresh, data):
    """Two rows swap their content (seq stays in order): the history now reads in another order."""
    db = fresh()
    i = data.draw(st.integers(1, golden["events"] - 1), label="i")
    j = data.draw(st.integers(i + 1, golden["events"]), label="j")
    a, b = row(db, i), row(db, j)
    cols = ("at", "actor", "type", "lead", "agent", "data", "hash")
    tamper(db, *[(f"UPDATE events SET {', '.join(f'{c} = ?' for c in cols)} WHERE seq = ?", (*[r[c] for c in cols], seq))
                 for r, seq in ((b, i), (a, j))])
    out = verify(db, golden)
    assert out["problems"][0].startswith(f"event {i}:"), (i, j, out["problems"][:3])


def test_a_deleted_last_event_is_caught_by_the_recorded_head(golden, fresh):
    db = fresh()
    tamper(db, ("DELETE FROM events WHERE seq = ?", (golden["events"],)))
    out = verify(db, golden)
    assert any("head" in p for p in out["problems"]), out["problems"]


# ---- a cut-off or rewritten tail: only a head kept elsewhere shows it -------------------------


def _rehash_from(db: Path, seq: int) -> None:
    """What a careful tamperer does after editing event `seq`: recompute every later hash and the
    head the ledger records, so that the chain on its own looks whole."""
    from leadshare.ledger import events as ev

    with sqlite3.connect(db) as conn:
        prev = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq - 1,)).fetchone()
        prev = prev[0] if prev else ev.GENESIS
        rows = conn.execute("SELECT seq, at, actor, type, lead, agent, data FROM events WHERE seq >= ? ORDER BY seq", (seq,)).fetchall()
        for s, at, actor, type_, lead, agent, data in rows:
            prev = ev.link(prev, s, at, actor, type_, lead, agent, data)
            conn.execute("UPDATE events SET hash = ? WHERE seq = ?", (prev, s))
        last = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        conn.execute("UPDATE meta SET value = ? WHERE key = 'head'", (f"{last[0]}:{last[1].hex()}",))


@SETTINGS
@given(cut=st.integers(1, 60))
def test_a_cut_off_tail_with_its_recorded_head_fixed_is_caught_by_the_kept_head(golden, fresh, cut):
    db = fresh()
    keep = golden["events"] - cut
    tamper(db, ("DELETE FROM events WHERE seq > ?", (keep,)))
    with sqlite3.connect(db) as conn:
        last = conn.execute("SELECT seq, hash FROM events WHERE seq = ?", (keep,)).fetchone()
        conn.execute("UPDATE meta SET value = ? WHERE key = 'head'", (f"{last[0]}:{last[1].hex()}",))
    # the head as kept elsewhere (whole: a prefix is refused, see test_safety)
    out = verify(db, golden, "--expect-head", golden["head"])
    assert any("not the expected" in p for p in out["problems"]), out["problems"][:3]


@SETTINGS
@given(data=st.data())
def test_a_rewritten_and_rehashed_owner_is_caught_by_the_kept_head(golden, fresh, data):
    """An `assigned` event and its lead both moved to another agent, the chain recomputed: only
    the head kept outside the ledger can tell."""
    db = fresh()
    with sqlite3.connect(db) as conn:
        candidates = conn.execute(
            "SELECT e.seq, e.lead, e.agent FROM events e JOIN leads l ON l.id = e.lead AND l.decided_seq = e.seq "
            "WHERE e.type = 'assigned'").fetchall()
    seq, lead, agent = data.draw(st.sampled_from(candidates), label="event")
    other = next(a for a in AGENTS if a != agent)
    tamper(db, ("UPDATE events SET agent = ? WHERE seq = ?", (other, seq)),
           ("UPDATE leads SET agent = ? WHERE id = ?", (other, lead)))
    _rehash_from(db, seq)
    out = verify(db, golden, "--expect-head", golden["head"])
    assert any("not the expected" in p for p in out["problems"]), out["problems"][:3]


# ---- the projections: what agents and managers read -------------------------------------------


def _lead_ids(db: Path, where: str = "1") -> list[int]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute(f"SELECT id FROM leads WHERE {where} ORDER BY id")]


PROJECTION_EDITS = {
    "owner": ("UPDATE leads SET agent = CASE agent WHEN 'ben' THEN 'chitra' ELSE 'ben' END WHERE id = ?", "1"),
    "owner_cleared": ("UPDATE leads SET agent = NULL, queued_reason = 'nobody eligible' WHERE id = ?", "agent IS NOT NULL"),
    "status": ("UPDATE leads SET status = CASE status WHEN 'won' THEN 'lost' ELSE 'won' END WHERE id = ?", "1"),
    "status_reopened": ("UPDATE leads SET status = 'new', closed_at = NULL, first_contact_at = NULL WHERE id = ?", "status != 'new'"),
    "sla_due": ("UPDATE leads SET sla_due = '2099-01-01T00:00:00+00:00' WHERE id = ?", "sla_due IS NOT NULL"),
    "phone": ("UPDATE leads SET phone = '+60111111111' WHERE id = ?", "phone IS NOT NULL"),
    "email": ("UPDATE leads SET email = 'mallory@example.com' WHERE id = ?", "email IS NOT NULL"),
    "name": ("UPDATE leads SET name = 'Someone Else' WHERE id = ?", "1"),
    "region": ("UPDATE leads SET region = 'Penang' WHERE id = ?", "1"),
    "attrs": ("UPDATE leads SET attrs = '{\"product\":\"commercial\"}' WHERE id = ?", "1"),
    "deleted_lead": ("DELETE FROM leads WHERE id = ?", "id NOT IN (SELECT lead FROM notes)"),
}


@SETTINGS
@given(data=st.data())
def test_a_changed_lead_projection_is_caught(golden, fresh, data):
    db = fresh()
    kind = data.draw(st.sampled_from(sorted(PROJECTION_EDITS)), label="kind")
    sql, where = PROJECTION_EDITS[kind]
    lead = data.draw(st.sampled_from(_lead_ids(db, where)), label="lead")
    tamper(db, (sql, (lead,)))
    out = verify(db, golden)
    assert any(f"lead {lead}" in p for p in out["problems"]), (kind, lead, out["problems"][:3])


def test_an_invented_lead_is_caught(golden, fresh):
    db = fresh()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO leads (id, external_id, name, phone, attrs, created_at, status, agent) "
                     "VALUES (99999, 'X-1', 'Ghost', '+60123999999', '{}', '2026-11-25T02:00:00+00:00', 'new', 'ben')")
    out = verify(db, golden)
    assert any("lead 99999" in p for p in out["problems"]), out["problems"]


def test_a_changed_rotation_is_caught(golden, fresh):
    db = fresh()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE rotation SET last = CASE last WHEN 'ben' THEN 'chitra' ELSE 'ben' END")
    verify(db, golden)


def test_changed_import_counts_are_caught(golden, fresh):
    db = fresh()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE imports SET duplicates = duplicates - 1, imported = imported + 1 WHERE batch = 2")
    verify(db, golden)


def test_a_changed_candidate_set_is_caught(golden, fresh):
    db = fresh()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE candidate_sets SET data = replace(data, 'true', 'false') WHERE hash = "
                     "(SELECT hash FROM candidate_sets WHERE data LIKE '%true%' LIMIT 1)")
    verify(db, golden)


def test_a_rewritten_note_is_caught(golden, fresh):
    """`show` prints the notes table's text on the timeline; the note event certifies its digest.
    A note rewritten behind leadshare's back ("customer refused, stop calling") must not verify."""
    db = fresh()
    with sqlite3.connect(db) as conn:
        lead = conn.execute("SELECT lead FROM notes WHERE text LIKE 'called customer%' LIMIT 1").fetchone()[0]
        conn.execute("UPDATE notes SET text = 'customer refused, stop calling' WHERE lead = ?", (lead,))
    out = verify(db, golden)
    assert any(f"lead {lead}" in p or "note" in p for p in out["problems"]), out["problems"]


def test_rewritten_leave_is_caught(golden, fresh):
    """Leave recorded in the ledger decides who gets leads. Moving ben's recorded leave onto today
    (so he silently stops getting leads) must not verify: the leave_added event says otherwise."""
    db = fresh()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE leave SET start = '2026-11-20', end = '2026-11-30' WHERE agent = 'ben'")
    out = verify(db, golden)
    assert any("leave" in p for p in out["problems"]), out["problems"]


# ---- a damaged file: one clear line or a report, never a traceback ------------------------------


def test_random_byte_damage_never_shows_a_traceback(golden, fresh):
    rnd = random.Random(7)
    for _ in range(max(4, EXAMPLES)):
        db = fresh()
        data = bytearray(db.read_bytes())
        for _ in range(rnd.randint(1, 8)):
            pos = rnd.randrange(100, len(data))  # past the header: the file still opens as SQLite
            data[pos] ^= 1 << rnd.randrange(8)
        db.write_bytes(bytes(data))
        result = run("verify", "--json", "--db", db, "--rules", golden["rules"])
        assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
        assert result.exit_code in (0, 1, 2)
        if result.exit_code == 2:
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        else:
            orjson.loads(result.stdout)  # one JSON document


def test_a_truncated_file_gives_one_clear_line(golden, fresh):
    db = fresh()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    result = run("verify", "--json", "--db", db, "--rules", golden["rules"])
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
    assert result.exit_code in (1, 2)
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1 and str(db.name) in result.stderr
    else:
        assert orjson.loads(result.stdout)["ok"] is False
