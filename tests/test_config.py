"""The rules file: what it accepts, what it turns into, and every problem reported by line."""

from __future__ import annotations

import hashlib
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from leadshare import config
from leadshare.errors import LeadshareError, RulesError
from leadshare.models import Pool

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
EXAMPLE = FIXTURES / "rules_md_example.yaml"

MINIMAL = """\
agents:
  - id: aisyah
rules:
  - name: everyone
    pool: all
"""


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(RulesError) as info:
        config.parse_team(textwrap.dedent(text))
    assert info.value.problems == sorted(info.value.problems, key=lambda p: p[0])
    return info.value.problems


def only_problem(text: str) -> tuple[int, str]:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def team(text: str, **kw):
    return config.parse_team(textwrap.dedent(text), **kw)


# --------------------------------------------------------------------------- the documented example


def test_rules_md_example_parses_into_the_team_it_describes():
    t = config.load_team(EXAMPLE)
    assert t.timezone == "Asia/Kuala_Lumpur"
    assert t.phone_region == "MY"
    assert (t.holiday_country, t.holiday_subdiv) == ("MY", "KUL")
    assert t.after_hours == "assign"
    assert t.statuses == ("new", "contacted", "qualified", "won", "lost")
    assert t.require_note == ("contacted", "lost")
    assert t.sla.first_contact == timedelta(hours=4)
    assert (t.sla.on_breach, t.sla.max_reassign) == ("reassign", 2)
    assert t.notify.kind == "command"
    assert t.notify.command == str((FIXTURES / "notify.sh").resolve())
    assert {name: tier.weight for name, tier in t.tiers.items()} == {"gold": 1.25, "silver": 1.0}
    assert t.tiers["gold"].line == 19

    (aisyah,) = t.agents
    assert aisyah.id == "aisyah" and aisyah.name == "Aisyah Rahman" and aisyah.is_manager
    assert aisyah.territories == ("KL", "Selangor")
    assert aisyah.skills == ("residential", "commercial", "ms", "en")
    assert (aisyah.tier, aisyah.weight, aisyah.capacity) == ("gold", 1.25, 25)
    assert aisyah.hours[0] == ((600, 1140),) and aisyah.hours[5] == ()
    assert aisyah.leave == ((date(2026, 12, 1), date(2026, 12, 5)), (date(2026, 12, 24), date(2026, 12, 24)))
    assert aisyah.active and aisyah.line == 23

    assert [r.name for r in t.rules] == ["commercial specialists", "mandarin speakers", "by territory", "everyone"]
    assert [r.line for r in t.rules] == [35, 39, 43, 47]
    assert t.rules[0].when == (("product", ("commercial",)),)
    assert t.rules[0].pool == Pool(kind="skills", skills=("commercial",))
    assert t.rules[1].strategy == "least_loaded"
    assert t.rules[2].pool == Pool(kind="territory", field="region")
    assert (t.rules[2].strategy, t.rules[2].fallback) == ("weighted", "next")
    assert t.rules[3].pool == Pool(kind="all") and t.rules[3].fallback == "queue"

    assert t.path == str(EXAMPLE)
    assert t.text == EXAMPLE.read_text()
    assert t.content_hash == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()


def test_check_rules_is_empty_for_a_valid_file():
    assert config.check_rules(EXAMPLE) == []


def test_defaults_when_keys_are_left_out():
    t = team(MINIMAL)
    assert t.timezone == "UTC" and t.phone_region == "MY"
    assert t.holiday_country is None and t.notify is None
    assert t.hours == tuple(((0, 1440),) for _ in range(7))  # no hours: always on duty
    assert t.after_hours == "assign"
    assert t.statuses == ("new", "contacted", "qualified", "won", "lost")
    assert t.sla.first_contact is None
    agent = t.agents[0]
    assert (agent.name, agent.role, agent.tier, agent.weight, agent.capacity, agent.hours, agent.active) == (
        "aisyah", "agent", None, 1.0, None, None, True)
    rule = t.rules[0]
    assert (rule.strategy, rule.fallback, rule.when) == ("round_robin", "queue", ())


def test_content_hash_follows_the_content():
    a = config.parse_team(MINIMAL)
    b = config.parse_team(MINIMAL + "# a comment\n")
    assert a.content_hash == hashlib.sha256(MINIMAL.encode()).hexdigest()
    assert a.content_hash != b.content_hash
    assert config.parse_team(MINIMAL).content_hash == a.content_hash


