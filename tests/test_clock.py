"""The clock: LEADSHARE_NOW, WHEN values, storage timestamps, working hours, holidays and leave."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadshare import clock
from leadshare.clock import Calendar, from_iso, now, parse_duration, parse_when, to_utc_iso
from leadshare.errors import LeadshareError
from leadshare.models import Agent, Team

KL = ZoneInfo("Asia/Kuala_Lumpur")
LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc


def week(mon=(), tue=(), wed=(), thu=(), fri=(), sat=(), sun=()):
    return (mon, tue, wed, thu, fri, sat, sun)


NINE_TO_SIX = ((540, 1080),)
OFFICE = week(*[NINE_TO_SIX] * 5)  # mon-fri 09:00-18:00
OFFICE_SAT = week(*[NINE_TO_SIX] * 5, sat=((540, 780),))  # plus sat 09:00-13:00
NIGHTS = ((0, 360), (1320, 1440))  # 00:00-06:00 and 22:00-24:00 every day
NIGHT_WEEK = week(*[NIGHTS] * 7)


def team(tz="Asia/Kuala_Lumpur", hours=OFFICE, country=None, subdiv=None):
    return Team(timezone=tz, hours=hours, holiday_country=country, holiday_subdiv=subdiv)


def agent(**kw):
    return Agent(id=kw.pop("id", "aisyah"), name=kw.pop("name", "Aisyah Rahman"), **kw)


def utc(dt):
    """Compare instants through UTC: Python's == between two times in one zone ignores `fold`,
    and a time in the repeated hour never equals a time in another zone (PEP 495)."""
    return None if dt is None else dt.astimezone(UTC)


def kl(text):
    return datetime.fromisoformat(text).replace(tzinfo=KL)


def ldn(text):
    return clock.localize(datetime.fromisoformat(text), LONDON)


# --- now() and LEADSHARE_NOW -------------------------------------------------------------------


def test_now_uses_the_real_clock_when_leadshare_now_is_unset(monkeypatch):
    monkeypatch.delenv("LEADSHARE_NOW", raising=False)
    got = now("Asia/Kuala_Lumpur")
    assert got.tzinfo is not None and got.utcoffset() == timedelta(hours=8)
    assert abs(got - datetime.now(UTC)) < timedelta(seconds=5)


def test_now_treats_an_empty_leadshare_now_as_unset(monkeypatch):
    monkeypatch.setenv("LEADSHARE_NOW", "  ")
    assert abs(now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_naive_leadshare_now_is_team_wall_clock(monkeypatch):
    monkeypatch.setenv("LEADSHARE_NOW", "2026-11-25T15:00")
    got = now("Asia/Kuala_Lumpur")
    assert got == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert got.isoformat() == "2026-11-25T15:00:00+08:00"


def test_aware_leadshare_now_is_converted_to_the_zone(monkeypatch):
    monkeypatch.setenv("LEADSHARE_NOW", "2026-11-25T09:00:00+01:00")
    assert now("Asia/Kuala_Lumpur").isoformat() == "2026-11-25T16:00:00+08:00"


def test_leadshare_now_accepts_z(monkeypatch):
    monkeypatch.setenv("LEADSHARE_NOW", "2026-11-25T07:00:00Z")
    assert now("Asia/Kuala_Lumpur").isoformat() == "2026-11-25T15:00:00+08:00"
    assert now().isoformat() == "2026-11-25T07:00:00+00:00"


def test_leadshare_now_may_be_a_date(monkeypatch):
    monkeypatch.setenv("LEADSHARE_NOW", "2026-11-25")
    assert now("Asia/Kuala_Lumpur").isoformat() == "2026-11-25T00:00:00+08:00"


def test_naive_leadshare_now_in_a_dst_zone_uses_that_days_offset(monkeypatch):
    monkeypatch.setenv("LEADSHARE_NOW", "2026-07-01T09:00")
    assert now("Europe/London").isoformat() == "2026-07-01T09:00:00+01:00"


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01", "25/11/2026 09:00", "2026-11-25T25:00"])
def test_bad_leadshare_now_names_the_variable_and_the_form(monkeypatch, bad):
    monkeypatch.setenv("LEADSHARE_NOW", bad)
    with pytest.raises(LeadshareError) as err:
        now("Asia/Kuala_Lumpur")
    assert "LEADSHARE_NOW" in err.value.message
    assert bad in err.value.message
    assert "2026-11-25T09:00" in err.value.hint


def test_unknown_time_zone_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("LEADSHARE_NOW", raising=False)
    with pytest.raises(LeadshareError, match="Mars/Olympus"):
        now("Mars/Olympus")


# --- WHEN ----------------------------------------------------------------------------------------

NOW_KL = kl("2026-11-25T15:30:00")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-01", "2026-11-01T00:00:00+08:00"),
        ("2026-11-01T09:15", "2026-11-01T09:15:00+08:00"),
        ("2026-11-01 09:15:30", "2026-11-01T09:15:30+08:00"),
        ("2026-11-01T01:00:00Z", "2026-11-01T09:00:00+08:00"),
        ("2026-11-01T09:00:00+01:00", "2026-11-01T16:00:00+08:00"),
        ("7d", "2026-11-18T15:30:00+08:00"),
        ("24h", "2026-11-24T15:30:00+08:00"),
        ("4w", "2026-10-28T15:30:00+08:00"),
        ("30m", "2026-11-25T15:00:00+08:00"),
        (" 7D ", "2026-11-18T15:30:00+08:00"),
        ("now", "2026-11-25T15:30:00+08:00"),
        ("today", "2026-11-25T00:00:00+08:00"),
        ("yesterday", "2026-11-24T00:00:00+08:00"),
    ],
)
def test_parse_when(text, expected):
    got = parse_when(text, NOW_KL)
    assert got.isoformat() == expected
    assert got.tzinfo is not None


@pytest.mark.parametrize("bad", ["garbage", "", "7 days", "-7d", "2026-02-30", "2026-11-25T99:00", "d7"])
def test_parse_when_rejects_garbage_with_a_hint(bad):
    with pytest.raises(LeadshareError) as err:
        parse_when(bad, NOW_KL)
    assert "7d" in err.value.hint and "2026-11-25" in err.value.hint


def test_day_spans_step_back_on_the_calendar_and_hour_spans_in_real_time():
    sunday_noon = ldn("2026-03-29T12:00")  # the clocks went forward at 01:00 GMT this morning
    assert parse_when("1d", sunday_noon).isoformat() == "2026-03-28T12:00:00+00:00"
    assert parse_when("24h", sunday_noon).isoformat() == "2026-03-28T11:00:00+00:00"


def test_parse_duration_is_unchanged():
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("4h") == timedelta(hours=4)
    assert parse_duration("1.5d") == timedelta(hours=36)
    assert parse_duration("4w") == timedelta(weeks=4)
    with pytest.raises(LeadshareError):
        parse_duration("4 hours")


# --- storage form ------------------------------------------------------------------------------


def test_to_utc_iso_is_utc_with_seconds():
    assert to_utc_iso(kl("2026-11-25T15:00:00.987654")) == "2026-11-25T07:00:00+00:00"
    assert to_utc_iso(ldn("2026-07-01T09:00")) == "2026-07-01T08:00:00+00:00"


def test_to_utc_iso_refuses_naive():
    with pytest.raises(ValueError):
        to_utc_iso(datetime(2026, 11, 25, 7))


def test_from_iso_is_the_inverse():
    text = "2026-11-25T07:00:00+00:00"
    got = from_iso(text)
    assert got == datetime(2026, 11, 25, 7, tzinfo=UTC) and got.tzinfo is not None
    assert to_utc_iso(got) == text
    assert from_iso("2026-11-25T15:00:00+08:00") == got
    assert from_iso("2026-11-25T07:00:00Z") == got
    assert from_iso("2026-11-25T07:00:00") == got  # naive storage values are UTC
    with pytest.raises(LeadshareError):
        from_iso("not a time")


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_storage_round_trip(dt):
    assert from_iso(to_utc_iso(dt)) == dt.replace(microsecond=0)


# --- hours ---------------------------------------------------------------------------------------


def test_agent_hours_replace_the_teams_entirely():
    cal = Calendar(team(hours=OFFICE_SAT))
    own = week(*[((600, 1140),)] * 5)
    assert cal.hours_for(agent()) == OFFICE_SAT
    assert cal.hours_for(agent(hours=own)) == own
    # Saturday is a team working day but not this agent's
    assert cal.off_duty_reason(agent(), kl("2026-11-21T10:00")) is None
    assert cal.off_duty_reason(agent(hours=own), kl("2026-11-21T10:00")) == "off duty until Mon 10:00"
    assert cal.add_working_time(agent(hours=own), kl("2026-11-20T18:30"), timedelta(hours=1)) == kl(
        "2026-11-23T10:30"
    )


ADD_CASES = [
    # (zone, hours, start, duration, expected due, what it shows)
    ("Asia/Kuala_Lumpur", OFFICE, "2026-11-20T17:00", "4h", "2026-11-23T12:00", "weekend skipped"),
    ("Asia/Kuala_Lumpur", OFFICE_SAT, "2026-11-20T17:00", "4h", "2026-11-21T12:00", "saturday hours"),
    ("Asia/Kuala_Lumpur", OFFICE, "2026-11-23T07:00", "1h", "2026-11-23T10:00", "before hours"),
    ("Asia/Kuala_Lumpur", OFFICE, "2026-11-23T10:00", "2h", "2026-11-23T12:00", "inside hours"),
    ("Asia/Kuala_Lumpur", OFFICE, "2026-11-23T14:00", "4h", "2026-11-23T18:00", "ends at closing"),
    ("Asia/Kuala_Lumpur", OFFICE, "2026-11-23T14:00", "14h", "2026-11-25T10:00", "over two nights"),
    ("Asia/Kuala_Lumpur", OFFICE, "2026-11-21T03:00", "30m", "2026-11-23T09:30", "from the weekend"),
    ("Asia/Kuala_Lumpur", OFFICE, "2026-11-23T10:00", "0m", "2026-11-23T10:00", "nothing to add"),
    ("Asia/Kuala_Lumpur", NIGHT_WEEK, "2026-11-23T23:00", "2h", "2026-11-24T01:00", "through midnight"),
    ("Asia/Kuala_Lumpur", NIGHT_WEEK, "2026-11-23T12:00", "3h", "2026-11-24T01:00", "night shift"),
    ("Asia/Kuala_Lumpur", NIGHT_WEEK, "2026-11-23T05:00", "2h", "2026-11-23T23:00", "across the day"),
    # London: clocks go forward at 01:00 GMT on Sun 29 March 2026 and back at 01:00 GMT on 25 Oct
    ("Europe/London", OFFICE, "2026-03-27T17:00", "2h", "2026-03-30T10:00", "weekend with DST"),
    ("Europe/London", NIGHT_WEEK, "2026-03-28T22:00", "7h", "2026-03-29T06:00", "short night"),
    ("Europe/London", NIGHT_WEEK, "2026-03-28T22:00", "8h", "2026-03-29T23:00", "after short night"),
    ("Europe/London", NIGHT_WEEK, "2026-10-24T22:00", "9h", "2026-10-25T06:00", "long night"),
    ("Europe/London", NIGHT_WEEK, "2026-10-24T23:00", "2h", "2026-10-25T01:00", "first 01:00"),
    ("Europe/London", NIGHT_WEEK, "2026-10-24T23:00", "3h", "2026-10-25T01:00+00:00", "second 01:00"),
]


@pytest.mark.parametrize("tz, hours, start, duration, expected, label", ADD_CASES, ids=[c[-1] for c in ADD_CASES])
def test_add_working_time(tz, hours, start, duration, expected, label):
    zone = ZoneInfo(tz)
    cal = Calendar(team(tz=tz, hours=hours))
    begin = clock.localize(datetime.fromisoformat(start), zone)
    want = datetime.fromisoformat(expected)
    want = clock.localize(want, zone) if want.tzinfo is None else want
    got = cal.add_working_time(agent(), begin, parse_duration(duration))
    assert utc(got) == utc(want)
    assert got.tzinfo is not None and got.utcoffset() == want.utcoffset()
    assert cal.working_time_between(agent(), begin, got) == parse_duration(duration)


def test_dst_changes_count_real_hours():
    cal = Calendar(team(tz="Europe/London", hours=NIGHT_WEEK))
    a = agent()
    assert cal.working_time_between(a, ldn("2026-03-28T22:00"), ldn("2026-03-29T06:00")) == timedelta(hours=7)
    assert cal.working_time_between(a, ldn("2026-10-24T22:00"), ldn("2026-10-25T06:00")) == timedelta(hours=9)
    assert cal.working_time_between(a, ldn("2026-07-04T22:00"), ldn("2026-07-05T06:00")) == timedelta(hours=8)


def test_a_working_interval_inside_the_spring_gap_starts_when_the_clocks_jump():
    # 01:30-03:00 on the day 01:00-02:00 does not exist: work runs from 02:00 BST to 03:00 BST
    hours = week(sun=((90, 180),))
    cal = Calendar(team(tz="Europe/London", hours=hours))
    assert cal.next_on_duty(agent(), ldn("2026-03-29T00:30")).isoformat() == "2026-03-29T02:00:00+01:00"
    assert cal.working_time_between(agent(), ldn("2026-03-29T00:00"), ldn("2026-03-29T12:00")) == timedelta(hours=1)


def test_working_time_between():
    cal = Calendar(team(hours=OFFICE))
    a = agent()
    assert cal.working_time_between(a, kl("2026-11-20T17:00"), kl("2026-11-23T12:00")) == timedelta(hours=4)
    assert cal.working_time_between(a, kl("2026-11-23T00:00"), kl("2026-11-30T00:00")) == timedelta(hours=45)
    assert cal.working_time_between(a, kl("2026-11-23T12:00"), kl("2026-11-23T11:00")) == timedelta(0)
    assert cal.working_time_between(a, kl("2026-11-21T00:00"), kl("2026-11-22T23:59")) == timedelta(0)


def test_naive_times_are_team_wall_clock():
    cal = Calendar(team(hours=OFFICE))
    assert cal.add_working_time(agent(), datetime(2026, 11, 20, 17), timedelta(hours=4)) == kl("2026-11-23T12:00")


def test_results_are_in_the_team_zone_whatever_zone_came_in():
    cal = Calendar(team(hours=OFFICE))
    got = cal.add_working_time(agent(), datetime(2026, 11, 20, 9, tzinfo=UTC), timedelta(hours=4))
    assert got.isoformat() == "2026-11-23T12:00:00+08:00"
    assert cal.next_on_duty(agent(), datetime(2026, 11, 23, 2, tzinfo=UTC)).isoformat() == "2026-11-23T10:00:00+08:00"


def test_an_agent_without_hours_is_never_on_duty():
    cal = Calendar(team(hours=OFFICE))
    nobody = agent(hours=())
    at = kl("2026-11-23T10:00")
    assert cal.next_on_duty(nobody, at) is None
    assert cal.add_working_time(nobody, at, timedelta(hours=1)) is None
    assert cal.working_time_between(nobody, at, at + timedelta(days=7)) == timedelta(0)
    assert cal.off_duty_reason(nobody, at) == "no working hours"
    assert Calendar(team(hours=())).next_on_duty(agent(), at) is None


def test_negative_durations_are_refused():
    with pytest.raises(ValueError):
        Calendar(team()).add_working_time(agent(), kl("2026-11-23T10:00"), timedelta(hours=-1))


# --- next_on_duty and off_duty_reason -----------------------------------------------------------


def test_next_on_duty():
    cal = Calendar(team(hours=OFFICE))
    a = agent()
    assert cal.next_on_duty(a, kl("2026-11-23T09:00")) == kl("2026-11-23T09:00")
    assert cal.next_on_duty(a, kl("2026-11-23T17:59:59")) == kl("2026-11-23T17:59:59")
    assert cal.next_on_duty(a, kl("2026-11-23T18:00")) == kl("2026-11-24T09:00")  # [start, end)
    assert cal.next_on_duty(a, kl("2026-11-21T12:00")) == kl("2026-11-23T09:00")
    nights = Calendar(team(hours=NIGHT_WEEK))
    assert nights.next_on_duty(a, kl("2026-11-24T00:00")) == kl("2026-11-24T00:00")  # continuous at midnight


OFF_DUTY_CASES = [
    ("2026-11-23T10:00", None),
    ("2026-11-23T09:00", None),
    ("2026-11-23T07:00", "off duty until Mon 09:00"),
    ("2026-11-23T18:00", "off duty until Tue 09:00"),
    ("2026-11-20T19:00", "off duty until Sat 09:00"),
    ("2026-11-21T13:00", "off duty until Mon 09:00"),
    ("2026-11-22T23:59", "off duty until Mon 09:00"),
    ("2026-08-31T10:00", "public holiday: National Day"),
    ("2026-08-30T20:00", "off duty until Tue 09:00"),  # Sunday evening before the holiday
    ("2026-09-16T10:00", "public holiday: Malaysia Day"),
]


@pytest.mark.parametrize("at, reason", OFF_DUTY_CASES)
def test_off_duty_reason(at, reason):
    cal = Calendar(team(hours=OFFICE_SAT, country="MY", subdiv="KUL"))
    assert cal.off_duty_reason(agent(), kl(at)) == reason


def test_off_duty_reason_gives_the_date_when_the_next_start_is_a_week_away():
    mondays = week(mon=((540, 570),))
    cal = Calendar(team(hours=mondays))
    assert cal.off_duty_reason(agent(), kl("2026-11-30T10:00")) == "off duty until Mon 2026-12-07 09:00"
    assert cal.off_duty_reason(agent(), kl("2026-12-01T10:00")) == "off duty until Mon 09:00"  # six days on


def test_off_duty_reason_uses_the_team_zone():
    cal = Calendar(team(tz="Europe/London", hours=OFFICE))
    # 08:30 UTC on Monday 6 July is 09:30 in London (BST)
    assert cal.off_duty_reason(agent(), datetime(2026, 7, 6, 8, 30, tzinfo=UTC)) is None
    assert cal.off_duty_reason(agent(), datetime(2026, 7, 6, 7, 30, tzinfo=UTC)) == "off duty until Mon 09:00"


# --- holidays ------------------------------------------------------------------------------------


def test_holiday_names_come_from_the_holidays_package():
    cal = Calendar(team(country="MY", subdiv="KUL"))
    assert cal.holiday(date(2026, 8, 31)) == "National Day"
    assert cal.holiday(date(2026, 12, 25)) == "Christmas Day"
    assert cal.holiday(date(2027, 8, 31)) == "National Day"
    assert cal.holiday(date(2026, 8, 28)) is None


def test_no_holidays_configured_means_none():
    cal = Calendar(team())
    assert cal.holiday(date(2026, 8, 31)) is None
    assert cal.off_duty_reason(agent(), kl("2026-08-31T10:00")) is None


def test_public_holidays_are_off_duty_for_everyone():
    cal = Calendar(team(hours=OFFICE, country="MY", subdiv="KUL"))
    own = agent(hours=week(*[((600, 1140),)] * 7))
    # Friday 17:00 + 4h: Monday 31 August is National Day, so the time runs on Tuesday
    assert cal.add_working_time(agent(), kl("2026-08-28T17:00"), timedelta(hours=4)) == kl("2026-09-01T12:00")
    assert cal.next_on_duty(own, kl("2026-08-31T12:00")) == kl("2026-09-01T10:00")
    assert cal.working_time_between(own, kl("2026-08-31T00:00"), kl("2026-09-01T00:00")) == timedelta(0)


def test_unknown_holiday_country_is_a_clear_error():
    with pytest.raises(LeadshareError, match="holidays"):
        Calendar(team(country="XX")).holiday(date(2026, 1, 1))


# --- leave ---------------------------------------------------------------------------------------

D = date.fromisoformat


def test_leave_from_the_rules_file():
    cal = Calendar(team())
    a = agent(leave=((D("2026-12-01"), D("2026-12-05")), (D("2026-12-24"), D("2026-12-24"))))
    assert cal.leave_until(a, kl("2026-11-30T23:59")) is None
    assert cal.leave_until(a, kl("2026-12-01T00:00")) == D("2026-12-05")
    assert cal.leave_until(a, kl("2026-12-05T23:59")) == D("2026-12-05")
    assert cal.leave_until(a, kl("2026-12-06T00:00")) is None
    assert cal.leave_until(a, kl("2026-12-24T12:00")) == D("2026-12-24")


def test_leave_from_the_ledger_adds_to_the_rules_file():
    cal = Calendar(team())
    a = agent(leave=((D("2026-12-01"), D("2026-12-05")),))
    extra = [(D("2026-12-10"), D("2026-12-11"))]
    assert cal.leave_until(a, kl("2026-12-10T09:00"), extra) == D("2026-12-11")
    assert cal.leave_until(agent(), kl("2026-12-10T09:00"), iter(extra)) == D("2026-12-11")
    assert cal.leave_until(a, kl("2026-12-08T09:00"), extra) is None


def test_touching_and_overlapping_leave_merges_into_one_return_day():
    cal = Calendar(team())
    a = agent(leave=((D("2026-12-01"), D("2026-12-05")),))
    extra = [(D("2026-12-06"), D("2026-12-08")), (D("2026-12-07"), D("2026-12-12")), (D("2026-12-20"), D("2026-12-21"))]
    assert cal.leave_until(a, kl("2026-12-02T09:00"), extra) == D("2026-12-12")
    assert cal.leave_until(a, kl("2026-12-12T09:00"), extra) == D("2026-12-12")
    assert cal.leave_until(a, kl("2026-12-20T09:00"), extra) == D("2026-12-21")
    # a day's gap keeps them apart
    assert cal.leave_until(a, kl("2026-12-02T09:00"), [(D("2026-12-07"), D("2026-12-09"))]) == D("2026-12-05")


def test_leave_uses_the_date_in_the_team_zone():
    cal = Calendar(team())
    a = agent(leave=((D("2026-12-01"), D("2026-12-01")),))
    assert cal.leave_until(a, datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == D("2026-12-01")  # 01:00 in KL
    assert cal.leave_until(a, datetime(2026, 12, 1, 16, 0, tzinfo=UTC)) is None  # 00:00 on 2 December in KL


# --- properties ----------------------------------------------------------------------------------

SETUPS = {
    "kl office": Calendar(team(hours=OFFICE_SAT, country="MY", subdiv="KUL")),
    "london office": Calendar(team(tz="Europe/London", hours=OFFICE)),
    "london nights": Calendar(team(tz="Europe/London", hours=NIGHT_WEEK)),
    "new york split": Calendar(
        team(tz="America/New_York", hours=week(*[((480, 720), (780, 1020))] * 5, sat=((0, 90), (1380, 1440))))
    ),
}

# London changes at 01:00 UTC, New York at 07:00 and 06:00 UTC; shifts end or start near them
DST_CHANGES = [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC),
               datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)]
starts = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.builds(lambda t, m: t + timedelta(minutes=m), st.sampled_from(DST_CHANGES), st.integers(-3000, 600)),
)
spans = st.integers(min_value=0, max_value=60 * 24 * 20).map(lambda m: timedelta(minutes=m))
setups = st.sampled_from(sorted(SETUPS))


@settings(max_examples=300, deadline=None)
@given(setups, starts, spans, spans)
def test_adding_working_time_in_two_steps_is_adding_it_at_once(name, start, a, b):
    cal, who = SETUPS[name], agent()
    mid = cal.add_working_time(who, start, a)
    assert utc(cal.add_working_time(who, start, a + b)) == utc(cal.add_working_time(who, mid, b))


@settings(max_examples=300, deadline=None)
@given(setups, starts, spans)
def test_working_time_between_inverts_add_working_time(name, start, d):
    cal, who = SETUPS[name], agent()
    due = cal.add_working_time(who, start, d)
    assert utc(due) >= start
    assert cal.working_time_between(who, start, due) == d
    if d:
        # due is the earliest such moment: the agent was on duty just before it
        assert cal.working_time_between(who, start, utc(due) - timedelta(microseconds=1)) < d


@settings(max_examples=300, deadline=None)
@given(setups, starts, spans)
def test_next_on_duty_agrees_with_off_duty_reason(name, at, _):
    cal, who = SETUPS[name], agent()
    nxt = cal.next_on_duty(who, at)
    assert utc(nxt) >= at
    assert (cal.off_duty_reason(who, at) is None) == (utc(nxt) == at)
    assert cal.off_duty_reason(who, nxt) is None
    assert cal.working_time_between(who, at, nxt) == timedelta(0)


# --- layering ------------------------------------------------------------------------------------


def test_clock_imports_stay_light():
    code = (
        "import sys, leadshare.clock; "
        "bad = [m for m in ('typer', 'rich', 'sqlite3', 'holidays') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
