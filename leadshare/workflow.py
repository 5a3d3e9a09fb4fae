"""Use cases after a lead has an owner: notes, statuses, handoffs, SLA sweeps, leave, forgetting.

Like the use cases in services/, each function is one ledger transaction. Guardrails go by the acting identity
(`--as`): they guard against mistakes, not against someone who can edit the file.
"""

from __future__ import annotations

from datetime import date

from leadshare.errors import EXIT_ATTENTION, LeadshareError, NotFound, Refused
from leadshare.models import CLOSED_STATUSES, Agent
from leadshare.ledger import outbox
from leadshare.ledger.events import NewEvent, canonical
from leadshare.services import (
    Session, _Decider, _enqueue, find_lead, lead_fields, note_digest, notification, previous_leads, record_rules,
    row_digest, salt_of,
)

import orjson


# ---- who may do what -------------------------------------------------------------------------


def _is_manager(s: Session) -> bool:
    if s.actor == "system":
        return True
    agent = s.team.agent(s.actor)
    return agent is not None and agent.is_manager


def _may_touch(s: Session, lead: dict, action: str) -> None:
    """An agent may note and move only their own leads; managers and cron (system) any."""
    if _is_manager(s) or lead["agent"] == s.actor:
        return
    owner = lead["agent"] or "nobody (it is queued)"
    raise Refused(f"lead {lead['id']} belongs to {owner}; {s.actor} may not {action} it", "ask its owner or a manager")


def _need_manager(s: Session, action: str) -> None:
    if not _is_manager(s):
        managers = ", ".join(a.id for a in s.team.agents if a.is_manager) or "none in the rules file"
        raise Refused(f"{s.actor} is not a manager; {action} takes a manager", f"managers: {managers}")


def _open(s: Session, lead: dict) -> bool:
    return lead["status"] not in s.team.closed_statuses


# ---- notes and statuses ----------------------------------------------------------------------


def _note_event(s: Session, lead: dict, text: str, **extra) -> NewEvent:
    return NewEvent("note", lead=lead["id"], agent=lead["agent"], data={"digest": note_digest(salt_of(s.ledger, lead), text), **extra})


def _write_note(s: Session, lead: dict, text: str, seq: int) -> None:
    s.ledger.add_note(lead["id"], seq, s.at, s.actor, text)
    s.ledger.update_lead(lead["id"], last_note_at=s.at)


def _clean_text(text: str, what: str) -> str:
    text = " ".join((text or "").split()) if "\n" not in (text or "") else (text or "").strip()
    if not text:
        raise LeadshareError(f"the {what} is empty", f"write the {what} in quotes after the lead")
    return text


def add_note(s: Session, ref: str, text: str) -> dict:
    text = _clean_text(text, "note")
    with s.ledger.write():
        lead = find_lead(s.ledger, ref)
        _may_touch(s, lead, "note")
        (seq,) = s.ledger.append([_note_event(s, lead, text)], at=s.at, actor=s.actor)
        _write_note(s, lead, text, seq)
    return {"lead": lead["id"], "seq": seq}


def contacted_statuses(statuses: tuple[str, ...]) -> set[str]:
    """Statuses that mean the customer was reached: `contacted` and every step after it (real
    pipelines skip steps), or every step after the first when there is no `contacted`."""
    if "contacted" in statuses:
        after = statuses[statuses.index("contacted") :]
    else:
        after = statuses[1:]
    return {x for x in after if x != "lost"}


