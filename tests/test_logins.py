"""Logins attested by the server: on a PostgreSQL ledger the login is who acts, not `--as`.

Real logins (CREATE ROLE ... LOGIN PASSWORD) on the throwaway server, each connecting with its own
URL as an agent would from their laptop.
"""

from __future__ import annotations

import itertools

import orjson
import psycopg
import pytest
from psycopg import sql

from conftest import lead_rows, write_csv
from pgserver import scram_verifier

PASSWORD = "agent-pw-1"
_roles = itertools.count()


@pytest.fixture
def team_ledger(cli, tmp_path, pg_server, pg_url):
    """A PostgreSQL ledger the owner filled (leads 1 aisyah, 2 ben, 3 chitra) and a way to make logins."""
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    cli.json("import", "leads.csv", env={"LEADSHARE_DB": pg_url})
    return Team(cli, pg_server, pg_url)


class Team:
    def __init__(self, cli, server, owner_url):
        self.cli, self.server, self.owner_url = cli, server, owner_url
        self.database = owner_url.rsplit("/", 1)[1]

    def login(self, agent: str | None = None) -> str:
        """A new PostgreSQL login (granted `agent` when given); its URL."""
        name = f"{agent or 'someone'}_{self.database}_{next(_roles)}"
        self.server.admin(f"CREATE ROLE {name} LOGIN PASSWORD '{scram_verifier(PASSWORD)}'")
        if agent:
            assert self.owner("db", "grant", name, "--agent", agent).exit_code == 0
        return self.url(name)

    def url(self, login: str) -> str:
        return f"postgresql://{login}:{PASSWORD}@127.0.0.1:{self.server.port}/{self.database}"

    def owner(self, *args):
        return self.cli(*args, env={"LEADSHARE_DB": self.owner_url})

    def as_login(self, url: str, *args, rules: str = "absent.yaml", agent: str | None = None):
        """A command run from an agent's machine: only the URL, and no rules file unless given."""
        env = {"LEADSHARE_DB": url, "LEADSHARE_RULES": rules, "LEADSHARE_AGENT": agent}
        return self.cli(*args, env=env)

    def json_as(self, url: str, *args, code: int = 0):
        result = self.as_login(url, *args, "--json")
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return orjson.loads(result.stdout)


def login_name(url: str) -> str:
    return url.split("//", 1)[1].split(":", 1)[0]


def test_a_granted_agents_login_sees_its_leads_without_as_or_a_rules_file(team_ledger):
    ben = team_ledger.login("ben")
    mine = team_ledger.as_login(ben, "mine", "--json")
    assert mine.exit_code == 0, mine.stderr
    assert [lead["id"] for lead in team_ledger.json_as(ben, "mine")] == [2]
    assert "warning" not in mine.stderr


def test_a_granted_login_naming_another_agent_is_refused(team_ledger):
    ben = team_ledger.login("ben")
    for refused in (team_ledger.as_login(ben, "mine", "--as", "aisyah"), team_ledger.as_login(ben, "mine", agent="chitra"),
                    team_ledger.as_login(ben, "note", "1", "mine now", "--as", "system")):
        assert refused.exit_code == 2
        assert f"login '{login_name(ben)}' acts as 'ben' and may not act as" in refused.stderr
    assert team_ledger.as_login(ben, "mine", "--as", "Ben").exit_code == 0  # its own agent, any case


def test_an_agents_status_change_is_logged_with_its_login(team_ledger):
    ben = team_ledger.login("ben")
    assert team_ledger.as_login(ben, "status", "2", "contacted", "--note", "called her").exit_code == 0
    last = team_ledger.json_as(ben, "log", "--limit", "1")[0]
    assert (last["type"], last["actor"], last["login"]) == ("status", "ben", login_name(ben))
    timeline = team_ledger.json_as(ben, "show", "2")["timeline"]
    assert timeline[0]["login"] == "owner" and timeline[-1]["login"] == login_name(ben)
    assert team_ledger.owner("verify").exit_code == 0


def test_an_agents_login_may_not_touch_another_agents_lead(team_ledger):
    ben = team_ledger.login("ben")
    refused = team_ledger.as_login(ben, "status", "1", "contacted")
    assert refused.exit_code == 2 and "belongs to aisyah" in refused.stderr


