"""The Matrix side of the bot for unit tests: a fake `Services`, and the bot's router around it.

Only the Matrix layer is fake. The store is a real SQLite file, and the router, command
families, listeners and templates are the bot's own. `FakeServices` records what the bot asks
of the homeserver and answers like Synapse where it matters: the same transaction key gives
the same event id, never a second event. `Harness` makes events and hands them to the router
and the listeners, as the bot does after a sync.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.contract import Joined, Registry, Reply, Words, addressed_text
from bot.events import Event
from bot.families import build_registry
from bot.ids import EventID, RoomID, UserID
from bot.render import Message, Voices
from bot.room_languages import STATE_TYPE, RoomLanguages
from bot.rooms import RoomState
from bot.router import Router
from bot.store import Store

BOT = UserID("@bot:hs")

EVERY_REQUEST = frozenset(
    {
        "leave",
        "send_state",
        "create_space",
        "find_space",
        "invite",
        "join_replacement",
        "send",
        "notice",
        "redact",
        "get_event",
        "send_file",
    }
)
"""Every `Services` method that reaches the homeserver (all but `config`, `store`, `room`)."""


def make_config(data_dir: Path, *, user_id: str = BOT, prefix: str = "!") -> Config:
    return Config(
        homeserver="http://hs",
        user_id=UserID(user_id),
        password=None,
        access_token=None,
        device_id=None,
        data_dir=data_dir,
        command_prefix=prefix,
    )


def room_state(
    room_id: RoomID,
    creator: str,
    *,
    members: Iterable[str] = (),
    powers: Mapping[str, int] | None = None,
    name: str | None = None,
    version: str = "12",
    named: bool = False,
) -> RoomState:
    """A room the bot is in, built from its state events as a sync gives them.

    The creator, `members` and the bot have joined; `powers` are power levels by user. With
    `named`, everyone has a display name: their localpart, capitalised (@bea:hs is Bea).
    """
    room = RoomState(room_id)

    def apply(kind: str, content: dict[str, Any], key: str = "") -> None:
        room.apply(
            Event(
                event_id=EventID(f"$state-{kind}-{key}"),
                room_id=room_id,
                sender=UserID(creator),
                type=kind,
                ts=0,
                content=content,
                state_key=key,
            )
        )

    apply("m.room.create", {"room_version": version})
    apply("m.room.power_levels", {"users": dict(powers or {}), "users_default": 0})
    if name is not None:
        apply("m.room.name", {"name": name})
    for user in dict.fromkeys((creator, *members, BOT)):
        joined: dict[str, Any] = {"membership": "join"}
        if named:
            joined["displayname"] = user[1:].split(":")[0].title()
        apply("m.room.member", joined, key=user)
    return room


START_MS = 1_796_126_400_000
"""Where the fakes' clock starts: Tuesday 1 December 2026, 12:00 UTC."""


@dataclass(frozen=True)
class SendRequest:
    """A `send` the bot asked for (a plain `SendRequest` when the homeserver refused it)."""

    room_id: RoomID
    event_type: str
    content: dict[str, Any]
    txn_key: str
    background: bool


@dataclass(frozen=True)
class Sent(SendRequest):
    """A `send` the homeserver accepted, and the event id it answered."""

    event_id: EventID


@dataclass(frozen=True)
class Noticed:
    """A notice the bot asked for, rendered, and the event id the homeserver answered."""

    room_id: RoomID
    reply: Reply
    message: Message
    txn_key: str
    answering: Event | None
    thread_root: EventID | None
    event_id: EventID
    mentions: tuple[str, ...] = ()


