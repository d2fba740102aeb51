"""What the bot knows of each joined room's current state, kept from the sync.

Filled from the full state of the first sync after each start, then from every state
event in later syncs. Nothing here is merged: a new state event replaces the old one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.events import Event
from bot.ids import RoomID, UserID
from bot.permissions import (
    Power,
    power_of,
    redact_level_needed,
    state_level_needed,
    user_level,
)


@dataclass
class RoomState:
    room_id: RoomID
    create_sender: str = ""
    create_content: dict[str, Any] = field(default_factory=dict)
    power_levels: dict[str, Any] | None = None
    name: str | None = None
    encrypted: bool = False
    members: dict[str, str] = field(default_factory=dict)  # user id -> membership
    display_names: dict[str, str] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        if event.state_key is None:
            return
        content = event.content
        if event.type == "m.room.create":
            self.create_sender = event.sender
            self.create_content = dict(content)
        elif event.type == "m.room.power_levels" and event.state_key == "":
            self.power_levels = dict(content)
        elif event.type == "m.room.name" and event.state_key == "":
            name = content.get("name")
            self.name = name if isinstance(name, str) and name.strip() else None
        elif event.type == "m.room.encryption" and event.state_key == "":
            self.encrypted = True
        elif event.type == "m.room.member":
            membership = content.get("membership")
            self.members[event.state_key] = str(membership)
            displayname = content.get("displayname")
            if membership == "join" and isinstance(displayname, str) and displayname:
                self.display_names[event.state_key] = displayname
            else:
                self.display_names.pop(event.state_key, None)

    @property
    def version(self) -> str:
        return str(self.create_content.get("room_version", "1"))

    def level(self, user_id: str) -> float:
        return user_level(
            user_id,
            create_sender=self.create_sender,
            create_content=self.create_content,
            power_levels=self.power_levels,
        )

    def may_send_state(self, user_id: str, event_type: str) -> bool:
        """Whether the user may send state events of this type here (as the server judges)."""
        return self.level(user_id) >= state_level_needed(self.power_levels, event_type)

    def may_redact_others(self, user_id: str) -> bool:
        """Whether the user may remove other people's events here (the room's `redact` level).

        What the spec asks a client to check before it believes a redaction of someone else's
        event: the redaction auth rules only compare the servers of the two senders.
        """
        return self.level(user_id) >= redact_level_needed(self.power_levels)

    def power(self, user_id: str) -> Power:
        return power_of(self.level(user_id))

    def joined(self) -> list[UserID]:
        return [UserID(user) for user, state in self.members.items() if state == "join"]

    def display_name(self, user_id: str) -> str:
        return self.display_names.get(user_id) or user_id


class Rooms:
    """The state of every room the bot is in."""

    def __init__(self) -> None:
        self._rooms: dict[RoomID, RoomState] = {}

    def get(self, room_id: RoomID) -> RoomState:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = RoomState(room_id)
        return room

    def apply(self, room_id: RoomID, events: Iterable[Event]) -> None:
        room = self.get(room_id)
        for event in events:
            room.apply(event)

    def forget(self, room_id: RoomID) -> None:
        self._rooms.pop(room_id, None)

    def __contains__(self, room_id: object) -> bool:
        return room_id in self._rooms

    def __len__(self) -> int:
        return len(self._rooms)