def change_status(s: Session, ref: str, status: str, note: str | None = None) -> dict:
    status = status.strip().lower()
    team = s.team
    if status not in team.statuses:
        raise Refused(f"'{status}' is not a status of the pipeline", "statuses: " + ", ".join(team.statuses))
    note = _clean_text(note, "note") if note is not None else None
    with s.ledger.write():
        lead = find_lead(s.ledger, ref)
        _may_touch(s, lead, "move")
        if lead["forgotten_at"]:
            raise Refused(f"lead {lead['id']} was forgotten", "a forgotten lead keeps its last status")
        old = lead["status"]
        if old == status:
            raise Refused(f"lead {lead['id']} is already {status}", "nothing to change")
        if not _open(s, lead):
            if not _is_manager(s):
                raise Refused(f"lead {lead['id']} is {old}; reopening a closed lead takes a manager", "ask a manager to reopen it")
            if status not in team.closed_statuses:
                _refuse_a_second_owner(s, lead)
        if status in team.require_note and note is None:
            # the move carries its own note: one written earlier was about something else
            raise Refused(f"moving lead {lead['id']} to {status} needs a note", 'add --note "what happened"')
        events = []
        if note is not None:
            events.append(_note_event(s, lead, note))
        changes: dict = {"status": status, "status_at": s.at}
        if lead["first_contact_at"] is None and status in contacted_statuses(team.statuses):
            changes["first_contact_at"] = s.at
        changes["closed_at"] = s.at if status in team.closed_statuses else None
        # the event says what it stamped, so a replay needs no rules file
        data = {"from": old, "to": status, "closed": status in team.closed_statuses,
                "first_contact": "first_contact_at" in changes}
        events.append(NewEvent("status", lead=lead["id"], agent=lead["agent"], data=data))
        seqs = s.ledger.append(events, at=s.at, actor=s.actor)
        if note is not None:
            _write_note(s, lead, note, seqs[0])
        s.ledger.update_lead(lead["id"], **changes)
    return {"lead": lead["id"], "from": old, "to": status}


def _refuse_a_second_owner(s: Session, lead: dict) -> None:
    """Reopening a closed lead must not give one customer two owners: a newer open lead of the
    same customer (same external id, phone or email) is where the work goes on."""
    keys = [[lead[k]] if lead[k] else [] for k in ("external_id", "phone_key", "email_key")]
    for other in s.ledger.matching_leads(*keys):
        if other["id"] != lead["id"] and other["status"] not in s.team.closed_statuses:
            owner = other["agent"] or "nobody yet (it is queued)"
            raise Refused(
                f"lead {lead['id']} stays {lead['status']}: the same customer has an open lead {other['id']} (owner {owner})",
                f"work on lead {other['id']} instead (`leadshare show {other['id']}`)",
            )


# ---- handoffs ---------------------------------------------------------------------------------


def _handover_checks(decider: _Decider, target: Agent, count: int, force: bool) -> tuple[dict, list[str]]:
    """A handover by hand to someone on leave is refused unless forced; one beyond capacity goes
    through with a warning. Both are kept in the event's data: the log shows it was known."""
    recorded: dict = {}
    warnings: list[str] = []
    away = decider.situation.away.get(target.id)
    if away:
        if not force:
            raise Refused(f"{target.id} is {away}", "pass --force to hand over anyway, or choose someone who is in")
        recorded["on_leave"] = away
        warnings.append(f"{target.id} is {away}; handed over anyway (--force)")
    holding = decider.loads.get(target.id, 0) + count
    if target.capacity is not None and holding > target.capacity:
        recorded["over_capacity"] = f"{holding}/{target.capacity}"
        warnings.append(f"{target.id} now holds {holding} open leads, over their capacity of {target.capacity}")
    return recorded, warnings


def _active_target(s: Session, to: str) -> Agent:
    target = s.team.find(to)
    if not target.active:
        raise Refused(f"{target.id} is inactive and takes no leads", "choose an active agent")
    return target


