"""From a room message to a command reply.

`addressed_text` decides whether a message speaks to the bot (the command prefix, or
the bot's name or pill at the start) and returns what follows. `Router.route` finds the
command (exact word, never a prefix of it), checks the sender's power, parses the
arguments and runs the handler. Every outcome is a `Reply`; unexpected exceptions are
left to the caller's error boundary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.config import Config
from bot.events import Event, strip_reply_fallback
from bot.permissions import who_may
from bot.rooms import RoomState
from bot.store import Store
from commands.args import UsageError, parse_args
from commands.registry import Command, CommandError, Context, Registry, Reply, Services

PILL_RE = re.compile(r'^\s*<a\s+href="https://matrix\.to/#/([^"?]+)[^"]*"\s*>(.*?)</a>\s*[:,]?\s*')
SEPARATORS = ":,"


def _after_name(body: str, names: Sequence[str]) -> str | None:
    lowered = body.lower()
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        if not lowered.startswith(name.lower()):
            continue
        rest = body[len(name) :]
        if rest[:1] in SEPARATORS and rest[:1] != "":
            return rest[1:].lstrip()
        if rest[:1].isspace():
            return rest.lstrip()
    return None


def addressed_text(
    event: Event, *, prefix: str, user_id: str, display_name: str | None
) -> str | None:
    """The command text if the message is addressed to the bot, else None."""
    content = event.content
    if content.get("msgtype") != "m.text" or not isinstance(content.get("body"), str):
        return None
    body = strip_reply_fallback(content["body"]).strip()
    formatted = content.get("formatted_body")
    text: str | None = None
    if body.startswith(prefix):
        text = body[len(prefix) :]
        if not text or text[0].isspace():
            return None
        return text
    if isinstance(formatted, str):
        match = PILL_RE.match(formatted)
        if match and match.group(1) == user_id:
            # The pill's text is shown in the body too (the display name); skip past it.
            text = _after_name(body, [re.sub(r"<[^>]+>", "", match.group(2)), user_id])
    if text is None:
        localpart = user_id[1:].partition(":")[0]
        text = _after_name(body, [user_id, display_name or "", localpart, "@" + localpart])
    if text is None:
        return None
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return text.strip() or "help"


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
                    "needed": who_may(command.power, room_version=room.version),
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
            return Reply("command_error", {"message": str(exc)})
        except UsageError as exc:  # arguments a handler reads further itself (quoted names)
            return _usage_error(command, prefix, exc)


def _usage_error(command: Command, prefix: str, problem: UsageError) -> Reply:
    return Reply(
        "usage_error",
        {"problem": str(problem), "usage": command.usage(prefix), "name": command.name},
    )
