"""From a room message to a command reply.

`addressed_text` (in `bot.contract.addressing`) decides whether a message speaks to the bot
and returns what follows. `Router.route` finds the
command (exact word, never a prefix of it), checks the sender's power, parses the
arguments and runs the handler. Every outcome is a `Reply`; unexpected exceptions are
left to the caller's error boundary.
"""

from __future__ import annotations

from bot.config import Config
from bot.contract import (
    Command,
    CommandError,
    Context,
    Registry,
    Reply,
    Services,
    UsageError,
    Words,
    parse_args,
)
from bot.events import Event
from bot.permissions import who_may
from bot.rooms import RoomState
from bot.store import Store


def split_command(text: str, registry: Registry) -> tuple[str, str]:
    """The command name (one or two words) and the text after it."""
    parts = text.split(maxsplit=1)
    word = parts[0].lower()
    rest = parts[1] if len(parts) > 1 else ""
    if rest and registry.has_subcommands(word):
        sub_parts = rest.split(maxsplit=1)
        candidate = f"{word} {sub_parts[0].lower()}"
        if registry.lookup(candidate) is not None:
            return candidate, sub_parts[1] if len(sub_parts) > 1 else ""
    return word, rest.strip()


class Router:
    def __init__(
        self, *, registry: Registry, config: Config, store: Store, services: Services
    ) -> None:
        self._registry = registry
        self._config = config
        self._store = store
        self._services = services

    async def route(self, event: Event, room: RoomState, text: str) -> Reply:
        registry = self._registry
        prefix = self._config.command_prefix
        name, rest = split_command(text, registry)
        command = registry.lookup(name)
        if command is None:
            return Reply(
                "unknown_command",
                {"word": name, "suggestions": registry.closest(name)},
            )
        power = room.power(event.sender)
        if power < command.power:
            return Reply(
                "permission_denied",
                {
                    "usage": command.usage(prefix),
                    "needed": Words(who_may(command.power, room_version=room.version)),
                },
            )
        try:
            args = parse_args(command, rest)
        except UsageError as exc:
            return _usage_error(command, prefix, exc)
        context = Context(
            event=event,
            room=room,
            power=power,
            config=self._config,
            store=self._store,
            registry=registry,
            services=self._services,
        )
        try:
            return await command.handler(context, args)
        except CommandError as exc:
            return Reply("command_error", {"words": exc.words})
        except UsageError as exc:  # arguments a handler reads further itself (quoted names)
            return _usage_error(command, prefix, exc)


def _usage_error(command: Command, prefix: str, problem: UsageError) -> Reply:
    return Reply(
        "usage_error",
        {"problem": problem.words, "usage": command.usage(prefix), "name": command.name},
    )