def reassign(s: Session, ref: str, to: str, reason: str, force: bool = False) -> dict:
    reason = _clean_text(reason, "reason")
    target = _active_target(s, to)
    with s.ledger.write():
        lead = find_lead(s.ledger, ref)
        if lead["agent"] != s.actor:
            _need_manager(s, "reassigning someone else's lead")
        if not _open(s, lead):
            raise Refused(f"lead {lead['id']} is {lead['status']}; only open leads are handed over", "reopen it first")
        if lead["agent"] == target.id:
            raise Refused(f"lead {lead['id']} already belongs to {target.id}", "nothing to change")
        decider = _Decider(s)
        recorded, warnings = _handover_checks(decider, target, 1, force)
        moved = _move(s, [(lead, target.id, {"sla": False, "by_rules": False, **recorded})], reason, decider)
    return {**moved[0], "warnings": warnings}


def _move(s: Session, moves: list[tuple[dict, str, dict]], reason: str, decider: _Decider | None = None) -> list[dict]:
    """Write handoffs: a note with the reason, the reassigned event, a fresh SLA, a notification."""
    decider = decider or _Decider(s)
    events: list[NewEvent] = []
    for lead, to, extra in moves:
        sla_start, sla_due = decider.sla(to)
        events.append(_note_event(s, lead, reason, handoff=True))
        events.append(
            NewEvent(
                "reassigned",
                lead=lead["id"],
                agent=to,
                # the reason is in the note just before: free text may name the customer, and only
                # notes can be erased by `forget`
                data={"from": lead["agent"], "to": to, "sla_start": sla_start, "sla_due": sla_due, **extra},
            )
        )
    seqs = s.ledger.append(events, at=s.at, actor=s.actor)
    out, outbox = [], []
    for i, (lead, to, extra) in enumerate(moves):
        note_seq, seq = seqs[2 * i], seqs[2 * i + 1]
        _write_note(s, lead, reason, note_seq)
        sla_start, sla_due = decider.sla(to)
        changes: dict = {"agent": to, "assigned_at": s.at, "sla_start": sla_start, "sla_due": sla_due,
                         "warned_at": None, "escalated_at": None, "queued_reason": None}
        if extra.get("cands"):
            changes.update(rule=extra["rule"], strategy=extra["strategy"], cands=bytes.fromhex(extra["cands"]), decided_seq=seq)
        if extra.get("sla"):
            changes["sla_reassigns"] = lead["sla_reassigns"] + 1
        s.ledger.update_lead(lead["id"], **changes)
        outbox.append((seq, notification(s, "reassigned", lead, to, f"Lead {lead['id']} ({lead.get('name') or 'customer'}) "
                                         f"was handed to you from {lead['agent']}: {reason}", sla_due)))
        out.append({"lead": lead["id"], "from": lead["agent"], "to": to})
    _enqueue(s, outbox)
    return out


def _rule_choice(s: Session, decider: _Decider, lead: dict, exclude: list[str], why: str):
    """A new owner by the rules, never one of `exclude`; (agent or None, decision extra data)."""
    decider.exclude(exclude, why)
    fields = lead_fields(lead["external_id"], lead["source"], lead["region"], orjson.loads(lead["attrs"]))
    decision, cands = decider.decide(fields, None)
    if decision.agent is None:
        return None, {"reason": decision.queued_reason}
    extra = {"rule": decision.rule, "strategy": decision.strategy, "cands": cands.hex() if cands else None,
             "state": dict(decision.state), "rules": s.team.content_hash}
    return decision.agent, extra


