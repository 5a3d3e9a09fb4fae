"""The decision: which agent gets a lead, and why. Pure: no I/O, no clock, no randomness.

Everything the engine needs is passed in (the lead's fields, the team, who is away, open loads,
each rule's rotation state), and everything it decided comes back as a Decision that is stored
whole. Re-running `pick` on a stored decision's candidates and state gives the same owner, which
is how `verify --decisions` proves no lead was hand-picked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping, Sequence

from leadshare.models import Agent, Candidate, Decision, Pool, Rule, RuleState, Team

RETURNING_RULE = "returning customer"
STRATEGIES = ("round_robin", "weighted", "least_loaded")


@dataclass(frozen=True)
class Situation:
    """The team right now, as far as eligibility goes (computed by the caller from clock and ledger)."""

    away: Mapping[str, str] = field(default_factory=dict)  # agent -> reason, e.g. 'on leave until 2026-12-05'
    off_duty: Mapping[str, str] = field(default_factory=dict)  # agent -> 'off duty until Mon 09:00' / holiday
    loads: Mapping[str, int] = field(default_factory=dict)  # open leads per agent
    after_hours_assign: bool = True  # RULES.md `after_hours: assign`


def field_key(name: str) -> str:
    """How lead fields and rule `when` keys are compared: 'Lead Source' and 'lead_source' agree."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


# The longer names a rule's field also finds on a lead that has no field of the short name: a
# CRM's `Product Interest` or `Preferred Language` column is kept under its own snake_case name,
# and leads imported before `State/Region` was read as the region keep it as `state_region`.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "product": ("product_interest", "product_of_interest", "interested_in", "products"),
    "language": ("preferred_language", "language_preference", "spoken_language"),
    "region": ("state_region", "state_province", "province"),
}


def field_value(lead: Mapping[str, object], key: str) -> object:
    """The lead's field `key` (a field_key), else the first of its FIELD_ALIASES with a value."""
    value = lead.get(key)
    if value is None or value == "":
        for alias in FIELD_ALIASES.get(key, ()):
            found = lead.get(alias)
            if found is not None and found != "":
                return found
    return value


def _text(value: object) -> str:
    return str(value).strip().casefold()


def weight_units(weight: float) -> int:
    """Weights as integers (thousandths) so smooth weighted round-robin never drifts."""
    return max(0, round(weight * 1000))


# ---- rule matching ---------------------------------------------------------------------------


def _conditions(rule: Rule, cache: dict) -> list[tuple[str, str, frozenset, tuple[str, ...]]]:
    key = ("when", rule.name)
    found = cache.get(key)
    if found is None:
        found = cache[key] = [(field_key(k), k, frozenset(_text(a) for a in accepted), accepted) for k, accepted in rule.when]
    return found


def why_not_matched(rule: Rule, lead: Mapping[str, object], cache: dict | None = None) -> str | None:
    """None when every `when` condition holds; else the first condition that fails, in words."""
    for fkey, key, accepted_set, accepted in _conditions(rule, {} if cache is None else cache):
        value = lead.get(fkey)
        if value is None or str(value).strip() == "":
            value = field_value(lead, fkey)  # under a longer name (called on a miss only: 1M leads)
            if value is None or str(value).strip() == "":
                return f"{key} is empty"
        if _text(value) not in accepted_set:
            wanted = accepted[0] if len(accepted) == 1 else "one of " + ", ".join(accepted)
            return f"{key} is '{value}', not {wanted}"
    return None


def reads_lead_fields(team: Team) -> bool:
    """Whether any rule looks at a lead's fields (a `when` or a territory pool); when none does,
    every lead is decided the same whatever its fields."""
    return any(rule.when or rule.pool.kind == "territory" for rule in team.rules)


def pool_reason(pool: Pool, agent: Agent, lead: Mapping[str, object]) -> str | None:
    """None when the agent is in the rule's pool; else why not."""
    if pool.kind == "skills":
        have = {_text(s) for s in agent.skills}
        missing = [s for s in pool.skills if _text(s) not in have]
        return f"lacks skill {', '.join(missing)}" if missing else None
    if pool.kind == "territory":
        value = field_value(lead, field_key(pool.field or "region"))
        if value is None or str(value).strip() == "":
            return f"lead has no {pool.field}"
        if _text(value) not in {_text(t) for t in agent.territories}:
            return f"not in territory {str(value).strip()}"
    return None


def availability_reason(agent: Agent, situation: Situation) -> tuple[str | None, bool]:
    """(reason the agent cannot take a lead now, whether they are off duty).

    Under `after_hours: assign` being off duty is no reason: the lead is assigned now and the SLA
    clock waits for the agent's next working hour (RULES.md)."""
    if not agent.active:
        return "inactive", False
    away = situation.away.get(agent.id)
    if away:
        return away, False
    if agent.capacity is not None:
        load = situation.loads.get(agent.id, 0)
        if agent.capacity == 0:
            return "capacity 0", False
        if load >= agent.capacity:
            return f"at capacity {load}/{agent.capacity}", False
    off = situation.off_duty.get(agent.id)
    if off:
        return (None, True) if situation.after_hours_assign else (off, True)
    return None, False


