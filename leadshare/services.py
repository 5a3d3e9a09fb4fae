"""Use cases. Each one is a single ledger transaction: read what it needs, decide with the pure
engine, append the events and update the projections together, or change nothing at all."""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, NamedTuple

import orjson

from leadshare import clock, contacts, engine
from leadshare.bulk import paused_gc
from leadshare.errors import LeadshareError, NotFound
from leadshare.ledger.events import NewEvent, canonical
from leadshare.ledger.store import BULK_LEADS, Ledger
from leadshare.models import Decision, RuleState, Team

Progress = Callable[[int, int], None]


@dataclass
class Session:
    """Who acts, on which ledger, under which rules, at what time."""

    ledger: Ledger
    team: Team
    actor: str = "system"
    now: datetime = field(default_factory=lambda: clock.now("UTC"))

    @functools.cached_property
    def at(self) -> str:
        return clock.to_utc_iso(self.now)


def short_hash(obj: object) -> bytes:
    """16 bytes of sha256 over canonical JSON: enough to make any change evident, half the size."""
    return hashlib.sha256(canonical(obj)).digest()[:16]


# The two digests every imported lead needs, written for speed: canonical() of a list of plain
# values is orjson.dumps of it (sorting keys changes nothing without a dict), one call less each.
_sha256, _dumps = hashlib.sha256, orjson.dumps


def personal_digest(salt: bytes, *personal) -> bytes:
    """The digest the chain keeps of a lead's personal fields: (name, phone, email, phone_key,
    email_key, external_id) under the lead's own salt, which `forget` erases; for a lead from
    before per-lead salts, the first five under the ledger's salt."""
    return _sha256(salt + _dumps(personal)).digest()[:16]


def note_digest(salt: bytes, text: str) -> str:
    """A note's digest in its event, under its lead's salt (the ledger's for older leads)."""
    return short_hash([salt.hex(), text]).hex()


def salt_of(ledger: Ledger, lead: dict) -> bytes:
    return lead.get("salt") or ledger.salt


SALT_BYTES = 16


def row_digest(external_id, source, region, attrs: str, batch, created_at, pd: bytes | None) -> str:
    """What a lead's creating event certifies about its stored row (personal part by digest only),
    as short_hash() of the list. A lead with its own salt has external_id None here: its personal
    digest covers it, so `forget` can erase it and this digest still holds. The lead's id is the event's own `lead`, which the chain covers;
    leaving it out lets the digest be made before the id is known (while the file is being read)."""
    return _sha256(_dumps([external_id, source, region, attrs, batch, created_at, pd.hex() if pd else None])).digest()[:16].hex()


def record_rules(s: Session) -> None:
    """The ledger keeps every distinct rules file it has run under, and the one in force: when the
    rules differ from the last loaded, a `rules_loaded` event carries the whole file (the chain
    covers it; agents of a shared ledger read the rules from it). Call inside a transaction."""
    from leadshare.ledger.rules_log import latest_rules

    last = latest_rules(s.ledger)
    if last is not None and last.hash == s.team.content_hash:
        return
    if not s.ledger.has_rules_version(s.team.content_hash):
        s.ledger.add_rules_version(s.team.content_hash, s.team.path, s.team.text, s.at)
    data = {"rules": s.team.content_hash, "path": s.team.path, "text": s.team.text}
    s.ledger.append([NewEvent("rules_loaded", data=data)], at=s.at, actor=s.actor)


def load_rules_with_first_change(s: Session) -> None:
    """The owner (system) or a manager running under rules other than the ledger's last loaded puts
    them in force with the command's first change, in its transaction (a command that changes
    nothing loads nothing); an agent's own copy of the rules never replaces the team's."""
    agent = s.team.agent(s.actor)
    if s.actor == "system" or (agent is not None and agent.is_manager):
        s.ledger.before_first_write(lambda: record_rules(s))


def ledger_leave(ledger: Ledger) -> dict[str, list[tuple]]:
    from datetime import date

    out: dict[str, list[tuple]] = {}
    for agent, start, end in ledger.leave_spans():
        out.setdefault(agent, []).append((date.fromisoformat(start), date.fromisoformat(end)))
    return out


