"""The pure decision engine: strategies, eligibility, and replaying a stored decision."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from leadshare import engine
from leadshare.models import Agent, Candidate, Pool, Rule, RuleState, Team


def team(n: int, strategy: str = "round_robin", weights: list[float] | None = None, **agent_kw) -> Team:
    agents = tuple(
        Agent(id=f"a{i}", name=f"Agent {i}", weight=(weights[i] if weights else 1.0), **agent_kw) for i in range(n)
    )
    return Team(agents=agents, rules=(Rule(name="all", pool=Pool("all"), strategy=strategy),))


def run(t: Team, leads: int, situation: engine.Situation | None = None) -> Counter:
    rotation: dict[str, RuleState] = {}
    got: Counter = Counter()
    for _ in range(leads):
        decision, state = engine.decide({}, t, situation or engine.Situation(), rotation)
        got[decision.agent] += 1
        if state:
            rotation[decision.rule] = state
    return got


@given(agents=st.integers(1, 12), leads=st.integers(0, 200))
def test_round_robin_over_an_available_equal_pool_ends_within_one_lead_of_even(agents, leads):
    counts = run(team(agents), leads)
    per = [counts.get(f"a{i}", 0) for i in range(agents)]
    assert sum(per) == leads
    assert max(per) - min(per) <= 1


@settings(max_examples=60)
@given(weights=st.lists(st.sampled_from([0.5, 1.0, 1.25, 1.5, 2.0]), min_size=1, max_size=8), leads=st.integers(1, 300))
def test_weighted_shares_stay_within_one_lead_of_the_target(weights, leads):
    counts = run(team(len(weights), "weighted", weights), leads)
    total = sum(weights)
    for i, w in enumerate(weights):
        assert abs(counts.get(f"a{i}", 0) - leads * w / total) <= 1


def test_gold_gets_one_and_a_quarter_times_silver():
    counts = run(team(2, "weighted", [1.25, 1.0]), 900)
    assert counts == {"a0": 500, "a1": 400}


def test_inactive_agents_are_skipped_and_say_so():
    t = Team(agents=(Agent("a", "A", active=False), Agent("b", "B")), rules=(Rule("all", Pool("all")),))
    decision, _ = engine.decide({}, t, engine.Situation(), {})
    assert decision.agent == "b"
    assert decision.candidates[0].reason == "inactive" and not decision.candidates[0].eligible


def test_nobody_eligible_queues_with_the_rule_named():
    t = Team(agents=(Agent("a", "A", capacity=0),), rules=(Rule("all", Pool("all")),))
    decision, state = engine.decide({}, t, engine.Situation(), {})
    assert decision.agent is None and state is None
    assert decision.queued_reason == "nobody eligible in rule 'all'"
    assert decision.candidates[0].reason == "capacity 0"


def test_first_matching_rule_decides_and_skipped_rules_say_why():
    t = Team(
        agents=(Agent("a", "A", skills=("commercial",)), Agent("b", "B", territories=("Penang",))),
        rules=(
            Rule("commercial", Pool("skills", skills=("commercial",)), when=(("product", ("commercial",)),)),
            Rule("territory", Pool("territory", field="region")),
        ),
    )
    decision, _ = engine.decide({"product": "residential", "region": "penang"}, t, engine.Situation(), {})
    assert decision.agent == "b" and decision.rule == "territory"
    assert decision.skipped == (("commercial", "product is 'residential', not commercial"),)
    assert decision.candidates[0].reason == "not in territory penang"


def test_rotation_continues_after_the_last_chosen_agent_leaves_the_roster():
    t = team(4)
    state = RuleState(last="a1", roster=("a0", "a1", "a2", "a3"))
    smaller = Team(agents=tuple(a for a in t.agents if a.id != "a1"), rules=t.rules)
    decision, _ = engine.decide({}, smaller, engine.Situation(), {"all": state})
    assert decision.agent == "a2"


def test_least_loaded_compares_open_leads_to_capacity():
    t = Team(
        agents=(Agent("a", "A", capacity=10), Agent("b", "B", capacity=40), Agent("c", "C")),
        rules=(Rule("all", Pool("all"), strategy="least_loaded"),),
    )
    decision, _ = engine.decide({}, t, engine.Situation(loads={"a": 3, "b": 8, "c": 9}), {})
    # a: 3/10, b: 8/40 = 0.2, c: 9/40 (no capacity counts as the largest in the pool)
    assert decision.agent == "b"


def test_off_duty_is_no_reason_under_after_hours_assign_but_is_under_queue():
    t = team(2)
    off_one = engine.Situation(off_duty={"a0": "off duty until Mon 09:00"})
    decision, _ = engine.decide({}, t, off_one, {})
    assert decision.agent == "a0" and decision.off_duty  # the SLA clock will wait for Monday
    assert decision.candidates[0] == Candidate("a0", True, None, 1.0)
    queue = engine.Situation(off_duty=off_one.off_duty, after_hours_assign=False)
    decision, _ = engine.decide({}, t, queue, {})
    assert decision.agent == "a1" and not decision.off_duty
    assert decision.candidates[0].reason == "off duty until Mon 09:00"
    everyone_off = engine.Situation(off_duty={"a0": "off duty", "a1": "off duty"}, after_hours_assign=False)
    assert engine.decide({}, t, everyone_off, {})[0].agent is None


@given(leads=st.integers(1, 60), strategy=st.sampled_from(engine.STRATEGIES))
def test_a_stored_decision_picks_the_same_owner_when_replayed(leads, strategy):
    t = team(5, strategy, [1.0, 1.25, 1.0, 2.0, 0.5])
    rotation: dict[str, RuleState] = {}
    loads: Counter = Counter()
    for _ in range(leads):
        decision, state = engine.decide({}, t, engine.Situation(loads=dict(loads)), rotation)
        assert engine.pick(decision.strategy, decision.candidates, decision.state) == decision.agent
        rotation[decision.rule] = state
        loads[decision.agent] += 1


def test_a_team_routing_on_rotation_alone_does_not_read_lead_fields():
    # the import skips gathering each lead's fields then; any rule that reads them turns it back on
    plain = team(3)
    assert not engine.reads_lead_fields(plain)
    skills = Team(agents=plain.agents, rules=(Rule("s", Pool("skills", skills=("en",))),))
    assert not engine.reads_lead_fields(skills)
    territory = Team(agents=plain.agents, rules=(Rule("t", Pool("territory", field="region")),))
    when = Team(agents=plain.agents, rules=(Rule("w", Pool("all"), when=(("source", ("web",)),)),))
    assert engine.reads_lead_fields(territory) and engine.reads_lead_fields(when)
    # and for a plain team, no fields decide exactly as the lead's own fields would
    lead = {"source": "web", "region": "KL", "external_id": "X-1"}
    assert engine.decide(lead, plain, engine.Situation(), {})[0] == engine.decide({}, plain, engine.Situation(), {})[0]