def candidates_for(
    rule: Rule, team: Team, lead: Mapping[str, object], situation: Situation, cache: dict | None = None
) -> tuple[Candidate, ...]:
    """Every roster agent, in roster order, with eligible or the reason not.

    `cache` (one per team and situation) keeps the answer for leads that look alike to the rule:
    the same pool value and the same agents at capacity give the same candidates.
    """
    if cache is None:
        return _candidates(rule, team, lead, situation)
    pool_value = None
    if rule.pool.kind == "territory":
        value = lead.get(pool_key := field_key(rule.pool.field or "region"))
        if value is None or value == "":
            value = field_value(lead, pool_key)
        pool_value = None if value is None else _text(value)
    capped = cache.get("capped")
    if capped is None:
        capped = cache["capped"] = [a for a in team.agents if a.capacity is not None]
    full = tuple(a.id for a in capped if situation.loads.get(a.id, 0) >= a.capacity) if capped else ()  # type: ignore[operator]
    key = (rule.name, pool_value, full)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _candidates(rule, team, lead, situation)
    return found


def _candidates(rule: Rule, team: Team, lead: Mapping[str, object], situation: Situation) -> tuple[Candidate, ...]:
    cands = []
    for agent in team.agents:
        reason = pool_reason(rule.pool, agent, lead)
        if reason is None:
            reason, _ = availability_reason(agent, situation)
        cands.append(Candidate(agent=agent.id, eligible=reason is None, reason=reason, weight=agent.weight))
    return tuple(cands)


# ---- strategies ----------------------------------------------------------------------------


def start_after(last: str | None, roster: Sequence[str], previous_roster: Sequence[str]) -> str | None:
    """The roster agent to start looking from: the one after `last`.

    When `last` has left the roster, the rotation continues with whoever followed them in the
    roster they were chosen from (skipping others who left too).
    """
    if not roster:
        return None
    if last is None:
        return roster[0]
    if last in roster:
        return roster[(roster.index(last) + 1) % len(roster)]
    if last in previous_roster:
        i = previous_roster.index(last)
        followers = list(previous_roster[i + 1 :]) + list(previous_roster[:i])
        present = set(roster)
        for agent in followers:
            if agent in present:
                return agent
    return roster[0]


def _rotated(cands: Sequence[Candidate], start: object) -> list[Candidate]:
    """The candidates in roster order, beginning at `start` and wrapping round."""
    i = 0
    for n, c in enumerate(cands):
        if c.agent == start:
            i = n
            break
    return [*cands[i:], *cands[:i]]


def pick(
    strategy: str,
    cands: Sequence[Candidate],
    state: Mapping[str, object],
    capacities: Mapping[str, int | None] | None = None,
) -> str | None:
    """The owner among the eligible candidates, from a decision's recorded state alone."""
    eligible = [c for c in cands if c.eligible]
    if not eligible:
        return None
    if strategy == "round_robin":
        for c in _rotated(cands, state.get("start")):
            if c.eligible:
                return c.agent
    if strategy == "weighted":
        current: Mapping[str, int] = state.get("current", {})  # type: ignore[assignment]
        best, best_value = None, None
        for c in eligible:  # roster order, so ties go to the first in the roster
            value = current.get(c.agent, 0) + weight_units(c.weight)
            if best_value is None or value > best_value:
                best, best_value = c.agent, value
        return best
    if strategy == "least_loaded":
        loads: Mapping[str, int] = state.get("loads", {})  # type: ignore[assignment]
        caps = capacities if capacities is not None else state.get("capacities", {})  # type: ignore[assignment]
        known = [caps.get(c.agent) for c in eligible if caps.get(c.agent) is not None]
        default_cap = max(known) if known else None
        order = [c for c in _rotated(cands, state.get("start")) if c.eligible]  # type: ignore[arg-type]

        def ratio(c: Candidate) -> Fraction:
            cap = caps.get(c.agent) or default_cap
            load = loads.get(c.agent, 0)
            return Fraction(load, cap) if cap else Fraction(load)

        return min(order, key=ratio).agent  # min keeps the first of equals: roster order after last
    raise ValueError(f"unknown strategy {strategy!r}")


def next_weighted(current: Mapping[str, int], cands: Sequence[Candidate], winner: str) -> dict[str, int]:
    eligible = [c for c in cands if c.eligible]
    total = sum(weight_units(c.weight) for c in eligible)
    after = dict(current)
    for c in eligible:
        after[c.agent] = after.get(c.agent, 0) + weight_units(c.weight)
    after[winner] -= total
    return after


