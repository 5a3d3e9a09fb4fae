"""`verify`: prove the ledger is what its log says.

1. SQLite's own integrity check.
2. The hash chain, recomputed from the first event (names the first bad seq).
3. Content-addressed side tables: every candidate set matches its hash.
4. Replay: the events are folded into fresh projections in memory and compared with the stored
   ones (lead owner, status, decision, SLA; each lead's stored row against the digest its creating
   event certified; personal fields against their salted digest unless forgotten; rotation; imports).
"""

from __future__ import annotations

import hmac
import operator
from dataclasses import dataclass, field

import orjson

from leadshare import engine
from leadshare.ledger import events as ev
from leadshare.models import Candidate
from leadshare.bulk import beside
from leadshare.ledger.store import Ledger, assignment_key
from leadshare.services import note_digest, personal_digest, row_digest, short_hash

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
    with ledger.snapshot():  # the log, the leads and the counts as of one moment, whoever writes meanwhile
        return _verify_or_report_damage(ledger, expect_head, decisions)


def _verify_or_report_damage(ledger: Ledger, expect_head: str | None, decisions: bool) -> Report:
    report = Report()
    try:
        try:
            _verify(ledger, report, expect_head, decisions)
        except ledger.DatabaseError as exc:
            if not ledger.is_text_error(exc):
                raise
            # a hand-edited row that is not UTF-8: read again with replacement characters, so the
            # changed bytes simply fail their hash (strict decoding is the fast path for the rest)
            report = Report()
            with ledger.lenient_text():
                _verify(ledger, report, expect_head, decisions)
    except ledger.DatabaseError as exc:
        # damage below the log (a broken page, a mangled table) is a finding, not a crash
        report.add(f"the ledger file is damaged and could not be read through: {exc}")
    return report


def _verify(ledger: Ledger, report: Report, expect_head: str | None, decisions: bool) -> None:
    # SQLite's integrity check and the notes' digests take as long as the log: they run in a
    # child process on their own connection while the log is read here
    lenient = ledger.text_is_lenient()
    path = ledger.side_check_path()
    if path is None:  # no second connection can see it, or none may be forked: checked here
        side = _side_checks(ledger)
        side_checks = lambda: side  # noqa: E731
    else:
        side_checks = beside(_side_checks_at, path, lenient)
    chain = ev.Chain()
    replayed = Report()  # the replay's findings, told after the chain's: a break explains them
    replay = _Replay(replayed)
    replay.read(ledger.iter_events(), chain)
    side = side_checks()
    for problem in side.integrity:
        report.add(problem)
    count, problems, head = chain.events, chain.problems, chain.head
    report.events = count
    report.head = head.hex()
    for problem in problems + replayed.problems:
        report.add(problem)
    replay.report = report
    for problem in side.notes:
        report.add(problem)
    recorded = ledger.meta("head")
    if recorded and not problems:
        seq, _, hash_hex = recorded.partition(":")
        if int(seq) != count or hash_hex != head.hex():
            report.add(f"chain head: the ledger recorded event {seq} as its head but the log ends at event {count}")
    if expect_head and not hmac.compare_digest(head.hex(), expect_head.lower()):
        report.add(f"chain head is {head.hex()[:16]}…, not the expected {expect_head[:16]}… (the log was cut or rewritten)")
    for trigger in ledger.missing_append_only_guards():
        report.add(f"the append-only protection of the log is missing (trigger {trigger} was dropped outside "
                   "leadshare): events can be rewritten; compare the ledger with a backup")
    for problem in ledger.log_protection_problems():
        report.add(problem)
    _check_candidate_sets(ledger, report)
    _check_projections(ledger, report, replay)
    if decisions:
        _rederive(ledger, report)


@dataclass
class _SideChecks:
    integrity: list[str]
    notes: list[str]


def _side_checks_at(path: str, lenient: bool) -> _SideChecks:
    ledger = Ledger.open_readonly(path)
    try:
        if lenient:
            with ledger.lenient_text():
                return _side_checks(ledger)
        return _side_checks(ledger)
    finally:
        ledger.close()


def _side_checks(ledger: Ledger) -> _SideChecks:
    """The checks that need no replay: SQLite's own, and each note against its event's digest."""
    return _SideChecks(ledger.integrity_problems(), _check_notes(ledger))