def test_when_values_become_text():
    t = team("""\
        agents: [{id: a}]
        rules:
          - name: r
            when: {rooms: 3, size: [1.5, true], product: [a, b]}
            pool: all
    """)
    assert t.rules[0].when == (("rooms", ("3",)), ("size", ("1.5", "true")), ("product", ("a", "b")))


def test_capacity_zero_is_valid():
    t = team("agents: [{id: a, capacity: 0}]\nrules: []\n")
    assert t.agents[0].capacity == 0


# --------------------------------------------------------------------------- hours and leave


def test_hours_parse_into_minutes_monday_first():
    t = team("""\
        hours:
          mon-fri: "09:00-18:00"
          sat: ["09:00-12:30", "14:00-24:00"]
          sun: off
        agents:
          - id: a
            hours: {"mon,wed": "8:15-17:00", thu-fri: off}
        rules: []
    """)
    assert t.hours == (
        ((540, 1080),), ((540, 1080),), ((540, 1080),), ((540, 1080),), ((540, 1080),),
        ((540, 750), (840, 1440)),
        (),
    )
    # An agent's hours replace the team's: days not listed are off.
    assert t.agents[0].hours == (((495, 1020),), (), ((495, 1020),), (), (), (), ())


def test_hours_day_groups_and_wrapping_ranges():
    assert team('hours: {daily: "10:00-11:00"}\nagents: [{id: a}]\n').hours == tuple(((600, 660),) for _ in range(7))
    week = team('hours: {sun-thu: "08:00-17:00"}\nagents: [{id: a}]\n').hours
    assert [bool(day) for day in week] == [True, True, True, True, False, False, True]


@pytest.mark.parametrize("value, message", [
    ('"18:00-09:00"', "the end must be after the start"),
    ('"09:00-09:00"', "the end must be after the start"),
    ('"25:00-26:00"', "is not a time of day"),
    ('"09:00-24:30"', "is not a time of day"),
    ('"9 to 5"', "is not a time range"),
    ('["09:00-12:00", "11:00-13:00"]', "overlap"),
    ("3", 'write a range like "09:00-18:00"'),
])
def test_bad_hours_are_reported_on_their_line(value, message):
    line, text = only_problem(f"agents: [{{id: a}}]\nhours:\n  mon: \"09:00-10:00\"\n  tue: {value}\n")
    assert line == 4
    assert text.startswith("hours.tue: ") and message in text


def test_unknown_day_suggests_the_right_one():
    line, text = only_problem('agents: [{id: a}]\nhours:\n  mnn: "09:00-10:00"\n')
    assert line == 3
    assert "unknown day 'mnn' (did you mean 'mon'?)" in text


def test_a_day_given_twice_is_an_error():
    line, text = only_problem('agents: [{id: a}]\nhours:\n  mon-fri: "09:00-18:00"\n  fri: "09:00-12:00"\n')
    assert line == 4
    assert "fri is given twice ('mon-fri' and 'fri')" in text


def test_leave_parses_into_date_ranges():
    t = team('agents:\n  - id: a\n    leave: ["2026-12-01..2026-12-05", "2026-12-24", 2027-01-02]\n')
    assert t.agents[0].leave == (
        (date(2026, 12, 1), date(2026, 12, 5)),
        (date(2026, 12, 24), date(2026, 12, 24)),
        (date(2027, 1, 2), date(2027, 1, 2)),
    )


def test_bad_leave_is_reported_per_entry():
    found = problems("""\
        agents:
          - id: a
            leave:
              - "2026-12-05..2026-12-01"
              - "2026-13-01"
              - "next week"
    """)
    assert found == [
        (4, "agents[0].leave[0]: '2026-12-05..2026-12-01' ends before it starts"),
        (5, "agents[0].leave[1]: '2026-13-01' is not a date; write \"YYYY-MM-DD\" or \"YYYY-MM-DD..YYYY-MM-DD\""),
        (6, "agents[0].leave[2]: 'next week' is not a date; write \"YYYY-MM-DD\" or \"YYYY-MM-DD..YYYY-MM-DD\""),
    ]


# --------------------------------------------------------------------------- each kind of problem


def test_unknown_key_suggests_the_intended_one():
    assert only_problem("agents:\n  - id: a\n    capcity: 3\n") == (
        3, "agents[0]: unknown key 'capcity' (did you mean 'capacity'?)")
    assert only_problem("timezon: UTC\nagents: [{id: a}]\n") == (
        1, "unknown key 'timezon' (did you mean 'timezone'?)")
    assert only_problem("agents: [{id: a}]\nsla: {first_contct: 4h}\n") == (
        2, "sla: unknown key 'first_contct' (did you mean 'first_contact'?)")