def situation(s: Session, calendar: clock.Calendar, loads: dict[str, int] | None = None) -> engine.Situation:
    """Who is away or off duty right now, and everyone's open load."""
    extra = ledger_leave(s.ledger)
    away, off = {}, {}
    for agent in s.team.agents:
        until = calendar.leave_until(agent, s.now, extra.get(agent.id, ()))
        if until is not None:
            away[agent.id] = f"on leave until {until.isoformat()}"
            continue
        reason = calendar.off_duty_reason(agent, s.now)
        if reason:
            off[agent.id] = reason
    return engine.Situation(
        away=away,
        off_duty=off,
        loads=loads if loads is not None else s.ledger.open_loads(),
        after_hours_assign=s.team.after_hours == "assign",
    )


_NO_FIELDS: Mapping[str, object] = MappingProxyType({})  # a lead's fields when no rule reads them
_ROW_PLACE = "\u2063row\u2063"  # where a lead's row digest goes in its event's JSON made once


class _NewLead(NamedTuple):
    """The part of a new lead's row and event that follows from its decision alone."""

    type: str  # of the event: assigned or queued
    agent: str | None
    rule: str | None
    strategy: str | None
    assigned_at: str | None
    sla_start: str | None
    sla_due: str | None
    queued_reason: str | None
    closed_at: str | None
    data: dict  # the event's data, the row digest left out
    data_parts: list[str] | None  # its JSON before and after the row digest; None: made whole for each lead

    def event(self, lead_id: int, row: str) -> tuple:
        """The lead's NewEvent, as the plain tuple it is (a million of them: half the cost)."""
        parts = self.data_parts
        if parts is None:  # the place-holder showed up elsewhere too (a rule named like it)
            return self.type, lead_id, self.agent, {**self.data, "row": row}
        return self.type, lead_id, self.agent, f'{parts[0]}"{row}"{parts[1]}'


