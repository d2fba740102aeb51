"""When a weekly digest is due: pure time arithmetic in the bot's time zone, no Matrix.

A digest goes out each week on a weekday at an hour, local time (`MULTILOGUE_TIMEZONE`), so it
keeps its local hour across daylight-saving changes. Its "slot" is that moment in UTC ms: a
slot is posted once, and after downtime only the latest slot that has passed is (one digest,
not one per missed week).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.contract import Words

DAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEK_MS: Final = 7 * 24 * 3600 * 1000
_HOUR: Final = re.compile(r"(\d{1,2})(?::00|h|:00h)?")


class ScheduleError(Exception):
    """What is wrong with a schedule as typed, in words for the person."""

    def __init__(self, key: str, **data: object) -> None:
        super().__init__(key)
        self.words = Words(key, data)


@dataclass(frozen=True)
class Weekly:
    weekday: int
    """0 is Monday."""
    hour: int


DEFAULT: Final = Weekly(0, 9)


def parse_weekly(words: list[str], *, current: Weekly = DEFAULT) -> Weekly:
    """`[day] [hour]` after `weekly`, in any order: `friday 17`, `17:00`, `mon`; what is not
    given stays as it is."""
    weekday, hour = current.weekday, current.hour
    for word in words:
        day = _day(word)
        if day is not None:
            weekday = day
            continue
        match = _HOUR.fullmatch(word)
        if match is None:
            if re.fullmatch(r"\d{1,2}[:.]\d{2}h?", word):
                raise ScheduleError("digest.on_the_hour", typed=word)
            raise ScheduleError("digest.weekly_is", typed=word[:20])
        if int(match[1]) > 23:
            raise ScheduleError("digest.weekly_is", typed=word[:20])
        hour = int(match[1])
    return Weekly(weekday, hour)


def _day(word: str) -> int | None:
    if len(word) < 3:
        return None
    for number, day in enumerate(DAYS):
        if day.startswith(word):
            return number
    return None


def latest_slot(now_ms: int, tz: ZoneInfo, weekly: Weekly) -> int:
    """The latest moment at or before `now_ms` that is `weekly`'s weekday and hour, local time."""
    local = datetime.fromtimestamp(now_ms / 1000, tz)
    day = local.date() - timedelta(days=(local.weekday() - weekly.weekday) % 7)
    while True:
        slot = int(datetime.combine(day, time(weekly.hour), tzinfo=tz).timestamp() * 1000)
        if slot <= now_ms:
            return slot
        day -= timedelta(days=7)


def next_slot(now_ms: int, tz: ZoneInfo, weekly: Weekly) -> int:
    """The first such moment after `now_ms`."""
    local = datetime.fromtimestamp(now_ms / 1000, tz)
    day = local.date() + timedelta(days=(weekly.weekday - local.weekday()) % 7)
    while True:
        slot = int(datetime.combine(day, time(weekly.hour), tzinfo=tz).timestamp() * 1000)
        if slot > now_ms:
            return slot
        day += timedelta(days=7)