def test_an_agents_login_cannot_update_delete_or_truncate_the_log_even_through_psql(team_ledger):
    ben = team_ledger.login("ben")
    for statement in ("UPDATE leadshare.events SET actor = 'ben' WHERE seq = 2",
                      "DELETE FROM leadshare.events WHERE seq = 2",
                      "TRUNCATE leadshare.events",
                      "ALTER TABLE leadshare.events DISABLE TRIGGER ALL",
                      "CREATE TABLE leadshare.mine (x int)"):
        with psycopg.connect(ben) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    assert team_ledger.owner("verify").exit_code == 0


def test_an_event_cannot_be_inserted_under_another_login(team_ledger):
    ben = team_ledger.login("ben")
    with psycopg.connect(ben) as conn, pytest.raises(psycopg.errors.RaiseException, match="under the login that writes it"):
        conn.execute("INSERT INTO leadshare.events (seq, at, actor, type, data, hash, login) "
                     "VALUES (100, now(), 'aisyah', 'note', '{}', '\\x00', 'owner')")


def test_a_managers_login_reassigns_and_forgets(team_ledger):
    aisyah = team_ledger.login("aisyah")
    moved = team_ledger.as_login(aisyah, "reassign", "2", "--to", "chitra", "--reason", "speaks Tamil")
    assert moved.exit_code == 0, moved.stderr
    assert team_ledger.as_login(aisyah, "forget", "3").exit_code == 0
    log = team_ledger.json_as(aisyah, "log", "--limit", "2")
    assert [(e["type"], e["actor"], e["login"]) for e in log] == [
        ("reassigned", "aisyah", login_name(aisyah)), ("forgotten", "aisyah", login_name(aisyah))]
    assert team_ledger.owner("verify").exit_code == 0


def test_a_login_never_granted_is_refused_naming_it_and_the_grant_to_run(team_ledger):
    stranger = team_ledger.login()
    refused = team_ledger.as_login(stranger, "mine")
    assert refused.exit_code == 2
    assert f"login '{login_name(stranger)}' is not granted any agent" in refused.stderr
    assert f"leadshare db grant {login_name(stranger)} --agent ID" in refused.stderr


def test_a_revoked_login_is_refused(team_ledger):
    ben = team_ledger.login("ben")
    assert team_ledger.owner("db", "revoke", login_name(ben)).exit_code == 0
    refused = team_ledger.as_login(ben, "mine")
    assert refused.exit_code == 2 and f"login '{login_name(ben)}' is not granted" in refused.stderr
    with psycopg.connect(ben) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM leadshare.leads")


def test_an_agents_login_may_not_grant(team_ledger):
    ben = team_ledger.login("ben")
    refused = team_ledger.as_login(ben, "db", "grant", login_name(ben), "--agent", "aisyah")
    assert refused.exit_code == 2 and "only the ledger's owner" in refused.stderr
    assert team_ledger.json_as(ben, "mine")[0]["agent"] == "ben"


def test_granting_an_unknown_agent_or_login_exits_2(team_ledger):
    unknown_agent = team_ledger.owner("db", "grant", "owner_nobody", "--agent", "zed")
    assert unknown_agent.exit_code == 2 and "no agent 'zed'" in unknown_agent.stderr
    unknown_login = team_ledger.owner("db", "grant", "nobody_here", "--agent", "ben")
    assert unknown_login.exit_code == 2 and "login 'nobody_here' does not exist" in unknown_login.stderr


def test_db_roles_lists_each_granted_login_and_its_agent(team_ledger):
    ben, aisyah = team_ledger.login("ben"), team_ledger.login("aisyah")
    roles = team_ledger.owner("db", "roles", "--json")
    assert sorted(orjson.loads(roles.stdout), key=lambda r: r["agent"]) == [
        {"role": login_name(aisyah), "agent": "aisyah"}, {"role": login_name(ben), "agent": "ben"}]
    grants = [e for e in orjson.loads(team_ledger.owner("log", "--json").stdout) if e["type"] == "login_granted"]
    assert [e["agent"] for e in grants] == ["ben", "aisyah"]


def test_an_agents_login_with_a_different_local_rules_file_gets_one_warning(team_ledger, rules):
    ben = team_ledger.login("ben")
    rules.write_text(rules.read_text().replace("max_reassign: 2", "max_reassign: 5"))
    result = team_ledger.as_login(ben, "mine", "--json", rules=str(rules))
    assert result.exit_code == 0
    assert [line for line in result.stderr.splitlines() if "warning" in line] == [
        f"leadshare: warning: {rules} differs from the rules in force in {ben.replace(PASSWORD, '***')}; "
        "using the ledger's (`leadshare rules show` prints them)"]
    shown = team_ledger.as_login(ben, "rules", "show", rules=str(rules))
    assert "max_reassign: 2" in shown.stdout