class _Decider:
    """Decides a run of leads against one moment: rotation and loads advance in memory as leads
    are assigned, and the events and projection rows are gathered for one bulk write."""

    def __init__(self, s: Session):
        self.s = s
        self.calendar = clock.Calendar(s.team)
        self.loads = s.ledger.open_loads()
        self.situation = situation(s, self.calendar, self.loads)
        self._base_away = dict(self.situation.away)
        self.rotation: dict[str, RuleState] = s.ledger.rotation()
        self.changed_rules: set[str] = set()
        self.candidate_sets: dict[bytes, str] = {}
        self._sla: dict[str, tuple[str | None, str | None]] = {}
        self._cache: dict = {}  # the engine's, for this team and situation
        self._hashes: dict[tuple, tuple] = {}  # (id of candidates, skipped) -> (candidates, stored hash)
        self._new_leads: dict[tuple, tuple] = {}  # (id of decision, cands, status) -> (decision, _NewLead)

    def exclude(self, agents: Iterable[str], why: str) -> None:
        """Decide the next leads as if these agents were away (a handover, an SLA move)."""
        away = dict(self._base_away)  # exclusions are per lead, never carried to the next
        away.update((agent, why) for agent in agents)
        self.situation = engine.Situation(away=away, off_duty=self.situation.off_duty, loads=self.loads,
                                          after_hours_assign=self.situation.after_hours_assign)
        self._cache = {}

    def decide(self, fields: Mapping[str, object], previous_owner: str | None) -> tuple[Decision, bytes | None]:
        decision, state = engine.decide(fields, self.s.team, self.situation, self.rotation, previous_owner, self._cache)
        rule, agent, candidates = decision.rule, decision.agent, decision.candidates
        if state is not None and rule is not None:
            self.rotation[rule] = state
            self.changed_rules.add(rule)
        if agent is not None:
            self.loads[agent] = self.loads.get(agent, 0) + 1
        cands = None
        if candidates or decision.skipped:
            # the engine's cache hands back the same candidates tuple for alike leads; the entry
            # keeps that tuple alive, so its id cannot be reused by another lead's candidates
            key = (id(candidates), decision.skipped)
            entry = self._hashes.get(key)
            if entry is not None and entry[0] is candidates:
                cands = entry[1]
            else:
                body = {
                    "candidates": [[c.agent, c.eligible, c.reason, c.weight] for c in decision.candidates],
                    "skipped": [list(x) for x in decision.skipped],
                }
                cands = short_hash(body)
                self.candidate_sets.setdefault(cands, canonical(body).decode())
                if len(self._hashes) < 10_000:
                    self._hashes[key] = (decision.candidates, cands)
        return decision, cands

    def sla(self, agent_id: str) -> tuple[str | None, str | None]:
        """(SLA clock start, SLA due) for a lead given to this agent now; one computation per agent."""
        if agent_id not in self._sla:
            agent = self.s.team.agent(agent_id)
            start = due = None
            if agent is not None:
                nxt = self.calendar.next_on_duty(agent, self.s.now)
                start = clock.to_utc_iso(nxt) if nxt else None
                if self.s.team.sla.first_contact is not None:
                    d = self.calendar.add_working_time(agent, self.s.now, self.s.team.sla.first_contact)
                    due = clock.to_utc_iso(d) if d else None
            self._sla[agent_id] = (start, due)
        return self._sla[agent_id]

    def decision_event(self, lead_id: int, decision: Decision, cands: bytes | None, extra: dict) -> NewEvent:
        data = dict(extra)
        if "batch" not in data:  # a batch's leads share the rules version its import recorded
            data["rules"] = self.s.team.content_hash
        if cands is not None:
            data["cands"] = cands.hex()
        if decision.rule is not None:
            data["rule"] = decision.rule
        if decision.agent is None:
            data["reason"] = decision.queued_reason
            return NewEvent("queued", lead=lead_id, data=data)
        data["strategy"] = decision.strategy
        if decision.state:
            data["state"] = dict(decision.state)
        if decision.returning:
            data["returning"] = True
        sla_start, sla_due = self.sla(decision.agent)
        data["sla_start"] = sla_start
        data["sla_due"] = sla_due
        return NewEvent("assigned", lead=lead_id, agent=decision.agent, data=data)

    def new_lead(self, decision: Decision, cands: bytes | None, batch: int, status: str) -> "_NewLead":
        """What an imported lead's row and event take from its decision. The engine hands back the
        same Decision for alike leads, whose events then differ only in the row digest: this is
        made once per decision, with the event's JSON cut where each lead's digest goes."""
        key = (id(decision), cands, status)
        found = self._new_leads.get(key)
        if found is not None and found[0] is decision:
            return found[1]
        event = self.decision_event(0, decision, cands, {"batch": batch, "new": True, "row": _ROW_PLACE, "status": status})
        parts = canonical(event.data).decode().split(f'"{_ROW_PLACE}"')
        agent = decision.agent
        sla_start, sla_due = self.sla(agent) if agent else (None, None)
        made = _NewLead(
            event.type, agent, decision.rule, decision.strategy if agent else None, self.s.at if agent else None,
            sla_start, sla_due, decision.queued_reason, self.s.at if status in self.s.team.closed_statuses else None,
            event.data, parts if len(parts) == 2 else None,
        )
        if len(self._new_leads) < 10_000:  # the entry keeps the decision alive, so its id stays its own
            self._new_leads[key] = (decision, made)
        return made

    def save(self) -> None:
        self.s.ledger.add_candidate_sets(self.candidate_sets)
        self.s.ledger.save_rotation({r: self.rotation[r] for r in self.changed_rules})


def lead_fields(external_id, source, region, attrs: Mapping[str, object]) -> dict[str, object]:
    """The fields rules can test: the file's own columns (already snake_case) and the standard ones."""
    fields = dict(attrs)
    fields.update(external_id=external_id, source=source, region=region)
    return fields


# ---- notifications ---------------------------------------------------------------------------


def notification(s: Session, kind: str, lead: dict | None, agent_id: str, text: str, sla_due: str | None = None,
                 leads: list[int] | None = None) -> dict:
    """One outbox payload: enough for a WhatsApp, SMS or mail bridge to tell the agent what to do.
    A batch import sends each agent one digest (`leads`) instead of one message per lead."""
    agent = s.team.agent(agent_id)
    lead = lead or {}
    return {
        "kind": kind,
        "at": s.at,
        "lead": lead.get("id"),
        "leads": leads or ([lead["id"]] if lead.get("id") else []),
        "external_id": lead.get("external_id"),
        "agent": agent_id,
        "agent_name": agent.name if agent else agent_id,
        "to_email": agent.email if agent else None,
        "to_phone": agent.phone if agent else None,
        "text": text,
        "customer": {"name": lead.get("name"), "phone": lead.get("phone"), "email": lead.get("email")} if lead else None,
        "source": lead.get("source"),
        "region": lead.get("region"),
        "sla_due": sla_due,
    }


