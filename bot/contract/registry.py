"""Commands declared as data, and the registry that holds them.

A command is a `Command` value: its name (one or two words, `poll close`), aliases,
parameters and flags, one-line and long help, examples, the power it needs and the
async handler that runs it. Usage lines and help are generated from these fields, so
they never drift from what the router accepts.

A handler receives a `Context` and the parsed `Args` and returns a `Reply`: the name of
a template pair plus the values to fill it with. Handlers never send anything
themselves. To refuse, a handler raises `CommandError` with the key of a sentence in a
message catalogue (`templates/refusals/`) and the values it needs.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.contract.message import Message
from bot.permissions import Power

if TYPE_CHECKING:
    from bot.config import Config
    from bot.events import Event
    from bot.ids import EventID, RoomID
    from bot.rooms import RoomState
    from bot.store import Store

PREFIX_MARK = "{prefix}"


@dataclass(frozen=True)
class Reply:
    """What to answer: a template pair in `templates/` and the values it needs."""

    template: str
    data: Mapping[str, Any] = field(default_factory=dict)
    # Something to do once the reply has been sent (for example, leave the room).
    then: Callable[[], Awaitable[None]] | None = field(default=None, compare=False)


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools know
    """Marks `message` (a command's help, kept in the code) for `pybabel extract`; the
    templates translate it when they show it (`{{ text|tr }}`), in the room's language."""
    return message


@dataclass(frozen=True)
class Words:
    """A sentence for a person, by its key in a message catalogue, with the values it needs.

    `key` is `catalogue.message`: the jinja2 macro `message` in `templates/refusals/
    catalogue.txt` (the renderer's `say(words)` renders it). Code never holds the sentence
    itself, so that every word a person reads can be translated.
    """

    key: str
    data: Mapping[str, Any] = field(default_factory=dict)


class Refusal(Exception):
    """Something to tell the person, in `words`, instead of doing what they asked."""

    def __init__(self, key: str, **data: Any) -> None:
        super().__init__(key)
        self.words = Words(key, data)


class CommandError(Refusal):
    """A refusal or problem to tell the person who typed the command (`Words`)."""


@dataclass(frozen=True)
class Param:
    """A positional parameter. `text` takes the rest of the message, newlines included.

    A `text` parameter with `split_at` reads as two parts, `<name> split_at <second>`
    (`<alliance> as <movement name>`): `Args.readings` gives every way to split it.
    """

    name: str
    kind: Literal["word", "int", "text"] = "word"
    optional: bool = False
    many: bool = False
    split_at: str = ""
    second: str = ""

    def usage(self) -> str:
        shown = f"<{self.name}>"
        if self.split_at:
            shown += f" {self.split_at} <{self.second}>"
        if self.many:
            shown += "..."
        return f"[{shown}]" if self.optional else shown


@dataclass(frozen=True)
class Flag:
    """An option like `--hidden` (no value) or `--multi N` (value named by `value`).

    `reads="when"`: the value is a time, and `2026-12-01 18:00` is read whole.
    """

    name: str
    value: str | None = None
    help: str = ""
    reads: Literal["word", "when"] = "word"

    def usage(self) -> str:
        return f"[--{self.name}{' ' + self.value if self.value else ''}]"


@dataclass(frozen=True)
class Args:
    """Parsed arguments: positional values by parameter name, flags by flag name."""

    values: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, str | bool] = field(default_factory=dict)
    splits: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def text(self, name: str) -> str:
        value = self.values.get(name)
        return value if isinstance(value, str) else ""

    def flag(self, name: str) -> bool:
        return bool(self.flags.get(name))

    def option(self, name: str) -> str | None:
        value = self.flags.get(name)
        return value if isinstance(value, str) else None

    def readings(self, name: str) -> tuple[tuple[str, str], ...]:
        """Every way to read the `split_at` parameter `name` as its two parts, first split
        first; empty when the word is not there."""
        return self.splits.get(name, ())


JOINED_A_ROOM = "joined a room"
"""The happening the bot signals each time it joins a room (for timers waiting to get in)."""

Joined = Literal["joined", "waiting", "not a replacement"]
"""What came of `Services.join_replacement`."""