def test_verify_names_a_projection_row_an_agent_edited_through_psql(team_ledger):
    ben = team_ledger.login("ben")
    with psycopg.connect(ben) as conn:
        conn.execute("UPDATE leadshare.leads SET agent = 'ben' WHERE id = 1")
    report = team_ledger.owner("verify", "--json")
    assert report.exit_code == 1
    assert f"lead 1: agent is 'ben' but the log says 'aisyah' (row last written by login {login_name(ben)})" in report.stdout


def test_a_ledger_with_logins_copies_to_sqlite_with_its_chain_head(team_ledger, tmp_path):
    ben = team_ledger.login("ben")
    team_ledger.as_login(ben, "note", "2", "called")
    copied = team_ledger.cli("db", "copy", team_ledger.owner_url, "copy.db", "--json")
    assert copied.exit_code == 0, copied.stderr
    head = orjson.loads(copied.stdout)["head"]
    assert team_ledger.cli("verify", "--db", "copy.db", "--expect-head", head).exit_code == 0
    last = orjson.loads(team_ledger.cli("log", "--db", "copy.db", "--limit", "1", "--json").stdout)[0]
    assert last["login"] == login_name(ben)


def test_db_grant_on_a_sqlite_ledger_exits_2_saying_it_needs_postgresql(cli, tmp_path):
    for args in (("grant", "ben_login", "--agent", "ben"), ("revoke", "ben_login"), ("roles",)):
        result = cli("db", *args)
        assert result.exit_code == 2 and "needs a PostgreSQL ledger" in result.stderr


def test_log_and_show_give_login_null_on_sqlite(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(1))
    cli.json("import", "leads.csv")
    assert {e["login"] for e in cli.json("log")} == {None}
    assert {e["login"] for e in cli.json("show", "1")["timeline"]} == {None}


def test_verify_names_a_login_granted_rights_on_the_log_outside_leadshare(team_ledger):
    ben = team_ledger.login("ben")
    with psycopg.connect(team_ledger.owner_url) as conn:
        conn.execute(sql.SQL("GRANT UPDATE ON leadshare.events TO {}").format(sql.Identifier(login_name(ben))))
        conn.execute("DROP TRIGGER events_own_login ON leadshare.events")
    report = team_ledger.owner("verify", "--json")
    assert report.exit_code == 1
    assert f"login {login_name(ben)} may UPDATE the audit log" in report.stdout
    assert "the trigger events_own_login was dropped" in report.stdout


def test_the_owner_without_a_local_rules_file_grants_against_the_ledgers_rules(team_ledger, rules):
    rules.unlink()
    ben = f"ben_{team_ledger.database}_nofile"
    team_ledger.server.admin(f"CREATE ROLE {ben} LOGIN PASSWORD '{scram_verifier(PASSWORD)}'")
    granted = team_ledger.owner("db", "grant", ben, "--agent", "ben")
    assert granted.exit_code == 0, granted.stderr
    assert "acts as agent ben" in granted.stdout