def _enqueue(s: Session, items: list[tuple[int, dict]]) -> None:
    """(seq, payload) pairs into the outbox, when the team has a channel to deliver them through."""
    if s.team.notify is None or not items:
        return
    s.ledger.enqueue_notifications(
        [{"seq": seq, "created_at": s.at, "kind": p["kind"], "agent": p["agent"], "lead": p["lead"], "payload": p} for seq, p in items]
    )



# ---- import --------------------------------------------------------------------------------


@dataclass
class ImportResult:
    batch: int
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    assigned: int = 0
    queued: int = 0
    rejects_file: str | None = None
    already_imported: bool = False
    dry_run: bool = False
    kept: int = 0
    unknown_owners: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    by_agent: dict[str, int] = field(default_factory=dict)
    first_lead: int | None = None  # new leads got consecutive ids from here
    duplicate_of: list[int] = field(default_factory=list)

    def as_json(self) -> dict:
        out = {
            "batch": self.batch,
            "rows": self.rows,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "assigned": self.assigned,
            "queued": self.queued,
            "rejects_file": self.rejects_file,
        }
        if self.already_imported:
            out["already_imported"] = True
        if self.dry_run:
            out["dry_run"] = True
        if self.kept or self.unknown_owners:
            out["kept_owner"] = self.kept
            out["unknown_owners"] = self.unknown_owners
        out["by_agent"] = self.by_agent
        return out


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back after deciding everything for real."""


def import_file(
    s: Session,
    parsed,  # importer.ParsedFile
    *,
    keep_owner: bool = False,
    force: bool = False,
    dry_run: bool = False,
    rejects_writer: Callable[[], str | None] | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import parsed leads: deduplicate against the ledger and the file itself, decide an owner
    for each new lead, and write it all in one transaction (or, with dry_run, nothing)."""
    ledger = s.ledger
    result = ImportResult(batch=0)
    try:
        with ledger.write():
            previous = ledger.import_of(parsed.content_hash)
            if previous is not None and not force:
                # this run's counts: nothing imported (a cron script summing them counts each lead once)
                return ImportResult(batch=previous["batch"], rows=previous["rows"], already_imported=True)
            with paused_gc():
                result = _import_batch(s, parsed, keep_owner, progress)
            if dry_run:
                result.dry_run = True
                raise _DryRun
            if parsed.rejects and rejects_writer is not None:
                # written before the commit: if the rejects cannot be kept, nothing is imported
                result.rejects_file = rejects_writer()
                ledger.set_rejects_file(result.batch, result.rejects_file)
    except _DryRun:
        pass
    return result


WRITE_CHUNK = 20_000  # leads read, decided, then written, at a time: memory stays flat on big files


_ROW_AGENT = Ledger.LEAD_COLUMNS.index("agent")  # the owner's place in a new lead's row


class _BatchWriter:
    """Gathers a run of new leads and their events and writes them together, so a big import
    holds a chunk in memory, not the whole file. The import holds the write lock and nothing
    else appends meanwhile, so each event's seq is known when it is added: a lead row names the
    event that decided it from the start."""

    def __init__(self, s: Session):
        self.s = s
        self.rows: list[tuple] = []
        self.events: list[tuple] = []
        self.by_agent_ids: dict[str, list[int]] = {}
        self.other_contacts: list[tuple[int, str, str]] = []  # (lead, kind, key) of list cells' other values
        self.notify = s.team.notify is not None  # each agent is told of their new leads
        self.first_seq = s.ledger.last_seq() + 1  # of the pending events

    @property
    def next_seq(self) -> int:
        return self.first_seq + len(self.events)

    def add(self, row: tuple | None, event: tuple) -> None:
        """`row` (a lead row naming next_seq as its deciding event) or None, and its event (a
        NewEvent, or a plain tuple of its fields)."""
        if row is not None:
            self.rows.append(row)
            if self.notify and row[_ROW_AGENT]:
                self.by_agent_ids.setdefault(row[_ROW_AGENT], []).append(row[0])
        self.events.append(event)
        if len(self.events) >= WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.events:
            return
        ledger = self.s.ledger
        ledger.insert_leads(self.rows)
        if self.other_contacts:
            ledger.insert_other_contacts(self.other_contacts)
            self.other_contacts = []
        seqs = ledger.append(self.events, at=self.s.at, actor=self.s.actor)
        assert seqs[0] == self.first_seq, "another writer appended during the import"
        self.first_seq += len(self.events)
        self.rows, self.events = [], []