def reassign_all(s: Session, from_agent: str, to: str | None, by_rules: bool, reason: str, dry_run: bool = False,
                 force: bool = False) -> dict:
    """Move every open lead of an agent who leaves or goes on long leave, in one transaction."""
    reason = _clean_text(reason, "reason")
    _need_manager(s, "moving all of an agent's leads")
    if s.team.agent(from_agent) is not None:
        from_agent = s.team.agent(from_agent).id
    elif not s.ledger.open_leads_of(from_agent):
        s.team.find(from_agent)  # unknown, and no leads left behind by someone who has gone
    if (to is None) == (not by_rules):
        raise LeadshareError("say where the leads go: --to AGENT or --by-rules", "one of the two, not both")
    target = _active_target(s, to) if to is not None else None
    if target is not None:
        to = target.id
        if to == from_agent:
            raise Refused("--from and --to name the same agent", "choose another agent")
    plan: list[dict] = []
    warnings: list[str] = []

    class _Rollback(Exception):
        pass

    try:
        with s.ledger.write():
            record_rules(s)
            leads = s.ledger.open_leads_of(from_agent)
            decider = _Decider(s)
            recorded: dict = {}
            if target is not None and leads:
                recorded, warnings = _handover_checks(decider, target, len(leads), force)
            moves = []
            for lead in leads:
                if to is not None:
                    moves.append((lead, to, {"sla": False, "by_rules": False, **recorded}))
                    plan.append({"lead": lead["id"], "from": from_agent, "to": to})
                    continue
                agent, extra = _rule_choice(s, decider, lead, [from_agent], f"handing over from {from_agent}")
                if agent is None:
                    plan.append({"lead": lead["id"], "from": from_agent, "to": None, "reason": extra["reason"]})
                    continue
                moves.append((lead, agent, {"sla": False, "by_rules": True, **extra}))
                plan.append({"lead": lead["id"], "from": from_agent, "to": agent})
            if moves:
                _move(s, moves, reason, decider)
                decider.save()
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    moved = sum(1 for p in plan if p["to"])
    return {"moved": moved, "stayed": len(plan) - moved, "dry_run": dry_run, "leads": plan, "warnings": warnings}


# ---- SLA sweep --------------------------------------------------------------------------------


def _wall(s: Session, iso: str) -> str:
    """A time written into a note or a message for people: the team's wall clock, with its zone."""
    from leadshare import clock

    return f"{clock.wall_clock(iso, s.team.timezone)} {s.team.timezone}"


def sweep(s: Session) -> tuple[dict, int]:
    """Leads not contacted in time move on by the rules (never back to someone who had them), or
    escalate to the managers after `max_reassign`; `on_breach: notify` only warns. Idempotent at
    one moment: a moved lead has a fresh SLA, and a warned or escalated lead is marked."""
    team = s.team
    checked = reassigned = escalated = warned = 0
    with s.ledger.write():
        record_rules(s)
        decider = _Decider(s)
        for lead in s.ledger.breached(s.at, team.closed_statuses):
            checked += 1
            if team.sla.on_breach == "notify":
                if lead["warned_at"]:
                    continue
                (seq,) = s.ledger.append(
                    [NewEvent("sla_warning", lead=lead["id"], agent=lead["agent"], data={"sla_due": lead["sla_due"]})], at=s.at, actor=s.actor
                )
                s.ledger.update_lead(lead["id"], warned_at=s.at)
                _enqueue(s, [(seq, notification(s, "sla_warning", lead, lead["agent"],
                                                f"Lead {lead['id']} was due for first contact at {_wall(s, lead['sla_due'])}", lead["sla_due"]))])
                warned += 1
                continue
            if lead["escalated_at"]:
                continue
            agent = None
            if lead["sla_reassigns"] < team.sla.max_reassign:
                past = s.ledger.past_owners(lead["id"])
                agent, extra = _rule_choice(s, decider, lead, past, "already had this lead")
            if agent is not None:
                decider.loads[lead["agent"]] = max(0, decider.loads.get(lead["agent"], 0) - 1)
                _move(s, [(lead, agent, {"sla": True, "by_rules": True, **extra})],
                      f"not contacted by {_wall(s, lead['sla_due'])} (SLA {team.sla.first_contact})", decider)
                reassigned += 1
                continue
            managers = [a.id for a in team.agents if a.is_manager and a.active]
            why = ("reassigned the most times allowed" if lead["sla_reassigns"] >= team.sla.max_reassign
                   else "nobody else is eligible")
            (seq,) = s.ledger.append(
                [NewEvent("escalated", lead=lead["id"], agent=lead["agent"],
                          data={"to": managers, "reason": why, "sla_due": lead["sla_due"], "sla_reassigns": lead["sla_reassigns"]})],
                at=s.at, actor=s.actor,
            )
            s.ledger.update_lead(lead["id"], escalated_at=s.at)
            _enqueue(s, [(seq, notification(s, "escalated", lead, m,
                                            f"Lead {lead['id']} escalated: not contacted by {_wall(s, lead['sla_due'])}; {why}")) for m in managers])
            escalated += 1
        decider.save()
    result = {"checked": checked, "reassigned": reassigned, "escalated": escalated, "warned": warned}
    return result, EXIT_ATTENTION if escalated else 0