def test_unknown_tier_lists_the_tiers():
    assert only_problem("""\
        tiers:
          gold: {weight: 1.25}
          silver: {weight: 1.0}
        agents:
          - id: a
          - id: b
          - id: c
            tier: platinum
    """) == (8, "agents[2].tier: unknown tier 'platinum' (tiers: gold, silver)")


def test_duplicate_agent_ids_are_refused():
    line, text = only_problem("agents:\n  - id: ben\n  - id: aisyah\n  - id: Ben\n")
    assert line == 4
    assert "agents[2].id: duplicate id 'Ben' (also agents[0] on line 2)" in text


def test_duplicate_rule_names_are_refused():
    line, text = only_problem("agents: [{id: a}]\nrules:\n  - {name: x, pool: all}\n  - {name: x, pool: all}\n")
    assert line == 4 and "rules[1].name: duplicate rule name 'x'" in text


def test_bad_strategy_lists_the_choices():
    assert only_problem("agents: [{id: a}]\nrules:\n  - name: r\n    pool: all\n    strategy: fastest\n") == (
        5, "rules[0]: strategy 'fastest' is not one of round_robin, weighted, least_loaded")


@pytest.mark.parametrize("text, expected", [
    ("agents: [{id: a}]\nrules:\n  - {name: r, pool: all, strategy: round_robbin}\n",
     "rules[0]: strategy 'round_robbin' is not one of round_robin, weighted, least_loaded; "
     "did you mean 'round_robin'?"),
    ("agents: [{id: a}]\nrules:\n  - {name: r, pool: all, strategy: Weighted}\n",
     "rules[0]: strategy 'Weighted' is not one of round_robin, weighted, least_loaded; did you mean 'weighted'?"),
    ("agents: [{id: a}]\nrules:\n  - {name: r, pool: all, fallback: nxt}\n",
     "rules[0]: fallback 'nxt' is not one of next, queue; did you mean 'next'?"),
    ("agents: [{id: a}]\nafter_hours: queu\n",
     "after_hours 'queu' is not one of assign, queue; did you mean 'queue'?"),
    ("agents: [{id: a}]\nsla: {on_breach: notfy}\n",
     "sla: on_breach 'notfy' is not one of reassign, notify; did you mean 'notify'?"),
    ("agents: [{id: a, role: managr}]\n",
     "agents[0]: role 'managr' is not one of agent, manager; did you mean 'manager'?"),
    ("agents: [{id: a, tier: gld}]\ntiers: {gold: {weight: 2}}\n",
     "agents[0].tier: unknown tier 'gld' (tiers: gold); did you mean 'gold'?"),
    ("agents: [{id: a}]\nrules:\n  - {name: r, pool: al}\n",
     "rules[0].pool: must be `all`, {skills: [...]} or {territory: FIELD} (got 'al'; did you mean 'all'?)"),
])
def test_a_wrong_value_is_echoed_with_the_nearest_valid_choice(text, expected):
    assert only_problem(text)[1] == expected


def test_a_wrong_weekday_name_is_echoed_with_the_nearest_day():
    _, text = only_problem("agents: [{id: a}]\nhours: {mon-frj: '09:00-18:00'}\n")
    assert text.startswith("hours.mon-frj: unknown day 'frj' (did you mean 'fri'?)")


def test_a_wrong_value_far_from_every_choice_gets_no_guess():
    _, text = only_problem("agents: [{id: a}]\nrules:\n  - {name: r, pool: all, fallback: 5}\n")
    assert text == "rules[0]: fallback 5 is not one of next, queue"


def test_empty_skills_pool_is_an_error():
    line, text = only_problem("agents: [{id: a}]\nrules:\n  - name: r\n    pool: {skills: []}\n")
    assert line == 4
    assert text.startswith("rules[0].pool: skills is empty")


@pytest.mark.parametrize("pool, message", [
    ("everyone", "must be `all`, {skills: [...]} or {territory: FIELD}"),
    ("{skill: [a]}", "unknown key 'skill' (did you mean 'skills'?)"),
    ("{skills: [a], territory: region}", "not both"),
    ("{skills: a}", "skills must be a list"),
    ("{territory: ''}", "territory must name the lead field"),
])
def test_bad_pools(pool, message):
    line, text = only_problem(f"agents: [{{id: a}}]\nrules:\n  - name: r\n    pool: {pool}\n")
    assert line == 4 and message in text


