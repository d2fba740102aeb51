"""Reading ``--closes`` values and showing closing times."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from commands.polls.deadlines import DeadlineError, format_deadline, parse_deadline
from tests.unit.words import refused, said

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
# Saturday 28 March 2026, 12:00 UTC = 13:00 in Berlin, the day before clocks go forward there.
NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
FORMS = "Use a duration such as 48h, 3d, 90m or 1w, or a date and time such as 2026-12-01 18:00"


def parse(text: str, *, now: datetime = NOW, tz: ZoneInfo = BERLIN) -> datetime:
    return parse_deadline(text, now=now, tz=tz)


# --- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("90m", timedelta(minutes=90)),
        ("1m", timedelta(minutes=1)),
        ("48h", timedelta(hours=48)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("52w", timedelta(weeks=52)),
        ("365d", timedelta(days=365)),
        ("8760h", timedelta(days=365)),
        ("525600m", timedelta(days=365)),
        ("48 h", timedelta(hours=48)),
        ("  48H ", timedelta(hours=48)),
        ("007d", timedelta(days=7)),
    ],
)
def test_durations_count_from_now(text: str, delta: timedelta) -> None:
    assert parse(text) == NOW + delta


def test_a_duration_is_elapsed_time_across_a_clock_change() -> None:
    # Clocks in Berlin go forward on 29 March 2026: one day later is 14:00 there, not 13:00.
    when = parse("1d")
    assert when == NOW + timedelta(hours=24)
    assert format_deadline(when, BERLIN) == "Sun 29 Mar 2026, 14:00 (Europe/Berlin)"


def test_a_duration_keeps_the_exact_moment() -> None:
    now = datetime(2026, 3, 28, 12, 0, 30, 123456, tzinfo=UTC)
    assert parse("90m", now=now) == now + timedelta(minutes=90)


def test_now_may_be_in_any_zone() -> None:
    now = NOW.astimezone(timezone(timedelta(hours=-7)))
    assert parse("48h", now=now) == NOW + timedelta(hours=48)


@pytest.mark.parametrize("text", ["0h", "0m", "000d", "-3d", "-0h", "-2 h"])
def test_a_duration_must_be_above_zero(text: str) -> None:
    with refused(DeadlineError, "The poll must stay open for some time: give a number"):
        parse(text)


@pytest.mark.parametrize(
    "text", ["366d", "53w", "8761h", "525601m", "9999999999w", "9" * 5000 + "d"]
)
def test_a_duration_is_at_most_365_days(text: str) -> None:
    with refused(DeadlineError, r"That is too far ahead: .* at most 365 days"):
        parse(text)


# --- dates and times ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz", "utc"),
    [
        ("2026-12-01 18:00", BERLIN, datetime(2026, 12, 1, 17, 0)),
        ("2026-12-01T18:00", BERLIN, datetime(2026, 12, 1, 17, 0)),
        ("2026-12-01t18:00", BERLIN, datetime(2026, 12, 1, 17, 0)),
        ("2026-12-01   18:00", BERLIN, datetime(2026, 12, 1, 17, 0)),
        ("2026-12-01 9:05", BERLIN, datetime(2026, 12, 1, 8, 5)),
        ("2026-07-01 18:00", BERLIN, datetime(2026, 7, 1, 16, 0)),
        ("2026-12-01 18:00", UTC_ZONE, datetime(2026, 12, 1, 18, 0)),
        ("2026-12-01 18:00", NEW_YORK, datetime(2026, 12, 1, 23, 0)),
        ("2026-12-01 00:00", BERLIN, datetime(2026, 11, 30, 23, 0)),
        ("2026-12-01", BERLIN, datetime(2026, 12, 1, 22, 59)),
        ("2026-12-01", UTC_ZONE, datetime(2026, 12, 1, 23, 59)),
        ("2026-12-01", NEW_YORK, datetime(2026, 12, 2, 4, 59)),
        ("2026-4-1", UTC_ZONE, datetime(2026, 4, 1, 23, 59)),
    ],
)
def test_dates_and_times_are_read_in_the_given_zone(text: str, tz: ZoneInfo, utc: datetime) -> None:
    assert parse(text, tz=tz) == utc.replace(tzinfo=UTC)


def test_a_date_alone_means_the_end_of_that_day_even_today() -> None:
    assert parse("2026-03-28") == datetime(2026, 3, 28, 22, 59, tzinfo=UTC)


@pytest.mark.parametrize("text", ["48h", "2026-12-01 18:00", "2026-12-01"])
def test_the_result_is_aware_utc(text: str) -> None:
    when = parse(text, tz=NEW_YORK)
    assert when.tzinfo is UTC


def test_a_time_skipped_by_the_clocks_going_forward_is_refused() -> None:
    with pytest.raises(DeadlineError) as caught:
        parse("2026-03-29 02:30")
    assert said(caught.value) == (
        "2026-03-29 02:30 does not exist in Europe/Berlin: the clocks go forward then. "
        "Please choose another time."
    )


def test_the_times_around_the_skipped_hour_are_fine() -> None:
    assert parse("2026-03-29 01:59") == datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    assert parse("2026-03-29 03:00") == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_time_that_happens_twice_means_the_first() -> None:
    # Clocks in Berlin go back from 03:00 to 02:00 on 25 October 2026.
    assert parse("2026-10-25 02:30") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["2026-02-30", "2026-13-01", "2026-00-10", "2026-12-01 24:00", "2026-12-01 18:60"],
)
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(DeadlineError) as caught:
        parse(text)
    assert said(caught.value).startswith(f"There is no such date or time as '{text}'. {FORMS}")


# --- the window: future, at most a year ---------------------------------------------------------

PASSED = (
    "That time has already passed: it is now Sat 28 Mar 2026, 13:00 (Europe/Berlin). "
    "Give a later time, or a duration such as 48h."
)


@pytest.mark.parametrize(
    "text",
    ["2026-03-28 13:00", "2026-03-28 12:59", "2026-03-27", "2025-12-01 18:00", "0001-01-01"],
)
def test_a_time_not_in_the_future_has_passed(text: str) -> None:
    with pytest.raises(DeadlineError) as caught:
        parse(text)
    assert said(caught.value) == PASSED


def test_one_minute_ahead_is_in_the_future() -> None:
    assert parse("2026-03-28 13:01") == datetime(2026, 3, 28, 12, 1, tzinfo=UTC)


def test_the_passed_message_names_the_zone() -> None:
    with refused(DeadlineError, r"it is now Sat 28 Mar 2026, 08:00 \(America/New_York\)"):
        parse("2026-03-28 07:00", tz=NEW_YORK)


@pytest.mark.parametrize(
    ("text", "tz"),
    [
        ("2027-03-28 12:01", UTC_ZONE),
        ("2027-03-28 14:01", BERLIN),
        ("2027-12-01", BERLIN),
        ("9999-12-31", NEW_YORK),
        ("9999-12-31 23:59", ZoneInfo("Pacific/Kiritimati")),
    ],
)
def test_a_date_more_than_365_days_ahead_is_refused(text: str, tz: ZoneInfo) -> None:
    with refused(DeadlineError, "That is too far ahead"):
        parse(text, tz=tz)


def test_a_date_exactly_365_days_ahead_is_fine() -> None:
    assert parse("2027-03-28 12:00", tz=UTC_ZONE) == NOW + timedelta(days=365)
    # 28 March 2027 is already summer time in Berlin: 14:00 there is 12:00 UTC.
    assert parse("2027-03-28 14:00") == NOW + timedelta(days=365)


# --- what cannot be read ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "tomorrow",
        "48",
        "h",
        "48x",
        "1.5h",
        "48hours",
        "2026/12/01",
        "01-12-2026",
        "18:00",
        "48h 3d",
    ],
)
def test_unreadable_text_lists_the_accepted_forms(text: str) -> None:
    with pytest.raises(DeadlineError) as caught:
        parse(text)
    assert said(caught.value) == (
        f"I can't read '{text}' as a closing time. {FORMS} or 2026-12-01 (which means 23:59 "
        "that day). Dates and times are in Europe/Berlin."
    )


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_value_asks_for_a_time(text: str) -> None:
    with refused(DeadlineError, f"^Please say when the poll closes. {FORMS}"):
        parse(text)


def test_long_unreadable_text_is_shortened_in_the_message() -> None:
    with pytest.raises(DeadlineError) as caught:
        parse("x" * 500)
    assert f"I can't read '{'x' * 39}…' as a closing time." in said(caught.value)


def test_deadline_errors_are_value_errors() -> None:
    assert issubclass(DeadlineError, ValueError)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware") as caught:
        parse("48h", now=datetime(2026, 3, 28, 12, 0))
    assert not isinstance(caught.value, DeadlineError)


# --- format_deadline ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "tz", "text"),
    [
        (datetime(2026, 12, 1, 17, 0, tzinfo=UTC), BERLIN, "Tue 1 Dec 2026, 18:00 (Europe/Berlin)"),
        (datetime(2026, 12, 1, 17, 0, tzinfo=UTC), UTC_ZONE, "Tue 1 Dec 2026, 17:00 (UTC)"),
        (
            datetime(2026, 12, 1, 3, 5, tzinfo=UTC),
            NEW_YORK,
            "Mon 30 Nov 2026, 22:05 (America/New_York)",
        ),
        (datetime(2026, 7, 4, 23, 59, tzinfo=UTC), UTC_ZONE, "Sat 4 Jul 2026, 23:59 (UTC)"),
        (
            datetime(2027, 1, 10, 8, 30, 59, tzinfo=UTC),
            BERLIN,
            "Sun 10 Jan 2027, 09:30 (Europe/Berlin)",
        ),
        (
            datetime(2026, 12, 1, 18, 0, tzinfo=timezone(timedelta(hours=1))),
            BERLIN,
            "Tue 1 Dec 2026, 18:00 (Europe/Berlin)",
        ),
    ],
)
def test_format_deadline(when: datetime, tz: ZoneInfo, text: str) -> None:
    assert format_deadline(when, tz) == text


def test_format_deadline_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="when must be timezone-aware"):
        format_deadline(datetime(2026, 12, 1, 18, 0), BERLIN)


@pytest.mark.parametrize("text", ["2026-12-01 18:00", "2026-06-15 07:45", "2027-01-01 00:00"])
@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK, UTC_ZONE, ZoneInfo("Asia/Kolkata")])
def test_a_date_and_time_reads_back_as_written(text: str, tz: ZoneInfo) -> None:
    shown = format_deadline(parse(text, tz=tz), tz)
    day = datetime.strptime(text, "%Y-%m-%d %H:%M")
    assert f" {day.day} " in shown
    assert shown.endswith(f" {day.year}, {text[11:]} ({tz.key})")
