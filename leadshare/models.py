"""Plain values shared by every layer. Frozen, so a decision can be stored and replayed as is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Mapping

# Minutes since midnight, [start, end) with end up to 1440; one tuple of intervals per weekday,
# Monday first. A day with no interval is off.
Interval = tuple[int, int]
WeeklyHours = tuple[tuple[Interval, ...], ...]

CLOSED_STATUSES = ("won", "lost")


@dataclass(frozen=True)
class Tier:
    name: str
    weight: float
    # How the tier is earned (issue: earned tiers); empty means it is only given by hand.
    criteria: Mapping[str, float] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    role: str = "agent"  # agent | manager
    territories: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    tier: str | None = None
    weight: float = 1.0  # the tier's weight, 1.0 without a tier
    capacity: int | None = None  # most open leads at once; None is no limit
    hours: WeeklyHours | None = None  # None: the team's hours
    leave: tuple[tuple[date, date], ...] = ()  # inclusive date ranges in the team time zone
    active: bool = True
    email: str | None = None
    phone: str | None = None
    line: int = 0

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


@dataclass(frozen=True)
class Pool:
    kind: str  # all | skills | territory
    skills: tuple[str, ...] = ()
    field: str | None = None  # for kind == territory: the lead field holding the region


@dataclass(frozen=True)
class Rule:
    name: str
    pool: Pool
    strategy: str = "round_robin"  # round_robin | weighted | least_loaded
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, accepted values), all must match
    fallback: str = "queue"  # queue | next
    line: int = 0


@dataclass(frozen=True)
class Sla:
    first_contact: timedelta | None = None  # working time from assignment to first contact
    on_breach: str = "reassign"  # reassign | notify
    max_reassign: int = 2


@dataclass(frozen=True)
class NotifyChannel:
    kind: str  # command | smtp | webhook
    command: str | None = None  # resolved against the rules file's folder
    url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_starttls: bool = False


@dataclass(frozen=True)
class Team:
    timezone: str = "UTC"
    phone_region: str = "MY"
    holiday_country: str | None = None
    holiday_subdiv: str | None = None
    # Public holidays already worked out, by year: the rules cache keeps the years around its
    # writing, so a command run from the cache needs no calendar package (0.1 s to import).
    holiday_years: Mapping[int, Mapping[date, str]] = field(default_factory=dict, compare=False)
    hours: WeeklyHours = ()
    after_hours: str = "assign"  # assign | queue
    statuses: tuple[str, ...] = ("new", "contacted", "qualified", "won", "lost")
    require_note: tuple[str, ...] = ()
    sla: Sla = Sla()
    notify: NotifyChannel | None = None
    tiers: Mapping[str, Tier] = field(default_factory=dict)
    agents: tuple[Agent, ...] = ()
    rules: tuple[Rule, ...] = ()
    path: str = ""
    content_hash: str = ""  # sha256 hex of the file's bytes: the rules version
    text: str = ""

    def agent(self, agent_id: str) -> Agent | None:
        """By id, ignoring case as the rules file's uniqueness check does (`Pau` is `pau`)."""
        for a in self.agents:
            if a.id == agent_id:
                return a
        folded = agent_id.casefold()
        return next((a for a in self.agents if a.id.casefold() == folded), None)

    def find(self, agent_id: str) -> Agent:
        """The agent, or a NotFound naming the roster."""
        agent = self.agent(agent_id)
        if agent is None:
            from leadshare.errors import NotFound

            raise NotFound(f"no agent '{agent_id}' in {self.path}", "agents: " + ", ".join(a.id for a in self.agents))
        return agent

    @property
    def closed_statuses(self) -> tuple[str, ...]:
        return CLOSED_STATUSES

    @property
    def open_statuses(self) -> tuple[str, ...]:
        return tuple(s for s in self.statuses if s not in CLOSED_STATUSES)


@dataclass(frozen=True)
class Candidate:
    agent: str
    eligible: bool
    reason: str | None = None
    weight: float = 1.0  # the agent's weight when decided, so expected shares need no other input


@dataclass(frozen=True)
class Decision:
    """Everything an assignment was decided on and what it decided; stored whole, replayable."""

    agent: str | None  # the chosen owner; None means the lead waits in the queue
    rule: str | None
    strategy: str | None
    candidates: tuple[Candidate, ...] = ()
    queued_reason: str | None = None
    skipped: tuple[tuple[str, str], ...] = ()  # (rule, why it did not decide), in rule order
    state: Mapping[str, object] = field(default_factory=dict)  # rotation or load state it chose from
    returning: bool = False  # offered to the customer's previous owner
    off_duty: bool = False  # assigned after hours: the SLA clock starts at the owner's next working hour


@dataclass(frozen=True)
class RuleState:
    """Where a rule's rotation stands, kept in the ledger between imports."""

    last: str | None = None  # the agent the rule chose last
    roster: tuple[str, ...] = ()  # roster order when `last` was chosen (to continue if they leave)
    current: Mapping[str, int] = field(default_factory=dict)  # smooth weighted round-robin values
