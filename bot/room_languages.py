"""The language the bot speaks in each room, kept in the store and in memory.

A room has its own language when its moderators chose one (`!language es`), or the default
of an alliance it belongs to, which never replaces a room's own choice; otherwise the bot
speaks `MULTILOGUE_LANGUAGE`. Every message is rendered in its room's language, so the
answer must be known at once: the whole table is read when the bot starts (one row per room
at most) and kept in memory, and each change is written before it is used.

A room's own choice is also room state (:data:`STATE_TYPE`), written by the bot where it may,
so that a bot installed afresh finds it. The state the homeserver sends is adopted when it
differs from the store: a moderator may also set it by hand.
"""

from __future__ import annotations

import logging
from typing import Final

from bot import languages
from bot.ids import RoomID
from bot.store import Store

log = logging.getLogger(__name__)

STATE_TYPE: Final = "org.multilogue.language"
"""Room state holding the room's own language: `{"language": "es"}`, state key ""."""


class RoomLanguages:
    def __init__(self, store: Store, default: str) -> None:
        self._store = store
        self.default = default
        self._chosen: dict[RoomID, tuple[str, bool]] = {}  # room -> (language, own)

    async def load(self) -> None:
        rows = await self._store.fetch_all("SELECT room_id, language, own FROM room_languages")
        self._chosen = {
            RoomID(row[0]): (str(row[1]), bool(row[2]))
            for row in rows
            if languages.is_shipped(str(row[1]))
        }

    def of(self, room_id: RoomID) -> str:
        chosen = self._chosen.get(room_id)
        return chosen[0] if chosen else self.default

    def own(self, room_id: RoomID) -> str | None:
        """The language the room chose itself, if it did."""
        chosen = self._chosen.get(room_id)
        return chosen[0] if chosen and chosen[1] else None

    async def choose(self, room_id: RoomID, language: str | None, *, now_ms: int) -> None:
        """The room's own choice (None: back to its alliance's default or the bot's)."""
        if language is None:
            await self._store.write("DELETE FROM room_languages WHERE room_id = ?", (room_id,))
            self._chosen.pop(room_id, None)
            return
        self._check(language)
        await self._store.write(
            "INSERT INTO room_languages (room_id, language, own, changed_at) VALUES (?, ?, 1, ?)"
            " ON CONFLICT (room_id) DO UPDATE SET language = excluded.language, own = 1,"
            " changed_at = excluded.changed_at",
            (room_id, language, now_ms),
        )
        self._chosen[room_id] = (language, True)

    async def inherit(self, room_id: RoomID, language: str | None, *, now_ms: int) -> bool:
        """An alliance's default for the room (None: no default), unless the room chose its
        own language. True when what the room hears changed."""
        chosen = self._chosen.get(room_id)
        if chosen and chosen[1]:
            return False
        if language is None:
            if chosen is None:
                return False
            await self._store.write(
                "DELETE FROM room_languages WHERE room_id = ? AND own = 0", (room_id,)
            )
            self._chosen.pop(room_id, None)
            return True
        self._check(language)
        if chosen == (language, False):
            return False
        await self._store.write(
            "INSERT INTO room_languages (room_id, language, own, changed_at) VALUES (?, ?, 0, ?)"
            " ON CONFLICT (room_id) DO UPDATE SET language = excluded.language,"
            " changed_at = excluded.changed_at WHERE own = 0",
            (room_id, language, now_ms),
        )
        self._chosen[room_id] = (language, False)
        return True

    async def adopt(self, room_id: RoomID, content: object, *, now_ms: int) -> None:
        """The room's language state as the homeserver sent it: taken as the room's own
        choice when it names a language the bot speaks and differs from what is stored."""
        language = content.get("language") if isinstance(content, dict) else None
        if not isinstance(language, str) or not languages.is_shipped(language):
            return
        if self.own(room_id) != language:
            log.info("Room %s has chosen the language %s in its state", room_id, language)
            await self.choose(room_id, language, now_ms=now_ms)

    @staticmethod
    def _check(language: str) -> None:
        if not languages.is_shipped(language):
            raise ValueError(f"multilogue does not speak {language!r}")