def _check_notes(ledger: Ledger) -> list[str]:
    notes: list[str] = []
    ledger_salt = ledger.salt
    for note_id, lead, seq, text, data, lead_salt in ledger.notes_with_events():
        try:
            digest = orjson.loads(data)["digest"] if data is not None else None
        except (orjson.JSONDecodeError, KeyError, TypeError):
            notes.append(f"event {seq}: its data is not what a note event holds")
            continue
        if digest is None:
            notes.append(f"note {note_id}: no note event {seq} recorded it")
        elif text is not None and note_digest(lead_salt or ledger_salt, text) != digest:
            notes.append(f"note {note_id} on lead {lead}: its text changed after event {seq} recorded it{_by(ledger, 'notes', note_id)}")
    return notes


def _by(ledger: Ledger, table: str, key: int) -> str:
    """Who last changed the row, where the server keeps it (a PostgreSQL ledger)."""
    login = ledger.last_writer(table, key)
    return f" (row last written by login {login})" if login else ""


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
        self.status, self.sla_reassigns = status, 0
        self.agent = self.rule = self.strategy = self.cands = self.decided_seq = self.assigned_at = None
        self.sla_start = self.sla_due = self.queued_reason = self.closed_at = self.first_contact_at = None
        self.last_note_at = self.status_at = self.warned_at = self.escalated_at = self.forgotten_at = None

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
        self.leave: dict[int, dict] = {}
        # A login's grants as the log records them: the agent it acts as, None once revoked.
        self.signers: dict[str, str | None] = {}

    def read(self, rows, chain: ev.Chain) -> None:
        """One pass over the log: each event is linked into the chain and applied."""
        shared: dict[str, str] = {}  # one import's events repeat their time and SLA strings
        digests: dict[str, bytes] = {}
        link, loads, apply, report = chain.link, orjson.loads, self.apply, self.report
        leads, signers = self.leads, self.signers
        for row in rows:
            link(row)
            seq, at, actor, type_, lead, agent, data_text, _hash, login = row
            if login in signers and signers[login] != actor:
                self._check_signer(seq, login, actor)
            at = shared.setdefault(at, at)
            if type_ == "note":  # the commonest event; its digest is checked beside (_side_checks)
                state = leads.get(lead)
                if state is None:
                    report.add(f"event {seq}: note names lead {lead}, which no event created")
                else:
                    state.last_note_at = at
                continue
            try:
                data = loads(data_text)
                for key in ("sla_due", "sla_start", "rule"):
                    if key in data and isinstance(data[key], str):
                        data[key] = shared.setdefault(data[key], data[key])
                cands = data.get("cands")
                if isinstance(cands, str):  # as the leads table stores it (and one bytes per set)
                    data["cands"] = digests.get(cands) or digests.setdefault(cands, bytes.fromhex(cands))
                apply(seq, at, type_, lead, agent, data)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                report.add(f"event {seq}: its data is not what a {type_} event holds ({type(exc).__name__})")

    def _check_signer(self, seq: int, login: str, actor: str) -> None:
        granted = self.signers[login]
        if granted is None:
            self.report.add(f"event {seq}: written by login {login} after its grant was revoked (in the name of {actor})")
        else:
            self.report.add(f"event {seq}: written by login {login}, which acts as {granted}, in the name of {actor}")

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
        elif type_ in ("login_granted", "login_revoked"):
            self.signers[data["login"]] = agent if type_ == "login_granted" else None
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
        elif type_ == "sla_warning":
            self.leads[lead].warned_at = at
        elif type_ == "escalated":
            self.leads[lead].escalated_at = at
        elif type_ == "forgotten":
            self.leads[lead].forgotten_at = at
            if data.get("row"):  # forgetting changed the stored row: the row from here on
                self.rows[lead] = data["row"]

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
        get, assigned = data.get, type_ == "assigned"  # a million of these: plain assignments
        state.agent, state.rule, state.cands, state.decided_seq = agent, get("rule"), get("cands"), seq
        state.strategy = get("strategy") if assigned else None
        state.assigned_at = at if assigned else None
        state.sla_start, state.sla_due = get("sla_start"), get("sla_due")
        state.queued_reason = None if assigned else get("reason")
        if data.get("kept") and data.get("status") in ("won", "lost"):
            state.closed_at = at
        if type_ == "assigned" and data.get("strategy") in engine.STRATEGIES:
            self.rotation_last[data["rule"]] = agent