def test_missing_required_keys():
    found = problems("agents:\n  - name: no id\nrules:\n  - pool: all\n  - name: no pool\n")
    assert found == [
        (2, "agents[0]: 'id' is required"),
        (4, "rules[0]: 'name' is required"),
        (5, "rules[1]: 'pool' is required"),
    ]


def test_at_least_one_agent_is_required():
    assert only_problem("agents: []\n") == (1, "agents: at least one agent is required (agents: - id: ...)")
    line, text = only_problem("timezone: UTC\n")
    assert "at least one agent is required" in text


def test_types_are_not_coerced():
    found = problems("""\
        agents:
          - id: a
            name: 5
            territories: KL
            capacity: ten
            active: yes
    """)
    assert found == [
        (3, "agents[0].name: must be text (got 5; put it in quotes)"),
        (4, "agents[0].territories: must be a list (got 'KL')"),
        (5, "agents[0].capacity: must be a whole number (got 'ten')"),
        (6, "agents[0].active: must be true or false (got 'yes')"),
    ]


def test_negative_capacity_and_bad_ids():
    found = problems("agents:\n  - id: a b\n  - id: c\n    capacity: -1\n")
    assert found[0][0] == 2 and "'a b' is not a usable id" in found[0][1]
    assert found[1] == (4, "agents[1].capacity: must be 0 or more (got -1)")


def test_team_settings_are_checked():
    found = problems("""\
        timezone: Asia/Kuala_Lumpr
        phone_region: XX
        holidays: {country: MY, subdiv: XYZ}
        after_hours: later
        agents: [{id: a}]
    """)
    lines = [line for line, _ in found]
    assert lines == [1, 2, 3, 4]
    assert found[0][1].startswith("timezone: unknown time zone 'Asia/Kuala_Lumpr' (did you mean 'Asia/Kuala_Lumpur'?)")
    assert "phone region 'XX'" in found[1][1]
    assert "subdiv 'XYZ' is not a subdivision of MY" in found[2][1]
    assert found[3][1] == "after_hours 'later' is not one of assign, queue"


def test_holiday_country_must_be_supported():
    line, text = only_problem("agents: [{id: a}]\nholidays: {country: ZZ}\n")
    assert line == 2 and "no country 'ZZ'" in text


def test_no_and_off_stay_text():
    # YAML 1.1 would read these as false: Norway and a day off.
    t = team("agents: [{id: a}]\nholidays: {country: NO}\nhours: {mon: '09:00-17:00', sat: off}\n")
    assert t.holiday_country == "NO" and t.hours[5] == ()


def test_statuses_and_require_note():
    found = problems("""\
        agents: [{id: a}]
        statuses: [new, won, new]
        require_note: [contacted]
    """)
    assert found == [
        (2, "statuses[2]: 'new' is listed twice (first as statuses[0])"),
        (2, "statuses: must include lost (the closed statuses: won, lost)"),
        (3, "require_note[0]: 'contacted' is not a status (statuses: new, won)"),
    ]
    t = team("agents: [{id: a}]\nstatuses: [new, called, won, lost]\nrequire_note: [called]\n")
    assert t.statuses == ("new", "called", "won", "lost") and t.require_note == ("called",)


def test_sla_is_checked():
    found = problems("agents: [{id: a}]\nsla:\n  first_contact: 4\n  on_breach: fire\n  max_reassign: -1\n")
    assert [line for line, _ in found] == [3, 4, 5]
    assert "sla.first_contact: must be a duration like 30m, 4h, 7d or 4w" in found[0][1]
    assert found[1][1] == "sla: on_breach 'fire' is not one of reassign, notify"
    assert t_sla().first_contact == timedelta(minutes=30)


def t_sla():
    return team("agents: [{id: a}]\nsla: {first_contact: 30m, on_breach: notify, max_reassign: 0}\n").sla


def test_notify_channels():
    smtp = team("agents: [{id: a}]\nnotify: {smtp: {host: mail.example.com, from: leads@example.com, starttls: true}}\n")
    assert (smtp.notify.kind, smtp.notify.smtp_host, smtp.notify.smtp_port, smtp.notify.smtp_starttls) == (
        "smtp", "mail.example.com", 587, True)
    hook = team("agents: [{id: a}]\nnotify: {webhook: 'https://example.com/hook'}\n")
    assert (hook.notify.kind, hook.notify.url) == ("webhook", "https://example.com/hook")
    cmd = team("agents: [{id: a}]\nnotify: {command: ../bin/notify.sh}\n", path="/srv/team/rules.yaml")
    assert cmd.notify.command == "/srv/bin/notify.sh"


