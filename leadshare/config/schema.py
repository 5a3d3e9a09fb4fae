"""The rules file's shape as strict pydantic models: every key, its type and its check.

Unknown keys are errors (`extra="forbid"`) and nothing is coerced (`strict=True`): `capacity: "5"`
is a mistake to report, not a number to guess.
"""

from __future__ import annotations

from typing import Annotated, Any

import holidays as holidays_pkg
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from leadshare.config.hours import Hours
from leadshare.config.values import (
    AfterHours,
    AgentId,
    Duration,
    Fallback,
    OnBreach,
    Role,
    Strategy,
    Text,
    check_email,
    check_fraction,
    check_holiday_country,
    check_leave_entry,
    check_non_negative,
    check_phone_region,
    check_pool,
    check_port,
    check_positive_number,
    check_timezone,
    check_url,
    check_when_values,
    shown,
    suggest,
)


class StrictSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class HolidaysSpec(StrictSpec):
    country: Annotated[str, AfterValidator(check_holiday_country)]
    subdiv: Text | None = None

    @model_validator(mode="after")
    def _check_subdiv(self) -> "HolidaysSpec":
        if self.subdiv is None:
            return self
        for candidate in dict.fromkeys((self.subdiv, self.subdiv.upper())):
            try:
                holidays_pkg.country_holidays(self.country, subdiv=candidate)
            except NotImplementedError:
                continue
            self.subdiv = candidate
            return self
        entity = type(holidays_pkg.country_holidays(self.country))
        codes = list(getattr(entity, "subdivisions", ()))
        aliases = getattr(entity, "subdivisions_aliases", {}) or {}
        options = [a for a in aliases if a.upper() == a and " " not in a] + codes
        if not options:
            raise ValueError(f"subdiv {shown(self.subdiv)}: {self.country} has no subdivisions; remove subdiv")
        listed = ", ".join(options[:24]) + (", ..." if len(options) > 24 else "")
        raise ValueError(f"subdiv {shown(self.subdiv)} is not a subdivision of {self.country}"
                         f"{suggest(self.subdiv.upper(), options)} (one of {listed})")


class SlaSpec(StrictSpec):
    first_contact: Duration = None
    on_breach: OnBreach = "reassign"
    max_reassign: Annotated[int, AfterValidator(check_non_negative)] = 2


class SmtpSpec(StrictSpec):
    host: Text
    port: Annotated[int, AfterValidator(check_port)] | None = None
    from_: Annotated[str, AfterValidator(check_email)] = Field(alias="from")
    starttls: bool = False


class NotifySpec(StrictSpec):
    command: Text | None = None
    smtp: SmtpSpec | None = None
    webhook: Annotated[str, AfterValidator(check_url)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [k for k in ("command", "smtp", "webhook") if data.get(k) is not None]
            if len(given) != 1:
                got = f" (got {', '.join(given)})" if given else ""
                raise ValueError(f"give exactly one channel: command, smtp or webhook{got}")
        return data


class TierSpec(StrictSpec):
    weight: Annotated[float, AfterValidator(check_positive_number)]
    min_conversion: Annotated[float, AfterValidator(check_fraction)] | None = None
    max_first_contact: Duration = None
    min_closed: Annotated[int, AfterValidator(check_non_negative)] | None = None
    period: Duration = None

    @model_validator(mode="after")
    def _period_needs_criteria(self) -> "TierSpec":
        if self.period is not None and not self.criteria_given():
            raise ValueError("period is set but no criterion is; add min_conversion, max_first_contact or "
                             "min_closed (or remove period)")
        return self

    def criteria_given(self) -> bool:
        return any(v is not None for v in (self.min_conversion, self.max_first_contact, self.min_closed))


class AgentSpec(StrictSpec):
    id: AgentId
    name: Text | None = None
    role: Role = "agent"
    territories: list[Text] | None = None
    skills: list[Text] | None = None
    tier: Text | None = None
    capacity: Annotated[int, AfterValidator(check_non_negative)] | None = None
    hours: Hours | None = None
    leave: list[Annotated[Any, AfterValidator(check_leave_entry)]] | None = None
    active: bool = True
    email: Annotated[str, AfterValidator(check_email)] | None = None
    phone: Text | None = None


class RuleSpec(StrictSpec):
    name: Text
    when: dict[Text, Annotated[Any, AfterValidator(check_when_values)]] | None = None
    pool: Annotated[Any, AfterValidator(check_pool)]
    strategy: Strategy = "round_robin"
    fallback: Fallback = "queue"


class RulesFile(StrictSpec):
    timezone: Annotated[str, AfterValidator(check_timezone)] = "UTC"
    phone_region: Annotated[str, AfterValidator(check_phone_region)] = "MY"
    holidays: HolidaysSpec | None = None
    hours: Hours | None = None
    after_hours: AfterHours = "assign"
    statuses: list[Text] | None = None
    require_note: list[Text] | None = None
    sla: SlaSpec | None = None
    notify: NotifySpec | None = None
    tiers: dict[Text, TierSpec] | None = None
    agents: list[AgentSpec] | None = None
    rules: list[RuleSpec] | None = None