def _check_projections(ledger: Ledger, report: Report, replay: "_Replay") -> None:
    _compare_leads(ledger, report, replay)

    for rule, state in ledger.rotation().items():
        if replay.rotation_last.get(rule) != state.last:
            report.add(f"rotation of rule '{rule}': last is {state.last!r} but the log says {replay.rotation_last.get(rule)!r}")
    if ledger.earned_tiers() != replay.tiers:
        report.add("agent tiers differ from what the tiers_applied events recorded")
    for row in ledger.imports(limit=None):
        logged = replay.imports.get(row["batch"])
        if logged is None or any(logged.get(k) != row[k] for k in ("rows", "imported", "duplicates", "rejected", "assigned", "queued")):
            report.add(f"import batch {row['batch']}: its counts differ from the log")
    stored_leave = {r["id"]: {k: r[k] for k in ("agent", "start", "end", "reason", "cancelled_at")}
                    for r in ledger.leave(include_cancelled=True)}
    for leave_id in sorted(set(stored_leave) | set(replay.leave)):
        if stored_leave.get(leave_id) != replay.leave.get(leave_id):
            report.add(f"leave {leave_id}: differs from what the leave events recorded")


# A lead row as verify reads it: the replayed projection, then what the digests cover.
_LEAD_READ = ("id", *REPLAYED, "external_id", "source", "region", "attrs", "batch", "created_at", "pd",
              "name", "phone", "email", "phone_key", "email_key", "salt")
_N = len(REPLAYED)


def _compare_leads(ledger: Ledger, report: Report, replay: _Replay) -> None:
    salt = ledger.salt
    stored_ids = set()
    counted: dict[tuple, int] = {}  # what assignment_counts must hold
    replayed = operator.attrgetter(*REPLAYED)
    at = {c: i + 1 for i, c in enumerate(REPLAYED)}
    status_i, agent_i, assigned_i, cands_i, rule_i, strategy_i, forgotten_i = (
        at["status"], at["agent"], at["assigned_at"], at["cands"], at["rule"], at["strategy"], at["forgotten_at"])
    for row in ledger.lead_rows(_LEAD_READ):
        lead_id = row[0]
        stored_ids.add(lead_id)
        (external_id, source, region, attrs, batch, created_at, pd,
         name, phone, email, phone_key, email_key, lead_salt) = row[_N + 1:]
        if row[agent_i] is not None and row[assigned_i] is not None:
            key = assignment_key(row[assigned_i], row[agent_i], row[cands_i], row[rule_i], row[strategy_i], source,
                                 region, row[status_i])
            counted[key] = counted.get(key, 0) + 1
        state = replay.leads.get(lead_id)
        if state is None:
            report.add(f"lead {lead_id}: in the leads table but no event created it")
            continue
        expected = replayed(state)
        if row[1:_N + 1] != expected:
            for column, value, logged in zip(REPLAYED, row[1:_N + 1], expected):
                if value != logged:
                    report.add(f"lead {lead_id}: {column} is {value!r} but the log says {logged!r}{_by(ledger, 'leads', lead_id)}")
                    break
        pd = pd if isinstance(pd, bytes) else None
        # a lead with its own salt has its external id in `pd`; a forgotten one has none left
        certified_external_id = None if lead_salt is not None else external_id
        if row_digest(certified_external_id, source, region, attrs, batch, created_at, pd) != replay.rows.get(lead_id):
            report.add(f"lead {lead_id}: stored fields differ from what event {ledger.first_event_of(lead_id)} recorded"
                       f"{_by(ledger, 'leads', lead_id)}")
        if row[forgotten_i] is None and pd != _personal(lead_salt, salt, name, phone, email, phone_key, email_key, external_id):
            report.add(f"lead {lead_id}: name, phone or email changed outside leadshare (or its external id)"
                       f"{_by(ledger, 'leads', lead_id)}")
    for lead_id in sorted(set(replay.leads) - stored_ids):
        report.add(f"lead {lead_id}: created by the log but missing from the leads table")
    if ledger.assignment_counts() != counted:
        report.add("assignment counts (what fairness reads) differ from the leads they count; "
                   "they were changed outside leadshare")


def _personal(lead_salt, ledger_salt: bytes, name, phone, email, phone_key, email_key, external_id) -> bytes:
    if lead_salt is not None:
        return personal_digest(lead_salt, name, phone, email, phone_key, email_key, external_id)
    return personal_digest(ledger_salt, name, phone, email, phone_key, email_key)


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
    for seq, at, actor, type_, lead, agent, data_text, _hash, _login in ledger.iter_events():
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