def _import_batch(s: Session, parsed, keep_owner: bool, progress: Progress | None) -> ImportResult:
    """`parsed` is an importer.ParsedStream or ParsedFile: its records are taken a chunk at a
    time, so a big file is never held as records all at once."""
    ledger, team = s.ledger, s.team
    record_rules(s)
    batch = ledger.next_batch()
    result = ImportResult(batch=batch)
    decider = _Decider(s)
    closed = set(team.closed_statuses)
    statuses = set(team.statuses)
    initial = team.statuses[0]
    email_key_of = contacts.email_key

    next_id = result.first_lead = ledger.next_lead_id()
    first_new = next_id
    # key -> the lead with it as (id, status, agent), or a list of them newest first when several
    # have it (a bare tuple saves a list per key: a million-row file makes two million keys): the
    # ledger's leads that share a key with the file, and every new lead of this file so far
    # (later rows dedupe against them)
    seen: dict[str, tuple | list[tuple]] = {}
    seen_get = seen.get
    estimate = parsed.estimated_rows
    lookup = False  # ask the ledger for each chunk's keys
    bulk = 0
    others_known = False  # the ledger holds list cells' other phones and emails
    if not ledger.has_no_leads():
        others_known = ledger.has_other_contacts()
        if estimate >= BULK_LEADS and estimate > ledger.lead_count():
            # A file bigger than the ledger: its leads' indexes are rebuilt after the load (see
            # Ledger.bulk_load), so they cannot answer per chunk; the smaller ledger's keys are
            # read once instead (no more entries than the file itself adds).
            _add_existing(seen, ledger.all_leads(), first_new)
            if others_known:
                _add_existing(seen, ledger.leads_by_other_contacts(), first_new)
            bulk = estimate
        else:
            lookup = True  # indexes stay: bulk_load(0) never drops them
    else:
        bulk = estimate

    rules_read_fields = engine.reads_lead_fields(team)  # else a lead's fields need not be gathered
    need_attrs = rules_read_fields or keep_owner

    def prepare(records: list) -> list[tuple]:
        # What needs only the record, done where the rows are read (a child process for a big
        # file), and all the rest of the import needs of it: (row, the record's part of the lead
        # row, dedupe keys, row digest, the attributes when rules or --keep-owner read them).
        # Each lead's own salt: one draw from the system's randomness per chunk, not per lead. The
        # external id goes into the personal digest (erasable) instead of the row digest.
        out = []
        salts = os.urandom(SALT_BYTES * len(records))
        for i, r in enumerate(records):
            phone_key = r.phone if r.phone_usable else None
            email_key = email_key_of(r.email) if r.email_usable else None
            attrs = canonical(r.attrs).decode()
            salt = salts[i * SALT_BYTES:(i + 1) * SALT_BYTES]
            pd = personal_digest(salt, r.name, r.phone, r.email, phone_key, email_key, r.external_id)
            keys = _keys(r.external_id, phone_key, email_key)
            others = ()  # a list cell's other phones and emails: they match duplicates too
            if r.more_phones or r.more_emails:
                others = [("p", p) for p in r.more_phones] + [("e", email_key_of(e)) for e in r.more_emails]
                keys += [f"{kind}:{key}" for kind, key in others]
            out.append((
                r.row,
                (r.external_id, r.name, r.phone, r.email, phone_key, email_key, pd, r.source, r.region, attrs, salt),
                keys,
                row_digest(None, r.source, r.region, attrs, batch, s.at, pd),
                r.attrs if need_attrs else None,
                others,
            ))
        return out

    writer = _BatchWriter(s)
    at = s.at
    by_agent: dict[str, int] = {}
    rows = rejected = 0
    start = 0  # where the chunk's rows begin in the file, as parsed.position() counts
    with ledger.bulk_load(bulk):
        for prepared in parsed.chunks(WRITE_CHUNK, background=True, prepare=prepare):
            end, total = parsed.position()
            step = (end - start) / len(prepared)
            if lookup:
                _add_existing(seen, ledger.matching_leads(
                    (p[1][0] for p in prepared if p[1][0]),
                    (k[2:] for p in prepared for k in p[2] if k[0] == "p"),  # list cells' other values too
                    (k[2:] for p in prepared for k in p[2] if k[0] == "e"),
                ), first_new)
                if others_known:
                    _add_existing(seen, ledger.leads_by_other_contacts(
                        k[2:] for p in prepared for k in p[2] if k[0] != "x"), first_new)
            for i, (row_no, head, keys, digest, attrs, others) in enumerate(prepared):
                if progress and i % 2000 == 0:
                    progress(start + int(step * i), total)
                matches = []
                for k in keys:
                    found = seen_get(k)
                    if found is not None:
                        if type(found) is tuple:
                            matches.append(found)
                        else:
                            matches.extend(found)
                open_match = next((m for m in matches if m[1] not in closed), None) if matches else None
                if open_match is not None:
                    result.duplicates += 1
                    result.duplicate_of.append(open_match[0])
                    writer.add(None, NewEvent(
                        "duplicate",
                        lead=open_match[0],
                        agent=open_match[2],
                        # no external id: the chain cannot forget it (the lead's row and digest can)
                        data={"batch": batch, "row": row_no, "source": head[7]},
                    ))
                    continue
                previous_owner = max(matches)[2] if matches else None

                lead_id, next_id = next_id, next_id + 1
                kept = _kept_owner(attrs, team, statuses) if keep_owner else None
                if keep_owner and kept is None and attrs.get("owner"):
                    result.unknown_owners.append(f"row {row_no}: {attrs['owner']}")
                if kept is not None:
                    agent_id, status = kept
                    sla_start, sla_due = decider.sla(agent_id) if status == initial else (None, None)
                    event = NewEvent("assigned", lead=lead_id, agent=agent_id, data={
                        "batch": batch, "new": True, "row": digest, "kept": True, "status": status,
                        "rules": team.content_hash, "sla_start": sla_start, "sla_due": sla_due,
                    })
                    if status not in closed:
                        decider.loads[agent_id] = decider.loads.get(agent_id, 0) + 1
                    result.kept += 1
                    row = (lead_id, *head, batch, at, status, agent_id, None, None, writer.next_seq, at, sla_start,
                           sla_due, None, at if status in closed else None, None)
                else:
                    status = initial
                    fields = lead_fields(head[0], head[7], head[8], attrs) if rules_read_fields else _NO_FIELDS
                    decision, cands = decider.decide(fields, previous_owner)
                    made = decider.new_lead(decision, cands, batch, status)
                    event = made.event(lead_id, digest)
                    agent_id = made.agent
                    row = (lead_id, *head, batch, at, status, agent_id, made.rule, cands, writer.next_seq,
                           made.assigned_at, made.sla_start, made.sla_due, made.queued_reason, made.closed_at,
                           made.strategy)
                if agent_id:
                    by_agent[agent_id] = by_agent.get(agent_id, 0) + 1
                writer.add(row, event)
                if others:
                    writer.other_contacts.extend((lead_id, kind, key) for kind, key in others)
                mine = (lead_id, status, agent_id)  # one tuple shared by the lead's keys
                if not matches:  # none of its keys is known yet (most leads)
                    for key in keys:
                        seen[key] = mine
                    continue
                for key in keys:
                    found = seen_get(key)
                    if found is None:
                        seen[key] = mine
                    elif type(found) is tuple:
                        seen[key] = [mine, found]
                    else:
                        found.insert(0, mine)
            rows += len(prepared)
            start = end
        writer.flush()
        result.by_agent = by_agent
        result.imported = next_id - first_new
        result.assigned = sum(by_agent.values())
        result.queued = result.imported - result.assigned
        prepared = None
        seen.clear()  # before bulk_load rebuilds the indexes: that sort is the import's other big need
    rejected = len(parsed.rejects)
    result.rows = rows + rejected
    result.rejected = rejected
    result.warnings = list(parsed.warnings)
    if progress:
        total = parsed.position()[1]
        progress(total, total)

    summary = {
        "batch": batch,
        "file": parsed.name,
        "hash": parsed.content_hash,
        "rows": result.rows,
        "imported": result.imported,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
        "assigned": result.assigned,
        "queued": result.queued,
        "rules": team.content_hash,
    }
    # the batch's summary closes it: its counts are known only once every row is decided
    (imported_seq,) = ledger.append([NewEvent("imported", data=summary)], at=s.at, actor=s.actor)
    decider.save()
    _enqueue(s, [
        (imported_seq, notification(s, "assigned", None, agent, f"{len(ids)} new lead{'s' if len(ids) > 1 else ''} for you from "
                                    f"{parsed.name}: " + ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else ""), leads=ids))
        for agent, ids in writer.by_agent_ids.items()
    ])
    ledger.add_import(
        {
            "batch": batch,
            "file_hash": parsed.content_hash,
            "name": parsed.name,
            "at": s.at,
            "rows": result.rows,
            "imported": result.imported,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
            "assigned": result.assigned,
            "queued": result.queued,
            "rejects_file": None,
            "rules": team.content_hash,
        }
    )
    return result