@pytest.mark.parametrize("notify, message", [
    ("{}", "give exactly one channel"),
    ("{command: a, webhook: 'https://x'}", "give exactly one channel"),
    ("{webhook: 'ftp://x'}", "is not an http:// or https:// URL"),
    ("{smtp: {host: h}}", "'from' is required"),
    ("{smtp: {host: h, from: a@b.co, prt: 2}}", "unknown key 'prt' (did you mean 'port'?)"),
])
def test_bad_notify(notify, message):
    line, text = only_problem(f"agents: [{{id: a}}]\nnotify: {notify}\n")
    assert line == 2 and message in text


def test_tiers_with_earning_criteria():
    t = team("""\
        tiers:
          gold: {weight: 1.5, min_conversion: 0.3, max_first_contact: 2h, min_closed: 10}
          silver: {weight: 1, min_closed: 3, period: 30d}
          bronze: {weight: 0.75}
        agents: [{id: a, tier: silver}]
    """)
    assert t.tiers["gold"].criteria == {
        "min_conversion": 0.3, "max_first_contact": 7200.0, "min_closed": 10.0, "period": 90 * 86400.0}
    assert t.tiers["silver"].criteria == {"min_closed": 3.0, "period": 30 * 86400.0}
    assert t.tiers["bronze"].criteria == {}
    assert t.agents[0].weight == 1.0 and isinstance(t.agents[0].weight, float)


def test_bad_tiers():
    found = problems("""\
        tiers:
          gold: {weight: 0}
          silver: {weight: 1, min_conversion: 2}
          bronze: {weight: true}
        agents: [{id: a}]
    """)
    assert found == [
        (2, "tiers.gold.weight: must be a number above 0 (got 0)"),
        (3, "tiers.silver.min_conversion: must be between 0 and 1, e.g. 0.25 for 25% (got 2)"),
        (4, "tiers.bronze.weight: must be a number (got true)"),
    ]


def test_agent_contact_details():
    t = team("agents:\n  - {id: a, email: a@example.com, phone: '012-345 6789'}\n")
    assert t.agents[0].email == "a@example.com" and t.agents[0].phone == "+60123456789"
    found = problems("agents:\n  - id: a\n    email: nope\n    phone: call me\n")
    assert found == [
        (3, "agents[0].email: 'nope' is not an email address"),
        (4, "agents[0].phone: 'call me' is not a phone number (write it with the country code, like +60123456789)"),
    ]


def test_several_problems_are_all_listed_in_line_order():
    text = (FIXTURES / "many_problems.yaml").read_text()
    with pytest.raises(RulesError) as info:
        config.parse_team(text, path="many_problems.yaml")
    found = info.value.problems
    assert [line for line, _ in found] == [1, 6, 9, 10, 11, 15, 18]
    assert "unknown key 'timezon' (did you mean 'timezone'?)" in found[0][1]
    assert found[1][1] == "agents[0]: role 'boss' is not one of agent, manager"
    assert "unknown key 'capcity'" in found[2][1]
    assert "duplicate id 'ben'" in found[3][1]
    assert "unknown tier 'platinum'" in found[4][1]
    assert "skills is empty" in found[5][1]
    assert "is not one of round_robin, weighted, least_loaded" in found[6][1]
    # The one-line message points at the first and at `rules check` for the rest.
    assert str(info.value).startswith("many_problems.yaml:1: ")
    assert "+6 more" in str(info.value)
    assert info.value.lines()[1].startswith("many_problems.yaml:6: ")


# --------------------------------------------------------------------------- YAML safety


def test_python_tags_are_refused():
    found = problems("agents:\n  - id: !!python/object/apply:os.system ['echo pwned']\n")
    assert found == [(2, "agents[0].id: the tag '!!python/object/apply:os.system' is not allowed; the rules file is "
                         "plain YAML (remove the tag)")]
    line, text = only_problem("!!python/object/apply:os.system ['echo pwned']\n")
    assert line == 1 and "'!!python/object/apply:os.system' is not allowed" in text
    line, text = only_problem("agents: [{id: a}]\ntimezone: !!python/name:os.system ''\n")
    assert line == 2 and "not allowed" in text


def test_billion_laughs_is_refused_quickly():
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    start = time.perf_counter()
    line, text = only_problem("\n".join(lines) + "\n")
    assert time.perf_counter() - start < 1.0
    assert "aliases" in text and "expanded" in text