# ---- leave ------------------------------------------------------------------------------------


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise LeadshareError(f"{what} '{text}' is not a date", "write it as YYYY-MM-DD") from None


def add_leave(s: Session, agent_id: str, start: str, end: str, reason: str | None) -> dict:
    agent = s.team.find(agent_id)
    agent_id = agent.id
    if s.actor != agent_id:
        _need_manager(s, "recording someone else's leave")
    first, last = _day(start, "FROM"), _day(end, "TO")
    if last < first:
        raise LeadshareError(f"leave ends ({last}) before it starts ({first})", "give FROM then TO")
    out = {"id": None, "agent": agent_id, "from": first.isoformat(), "to": last.isoformat(), "reason": reason,
           "already_recorded": False, "origin": "ledger"}
    if (first, last) in agent.leave:
        return {**out, "already_recorded": True, "origin": "rules"}
    with s.ledger.write():
        same = [r for r in s.ledger.leave() if (r["agent"], r["start"], r["end"]) == (agent_id, out["from"], out["to"])]
        if same:  # the same command run twice: one entry, not two
            return {**out, "id": same[0]["id"], "reason": same[0]["reason"], "already_recorded": True}
        out["id"] = s.ledger.add_leave(agent_id, out["from"], out["to"], reason)
        s.ledger.append([NewEvent("leave_added", agent=agent_id, data={"id": out["id"], "from": out["from"],
                                                                        "to": out["to"], "reason": reason})],
                        at=s.at, actor=s.actor)
    return out


def cancel_leave(s: Session, leave_id: int) -> dict:
    with s.ledger.write():
        rows = [r for r in s.ledger.leave() if r["id"] == leave_id]
        if not rows:
            raise NotFound(f"no leave {leave_id} to cancel", "see `leadshare leave list` (leave from the rules file is changed there)")
        row = rows[0]
        if s.actor != row["agent"]:
            _need_manager(s, "cancelling someone else's leave")
        s.ledger.cancel_leave(leave_id, s.at)
        s.ledger.append([NewEvent("leave_cancelled", agent=row["agent"], data={"id": leave_id})], at=s.at, actor=s.actor)
    return {"id": leave_id, "agent": row["agent"], "cancelled": True}


def list_leave(s: Session) -> list[dict]:
    out = [
        {"id": None, "agent": a.id, "from": f.isoformat(), "to": t.isoformat(), "reason": None, "origin": "rules"}
        for a in s.team.agents
        for f, t in a.leave
    ]
    out += [
        {"id": r["id"], "agent": r["agent"], "from": r["start"], "to": r["end"], "reason": r["reason"], "origin": "ledger"}
        for r in s.ledger.leave()
    ]
    return sorted(out, key=lambda r: (r["from"], r["agent"]))


# ---- personal data ----------------------------------------------------------------------------


