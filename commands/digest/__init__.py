"""The digest family: what happened in an alliance this week, in one notice.

`digests` gathers and posts the digest (`!digest` now, and each week in the commons and in the
movement rooms that ask for it, by its timer); `schedule` is the pure time arithmetic of a weekly
slot in the bot's time zone; `store` its SQL. It reads what the alliance, council and relay
families record, and offers its settings to `!alliance set` and `!rules set`.
"""

from __future__ import annotations

from typing import Final

from bot.contract import N_, Command, Flag, Registry, Timer
from commands import polls
from commands.alliance.settings import SETTINGS
from commands.alliance.shared import ALLIANCE_FLAG
from commands.digest.digests import (
    DigestSetting,
    QuietSetting,
    RoomDigestSetting,
    digest_command,
    post_due,
)
from commands.digest.store import move_room

__all__ = ["move_room", "register"]

CHECK_S: Final = 60.0


def register(registry: Registry) -> None:
    registry.family("digest", N_("Digests"), order=45)
    registry.add(
        Command(
            name="digest",
            family="digest",
            summary=N_("What happened in the alliance in the last 7 days"),
            handler=digest_command,
            flags=(Flag("days", "N", N_("look back N days instead of 7")), ALLIANCE_FLAG),
            help=N_(
                "Proposals opened, closing soon and closed; statements changed (what changed, "
                "word by word); endorsements; new and busy shared threads; movements that "
                "joined or left, and those that have decided nothing for a long time. "
                "'{prefix}alliance set digest weekly' posts it in the commons every Monday at "
                "9:00 ('weekly friday 17' for another time, 'off' to stop); "
                "'{prefix}rules set digest weekly' posts it in a movement's room too."
            ),
            examples=("{prefix}digest", "{prefix}digest --days 30"),
        )
    )
    registry.offer(SETTINGS, DigestSetting(), QuietSetting())
    registry.offer(polls.ROOM_SETTINGS, RoomDigestSetting())
    registry.every(Timer("digests", CHECK_S, post_due))