def test_recursive_alias_is_refused():
    line, text = only_problem("agents: &a [*a]\n")
    assert "refers to the value that contains it" in text


def test_plain_aliases_and_merge_keys_work():
    t = team("""\
        agents:
          - &base {id: a, skills: [en, ms], capacity: 5}
          - <<: *base
            id: b
        rules: [{name: all, pool: all}]
    """)
    assert [(a.id, a.skills, a.capacity) for a in t.agents] == [("a", ("en", "ms"), 5), ("b", ("en", "ms"), 5)]


def test_duplicate_keys_are_refused_with_both_lines():
    found = problems("timezone: UTC\nagents:\n  - id: a\n    id: b\ntimezone: Asia/Kuala_Lumpur\n")
    assert found == [
        (4, "agents[0]: duplicate key 'id' (first on line 3); keep one"),
        (5, "duplicate key 'timezone' (first on line 1); keep one"),
    ]


@pytest.mark.parametrize("text, line, message", [
    ("", 1, "the file is empty"),
    ("# nothing but a comment\n", 1, "the file is empty"),
    ("- a\n- b\n", 1, "must be a mapping of keys"),
    ("just text\n", 1, "must be a mapping of keys"),
    ("agents: [{id: a}\nrules: []\n", 2, "invalid YAML"),
    ("agents:\n\t- id: a\n", 2, "invalid YAML"),
    ("a: 1\n---\nb: 2\n", 2, "invalid YAML"),
])
def test_unusable_documents(text, line, message):
    found_line, found = only_problem(text)
    assert found_line == line and message in found


# --------------------------------------------------------------------------- files


def test_load_team_names_a_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(LeadshareError) as info:
        config.load_team(missing)
    assert not isinstance(info.value, RulesError)
    assert str(missing) in info.value.message and "not found" in info.value.message
    assert "--rules" in info.value.hint
    with pytest.raises(LeadshareError):
        config.check_rules(missing)


def test_check_rules_lists_problems_of_a_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("agents:\n  - id: a\n    capcity: 3\n", encoding="utf-8")
    assert config.check_rules(path) == [(3, "agents[0]: unknown key 'capcity' (did you mean 'capacity'?)")]
    path.write_bytes(b"agents:\n  - id: a\n    name: \xff\n")
    assert config.check_rules(path) == [(3, "the file is not UTF-8 text; save it as UTF-8")]


def test_byte_order_mark_and_windows_line_ends(tmp_path):
    path = tmp_path / "rules.yaml"
    data = ("\ufeff" + MINIMAL.replace("\n", "\r\n")).encode("utf-8")
    path.write_bytes(data)
    t = config.load_team(path)
    assert t.agents[0].id == "aisyah" and t.rules[0].line == 4
    assert t.content_hash == hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- lint


def lint(text: str) -> list[tuple[int, str]]:
    return config.lint_team(team(text))


def test_the_example_only_warns_about_the_missing_mandarin_speaker():
    warnings = config.lint_team(config.load_team(EXAMPLE))
    assert len(warnings) == 1
    line, text = warnings[0]
    assert line == 39 and "rule 'mandarin speakers'" in text and "'zh'" in text and "queue" in text


def test_a_well_covered_team_has_no_warnings():
    assert lint("""\
        agents:
          - {id: a, territories: [KL], skills: [zh]}
          - {id: b, territories: [kl], skills: [zh]}
        rules:
          - {name: chinese, when: {language: zh}, pool: {skills: [zh]}}
          - {name: area, pool: {territory: region}, fallback: next}
          - {name: everyone, pool: all}
    """) == []


def test_lint_skill_nobody_active_has():
    warnings = lint("""\
        agents:
          - {id: a, skills: [en]}
          - {id: b, skills: [zh], active: false}
        rules:
          - {name: chinese, when: {language: zh}, pool: {skills: [zh]}, fallback: next}
          - {name: everyone, pool: all}
    """)
    assert len(warnings) == 1
    line, text = warnings[0]
    assert line == 5
    assert "no active agent has the skill 'zh'" in text and "next rule" in text
    assert "only inactive agents have 'zh' (b)" in text
    assert "give the skill to an agent" in text


def test_lint_skills_no_single_agent_has_together():
    warnings = lint("""\
        agents:
          - {id: a, skills: [en]}
          - {id: b, skills: [zh]}
        rules:
          - {name: both, pool: {skills: [en, zh]}, when: {x: y}}
          - {name: everyone, pool: all}
    """)
    assert len(warnings) == 1 and "no active agent has all of the skills en, zh" in warnings[0][1]