class Services(Protocol):
    """What the bot offers command families beyond returning a reply.

    Sending is for effects that ARE the command's purpose (posting a native poll, closing
    it); ordinary answers are returned as a `Reply`. Every send takes a `txn_key` that must
    be the same each time the same thing is sent (derive it from the triggering event id),
    so a retry after a crash or restart never sends it twice.
    """

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> Store: ...

    @property
    def registry(self) -> Registry:
        """The registry, for what one family provides to another (`Registry.provided`)."""
        ...

    def room(self, room_id: RoomID) -> RoomState: ...

    async def leave(self, room_id: RoomID) -> None: ...

    async def send_state(
        self, room_id: RoomID, *, event_type: str, state_key: str, content: dict[str, Any]
    ) -> EventID: ...

    async def create_space(
        self, *, name: str, topic: str, invite: list[str], key: str | None = None
    ) -> RoomID:
        """Create a space; `key` marks it so `find_space(key)` finds it after a crash."""
        ...

    async def find_space(self, key: str) -> RoomID | None:
        """The space (of those the bot is in) created with this `key`, if any."""
        ...

    async def invite(self, room_id: RoomID, user_id: str) -> None: ...

    async def join_replacement(self, old: RoomID, new: RoomID) -> Joined:
        """Get into the room that replaced `old` (a room upgrade): "joined" once in it, when it
        names `old` as its predecessor; "not a replacement" when it does not (the bot does not
        stay); "waiting" while the bot may not join it yet (until someone invites it)."""
        ...

    async def send(
        self,
        room_id: RoomID,
        *,
        event_type: str,
        content: dict[str, Any],
        txn_key: str,
        background: bool = False,
    ) -> EventID | None:
        """Send an event. `background` sends (relayed messages) let answers to people go
        first while the homeserver paces the bot."""
        ...

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
        """Post `reply` as a notice. It pings nobody, except the people in `mentions` (a room
        that asked for it: those who have not voted yet)."""
        ...

    async def redact(
        self, room_id: RoomID, event_id: EventID, *, reason: str | None, txn_key: str
    ) -> EventID | None:
        """Redact an event (the bot's own ones always work); None when refused."""
        ...

    async def get_event(self, room_id: RoomID, event_id: EventID) -> Event | None:
        """One event of a room, decrypted if the bot can; None if it cannot see or read it."""
        ...

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
        """Upload `data` and post it as a file (encrypted when the room is); None when refused.
        Raises `MatrixError` when the upload itself is refused (too large for the server)."""
        ...

    def signal(self, happening: str) -> None:
        """Say that something happened (e.g. a poll closed): timers `woken_by` it run now."""
        ...

    def now_ms(self) -> int:
        """The bot's clock, in milliseconds since the epoch: the only clock families read (tests
        set it)."""
        ...

    def language(self, room_id: RoomID) -> str:
        """The language the bot speaks in the room (one of `bot.languages.SHIPPED`)."""
        ...

    def own_language(self, room_id: RoomID) -> str | None:
        """The language the room chose itself (`choose_language`), if it did."""
        ...

    def say(self, room_id: RoomID, words: Words) -> str:
        """The sentence `words` stand for, as text in the room's language: for what the bot
        writes into events other than its replies (a poll's question and answers, a topic)."""
        ...

    def message(self, room_id: RoomID, reply: Reply) -> Message:
        """`reply` as text and HTML in the room's language: for the bot's words inside other
        events (the footer of a relayed message)."""
        ...

    async def choose_language(self, room_id: RoomID, language: str | None) -> bool:
        """The room's own language (None: back to its alliance's default or the bot's), stored
        and also written as room state, so that a bot installed afresh finds it. False when the
        room state could not be written (the bot may not change the room's settings)."""
        ...

    async def inherit_language(self, room_id: RoomID, language: str | None) -> bool:
        """An alliance's default language for the room (None: no default); a room's own choice
        always wins. True when what the room hears changed."""
        ...


@dataclass
class Context:
    """Everything a handler may look at. Built by the router for one command."""

    event: Event
    room: RoomState
    power: Power
    config: Config
    store: Store
    registry: Registry
    services: Services

    @property
    def prefix(self) -> str:
        return self.config.command_prefix

    @property
    def language(self) -> str:
        """The language the bot speaks in the room of the command."""
        return self.services.language(self.event.room_id)

    @property
    def sender(self) -> str:
        return self.event.sender


