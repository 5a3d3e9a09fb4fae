"""Warnings about a valid team: leads that would wait in the queue, rules that are never reached.

Nothing here is an error: the file works, but probably not as its author meant.
"""

from __future__ import annotations

from leadshare import models
from leadshare.config.nodes import Problem
from leadshare.config.reading import top_key_line
from leadshare.config.values import suggest
from leadshare.engine import FIELD_ALIASES, field_key

MAX_LISTED_FIELDS = 20  # a file with thousands of columns must not fill the screen


def lint_team(team: models.Team) -> list[Problem]:
    """Warnings about gaps in a valid team: leads that would wait in the queue, unreachable rules."""
    active = [a for a in team.agents if a.active]
    warnings: list[Problem] = []
    if not active:
        line = team.agents[0].line if team.agents else 1
        warnings.append((line, "no agent is active: every lead will wait in the queue; set `active: true` on someone"))
    for rule in team.rules:
        warning = _empty_pool(rule, team, active)
        if warning:
            warnings.append((rule.line, warning))
    warnings += _lone_territory_agents(team.rules, active)
    warnings += _unreached_rules(team.rules)
    warnings += _missing_catch_all(team)
    return sorted(warnings, key=lambda w: w[0])


def _outcome(rule: models.Rule) -> str:
    return "its leads go on to the next rule" if rule.fallback == "next" else "its leads wait in the queue"


def _empty_pool(rule: models.Rule, team: models.Team, active: list[models.Agent]) -> str | None:
    """Why the rule's pool has nobody in it whatever the lead, or None."""
    label, outcome, pool = f"rule '{rule.name}'", _outcome(rule), rule.pool
    if pool.kind == "all":
        if not active and team.agents:
            return f"{label}: its pool has no active agent, so {outcome}; make an agent active"
    elif pool.kind == "skills":
        return _missing_skills(rule, team, active)
    elif pool.kind == "territory" and not any(a.territories for a in active):
        return (f"{label}: no active agent lists a territory, so its pool is always empty and "
                f"{outcome}; add `territories:` to the agents")
    return None


def _missing_skills(rule: models.Rule, team: models.Team, active: list[models.Agent]) -> str | None:
    label, outcome, skills = f"rule '{rule.name}'", _outcome(rule), rule.pool.skills
    missing = [s for s in skills if not any(s in a.skills for a in active)]
    if not missing:
        if any(all(s in a.skills for s in skills) for a in active):
            return None
        return (f"{label}: no active agent has all of the skills {', '.join(skills)}, so its "
                f"pool is empty and {outcome}; give one agent all of them or ask for fewer")
    notes = []
    for skill in missing:
        similar = sorted({f"{a.id} has '{s}'" for a in active for s in a.skills
                          if s != skill and s.casefold() == skill.casefold()})
        inactive = [a.id for a in team.agents if not a.active and skill in a.skills]
        if similar:
            notes.append(f"{', '.join(similar)}: write the skill the same way in both places")
        elif inactive:
            notes.append(f"only inactive agents have '{skill}' ({', '.join(inactive)})")
    which = ", ".join(f"'{s}'" for s in missing)
    noun = "skill" if len(missing) == 1 else "skills"
    extra = f" ({'; '.join(notes)})" if notes else ""
    return (f"{label}: no active agent has the {noun} {which}, so its pool is empty and "
            f"{outcome}{extra}; give the {noun} to an agent or change the rule")


def _lone_territory_agents(rules: tuple[models.Rule, ...], active: list[models.Agent]) -> list[Problem]:
    """Territories served by one agent only, where the rule would queue when that agent is away."""
    territory_agents: dict[str, tuple[str, list[str]]] = {}
    for agent in active:
        for territory in agent.territories:
            shown, ids = territory_agents.setdefault(territory.casefold(), (territory, []))
            if agent.id not in ids:
                ids.append(agent.id)
    warnings: list[Problem] = []
    for rule in rules:
        if rule.pool.kind != "territory" or rule.fallback == "next":
            continue
        for shown, ids in territory_agents.values():
            if len(ids) == 1:
                warnings.append((rule.line,
                                 f"rule '{rule.name}': territory '{shown}' has one active agent ({ids[0]}); while "
                                 f"they are away, on leave or full its leads wait in the queue; add a second agent "
                                 f"to '{shown}' or set `fallback: next` on the rule"))
    return warnings


def _unreached_rules(rules: tuple[models.Rule, ...]) -> list[Problem]:
    """Rules after one that takes every lead are never used."""
    warnings: list[Problem] = []
    catcher: models.Rule | None = None
    for rule in rules:
        if catcher is not None:
            warnings.append((rule.line,
                             f"rule '{rule.name}' is never reached: rule '{catcher.name}' (line {catcher.line}) has "
                             f"no `when` and `fallback: queue`, so it takes every lead; move this rule above it or "
                             f"remove it"))
        elif not rule.when and rule.fallback == "queue":
            catcher = rule
    return warnings


def _missing_catch_all(team: models.Team) -> list[Problem]:
    rules = team.rules
    if not rules:
        return [(top_key_line(team.text, "rules"),
                 "no rules: every lead will wait in the queue ('no rule matched'); add rules, ending with "
                 "one that has `pool: all` and no `when`")]
    if not any(not r.when and r.pool.kind == "all" for r in rules):
        return [(rules[-1].line,
                 "no catch-all rule: a lead that no rule takes waits in the queue ('no rule matched'); end "
                 "the rules with one that has `pool: all` and no `when`")]
    return []


def lint_fields(team: models.Team, lead_fields: set[str]) -> list[Problem]:
    """Warnings about rules that test a field no lead has (`lead_fields`: the ledger's field names).

    Names are compared as the engine compares them, so `Product Interest` is `product_interest`.
    """
    known = {field_key(f) for f in lead_fields}
    # a rule's `product` reads a lead's product_interest too (see engine.FIELD_ALIASES)
    readable = known | {short for short, longer in FIELD_ALIASES.items() if not known.isdisjoint(longer)}
    warnings: list[Problem] = []
    for rule in team.rules:
        tested = [(key, "its `when` never matches") for key, _ in rule.when]
        if rule.pool.kind == "territory":
            tested.append((rule.pool.field or "region", "its territory pool never finds an agent"))
        for name, effect in tested:
            if field_key(name) in readable:
                continue
            warnings.append((rule.line,
                             f"rule '{rule.name}': no lead in the ledger has the field '{name}'"
                             f"{suggest(field_key(name), sorted(known))}, so {effect}; leads have: {_listed(sorted(known))}"))
    return warnings


def _listed(names: list[str]) -> str:
    if not names:
        return "no fields at all"
    more = len(names) - MAX_LISTED_FIELDS
    return ", ".join(names[:MAX_LISTED_FIELDS]) + (f" ... and {more:,} more" if more > 0 else "")

