"""Power levels, computed by the bot from a room's current state.

matrix-nio's helpers get room version 12 wrong (creators show as level 0) and merge old
power levels into new ones, so multilogue evaluates the latest `m.room.power_levels`
content itself, replacing (never merging) what it knew before.

Rules (Matrix spec, client-server API, "m.room.power_levels"; MSC4289 for v12):
- In room versions 12 and later, the sender of `m.room.create` and every user listed in
  its `content.additional_creators` have unlimited power, whatever power_levels says.
- Otherwise a user's level is `users[user_id]`, else `users_default` (default 0).
- With no power_levels event at all, the room creator has 100 and everyone else 0.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

MODERATOR_LEVEL = 50
UNLIMITED = math.inf


class Power(enum.IntEnum):
    """What a command needs. Ordered: each includes the ones before it."""

    MEMBER = 0
    MODERATOR = 1
    ADMIN = 2


POWER_NAMES = {
    Power.MEMBER: "power.anyone",
    Power.MODERATOR: "power.moderators",
    Power.ADMIN: "power.creators",
}
"""Who holds each power, by the key of its words in `templates/refusals/power.txt`."""
ADMIN_IN_OLDER_ROOMS = "power.creators_in_newer_rooms"
"""Who holds `Power.ADMIN` in a room of a version before 12 (nobody: only later versions give
creators unlimited power), by the key of its words."""


def who_may(power: Power, *, room_version: str) -> str:
    """Who holds `power` in a room of this version: the key of the words naming them (the
    caller makes it `Words(key)`; this module is plain data, below the contract)."""
    if power == Power.ADMIN and not creators_have_unlimited_power(room_version):
        return ADMIN_IN_OLDER_ROOMS
    return POWER_NAMES[power]


def _as_int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def creators_have_unlimited_power(room_version: str) -> bool:
    """True for room versions 12 and later (and the unstable 'hydra' versions)."""
    if room_version.startswith("org.matrix.hydra"):
        return True
    return room_version.isdigit() and int(room_version) >= 12


def room_creators(create_sender: str, create_content: Mapping[str, Any]) -> frozenset[str]:
    extra = create_content.get("additional_creators")
    creators = {create_sender}
    if isinstance(extra, list):
        creators.update(item for item in extra if isinstance(item, str))
    return frozenset(creators)


def user_level(
    user_id: str,
    *,
    create_sender: str,
    create_content: Mapping[str, Any],
    power_levels: Mapping[str, Any] | None,
) -> float:
    """The user's power level in the room; `UNLIMITED` for v12 creators."""
    version = str(create_content.get("room_version", "1"))
    if creators_have_unlimited_power(version) and user_id in room_creators(
        create_sender, create_content
    ):
        return UNLIMITED
    if power_levels is None:
        return 100 if user_id == create_sender else 0
    users = power_levels.get("users")
    if isinstance(users, Mapping) and user_id in users:
        return _as_int(users[user_id], 0)
    return _as_int(power_levels.get("users_default"), 0)


def state_level_needed(power_levels: Mapping[str, Any] | None, event_type: str) -> int:
    """The level a state event of this type needs (the spec's rule: its own entry in
    `events`, else `state_default`, which is 50, or 0 when the room has no power levels)."""
    if power_levels is None:
        return 0
    events = power_levels.get("events")
    if isinstance(events, Mapping) and event_type in events:
        return _as_int(events[event_type], 50)
    return _as_int(power_levels.get("state_default"), 50)


def redact_level_needed(power_levels: Mapping[str, Any] | None) -> int:
    """The level needed to remove other people's events (the spec's `redact`, default 50)."""
    return _as_int((power_levels or {}).get("redact"), MODERATOR_LEVEL)


def power_of(level: float) -> Power:
    """The command power a user holds in a room: from the room's own power levels only.

    Being a bot admin (`MULTILOGUE_ADMINS`) gives none: the power to act for a movement or a
    commons stays with that room's own moderators and creators.
    """
    if level == UNLIMITED:
        return Power.ADMIN
    if level >= MODERATOR_LEVEL:
        return Power.MODERATOR
    return Power.MEMBER