Handler = Callable[[Context, Args], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    name: str
    family: str
    summary: str
    handler: Handler
    params: tuple[Param, ...] = ()
    flags: tuple[Flag, ...] = ()
    aliases: tuple[str, ...] = ()
    help: str = ""
    examples: tuple[str, ...] = ()
    power: Power = Power.MEMBER

    def usage(self, prefix: str) -> str:
        parts = [f"{prefix}{self.name}"]
        parts.extend(flag.usage() for flag in self.flags)
        parts.extend(param.usage() for param in self.params)
        return " ".join(parts)


ListenerHandler = Callable[["Services", "Event"], Awaitable[Reply | None]]
TimerHandler = Callable[["Services"], Awaitable[None]]


@dataclass(frozen=True)
class Listener:
    """Called for every event of these types (poll votes, redactions...) in any room.

    A returned Reply is sent as an answer to the event.
    """

    name: str
    event_types: frozenset[str]
    handler: ListenerHandler
    include_old: bool = False
    """Also called for messages older than MULTILOGUE_MAX_COMMAND_AGE (after a long outage),
    which are never answered as commands."""


@dataclass(frozen=True)
class Timer:
    """Called every `interval_s` seconds once the bot is in sync (deadlines and the like).

    A timer is a reconciler: it looks at what is stored and does what is due, so nothing is
    lost to a restart. `woken_by` names happenings (`Services.signal`) after which it should
    run at once rather than at its next tick.
    """

    name: str
    interval_s: float
    handler: TimerHandler
    woken_by: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    order: int


class Registry:
    """All commands, looked up by exact name or alias (case-insensitive)."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._by_name: dict[str, Command] = {}
        self._families: dict[str, Family] = {}
        self.listeners: list[Listener] = []
        self.timers: list[Timer] = []
        self._provided: dict[str, object] = {}
        self._offered: dict[str, list[object]] = {}

    def listen(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def every(self, timer: Timer) -> None:
        self.timers.append(timer)

    def provide(self, name: str, provider: object) -> None:
        """Offer `provider` to the other families under `name`: how a family that another
        builds on serves it without importing it (the alliance tells the polls who an
        alliance-wide poll is for). The name and the provider's shape are the asking family's."""
        if name in self._provided:
            raise ValueError(f"{name!r} provided twice")
        self._provided[name] = provider

    def provided(self, name: str) -> object | None:
        return self._provided.get(name)

    def offer(self, name: str, *items: object) -> None:
        """Add `items` to what the families offer under `name`: how several families that
        build on one add to its list (settings of `!rules set`, forms of `!compare`). The name
        and the items' shape are the asking family's."""
        self._offered.setdefault(name, []).extend(items)

    def offered(self, name: str) -> tuple[object, ...]:
        """Everything offered under `name`, in the order the families registered."""
        return tuple(self._offered.get(name, ()))

    def family(self, name: str, title: str, order: int) -> None:
        self._families[name] = Family(name, title, order)

    def add(self, command: Command) -> None:
        if command.family not in self._families:
            raise ValueError(f"unknown family {command.family!r} for {command.name!r}")
        for key in (command.name, *command.aliases):
            key = key.lower()
            if key in self._by_name:
                raise ValueError(f"command name {key!r} registered twice")
            self._by_name[key] = command
        self._commands.append(command)

    def lookup(self, name: str) -> Command | None:
        return self._by_name.get(name.lower())

    def has_subcommands(self, word: str) -> bool:
        head = word.lower() + " "
        return any(name.startswith(head) for name in self._by_name)

    def commands(self) -> list[Command]:
        return list(self._commands)

    def grouped(self) -> list[tuple[Family, list[Command]]]:
        families = sorted(self._families.values(), key=lambda f: f.order)
        return [
            (family, [c for c in self._commands if c.family == family.name])
            for family in families
            if any(c.family == family.name for c in self._commands)
        ]

    def in_family_of(self, word: str) -> list[Command]:
        """Commands whose name starts with `word` (`poll` gives `poll`, `poll close`, ...)."""
        word = word.lower()
        return [c for c in self._commands if c.name == word or c.name.startswith(word + " ")]

    def closest(self, word: str, limit: int = 3) -> list[str]:
        names: Iterable[str] = self._by_name.keys()
        return difflib.get_close_matches(word.lower(), list(names), n=limit, cutoff=0.6)