# ---- the decision --------------------------------------------------------------------------

_UNSTARTED = RuleState()  # a rule that has not chosen anyone yet (never changed: states are replaced)


def _returning_owner(agent: Agent | None, situation: Situation) -> Decision | None:
    """A returning customer goes back to the owner it had, when that agent is available now."""
    if agent is None:
        return None
    reason, off_duty = availability_reason(agent, situation)
    if reason is not None:
        return None
    cand = Candidate(agent.id, True, None, agent.weight)
    return Decision(agent=agent.id, rule=RETURNING_RULE, strategy="returning", candidates=(cand,), returning=True,
                    off_duty=off_duty)


def _strategy_state(rule: Rule, cands: Sequence[Candidate], prior: RuleState, roster: tuple[str, ...], team: Team,
                    situation: Situation) -> dict[str, object]:
    """What the rule's strategy decides from, recorded in the decision so that it can be re-derived."""
    if rule.strategy == "weighted":
        eligible = {c.agent for c in cands if c.eligible}
        return {"current": {a: v for a, v in prior.current.items() if a in eligible}}
    state: dict[str, object] = {"last": prior.last, "start": start_after(prior.last, roster, prior.roster)}
    if rule.strategy == "least_loaded":
        loads = {c.agent: situation.loads.get(c.agent, 0) for c in cands if c.eligible}
        state["loads"] = loads
        state["capacities"] = {a.id: a.capacity for a in team.agents if a.id in loads and a.capacity is not None}
    return state


def _choose(rule: Rule, cands: Sequence[Candidate], prior: RuleState, roster: tuple[str, ...], team: Team,
            situation: Situation, skipped: tuple[tuple[str, str], ...]) -> tuple[Decision, RuleState]:
    """The owner by the rule's strategy among candidates of whom some are eligible, and where the
    rule's rotation stands after it."""
    state = _strategy_state(rule, cands, prior, roster, team, situation)
    winner = pick(rule.strategy, cands, state)
    assert winner is not None  # some candidate is eligible
    current = next_weighted(prior.current, cands, winner) if rule.strategy == "weighted" else prior.current
    decision = Decision(agent=winner, rule=rule.name, strategy=rule.strategy, candidates=cands, skipped=skipped,
                        state=state, off_duty=winner in situation.off_duty)
    return decision, RuleState(last=winner, roster=roster, current=current)


def decide(
    lead: Mapping[str, object],
    team: Team,
    situation: Situation,
    rotation: Mapping[str, RuleState],
    previous_owner: str | None = None,
    cache: dict | None = None,
) -> tuple[Decision, RuleState | None]:
    """Decide one lead. Returns the Decision and the deciding rule's new rotation state (None when
    the lead is queued or went to a returning customer's owner, which leaves rotations alone).

    `lead` holds field_key()-named fields: source, region, external_id and the file's attributes.
    `cache` may be shared by the decisions of one batch (same team, same away and off-duty
    agents; loads may change): it only remembers what those determine.
    """
    cache = {} if cache is None else cache
    roster = cache.get("roster")
    if roster is None:
        roster = cache["roster"] = tuple(a.id for a in team.agents)

    if previous_owner is not None:
        returning = _returning_owner(team.agent(previous_owner), situation)
        if returning is not None:
            return returning, None

    skipped: list[tuple[str, str]] = []
    for rule in team.rules:
        miss = why_not_matched(rule, lead, cache) if rule.when else None
        if miss is not None:
            skipped.append((rule.name, miss))
            continue
        cands = candidates_for(rule, team, lead, situation, cache)
        prior = rotation.get(rule.name) or _UNSTARTED
        # A round-robin decision follows from its candidates, the skipped rules and where the
        # rotation stands; alike leads repeat those, so a batch decides each combination once.
        memo = None
        if rule.strategy == "round_robin" and not prior.current:
            memo = ("round_robin", rule.name, id(cands), tuple(skipped), prior.last, prior.roster)
            hit = cache.get(memo)
            if hit is not None and hit[0] is cands:
                return hit[1], hit[2]
        if not any(c.eligible for c in cands):
            if rule.fallback == "next":
                skipped.append((rule.name, "nobody eligible"))
                continue
            queued = f"nobody eligible in rule '{rule.name}'"
            return Decision(agent=None, rule=rule.name, strategy=rule.strategy, candidates=cands,
                            queued_reason=queued, skipped=tuple(skipped)), None
        decision, after = _choose(rule, cands, prior, roster, team, situation, tuple(skipped))
        if memo is not None:
            cache[memo] = (cands, decision, after)  # keeps cands alive, so its id stays its own
        return decision, after

    return Decision(agent=None, rule=None, strategy=None, queued_reason="no rule matched", skipped=tuple(skipped)), None