def forget(s: Session, ref: str) -> dict:
    """Erase a customer: the personal fields, the notes' texts, and the attributes that can
    recognise them (see personal.py). `complete` is False while a reader still pins older pages of
    the file: the old copies leave at the next checkpoint, and running forget again finishes it (and
    erases what an older version of forget left among the attributes)."""
    from leadshare.personal import without_personal

    _need_manager(s, "forgetting a customer")
    if s.actor == "system":
        raise Refused("forgetting a customer needs a named manager", "pass --as MANAGER_ID")
    with s.ledger.write():
        lead = find_lead(s.ledger, ref)
        again = bool(lead["forgotten_at"])
        stored = orjson.loads(lead["attrs"])
        kept = without_personal(stored)
        attrs = canonical(kept).decode() if kept != stored else lead["attrs"]
        if not again or attrs != lead["attrs"]:
            s.ledger.append([NewEvent("forgotten", lead=lead["id"], agent=lead["agent"], data=_forgotten_data(lead, attrs))],
                            at=s.at, actor=s.actor)
            s.ledger.erase_personal(lead["id"], s.at)
            if attrs != lead["attrs"]:
                s.ledger.update_lead(lead["id"], attrs=attrs)
            outbox.erase_personal(s.ledger, lead["id"])
    return {"lead": lead["id"], "forgotten": True, "again": again, "complete": s.ledger.checkpoint(),
            "note": s.ledger.erasure_note(), "attributes": sorted(set(stored) - set(kept))}


def _forgotten_data(lead: dict, attrs: str) -> dict:
    """The lead's creating event certifies its stored row. When forgetting changes that row (its
    contact attributes erased; a lead from before per-lead salts losing its external id and the
    digest under the ledger-wide salt), the forgotten event certifies the row from here on."""
    salted = lead["salt"] is not None
    if salted and attrs == lead["attrs"]:
        return {}
    pd = lead["pd"] if salted else None  # as erase_personal leaves it
    return {"row": row_digest(None, lead["source"], lead["region"], attrs, lead["batch"], lead["created_at"], pd)}


def explain(ledger, ref: str) -> dict:
    """The decision stored when the lead got its current owner (or was queued), never recomputed."""
    lead = find_lead(ledger, ref)
    out: dict = {"lead": lead["id"], "external_id": lead["external_id"], "agent": lead["agent"], "rule": lead["rule"],
                 "strategy": None, "candidates": [], "skipped": [], "state": {}, "queued_reason": lead["queued_reason"],
                 "rules_version": None, "decided_at": None, "kind": None}
    if lead["decided_seq"] is None:
        return out
    event = ledger.event(lead["decided_seq"])
    data = orjson.loads(event["data"])
    rules_version = data.get("rules") or ledger.rules_of_batch(data.get("batch"))
    out.update(strategy=data.get("strategy"), state=data.get("state", {}), rules_version=rules_version,
               decided_at=event["at"], decided_by=event["actor"], event=event["seq"])
    if data.get("kept"):
        out["kind"] = "kept from the imported file"
    elif data.get("returning"):
        out["kind"] = "returning customer: offered to the previous owner"
        earlier = previous_leads(ledger, [lead], CLOSED_STATUSES).get(lead["id"])
        if earlier is not None:
            out.update(previous_owner=earlier["agent"], previous_lead=earlier["id"])
            out["kind"] += f", {earlier['agent']} (lead {earlier['id']}, {earlier['status']})"
    elif event["type"] == "reassigned":
        out["kind"] = "SLA reassignment by the rules" if data.get("sla") else "handover by the rules"
    elif event["type"] == "queued":
        out["kind"] = "queued"
    else:
        out["kind"] = "decided by the rules"
    if data.get("cands"):
        body = ledger.candidate_sets([bytes.fromhex(data["cands"])]).get(bytes.fromhex(data["cands"]), {})
        out["candidates"] = [{"agent": a, "eligible": bool(e), "reason": r, "weight": w} for a, e, r, w in body.get("candidates", [])]
        out["skipped"] = [{"rule": r, "why": w} for r, w in body.get("skipped", [])]
    handoffs = ledger.handoffs_after(lead["id"], lead["decided_seq"])
    out["handoffs"] = [{"seq": h["seq"], "at": h["at"], "by": h["actor"], **orjson.loads(h["data"]),
                        "reason": ledger.handoff_reason(h["seq"])} for h in handoffs]
    return out