def _add_existing(seen: dict[str, tuple | list[tuple]], rows: Iterable[dict], first_new: int) -> None:
    """Merge ledger leads into `seen`, keeping each key's leads newest first without repeats
    (chunks can find the same lead again; this import's own leads are there already)."""
    for row in rows:
        lead_id = row["id"]
        if lead_id >= first_new:
            continue
        entry = (lead_id, row["status"], row["agent"])
        keys = _keys(row["external_id"], row["phone_key"], row["email_key"])
        if row.get("other_key"):  # found by a list cell's other phone or email
            keys.append(f"{row['other_kind']}:{row['other_key']}")
        for key in keys:
            found = seen.get(key)
            if found is None:
                seen[key] = entry
                continue
            if type(found) is tuple:
                found = seen[key] = [found]
            if all(m[0] != lead_id for m in found):
                found.append(entry)
                if found[-2][0] < lead_id:
                    found.sort(reverse=True)


def _keys(external_id, phone_key, email_key) -> list[str]:
    keys = []
    if external_id:
        keys.append("x:" + external_id)
    if phone_key:
        keys.append("p:" + phone_key)
    if email_key:
        keys.append("e:" + email_key)
    return keys


def _kept_owner(attrs: Mapping[str, str], team: Team, statuses: set[str]) -> tuple[str, str] | None:
    """With --keep-owner: the input's owner when it names a roster agent, with its pipeline status."""
    owner = str(attrs.get("owner") or "").strip()
    if not owner:
        return None
    agent = team.agent(owner) or next(
        (a for a in team.agents if a.name.casefold() == owner.casefold() or a.id.casefold() == owner.casefold()), None
    )
    if agent is None:
        return None
    status = str(attrs.get("status") or "").strip().lower()
    return agent.id, status if status in statuses else team.statuses[0]