def test_an_agent_at_their_own_shell_needs_only_the_url_and_pgpassword(team_ledger, tmp_path):
    from ledger_processes import env_for, leadshare

    ben = login_name(team_ledger.login("ben"))
    url = f"postgresql://{ben}@127.0.0.1:{team_ledger.server.port}/{team_ledger.database}"
    env = env_for(tmp_path, rules=tmp_path / "absent.yaml", LEADSHARE_DB=url, PGPASSWORD=PASSWORD)
    moved = leadshare("status", "2", "contacted", env=env, cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    log = leadshare("log", "--limit", "1", "--json", env=env, cwd=tmp_path)
    assert orjson.loads(log.stdout)[0]["login"] == ben
    as_another = leadshare("mine", "--as", "chitra", env=env, cwd=tmp_path)
    assert as_another.returncode == 2 and len(as_another.stderr.splitlines()) == 1
    assert PASSWORD not in moved.stdout + moved.stderr + log.stdout + as_another.stderr


def test_grants_are_logged_at_the_teams_time_and_the_log_table_shows_logins(team_ledger):
    ben = team_ledger.login("ben")
    granted = [e for e in team_ledger.json_as(ben, "log") if e["type"] == "login_granted"][0]
    assert granted["at"] == "2026-11-25T02:00:00+00:00"  # LEADSHARE_NOW is the team's 10:00 in Kuala Lumpur
    assert (granted["agent"], granted["data"], granted["login"]) == ("ben", {"login": login_name(ben)}, "owner")
    table = team_ledger.as_login(ben, "log", "--limit", "1")
    assert "login" in table.stdout and "owner" in table.stdout
    shown = team_ledger.as_login(ben, "show", "2")
    assert "login" in shown.stdout and "owner" in shown.stdout


def test_verify_names_the_login_that_edited_a_note_through_psql(team_ledger):
    ben = team_ledger.login("ben")
    assert team_ledger.as_login(ben, "note", "2", "called, interested").exit_code == 0
    with psycopg.connect(ben) as conn:
        conn.execute("UPDATE leadshare.notes SET text = 'never called' WHERE lead = 2")
    problems = orjson.loads(team_ledger.owner("verify", "--json").stdout)["problems"]
    assert any("its text changed" in p and f"(row last written by login {login_name(ben)})" in p for p in problems)


def test_a_managers_login_with_changed_rules_puts_them_in_force_and_agents_follow(team_ledger, rules):
    aisyah, ben = team_ledger.login("aisyah"), team_ledger.login("ben")
    rules.write_text(rules.read_text().replace("max_reassign: 2", "max_reassign: 3"))
    assert team_ledger.as_login(aisyah, "note", "1", "called", rules=str(rules)).exit_code == 0
    loaded = team_ledger.json_as(ben, "log", "--type", "rules_loaded")[-1]
    assert (loaded["actor"], loaded["login"]) == ("aisyah", login_name(aisyah))
    assert "max_reassign: 3" in team_ledger.json_as(ben, "rules", "show")["text"]


def test_granted_logins_keep_their_privileges_on_tables_a_new_schema_step_adds(team_ledger, monkeypatch):
    from leadshare.ledger.postgres import store

    ben = team_ledger.login("ben")
    monkeypatch.setattr(store, "STEPS", [*store.STEPS, "CREATE TABLE leadshare.later (x int)"])
    monkeypatch.setattr(store, "LATEST", store.LATEST + 1)
    assert team_ledger.owner("verify").exit_code == 0  # the owner's next command migrates
    with psycopg.connect(ben) as conn:
        assert conn.execute("SELECT count(*) FROM leadshare.later").fetchone() == (0,)


def test_an_agents_login_can_change_no_meta_but_the_chain_head(team_ledger):
    ben = team_ledger.login("ben")
    with psycopg.connect(ben) as conn:
        salt = conn.execute("SELECT value FROM leadshare.meta WHERE key = 'salt'").fetchone()
        assert conn.execute("UPDATE leadshare.meta SET value = 'chosen' WHERE key = 'salt'").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO leadshare.meta (key, value) VALUES ('schema', '99')")
    with psycopg.connect(ben) as conn:
        assert conn.execute("SELECT value FROM leadshare.meta WHERE key = 'salt'").fetchone() == salt
    assert team_ledger.as_login(ben, "note", "2", "called").exit_code == 0  # its own head, recorded
    assert team_ledger.owner("verify").exit_code == 0


def test_verify_names_an_event_a_login_wrote_through_psql_in_another_agents_name(team_ledger):
    from leadshare.ledger.events import canonical, link

    ben = team_ledger.login("ben")
    name = login_name(ben)
    with psycopg.connect(ben) as conn:  # a well-chained event, hash and all, claiming aisyah acted
        seq, prev = conn.execute("SELECT seq, hash FROM leadshare.events ORDER BY seq DESC LIMIT 1").fetchone()
        at, data = "2026-11-25T02:00:00+00:00", canonical({"text": "x"}).decode()
        hash_ = link(prev, seq + 1, at, "aisyah", "escalated", 1, "aisyah", data, name)
        conn.execute("INSERT INTO leadshare.events (seq, at, actor, type, lead, agent, data, hash) "
                     "VALUES (%s, %s, 'aisyah', 'escalated', 1, 'aisyah', %s, %s)", (seq + 1, at, data, hash_))
    problems = orjson.loads(team_ledger.owner("verify", "--json").stdout)["problems"]
    assert f"event {seq + 1}: written by login {name}, which acts as ben, in the name of aisyah" in problems