def test_lint_territory_pool_without_territories():
    warnings = lint("""\
        agents: [{id: a}, {id: b, territories: [KL], active: false}]
        rules:
          - {name: area, pool: {territory: region}, fallback: next}
          - {name: everyone, pool: all}
    """)
    assert len(warnings) == 1
    assert warnings[0][0] == 3 and "no active agent lists a territory" in warnings[0][1]


def test_lint_pool_all_without_active_agents():
    warnings = lint("agents: [{id: a, active: false}]\nrules:\n  - {name: everyone, pool: all}\n")
    assert [line for line, _ in warnings] == [1, 3]
    assert "no agent is active" in warnings[0][1]
    assert "rule 'everyone': its pool has no active agent" in warnings[1][1]


def test_lint_territory_with_a_single_agent_and_no_fallback():
    warnings = lint("""\
        agents:
          - {id: a, territories: [KL, Penang]}
          - {id: b, territories: [kl]}
          - {id: c, territories: [Johor], active: false}
        rules:
          - {name: area, pool: {territory: region}, when: {x: y}}
          - {name: everyone, pool: all}
    """)
    assert len(warnings) == 1
    line, text = warnings[0]
    assert line == 6
    assert "territory 'Penang' has one active agent (a)" in text and "fallback: next" in text


def test_lint_rule_after_a_catch_all_is_never_reached():
    warnings = lint("""\
        agents: [{id: a, skills: [zh]}]
        rules:
          - {name: everyone, pool: all}
          - {name: chinese, when: {language: zh}, pool: {skills: [zh]}}
    """)
    assert len(warnings) == 1
    line, text = warnings[0]
    assert line == 4
    assert "rule 'chinese' is never reached: rule 'everyone' (line 3)" in text and "move this rule above" in text


def test_lint_no_catch_all_rule():
    warnings = lint("""\
        agents: [{id: a, skills: [zh]}]
        rules:
          - {name: chinese, when: {language: zh}, pool: {skills: [zh]}}
          - {name: rest, pool: {skills: [zh]}, fallback: next}
    """)
    assert warnings == [(4, "no catch-all rule: a lead that no rule takes waits in the queue ('no rule matched'); "
                            "end the rules with one that has `pool: all` and no `when`")]
    assert lint("agents: [{id: a}]\nrules: []\n")[0][1].startswith("no rules: every lead will wait in the queue")


def test_rules_check_lists_every_problem_by_line_and_exits_2(tmp_path):
    from typer.testing import CliRunner

    from leadshare.cli import app

    bad = tmp_path / "rules.yaml"
    bad.write_text("agents:\n  - id: a\n    capcity: 3\n  - id: a\nrules:\n  - name: x\n    pool: all\n    strategy: random\n")
    result = CliRunner().invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 2
    *lines, hint = result.stderr.strip().splitlines()
    assert len(lines) >= 3 and all(line.startswith(f"{bad}:") for line in lines)
    assert "docs/rules.md" in hint
    assert any(":3:" in line and "capcity" in line for line in lines)


def test_rules_check_warns_about_gaps_and_strict_makes_them_count(tmp_path):
    from typer.testing import CliRunner

    from leadshare.cli import app

    gap = tmp_path / "rules.yaml"
    gap.write_text("agents:\n  - id: a\n    skills: [en]\nrules:\n  - name: chinese\n    when: {language: zh}\n    pool: {skills: [zh]}\n")
    result = CliRunner().invoke(app, ["rules", "check", str(gap)])
    assert result.exit_code == 0 and "warning" in result.stderr and "zh" in result.stderr
    assert CliRunner().invoke(app, ["rules", "check", "--strict", str(gap)]).exit_code == 1


# --------------------------------------------------------------------------- rules check against the ledger


def _rules_testing_fields(rules) -> None:
    from tests.conftest import TEAM_YAML

    rules.write_text(TEAM_YAML.replace(
        "when: {product: commercial}", "when: {Product Interest: commercial, language: zh}").replace(
        "  - name: everyone\n", "  - name: by-state\n    pool: {territory: state_region}\n    fallback: next\n"
                                "  - name: everyone\n"))


def _import_one_lead(cli, tmp_path) -> None:
    (tmp_path / "a.csv").write_text("Lead ID,Full Name,Mobile No,Email Address,Lead Source,State,Product Interest\n"
                                    "FB-1,Ali,012-3000001,a@example.com,facebook,KL,commercial\n")
    assert cli("import", "a.csv").exit_code == 0