# ---- the queue -----------------------------------------------------------------------------


def assign_waiting(s: Session) -> dict:
    """Assign queued leads, oldest first (cron at opening time, or after a rules change)."""
    with s.ledger.write():
        record_rules(s)
        decider = _Decider(s)
        updates, assigned, queued = [], 0, 0
        lead_events: list[NewEvent] = []
        waiting = s.ledger.queued_leads(s.team.closed_statuses)
        owners = {lead_id: earlier["agent"] for lead_id, earlier in previous_leads(s.ledger, waiting, s.team.closed_statuses).items()}
        for lead in waiting:
            fields = lead_fields(lead["external_id"], lead["source"], lead["region"], orjson.loads(lead["attrs"]))
            decision, cands = decider.decide(fields, owners.get(lead["id"]))
            if decision.agent is None:
                queued += 1
                if decision.queued_reason != lead["queued_reason"]:
                    lead_events.append(decider.decision_event(lead["id"], decision, cands, {}))
                    updates.append([None, decision.rule, None, cands, len(lead_events) - 1, None, None, None,
                                    decision.queued_reason, lead["id"]])
                continue
            event = decider.decision_event(lead["id"], decision, cands, {})
            lead_events.append(event)
            updates.append([decision.agent, decision.rule, decision.strategy, cands, len(lead_events) - 1, s.at,
                            event.data["sla_start"], event.data["sla_due"], None, lead["id"]])
            assigned += 1
        seqs = s.ledger.append(lead_events, at=s.at, actor=s.actor)
        for u in updates:
            u[4] = seqs[u[4]]
        s.ledger.update_assignment([tuple(u) for u in updates])
        by_id = {lead["id"]: lead for lead in waiting}
        _enqueue(s, [(u[4], notification(s, "assigned", by_id[u[9]], u[0], f"New lead {u[9]} for you (it was waiting in the queue)", u[7]))
                     for u in updates if u[0]])
        decider.save()
    return {"assigned": assigned, "queued": queued}


