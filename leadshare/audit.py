"""`verify`: prove the ledger is what its log says.

1. SQLite's own integrity check.
2. The hash chain, recomputed from the first event (names the first bad seq).
3. Content-addressed side tables: every candidate set matches its hash.
4. Replay: the events are folded into fresh projections in memory and compared with the stored
   ones (lead owner, status, decision, SLA; each lead's stored row against the digest its creating
   event certified; personal fields against their salted digest unless forgotten; rotation; imports).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from leadshare import engine
from leadshare.ledger import events as ev
from leadshare.models import Candidate
from leadshare.ledger.store import Ledger
from leadshare.services import personal_digest, row_digest, short_hash

# The projection columns a replay rebuilds, compared lead by lead.
REPLAYED = (
    "status", "agent", "rule", "strategy", "cands", "decided_seq", "assigned_at", "sla_start", "sla_due", "queued_reason",
    "closed_at", "first_contact_at", "sla_reassigns", "last_note_at", "status_at", "warned_at", "escalated_at",
    "forgotten_at",
)
MAX_PROBLEMS = 50


@dataclass
class Report:
    ok: bool = True
    events: int = 0
    problems: list[str] = field(default_factory=list)
    head: str | None = None
    decisions: int | None = None  # with --decisions: how many rule decisions were re-derived
    manual: list[dict] | None = None  # with --decisions: handoffs a person made, not the rules

    def add(self, problem: str) -> None:
        self.ok = False
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def as_json(self) -> dict:
        out = {"ok": self.ok, "events": self.events, "problems": self.problems, "head": self.head}
        if self.decisions is not None:
            out["decisions"] = self.decisions
            out["manual_reassignments"] = self.manual
        return out


def verify(ledger: Ledger, expect_head: str | None = None, decisions: bool = False) -> Report:
    report = Report()
    try:
        with ledger.lenient_text():
            _verify(ledger, report, expect_head, decisions)
    except ledger.DatabaseError as exc:
        # damage below the log (a broken page, a mangled table) is a finding, not a crash
        report.add(f"the ledger file is damaged and could not be read through: {exc}")
    return report


def _verify(ledger: Ledger, report: Report, expect_head: str | None, decisions: bool) -> None:
    for problem in ledger.integrity_problems():
        report.add(problem)
    count, problems, head = ev.check_chain(ledger.iter_events())
    report.events = count
    report.head = head.hex()
    for problem in problems:
        report.add(problem)
    recorded = ledger.meta("head")
    if recorded and not problems:
        seq, _, hash_hex = recorded.partition(":")
        if int(seq) != count or hash_hex != head.hex():
            report.add(f"chain head: the ledger recorded event {seq} as its head but the log ends at event {count}")
    if expect_head:
        if not head.hex().startswith(expect_head.lower()):
            report.add(f"chain head is {head.hex()[:16]}…, not the expected {expect_head[:16]}… (the log was cut or rewritten)")
    _check_candidate_sets(ledger, report)
    _replay(ledger, report)
    if decisions:
        _rederive(ledger, report)


def _check_candidate_sets(ledger: Ledger, report: Report) -> None:
    for hash_, data in ledger.all_candidate_sets():
        try:
            intact = short_hash(orjson.loads(data)) == hash_
        except orjson.JSONDecodeError:
            intact = False
        if not intact:
            report.add(f"candidate set {bytes(hash_).hex()}: content does not match its hash")


class _LeadState:
    """One lead as the log says it is (slots: a million of these must fit in memory)."""

    __slots__ = REPLAYED

    def __init__(self, status: str) -> None:
        for column in REPLAYED:
            setattr(self, column, None)
        self.status, self.sla_reassigns = status, 0

    def set(self, **columns) -> None:
        for column, value in columns.items():
            setattr(self, column, value)


class _Replay:
    """The projections rebuilt in memory from the events alone."""

    def __init__(self, report: Report):
        self.report = report
        self.leads: dict[int, _LeadState] = {}
        self.rows: dict[int, str] = {}
        self.rotation_last: dict[str, str] = {}
        self.imports: dict[int, dict] = {}
        self.tiers: dict[str, str | None] = {}
        self.notes: dict[int, str] = {}  # note event seq -> digest of its text
        self.leave: dict[int, dict] = {}

    def apply(self, seq: int, at: str, type_: str, lead: int | None, agent: str | None, data: dict) -> None:
        if type_ in ("assigned", "queued"):
            self._decided(seq, at, type_, lead, agent, data)
        elif type_ == "imported":
            self.imports[data["batch"]] = data
        elif type_ == "tiers_applied":
            for agent_id, change in data["changes"].items():
                self.tiers[agent_id] = change["to"]
        elif type_ == "leave_added":
            self.leave[data["id"]] = {"agent": agent, "start": data["from"], "end": data["to"], "reason": data.get("reason"),
                                      "cancelled_at": None}
        elif type_ == "leave_cancelled":
            self.leave[data["id"]]["cancelled_at"] = at
        elif lead is not None and lead not in self.leads:
            self.report.add(f"event {seq}: {type_} names lead {lead}, which no event created")
        elif type_ == "reassigned":
            state = self.leads[lead]
            state.set(agent=agent, assigned_at=at, sla_start=data.get("sla_start"), sla_due=data.get("sla_due"),
                      warned_at=None, escalated_at=None, queued_reason=None)
            if data.get("cands"):
                state.set(rule=data["rule"], strategy=data.get("strategy"), cands=data["cands"], decided_seq=seq)
                self.rotation_last[data["rule"]] = agent
            if data.get("sla"):
                state.sla_reassigns += 1
        elif type_ == "status":
            state = self.leads[lead]
            state.set(status=data["to"], status_at=at, closed_at=at if data.get("closed") else None)
            if data.get("first_contact"):
                state.first_contact_at = at
        elif type_ == "note":
            self.leads[lead].last_note_at = at
            self.notes[seq] = data["digest"]
        elif type_ == "sla_warning":
            self.leads[lead].warned_at = at
        elif type_ == "escalated":
            self.leads[lead].escalated_at = at
        elif type_ == "forgotten":
            self.leads[lead].forgotten_at = at

    def _decided(self, seq: int, at: str, type_: str, lead: int | None, agent: str | None, data: dict) -> None:
        if data.get("new"):
            if lead in self.leads:
                self.report.add(f"event {seq}: creates lead {lead}, which already exists")
            self.leads[lead] = _LeadState(data["status"])
            self.rows[lead] = data["row"]
        state = self.leads.get(lead)
        if state is None:
            self.report.add(f"event {seq}: {type_} names lead {lead}, which no event created")
            return
        state.set(
            agent=agent,
            rule=data.get("rule"),
            strategy=data.get("strategy") if type_ == "assigned" else None,
            cands=data.get("cands"),
            decided_seq=seq,
            assigned_at=at if type_ == "assigned" else None,
            sla_start=data.get("sla_start"),
            sla_due=data.get("sla_due"),
            queued_reason=data.get("reason") if type_ == "queued" else None,
        )
        if data.get("kept") and data.get("status") in ("won", "lost"):
            state.closed_at = at
        if type_ == "assigned" and data.get("strategy") in engine.STRATEGIES:
            self.rotation_last[data["rule"]] = agent


def _replay(ledger: Ledger, report: Report) -> None:
    replay = _Replay(report)
    shared: dict[str, str] = {}  # one import's events repeat their time and SLA strings
    for seq, at, _actor, type_, lead, agent, data_text, _ in ledger.iter_events():
        at = shared.setdefault(at, at)
        try:
            data = orjson.loads(data_text)
            for key in ("sla_due", "sla_start", "rule", "cands"):
                if key in data and isinstance(data[key], str):
                    data[key] = shared.setdefault(data[key], data[key])
            replay.apply(seq, at, type_, lead, agent, data)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            report.add(f"event {seq}: its data is not what a {type_} event holds ({type(exc).__name__})")
    _compare_leads(ledger, report, replay)

    for rule, state in ledger.rotation().items():
        if replay.rotation_last.get(rule) != state.last:
            report.add(f"rotation of rule '{rule}': last is {state.last!r} but the log says {replay.rotation_last.get(rule)!r}")
    if ledger.earned_tiers() != replay.tiers:
        report.add("agent tiers differ from what the tiers_applied events recorded")
    for row in ledger.imports(limit=-1):
        logged = replay.imports.get(row["batch"])
        if logged is None or any(logged.get(k) != row[k] for k in ("rows", "imported", "duplicates", "rejected", "assigned", "queued")):
            report.add(f"import batch {row['batch']}: its counts differ from the log")
    stored_leave = {r["id"]: {k: r[k] for k in ("agent", "start", "end", "reason", "cancelled_at")}
                    for r in ledger.leave(include_cancelled=True)}
    for leave_id in sorted(set(stored_leave) | set(replay.leave)):
        if stored_leave.get(leave_id) != replay.leave.get(leave_id):
            report.add(f"leave {leave_id}: differs from what the leave events recorded")
    salt_hex = ledger.salt.hex()
    for note in ledger.all_notes():
        digest = replay.notes.get(note["seq"])
        if digest is None:
            report.add(f"note {note['id']}: no note event {note['seq']} recorded it")
        elif note["text"] is not None and short_hash([salt_hex, note["text"]]).hex() != digest:
            report.add(f"note {note['id']} on lead {note['lead']}: its text changed after event {note['seq']} recorded it")


def _compare_leads(ledger: Ledger, report: Report, replay: _Replay) -> None:
    salt = ledger.salt
    stored_ids = set()
    counted: dict[tuple, int] = {}  # what assignment_counts must hold
    for row in ledger.all_leads():
        lead_id = row["id"]
        stored_ids.add(lead_id)
        if row["agent"] is not None and row["assigned_at"] is not None:
            key = (row["assigned_at"], row["agent"], row["cands"] or b"", row["rule"] or "", row["strategy"] or "",
                   row["source"] or "", row["region"] or "", row["status"])
            counted[key] = counted.get(key, 0) + 1
        state = replay.leads.get(lead_id)
        if state is None:
            report.add(f"lead {lead_id}: in the leads table but no event created it")
            continue
        stored = dict(row)
        stored["cands"] = row["cands"].hex() if isinstance(row["cands"], bytes) else row["cands"]
        for column in REPLAYED:
            if stored[column] != getattr(state, column):
                report.add(f"lead {lead_id}: {column} is {stored[column]!r} but the log says {getattr(state, column)!r}")
                break
        pd = row["pd"] if isinstance(row["pd"], bytes) else None
        if row_digest(lead_id, row["external_id"], row["source"], row["region"], row["attrs"], row["batch"],
                      row["created_at"], pd) != replay.rows.get(lead_id):
            report.add(f"lead {lead_id}: stored fields differ from what event {_creator(ledger, lead_id)} recorded")
        if row["forgotten_at"] is None and pd != personal_digest(
            salt, row["name"], row["phone"], row["email"], row["phone_key"], row["email_key"]
        ):
            report.add(f"lead {lead_id}: name, phone or email changed outside leadshare")
    for lead_id in sorted(set(replay.leads) - stored_ids):
        report.add(f"lead {lead_id}: created by the log but missing from the leads table")
    if ledger.assignment_counts() != counted:
        report.add("assignment counts (what fairness reads) differ from the leads they count; "
                   "they were changed outside leadshare")


def _creator(ledger: Ledger, lead_id: int) -> int | None:
    return ledger.scalar("SELECT min(seq) FROM events WHERE lead = ?", (lead_id,))


def _rederive(ledger: Ledger, report: Report) -> None:
    """Re-run the pure engine on every rule-decided assignment's own recorded inputs.

    Each decision must pick the owner it recorded, and its recorded rotation state must be the one
    the previous decision of the same rule left behind: so no lead was hand-picked and then
    dressed up as a rule's choice.
    """
    last: dict[str, str] = {}
    current: dict[str, dict[str, int]] = {}
    sets: dict[str, list] = {}
    report.decisions, report.manual = 0, []
    for seq, at, actor, type_, lead, agent, data_text, _ in ledger.iter_events():
        if type_ not in ("assigned", "reassigned"):
            continue
        data = orjson.loads(data_text)
        strategy = data.get("strategy")
        if type_ == "reassigned" and not data.get("by_rules"):
            report.manual.append({"seq": seq, "at": at, "lead": lead, "by": actor, "from": data.get("from"),
                                  "to": data.get("to"), "reason": ledger.handoff_reason(seq)})
        if strategy == "returning":  # offered to the previous owner: the one eligible candidate
            body = ledger.candidate_sets([bytes.fromhex(data["cands"])]).get(bytes.fromhex(data["cands"]), {})
            if [c[0] for c in body.get("candidates", []) if c[1]] != [agent]:
                report.add(f"event {seq}: lead {lead} went to {agent} as a returning customer, but its recorded candidate is not them")
            report.decisions += 1
            continue
        if strategy not in engine.STRATEGIES:
            continue
        report.decisions += 1
        rule = data["rule"]
        key = data["cands"]
        if key not in sets:
            found = ledger.candidate_sets([bytes.fromhex(key)])
            sets[key] = found[bytes.fromhex(key)]["candidates"] if found else []
        cands = [Candidate(a, bool(e), r, float(w)) for a, e, r, w in sets[key]]
        state = data.get("state", {})
        if strategy == "weighted":
            eligible = {c.agent for c in cands if c.eligible}
            carried = {a: v for a, v in current.get(rule, {}).items() if a in eligible}
            if state.get("current") != carried:
                report.add(f"event {seq}: lead {lead}: recorded rotation of '{rule}' is not where the previous decision left it")
        else:
            roster = [c.agent for c in cands]
            if state.get("last") != last.get(rule) or (
                state.get("last") in roster and state.get("start") != engine.start_after(state.get("last"), roster, ())
            ):
                report.add(f"event {seq}: lead {lead}: recorded rotation of '{rule}' is not where the previous decision left it")
        picked = engine.pick(strategy, cands, state)
        if picked != agent:
            report.add(f"event {seq}: lead {lead} went to {agent}, but its recorded inputs pick {picked}")
        last[rule] = agent
        if strategy == "weighted":
            current[rule] = engine.next_weighted(current.get(rule, {}), cands, agent)
