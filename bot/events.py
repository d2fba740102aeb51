"""Plain data for what the bot receives from a sync, independent of matrix-nio's classes.

`bot.matrix` turns nio's objects into these; everything else in multilogue works on them.
An `Event` round-trips through JSON (`to_json`/`from_json`) so it can wait in the inbox.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

from bot.ids import EventID, RoomID, UserID

LATEST_TS: Final = 221_845_392_000_000
"""The year 9000 in milliseconds: later (or unreadable) timestamps are not believed."""

REDACTION: Final = "m.room.redaction"
STATE_TYPES: Final = frozenset(
    {
        "m.room.create",
        "m.room.member",
        "m.room.power_levels",
        "m.room.join_rules",
        "m.room.history_visibility",
        "m.room.guest_access",
        "m.room.name",
        "m.room.topic",
        "m.room.avatar",
        "m.room.canonical_alias",
        "m.room.encryption",
        "m.room.server_acl",
        "m.room.tombstone",
        "m.room.pinned_events",
        "m.room.third_party_invite",
        "m.space.child",
        "m.space.parent",
    }
)
"""Room state types of the spec: only the homeserver's authorised state may carry them."""


def timestamp(value: Any) -> int:
    """An event's `origin_server_ts` as milliseconds every date function can show.

    A server may send anything: not a number counts as 0, and a number is kept between 0 and
    `LATEST_TS`.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return min(max(int(value), 0), LATEST_TS)


def strip_reply_fallback(body: str) -> str:
    """Drop the `> quoted` lines older clients put in front of a reply."""
    lines = body.splitlines()
    if not lines or not lines[0].startswith(">"):
        return body
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    if lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


@dataclass(frozen=True)
class Event:
    event_id: EventID
    room_id: RoomID
    sender: UserID
    type: str
    ts: int
    content: dict[str, Any]
    state_key: str | None = None
    encrypted: bool = False
    redacts: EventID | None = None

    @classmethod
    def from_source(cls, room_id: str, source: dict[str, Any], *, encrypted: bool) -> Event:
        content = source.get("content")
        if not isinstance(content, dict):
            content = {}
        redacts = None
        if source.get("type") == REDACTION:  # top level before room v11, content since
            redacts = source.get("redacts")
            if redacts is None:
                redacts = content.get("redacts")
        state_key = source.get("state_key")
        return cls(
            event_id=EventID(str(source.get("event_id", ""))),
            room_id=RoomID(room_id),
            sender=UserID(str(source.get("sender", ""))),
            type=str(source.get("type", "")),
            ts=timestamp(source.get("origin_server_ts")),
            content=content,
            state_key=state_key if isinstance(state_key, str) else None,
            encrypted=encrypted,
            redacts=EventID(redacts) if isinstance(redacts, str) else None,
        )

    @classmethod
    def from_decrypted(cls, room_id: str, source: dict[str, Any]) -> Event | None:
        """The event a decrypted payload stands for, or None when it claims too much.

        A decrypted event is its sender's own plaintext: nio sets only its `event_id`,
        `sender` and `origin_server_ts`, so a `state_key`, a `redacts` or a `room_id` in it is
        whatever the sender wrote, checked by no server. Honest clients never encrypt state or
        redactions, so a payload of a state type, with a `state_key`, of a redaction, or naming
        another room is a forgery and stands for nothing.
        """
        kind = source.get("type")
        if "state_key" in source or kind in STATE_TYPES or kind == REDACTION:
            return None
        claimed_room = source.get("room_id")
        if claimed_room is not None and claimed_room != room_id:
            return None
        return cls.from_source(room_id, source, encrypted=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "room_id": self.room_id,
            "sender": self.sender,
            "type": self.type,
            "origin_server_ts": self.ts,
            "content": self.content,
            "state_key": self.state_key,
            "encrypted": self.encrypted,
            "redacts": self.redacts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls.from_source(str(data["room_id"]), data, encrypted=bool(data.get("encrypted")))

    @property
    def relates_to(self) -> dict[str, Any]:
        relation = self.content.get("m.relates_to")
        return relation if isinstance(relation, dict) else {}

    @property
    def thread_root(self) -> EventID | None:
        """The thread this event belongs to, if it was sent inside a thread."""
        relation = self.relates_to
        if relation.get("rel_type") == "m.thread" and isinstance(relation.get("event_id"), str):
            return EventID(relation["event_id"])
        return None

    @property
    def reply_to(self) -> EventID | None:
        in_reply_to = self.relates_to.get("m.in_reply_to")
        if isinstance(in_reply_to, dict) and isinstance(in_reply_to.get("event_id"), str):
            # Inside a thread, clients set a fallback reply to the latest event; not a real reply.
            if self.thread_root is not None and self.relates_to.get("is_falling_back"):
                return None
            return EventID(in_reply_to["event_id"])
        return None


@dataclass(frozen=True)
class Undecryptable:
    """An encrypted event whose room key has not arrived (yet)."""

    event_id: EventID
    room_id: RoomID
    session_id: str
    source: dict[str, Any]


@dataclass
class RoomUpdate:
    state: list[Event] = field(default_factory=list)
    timeline: list[Event] = field(default_factory=list)
    undecryptable: list[Undecryptable] = field(default_factory=list)
    limited: bool = False
    prev_batch: str | None = None
    # Indexes in `timeline` of the bot's own invite and join, when they are in this sync.
    invited_at: int | None = None
    joined_at: int | None = None

    def first_new_event(self) -> int:
        """Where the events the bot should answer begin, when it joined in this sync.

        Commands typed after the bot was invited are answered (people type `!help` right
        after inviting it); anything older is history from before the bot was asked in.
        """
        if self.joined_at is None:
            return 0
        if self.invited_at is not None and self.invited_at < self.joined_at:
            return self.invited_at + 1
        if self.limited:
            return 0  # the invite is older than this sync shows: everything here came after
        return self.joined_at + 1


@dataclass(frozen=True)
class Invite:
    room_id: RoomID
    inviter: UserID | None
    room_name: str | None


@dataclass
class SyncBatch:
    next_batch: str
    joined: dict[RoomID, RoomUpdate] = field(default_factory=dict)
    invites: list[Invite] = field(default_factory=list)
    left: list[RoomID] = field(default_factory=list)
    received_room_keys: bool = False