def test_rules_check_warns_when_a_rule_tests_a_field_no_lead_in_the_ledger_has(cli, rules, tmp_path):
    _rules_testing_fields(rules)
    _import_one_lead(cli, tmp_path)
    result = cli("rules", "check", "--db", "leadshare.db", "rules.yaml")
    assert result.exit_code == 0
    assert " ".join(result.stdout.split()) == "rules.yaml: ok, 2 warnings"
    assert result.stderr.splitlines() == [
        "rules.yaml:35: warning: rule 'commercial': no lead in the ledger has the field 'language', so its `when` "
        "never matches; leads have: external_id, product_interest, region, source",
        "rules.yaml:40: warning: rule 'by-state': no lead in the ledger has the field 'state_region' (did you mean "
        "'region'?), so its territory pool never finds an agent; leads have: external_id, product_interest, region, "
        "source",
    ]
    assert cli("rules", "check", "--strict", "rules.yaml").exit_code == 1  # the ledger from LEADSHARE_DB's default


def test_rules_check_compares_field_names_as_snake_case(cli, rules, tmp_path):
    # `Product Interest` in the rules is the column `Product Interest`, stored as product_interest.
    _rules_testing_fields(rules)
    _import_one_lead(cli, tmp_path)
    result = cli("rules", "check", "rules.yaml")
    assert "'Product Interest'" not in result.stderr and "'language'" in result.stderr


def test_rules_check_knows_a_rules_product_finds_the_leads_product_interest(cli, rules, tmp_path):
    rules.write_text(rules.read_text().replace("when: {product: commercial}", "when: {product: commercial, language: zh}"))
    _import_one_lead(cli, tmp_path)
    result = cli("rules", "check", "rules.yaml")
    assert "'product'" not in result.stderr and "'language'" in result.stderr


def test_rules_check_without_a_ledger_warns_about_no_field_and_creates_none(cli, rules, tmp_path):
    _rules_testing_fields(rules)
    result = cli("rules", "check", "--db", "nowhere.db", "rules.yaml")
    assert result.exit_code == 0 and " ".join(result.stdout.split()) == "rules.yaml: ok"
    assert "no lead in the ledger" not in result.stderr
    assert not (tmp_path / "nowhere.db").exists() and not (tmp_path / "leadshare.db").exists()


def test_rules_check_beside_a_file_that_is_not_a_ledger_still_checks_the_rules(cli, rules, tmp_path):
    _rules_testing_fields(rules)
    (tmp_path / "notes.db").write_text("not a database")
    result = cli("rules", "check", "--db", "notes.db", "rules.yaml")
    assert result.exit_code == 0 and " ".join(result.stdout.split()) == "rules.yaml: ok"
    assert result.stderr.splitlines() == [
        "leadshare: warning: notes.db: not a leadshare ledger (not an SQLite database); the rules' fields were not "
        "compared with its leads"]
    assert (tmp_path / "notes.db").read_text() == "not a database"


def test_rules_check_reads_the_ledger_without_writing_it(cli, rules, tmp_path):
    _rules_testing_fields(rules)
    _import_one_lead(cli, tmp_path)
    before = (tmp_path / "leadshare.db").read_bytes()
    cli("rules", "check", "rules.yaml")
    assert (tmp_path / "leadshare.db").read_bytes() == before


def test_rules_check_names_the_rules_reference_after_its_problems(cli, rules):
    rules.write_text("agents: [{id: a}]\nrules:\n  - {name: r, pool: all, strategy: round_robbin}\n")
    result = cli("rules", "check", "rules.yaml")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "rules.yaml:3: rules[0]: strategy 'round_robbin' is not one of round_robin, weighted, least_loaded; "
        "did you mean 'round_robin'?",
        "hint: every key and the values it takes are described in docs/rules.md (leadshare's rules reference)",
    ]
    assert (Path(__file__).resolve().parent.parent / "docs" / "rules.md").is_file()


def test_every_example_in_the_rules_reference_is_valid(tmp_path):
    import re

    import yaml

    reference = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text()
    examples = re.findall(r"```yaml\n(.*?)```", reference, re.DOTALL)
    assert len(examples) >= 10
    for example in examples:
        data = {"agents": [{"id": "a"}], **yaml.safe_load(example)}
        if any(isinstance(agent, dict) and "tier" in agent for agent in data["agents"]):
            data.setdefault("tiers", {"gold": {"weight": 1.25}})
        path = tmp_path / "rules.yaml"
        path.write_text(yaml.safe_dump(data))
        assert config.check_rules(path) == [], example
