"""Shared fixtures: an isolated environment, a small team, and ways to run the CLI."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from leadshare.cli import app

from sample_team import CSV_HEADER, NOW, TEAM_YAML, lead_rows, phone, write_csv  # noqa: F401 (the tests import them from here)


@pytest.fixture(scope="session", autouse=True)
def _rules_cache_in_the_test_folders(tmp_path_factory):
    """Validated rules are cached under the tests' own temporary folder, never the user's home
    (session fixtures such as the tamper suite's golden ledger run before `isolated`)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEADSHARE_CACHE_DIR", str(tmp_path_factory.mktemp("rules-cache")))
        yield


@pytest.fixture(scope="session", autouse=True)
def _fast_cli():
    """Build the Typer command tree once a run, not on every in-process call (two thirds of its
    cost, 25 ms). The tree holds the commands and their options; a call's arguments, environment
    and the modules a test patches are all looked up when it runs."""
    import typer.testing

    original = getattr(typer.testing, "_get_command", None)
    if original is None:  # an internal of Typer's test runner: without it, calls are only slower
        yield
        return
    built: dict = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(typer.testing, "_get_command", lambda app: built.get(app) or built.setdefault(app, original(app)))
        yield


@pytest.fixture(autouse=True)
def isolated(tmp_path, tmp_path_factory, monkeypatch):
    """Each test runs in its own folder with no leadshare settings leaking in from the machine."""
    for key in list(os.environ):
        if key.startswith("LEADSHARE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LEADSHARE_NOW", NOW)
    monkeypatch.setenv("LEADSHARE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def rules(tmp_path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(TEAM_YAML)
    return path


class Cli:
    def __init__(self, tmp_path: Path):
        self.runner = CliRunner()
        self.dir = tmp_path

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None):
        return self.runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)

    def json(self, *args: str, code: int = 0, **kw):
        result = self(*args, "--json", **kw)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return orjson.loads(result.stdout)


@contextlib.contextmanager
def ledger_conn(db: str | None = None):
    """A raw connection to the ledger the CLI uses (LEADSHARE_DB, else ./leadshare.db), taking
    `?` placeholders on both backends; what it changes is committed on leaving."""
    from leadshare.ledger import is_url, open_ledger

    db = db or os.environ.get("LEADSHARE_DB") or "leadshare.db"
    if is_url(db):
        ledger = open_ledger(db)
        try:
            yield ledger.conn
        finally:
            ledger.close()
        return
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        yield conn


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for this test process, removed at the end. Without binaries
    the PostgreSQL tests skip, except in CI (CI set), where they must run."""
    import pgserver

    if pgserver.binaries() is None:
        reason = "PostgreSQL binaries (initdb, pg_ctl) not found on PATH nor in /usr/lib/postgresql/*/bin"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests (.ci/run installs them)")
        pytest.skip(reason)
    server = pgserver.start_server()
    yield server
    pgserver.remove_server(server)


@pytest.fixture
def pg_url(pg_server):
    """A fresh PostgreSQL ledger, migrated, for one test."""
    name = pg_server.new_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


def pytest_generate_tests(metafunc):
    # Tests marked both_backends run on SQLite and on PostgreSQL; the rest on SQLite alone.
    marked = metafunc.definition.get_closest_marker
    if "backend" in metafunc.fixturenames and marked("both_backends") and not marked("sqlite_only"):
        metafunc.parametrize("backend", ["sqlite", "postgres"], indirect=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "both_backends: run the test on the SQLite and the PostgreSQL ledger")
    config.addinivalue_line("markers", "sqlite_only: in a both_backends module, a test of the SQLite file itself")
    _compiled_modules_kept_in_the_cache(config)


def _compiled_modules_kept_in_the_cache(config) -> None:
    """Where PYTHONDONTWRITEBYTECODE is set, each test process would rewrite the asserts of every
    test module anew (2.5 s a run) and every leadshare process a test starts compile leadshare
    anew (60 ms of the 240 a command costs; the suite starts a few hundred). Both find them
    compiled in pytest's cache folder instead, never beside the sources, as benchmarks/ does."""
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    if not sys.dont_write_bytecode or sys.pycache_prefix or cache is None:
        return
    folder = str(cache.mkdir("pycache"))
    mp = pytest.MonkeyPatch()
    mp.setattr(sys, "dont_write_bytecode", False)
    mp.setattr(sys, "pycache_prefix", folder)
    mp.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    mp.setenv("PYTHONPYCACHEPREFIX", folder)
    config.add_cleanup(mp.undo)


@pytest.fixture
def backend(request, monkeypatch) -> str:
    """Which ledger the CLI uses: ./leadshare.db, or (postgres) a fresh database named by LEADSHARE_DB."""
    name = getattr(request, "param", "sqlite")
    if name == "postgres":
        monkeypatch.setenv("LEADSHARE_DB", request.getfixturevalue("pg_url"))
    return name


@pytest.fixture
def cli(tmp_path, rules, backend) -> Cli:
    return Cli(tmp_path)


def as_before_per_lead_salts(db: Path) -> None:
    """Rewrite a ledger as leadshare wrote it before schema step 6: every digest of a lead under
    the ledger-wide salt, its external id in its row digest, no salt column; the chain rehashed."""
    import sqlite3

    from leadshare.ledger import events as ev
    from leadshare.services import note_digest, personal_digest, row_digest

    with sqlite3.connect(db) as conn:
        salt = bytes.fromhex(conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0])
        conn.execute("DROP TRIGGER events_append_only_update")
        conn.execute("DROP TRIGGER events_append_only_delete")
        certified = {}
        for lead, ext, name, tel, email, pk, ek, source, region, attrs, batch, created in conn.execute(
                "SELECT id, external_id, name, phone, email, phone_key, email_key, source, region, attrs, batch, "
                "created_at FROM leads").fetchall():
            pd = personal_digest(salt, name, tel, email, pk, ek)
            conn.execute("UPDATE leads SET pd = ? WHERE id = ?", (pd, lead))
            certified[lead] = row_digest(ext, source, region, attrs, batch, created, pd)
        texts = dict(conn.execute("SELECT seq, text FROM notes").fetchall())
        prev = ev.GENESIS
        for seq, at, actor, type_, lead, agent, data in conn.execute(
                "SELECT seq, at, actor, type, lead, agent, data FROM events ORDER BY seq").fetchall():
            body = orjson.loads(data)
            if type_ in ("assigned", "queued") and body.get("new"):
                body["row"] = certified[lead]
            elif type_ == "note":
                body["digest"] = note_digest(salt, texts[seq])
            data = ev.canonical(body).decode()
            prev = ev.link(prev, seq, at, actor, type_, lead, agent, data)
            conn.execute("UPDATE events SET data = ?, hash = ? WHERE seq = ?", (data, prev, seq))
        conn.execute("UPDATE meta SET value = (SELECT seq || ':' || hex(hash) FROM events ORDER BY seq DESC LIMIT 1) "
                     "WHERE key = 'head'")
        conn.execute("UPDATE meta SET value = lower(value) WHERE key = 'head'")
        conn.execute("ALTER TABLE leads DROP COLUMN salt")
        conn.execute("ALTER TABLE events DROP COLUMN login")  # step 7's, after the salts
        for name, verb in (("events_append_only_update", "UPDATE"), ("events_append_only_delete", "DELETE")):
            conn.execute(f"CREATE TRIGGER {name} BEFORE {verb} ON events "
                         "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
        conn.execute("PRAGMA user_version = 5")
