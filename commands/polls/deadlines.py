"""Reading and showing poll closing times (the ``--closes`` option).

Domain logic: no clock is read here; the caller passes ``now``. No Matrix. The words (the
refusals, and how a time or a length of time reads) are in `templates/refusals/deadlines.txt`.

Accepted forms (case and extra spaces do not matter):

- A duration from now: a whole number and a unit, ``m`` (minutes), ``h`` (hours), ``d`` (days) or
  ``w`` (weeks): ``90m``, ``48h``, ``48 h``, ``3d``, ``1w``. It is elapsed time, so ``1d`` is
  always 24 hours, even across a daylight saving change.
- A date and time on the wall clock of the given time zone: ``2026-12-01 18:00`` (or with ``T``
  instead of the space), or a date alone, ``2026-12-01``, which means 23:59 that day.

Decisions:

- The closing time must be strictly after ``now``; otherwise it has already passed.
- It may be at most 365 days after ``now``, for both forms (a later date is almost surely a typo).
- A wall-clock time that does not exist because the clocks go forward is refused, rather than
  silently moved by an hour. A time that happens twice because the clocks go back means the
  first of the two.
- The result is an aware datetime in UTC, to the microsecond for durations (``now`` plus the
  duration) and to the minute for dates and times.

Every :class:`DeadlineError` is meant to be shown to people: its `words` say what is wrong.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot.contract import Refusal, Words, short
from bot.languages import Moment

_RELATIVE_RE: Final = re.compile(r"(-?\d+) ?([mhdw])")
_ABSOLUTE_RE: Final = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?: ?t ?| )(\d{1,2}):(\d{2}))?")
_UNIT_MINUTES: Final = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
_MAX_AHEAD: Final = timedelta(days=365)
_END_OF_DAY: Final = time(23, 59)
_UNITS: Final = (("week", 7 * 24 * 60), ("day", 24 * 60), ("hour", 60), ("minute", 1))


class DeadlineError(Refusal, ValueError):
    """A closing time that cannot be used; its `words` tell the poll's author why."""


def parse_deadline(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """Read a closing time; return it as an aware UTC datetime or raise :class:`DeadlineError`.

    ``now`` must be timezone-aware (any zone); ``tz`` is the zone dates and times are read in.
    """
    _require_aware(now, "now")
    words = " ".join(text.lower().split())
    if not words:
        raise DeadlineError("deadlines.say_when")
    if match := _RELATIVE_RE.fullmatch(words):
        when = now.astimezone(UTC) + _duration(match[1], match[2])
    elif match := _ABSOLUTE_RE.fullmatch(words):
        when = _wall_clock(match, now=now, tz=tz)
    else:
        raise DeadlineError("deadlines.unreadable", typed=short(text, 40), zone=tz.key)
    _check_window(when, now=now, tz=tz)
    return when


def parse_duration(text: str) -> timedelta:
    """A duration such as ``3d`` or ``36h`` on its own (how long something stays open)."""
    words = " ".join(text.lower().split())
    match = _RELATIVE_RE.fullmatch(words)
    if match is None:
        raise DeadlineError("deadlines.unreadable_duration", typed=short(text, 40))
    return _duration(match[1], match[2])


def duration_parts(seconds: int) -> dict[str, Any]:
    """A length of time in its largest whole unit: ``{"count": 3, "unit": "day"}`` (the unit is
    ``week``, ``day``, ``hour``, ``minute``, or ``second`` when it is no whole minute)."""
    minutes = seconds // 60
    for unit, size in _UNITS:
        if minutes % size == 0 and minutes >= size:
            return {"count": minutes // size, "unit": unit}
    return {"count": seconds, "unit": "second"}


def duration_words(seconds: int) -> Words:
    """``3 days``, ``36 hours``, ``90 minutes``, ``2 weeks``: the largest whole unit."""
    return Words("deadlines.duration", duration_parts(seconds))


def moment_parts(when: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """``when`` on the wall clock of ``tz``, as the `deadlines.moment` words take it."""
    return {"at": format_deadline(when, tz)}


def format_deadline(when: datetime, tz: ZoneInfo) -> Moment:
    """``when`` on the wall clock of ``tz``, e.g. ``Tue 1 Dec 2026, 18:00 (Europe/Berlin)``
    (and as each room's language writes it, when a message shows it)."""
    _require_aware(when, "when")
    return Moment(when.astimezone(tz), tz.key)


def _duration(number: str, unit: str) -> timedelta:
    """The duration of ``<number><unit>``, refusing zero, negative and over-long ones."""
    digits = number.lstrip("0")
    if number.startswith("-") or not digits:
        raise DeadlineError("deadlines.not_positive")
    if len(digits) > 9 or timedelta(minutes=int(digits) * _UNIT_MINUTES[unit]) > _MAX_AHEAD:
        raise _too_far()
    return timedelta(minutes=int(digits) * _UNIT_MINUTES[unit])


def _wall_clock(match: re.Match[str], *, now: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a date (and time) read on the wall clock of ``tz``."""
    year, month, day, hour, minute = match.groups()
    try:
        naive = datetime(int(year), int(month), int(day))
        moment = time(int(hour), int(minute)) if hour is not None else _END_OF_DAY
    except ValueError:
        raise DeadlineError("deadlines.no_such_date", typed=match[0]) from None
    naive = datetime.combine(naive.date(), moment)
    _check_roughly_in_window(naive, now=now, tz=tz)
    local = naive.replace(tzinfo=tz)
    when = local.astimezone(UTC)
    if when.astimezone(tz).replace(tzinfo=None) != naive:
        raise DeadlineError("deadlines.skipped_time", time=f"{naive:%Y-%m-%d %H:%M}", zone=tz.key)
    return when


def _check_roughly_in_window(naive: datetime, *, now: datetime, tz: ZoneInfo) -> None:
    """Refuse wall-clock times far outside the window before converting them.

    Converting a date like 9999-12-31 to UTC could overflow; no zone is 2 days off UTC.
    """
    local_now = now.astimezone(tz).replace(tzinfo=None)
    if naive - local_now > _MAX_AHEAD + timedelta(days=2):
        raise _too_far()
    if naive - local_now < -timedelta(days=2):
        raise _passed(now, tz)


def _check_window(when: datetime, *, now: datetime, tz: ZoneInfo) -> None:
    if when <= now:
        raise _passed(now, tz)
    if when - now > _MAX_AHEAD:
        raise _too_far()


def _passed(now: datetime, tz: ZoneInfo) -> DeadlineError:
    return DeadlineError("deadlines.passed", now=moment_parts(now, tz))


def _too_far() -> DeadlineError:
    return DeadlineError("deadlines.too_far")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