class FakeServices:
    """`bot.contract.registry.Services` without a homeserver: every request is recorded in order.

    Repeats are recorded too, so a test sees when the bot asks twice; like Synapse, a repeat
    with the same transaction key gets the same event id. `sent` is what the rooms hold.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        rooms: Iterable[RoomState] = (),
        *,
        forbid: Iterable[str] = (),
        registry: Registry | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.registry = registry if registry is not None else build_registry()
        self.rooms = {room.room_id: room for room in rooms}
        self.voices = Voices(globals={"prefix": config.command_prefix})
        self.languages = RoomLanguages(store, config.language)
        self.forbid = frozenset(forbid)  # methods that fail the test when called
        self.replacement_answer: Joined = "joined"
        self.replacements_joined: list[tuple[RoomID, RoomID]] = []
        self.refuse: set[str] = set()  # rooms, event types and msgtypes whose sends are refused
        self.events: dict[EventID, Event] = {}  # what `get_event` finds
        self.sends: list[SendRequest] = []
        self.notices: list[Noticed] = []
        self.redacted: list[tuple[RoomID, EventID, str]] = []  # room, event, txn key
        self.state: dict[tuple[str, str, str], dict[str, Any]] = {}  # room, type, state key
        self.spaces: list[tuple[str, str | None, list[str]]] = []  # name, key, invited
        self.invites: list[tuple[RoomID, str]] = []
        self.left: list[RoomID] = []
        self.signals: list[str] = []
        self.files: list[tuple[RoomID, str, bytes, str]] = []  # room, file name, data, txn key
        self.clock = START_MS  # what `now_ms` reads: tests move it
        self._transactions: dict[tuple[str, str], EventID] = {}
        self._made = itertools.count(1)

    @property
    def sent(self) -> list[Sent]:
        """The events `send` made: one per transaction, as Synapse makes them."""
        made: dict[EventID, Sent] = {}
        for sent in self.sends:
            if isinstance(sent, Sent):
                made.setdefault(sent.event_id, sent)
        return list(made.values())

    def render(self, reply: Reply, room_id: RoomID | None = None) -> Message:
        """The message the bot sends for `reply` (in `room_id`'s language): cut to fit one
        event, as `BotServices` cuts it."""
        language = self.languages.of(room_id) if room_id else self.config.language
        return self.voices(language).render_fitted(reply.template, reply.data)

    def _check(self, method: str) -> None:
        if method in self.forbid:
            raise AssertionError(f"{method} was not expected here")

    def _new_event_id(self) -> EventID:
        return EventID(f"$made{next(self._made)}")

    def _transaction(self, txn_key: str, purpose: str) -> EventID:
        """The event of this transaction; the bot's transaction ids pair a key and a purpose."""
        key = (txn_key, purpose)
        if key not in self._transactions:
            self._transactions[key] = self._new_event_id()
        return self._transactions[key]

    # -- Services ---------------------------------------------------------------------------

    def room(self, room_id: RoomID) -> RoomState:
        return self.rooms.setdefault(room_id, RoomState(room_id))

    async def leave(self, room_id: RoomID) -> None:
        self._check("leave")
        self.left.append(room_id)

    async def send_state(
        self, room_id: RoomID, *, event_type: str, state_key: str, content: dict[str, Any]
    ) -> EventID:
        self._check("send_state")
        self.state[(room_id, event_type, state_key)] = content
        return self._new_event_id()

    async def create_space(
        self, *, name: str, topic: str, invite: list[str], key: str | None = None
    ) -> RoomID:
        self._check("create_space")
        self.spaces.append((name, key, invite))
        return RoomID(f"!space{len(self.spaces)}:hs")

    async def find_space(self, key: str) -> RoomID | None:
        self._check("find_space")
        for number, (_, made_with, _) in enumerate(self.spaces, start=1):
            if made_with == key:
                return RoomID(f"!space{number}:hs")
        return None

    async def invite(self, room_id: RoomID, user_id: str) -> None:
        self._check("invite")
        self.invites.append((room_id, user_id))

    async def join_replacement(self, old: RoomID, new: RoomID) -> Joined:
        self._check("join_replacement")
        self.replacements_joined.append((old, new))
        return self.replacement_answer

    async def send(
        self,
        room_id: RoomID,
        *,
        event_type: str,
        content: dict[str, Any],
        txn_key: str,
        background: bool = False,
    ) -> EventID | None:
        self._check("send")
        if {room_id, event_type, content.get("msgtype")} & self.refuse:
            self.sends.append(SendRequest(room_id, event_type, content, txn_key, background))
            return None
        event_id = self._transaction(txn_key, event_type)
        self.sends.append(Sent(room_id, event_type, content, txn_key, background, event_id))
        return event_id

    async def notice(
        self,
        room_id: RoomID,
        reply: Reply,
        *,
        txn_key: str,
        answering: Event | None = None,
        thread_root: EventID | None = None,
        mentions: Sequence[str] = (),
    ) -> EventID | None:
        self._check("notice")
        event_id = self._transaction(txn_key, "reply")
        message = self.render(reply, room_id)
        self.notices.append(
            Noticed(
                room_id, reply, message, txn_key, answering, thread_root, event_id, tuple(mentions)
            )
        )
        return event_id

    async def redact(
        self, room_id: RoomID, event_id: EventID, *, reason: str | None, txn_key: str
    ) -> EventID | None:
        self._check("redact")
        self.redacted.append((room_id, event_id, txn_key))
        return self._transaction(txn_key, "m.room.redaction")

    async def get_event(self, room_id: RoomID, event_id: EventID) -> Event | None:
        self._check("get_event")
        return self.events.get(event_id)

    async def send_file(
        self,
        room_id: RoomID,
        data: bytes,
        *,
        filename: str,
        mimetype: str,
        txn_key: str,
        answering: Event | None = None,
    ) -> EventID | None:
        self._check("send_file")
        if room_id in self.refuse or "m.file" in self.refuse:
            return None
        self.files.append((room_id, filename, data, txn_key))
        return self._transaction(txn_key, "file")

    def signal(self, happening: str) -> None:
        self.signals.append(happening)

    def now_ms(self) -> int:
        return self.clock

    def language(self, room_id: RoomID) -> str:
        return self.languages.of(room_id)

    def own_language(self, room_id: RoomID) -> str | None:
        return self.languages.own(room_id)

    def say(self, room_id: RoomID, words: Words) -> str:
        return self.voices(self.languages.of(room_id)).say(words)

    def message(self, room_id: RoomID, reply: Reply) -> Message:
        return self.voices(self.languages.of(room_id)).render(reply.template, reply.data)

    async def choose_language(self, room_id: RoomID, language: str | None) -> bool:
        await self.languages.choose(room_id, language, now_ms=self.clock)
        content = {"language": language} if language else {}
        await self.send_state(room_id, event_type=STATE_TYPE, state_key="", content=content)
        return True

    async def inherit_language(self, room_id: RoomID, language: str | None) -> bool:
        return await self.languages.inherit(room_id, language, now_ms=self.clock)


class Harness:
    """The bot's router and listeners over a `FakeServices`, and a clock for new events."""

    def __init__(
        self,
        services: FakeServices,
        *,
        registry: Registry | None = None,
        clock: int | None = None,
    ) -> None:
        self.services = services
        self.registry = registry if registry is not None else build_registry()
        self.router = Router(
            registry=self.registry,
            config=services.config,
            store=services.store,
            services=services,
        )
        if clock is not None:
            self.clock = clock
        self._ids = itertools.count(1)

    @property
    def clock(self) -> int:
        """The bot's clock (`Services.now_ms`); each new event moves it a second on."""
        return self.services.clock

    @clock.setter
    def clock(self, ms: int) -> None:
        self.services.clock = ms

    def make_event(
        self,
        room: RoomID,
        sender: str,
        kind: str,
        content: dict[str, Any],
        *,
        event_id: str | None = None,
        redacts: str | None = None,
    ) -> Event:
        """A new event, a second after the one before; `get_event` finds it from now on."""
        self.clock += 1000
        event = Event(
            event_id=EventID(event_id or f"$ev{next(self._ids)}"),
            room_id=room,
            sender=UserID(sender),
            type=kind,
            ts=self.clock,
            content=content,
            redacts=EventID(redacts) if redacts else None,
        )
        self.services.events[event.event_id] = event
        return event

    def addressed(self, event: Event) -> str:
        """The command the bot reads in a message (`Bot._handle_message`); the test fails when
        the bot would take the message for no command at all."""
        config = self.services.config
        room = self.services.room(event.room_id)
        text = addressed_text(
            event,
            prefix=config.command_prefix,
            user_id=config.user_id,
            display_name=room.display_names.get(config.user_id),
        )
        if text is None or event.relates_to.get("rel_type") == "m.replace":
            raise AssertionError(f"the bot takes no command from {event.content!r}")
        return text

    async def route(
        self, event: Event, text: str | None = None, *, then: bool = True
    ) -> tuple[Reply, Message]:
        """A command message as the bot handles it (`Bot._handle_message`, `Bot._reply`): the
        router's reply to `text` (by default the command the bot reads in the event), rendered
        as the bot sends it; then, once it is sent, what the reply says to do next
        (`Reply.then`), unless `then` is False (to look at the moment between). The reply
        itself is not sent: `services.notices` holds only what the families send."""
        if text is None:
            text = self.addressed(event)
        reply = await self.router.route(event, self.services.room(event.room_id), text)
        message = self.services.render(reply, event.room_id)
        if then and reply.then is not None:
            await reply.then()
        return reply, message

    async def answer(
        self,
        room: RoomID,
        sender: str,
        text: str,
        *,
        relates_to: dict[str, Any] | None = None,
        event_id: str | None = None,
        then: bool = True,
    ) -> tuple[Reply, Message]:
        """The bot's answer to the command `text` typed in `room` (after the prefix), handled
        as the bot handles a message (`Bot._handle_event`): the command (see `route`), then
        every listener for room messages. With `then` False, neither `Reply.then` nor the
        listeners run. A listener answering a command fails the test: the bot would send a
        second answer under the same transaction id."""
        prefix = self.services.config.command_prefix
        content: dict[str, Any] = {"msgtype": "m.text", "body": prefix + text}
        if relates_to is not None:
            content["m.relates_to"] = relates_to
        event = self.make_event(room, sender, "m.room.message", content, event_id=event_id)
        answered = await self.route(event, then=then)
        if then:
            replies = await self.listen(event)
            assert replies == [], f"listeners answered a command as well: {replies}"
        return answered

    async def listen(self, event: Event) -> list[Reply]:
        """Every listener for this kind of event, called as the bot calls them; their replies."""
        replies = []
        for listener in self.registry.listeners:
            if event.type in listener.event_types:
                reply = await listener.handler(self.services, event)
                if reply is not None:
                    replies.append(reply)
        return replies


def in_thread(root: str) -> dict[str, Any]:
    """`m.relates_to` of a message in the thread of `root`, as Element sends it."""
    return {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root},
    }


def replying_to(event_id: str) -> dict[str, Any]:
    """`m.relates_to` of a reply to `event_id` outside any thread."""
    return {"m.in_reply_to": {"event_id": event_id}}