def previous_leads(ledger: Ledger, leads: Iterable[dict], closed: Iterable[str]) -> dict[int, dict]:
    """For returning customers: the most recent earlier, closed and owned lead of the same person."""
    leads = list(leads)
    matches = ledger.matching_leads(
        (), (l["phone_key"] for l in leads if l["phone_key"]), (l["email_key"] for l in leads if l["email_key"])
    )
    closed = set(closed)
    out: dict[int, dict] = {}
    for lead in leads:
        for m in matches:  # newest first
            if m["id"] < lead["id"] and m["agent"] and m["status"] in closed and (
                (lead["phone_key"] and m["phone_key"] == lead["phone_key"])
                or (lead["email_key"] and m["email_key"] == lead["email_key"])
            ):
                out[lead["id"]] = m
                break
    return out


def find_lead(ledger: Ledger, ref: str) -> dict:
    lead = ledger.lead(ref)
    if lead is None:
        raise NotFound(f"no lead '{ref}' in {ledger.path}", "use the id shown by `leadshare mine` or `leadshare log`, or the lead's external id")
    return lead


def add_lead(s: Session, name: str, phone: str | None, email: str | None, source: str | None,
             fields: dict[str, str]) -> dict:
    """One lead by hand (a walk-in, a call): the same checks, duplicate rules and rules as an import."""
    from leadshare import importer

    p = contacts.normalize_phone(phone, s.team.phone_region) if phone else contacts.Normalised(None, False, None)
    e = contacts.normalize_email(email) if email else contacts.Normalised(None, False, None)
    if not p.usable and not e.usable:
        problems = [w for w in (p.warning, e.warning) if w] or ["no phone or email given"]
        raise LeadshareError("the lead has no usable phone or email: " + "; ".join(problems),
                             "give --phone with a valid number (e.g. 012-345 6789) or --email")
    attrs = {importer.attr_name(k): v for k, v in fields.items()}
    region = attrs.pop("region", None) or attrs.pop("territory", None) or attrs.pop("state", None)
    external_id = attrs.pop("external_id", None) or attrs.pop("lead_id", None)
    record = importer.LeadRecord(
        row=1, line=1, external_id=external_id, name=contacts.normalize_name(name), phone=p.value, phone_usable=p.usable,
        email=e.value, email_usable=e.usable, source=source, region=region, attrs=attrs,
        warnings=[w for w in (p.warning, e.warning) if w],
    )
    fingerprint = hashlib.sha256(canonical(["add", s.at, s.actor, name, phone, email, source, fields])).hexdigest()
    parsed = importer.ParsedFile(name="add", content_hash=fingerprint, encoding="utf-8", delimiter=",", columns=[],
                                 mapping={}, records=[record])
    result = import_file(s, parsed, force=True)
    if result.duplicates:
        return {"id": None, "agent": None, "queued": False, "duplicate_of": result.duplicate_of[0], "warnings": record.warnings}
    agent = next(iter(result.by_agent), None)
    return {"id": result.first_lead, "agent": agent, "queued": agent is None, "duplicate_of": None, "warnings": record.warnings}
