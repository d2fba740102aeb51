"""Deciding whether a message speaks to the bot, and what the router answers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.contract import (
    Args,
    Command,
    CommandError,
    Context,
    Flag,
    Param,
    Registry,
    Reply,
    Words,
    addressed_text,
)
from bot.events import Event
from bot.families import build_registry
from bot.ids import EventID, RoomID, UserID
from bot.permissions import ADMIN_IN_OLDER_ROOMS, POWER_NAMES, Power
from bot.render import Renderer
from bot.rooms import RoomState
from bot.router import Router, split_command
from bot.store import Store
from tests.unit import fakes

BOT = "@bot:server"
ROOM = RoomID("!room:server")
MOD = "@mod:server"
MEMBER = "@member:server"


def message(body: str, *, msgtype: str = "m.text", sender: str = MEMBER, **extra: Any) -> Event:
    return Event(
        event_id=EventID("$message"),
        room_id=ROOM,
        sender=UserID(sender),
        type="m.room.message",
        ts=0,
        content={"msgtype": msgtype, "body": body, **extra},
    )


def addressed(
    body: str, *, prefix: str = "!", display_name: str | None = "multilogue", **extra: Any
) -> str | None:
    return addressed_text(
        message(body, **extra), prefix=prefix, user_id=BOT, display_name=display_name
    )


# --- addressed_text: the prefix -------------------------------------------------------------


def test_prefix_gives_the_text_after_it() -> None:
    assert addressed("!help poll") == "help poll"


def test_another_prefix_is_used_instead_of_the_exclamation_mark() -> None:
    assert addressed("?help", prefix="?") == "help"
    assert addressed("!help", prefix="?") is None


@pytest.mark.parametrize("body", ["!", "! help", "!  ", "!\nhelp"])
def test_a_lone_prefix_or_prefix_then_space_is_not_a_command(body: str) -> None:
    assert addressed(body) is None


def test_ordinary_chat_is_not_addressed() -> None:
    assert addressed("we should help each other!") is None


@pytest.mark.parametrize("msgtype", ["m.notice", "m.emote", "m.image", "m.file"])
def test_only_text_messages_are_commands(msgtype: str) -> None:
    assert addressed("!help", msgtype=msgtype) is None


def test_a_message_without_a_text_body_is_ignored() -> None:
    event = Event(
        event_id=EventID("$e"),
        room_id=ROOM,
        sender=UserID(MEMBER),
        type="m.room.message",
        ts=0,
        content={"msgtype": "m.text"},
    )
    assert addressed_text(event, prefix="!", user_id=BOT, display_name=None) is None


# --- addressed_text: mentions ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "multilogue: help",
        "multilogue, help",
        "Multilogue help",
        "@bot:server: help",
        "@bot:server help",
        "bot: help",
        "@bot: help",
    ],
)
def test_mention_by_name_id_or_localpart(body: str) -> None:
    assert addressed(body) == "help"


def test_mention_followed_by_the_prefix_still_works() -> None:
    assert addressed("multilogue: !help") == "help"


def test_a_bare_mention_asks_for_help() -> None:
    assert addressed("multilogue:") == "help"


def test_a_word_that_only_starts_with_the_name_is_not_a_mention() -> None:
    assert addressed("multilogues are great") is None
    assert addressed("bottle of water") is None


def test_html_pill_is_a_mention_even_when_the_display_name_is_unknown() -> None:
    pill = '<a href="https://matrix.to/#/@bot:server">multilogue</a>: help'
    text = addressed(
        "multilogue: help",
        display_name=None,
        format="org.matrix.custom.html",
        formatted_body=pill,
    )
    assert text == "help"


def test_pill_for_someone_else_is_not_a_mention() -> None:
    pill = '<a href="https://matrix.to/#/@alice:server">multilogue</a>: help'
    text = addressed(
        "multilogue: help",
        display_name=None,
        format="org.matrix.custom.html",
        formatted_body=pill,
    )
    assert text is None


# --- addressed_text: replies ----------------------------------------------------------------


def test_reply_fallback_is_stripped_before_the_prefix() -> None:
    body = "> <@alice:server> shall we vote?\n> second line\n\n!help"
    assert addressed(body) == "help"


def test_a_command_in_the_quoted_message_does_not_run_again() -> None:
    assert addressed("> <@alice:server> !help\n\nthanks, that helped") is None


# --- split_command --------------------------------------------------------------------------


async def _noop(ctx: Context, args: Args) -> Reply:
    return Reply("pong", {})


def poll_registry() -> Registry:
    registry = Registry()
    registry.family("polls", "Polls", order=1)
    registry.add(Command(name="poll", family="polls", summary="Start a poll", handler=_noop))
    registry.add(
        Command(
            name="poll close",
            family="polls",
            summary="Close a poll",
            handler=_noop,
            params=(Param("number", kind="int"),),
        )
    )
    return registry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("poll close 3", ("poll close", "3")),
        ("Poll CLOSE 3", ("poll close", "3")),
        ("poll close", ("poll close", "")),
        ("poll closed 3", ("poll", "closed 3")),
        ("poll Should we march?\nyes\nno", ("poll", "Should we march?\nyes\nno")),
        ("poll", ("poll", "")),
        ("polls close", ("polls", "close")),
    ],
)
def test_split_command_takes_two_words_only_for_a_known_subcommand(
    text: str, expected: tuple[str, str]
) -> None:
    assert split_command(text, poll_registry()) == expected


def test_split_command_uses_the_exact_word_with_the_real_registry() -> None:
    registry = build_registry()
    assert split_command("helpme", registry) == ("helpme", "")
    assert split_command("Help poll", registry) == ("help", "poll")


# --- Router.route ---------------------------------------------------------------------------


def make_room() -> RoomState:
    room = RoomState(ROOM)
    room.create_sender = "@creator:server"
    room.create_content = {"room_version": "11"}
    room.power_levels = {"users": {"@creator:server": 100, MOD: 50}, "users_default": 0}
    return room


def make_config(tmp_path: Path, prefix: str = "!") -> Config:
    return fakes.make_config(tmp_path, user_id=BOT, prefix=prefix)


def make_router(registry: Registry, config: Config, store: Store) -> Router:
    """A router whose commands may only answer: any request of the homeserver fails the test."""
    services = fakes.FakeServices(config, store, forbid=fakes.EVERY_REQUEST)
    return Router(registry=registry, config=config, store=store, services=services)


def said(words: Words) -> str:
    """The words as a room reads them."""
    return Renderer().say(words)


def body_of(reply: Reply, prefix: str = "!") -> str:
    """What the person sees (the plain body)."""
    return Renderer(globals={"prefix": prefix}).render(reply.template, reply.data).body


async def route_from(
    router: Router, body: str, *, prefix: str = "!", sender: str = MEMBER
) -> Reply:
    """Send `body` through addressed_text and the router, as the bot does."""
    event = message(body, sender=sender)
    text = addressed_text(event, prefix=prefix, user_id=BOT, display_name="multilogue")
    assert text is not None, f"{body!r} was not addressed to the bot"
    return await router.route(event, make_room(), text)


async def test_help_with_the_real_registry(tmp_path: Path, store: Store) -> None:
    router = make_router(build_registry(), make_config(tmp_path), store)
    reply = await route_from(router, "!help")
    assert reply.template == "help_list"


async def test_capitalised_command_word_works(tmp_path: Path, store: Store) -> None:
    router = make_router(build_registry(), make_config(tmp_path), store)
    assert (await route_from(router, "!Help")).template == "help_list"
    assert (await route_from(router, "!HELP")).template == "help_list"


async def test_mention_then_command_is_routed(tmp_path: Path, store: Store) -> None:
    router = make_router(build_registry(), make_config(tmp_path), store)
    assert (await route_from(router, "multilogue: help")).template == "help_list"


async def test_helpme_is_not_help(tmp_path: Path, store: Store) -> None:
    router = make_router(build_registry(), make_config(tmp_path), store)
    reply = await route_from(router, "!helpme")
    assert reply.template == "unknown_command"
    assert reply.data["word"] == "helpme"
    assert "help" in reply.data["suggestions"]


async def test_unknown_command_suggests_close_names(tmp_path: Path, store: Store) -> None:
    router = make_router(build_registry(), make_config(tmp_path), store)
    reply = await route_from(router, "!hlep")
    assert reply.template == "unknown_command"
    assert reply.data["suggestions"][0] == "help"
    text = body_of(reply)
    assert '"!hlep"' in text
    assert "Did you mean !help" in text


async def test_unknown_command_far_from_everything_has_no_suggestion(
    tmp_path: Path, store: Store
) -> None:
    router = make_router(build_registry(), make_config(tmp_path), store)
    reply = await route_from(router, "!xyzzyq")
    assert reply.template == "unknown_command"
    assert reply.data["suggestions"] == []
    assert "Did you mean" not in body_of(reply)


class Calls:
    def __init__(self) -> None:
        self.args: list[Args] = []
        self.contexts: list[Context] = []


def recording_registry(calls: Calls) -> Registry:
    """A fresh registry with commands that record how they were called."""

    async def record(ctx: Context, args: Args) -> Reply:
        calls.contexts.append(ctx)
        calls.args.append(args)
        return Reply("pong", {"done": True})

    async def refuse(ctx: Context, args: Args) -> Reply:
        raise CommandError("usage.missing", param="number")

    async def crash(ctx: Context, args: Args) -> Reply:
        raise RuntimeError("a bug")

    registry = Registry()
    registry.family("test", "Test", order=1)
    registry.add(
        Command(
            name="close",
            family="test",
            summary="Close something",
            handler=record,
            params=(Param("number", kind="int"),),
            flags=(Flag("quiet"),),
            power=Power.MODERATOR,
        )
    )
    registry.add(
        Command(name="shutdown", family="test", summary="x", handler=record, power=Power.ADMIN)
    )
    registry.add(Command(name="refuse", family="test", summary="x", handler=refuse))
    registry.add(Command(name="crash", family="test", summary="x", handler=crash))
    return registry


async def test_member_is_refused_a_moderator_command(tmp_path: Path, store: Store) -> None:
    calls = Calls()
    router = make_router(recording_registry(calls), make_config(tmp_path), store)
    reply = await route_from(router, "!close 3", sender=MEMBER)
    assert reply.template == "permission_denied"
    assert reply.data["needed"] == Words(POWER_NAMES[Power.MODERATOR])
    assert said(reply.data["needed"]) == "a moderator of this room (power level 50 or more)"
    assert reply.data["usage"] == "!close [--quiet] <number>"
    assert "moderator" in body_of(reply)
    assert calls.args == []


async def test_moderator_may_run_a_moderator_command(tmp_path: Path, store: Store) -> None:
    calls = Calls()
    router = make_router(recording_registry(calls), make_config(tmp_path), store)
    reply = await route_from(router, "!close --quiet #3", sender=MOD)
    assert reply == Reply("pong", {"done": True})
    assert calls.args[0].get("number") == 3
    assert calls.args[0].flag("quiet")
    assert calls.contexts[0].power == Power.MODERATOR
    assert calls.contexts[0].sender == MOD


async def test_admin_command_refused_to_moderator_and_to_a_bot_admin_without_room_power(
    tmp_path: Path, store: Store
) -> None:
    calls = Calls()
    config = make_config(tmp_path)
    router = make_router(recording_registry(calls), config, store)
    refused = await route_from(router, "!shutdown", sender=MOD)
    assert refused.template == "permission_denied"
    # In a room of version 11 the creator holds no unlimited power: nobody does.
    assert refused.data["needed"] == Words(ADMIN_IN_OLDER_ROOMS)
    assert said(refused.data["needed"]) == "a creator of this room (rooms of version 12 and later)"
    assert body_of(refused).startswith(
        "Sorry, only a creator of this room (rooms of version 12 and later) may use !shutdown."
    )

    # Administering the bot gives no power in a room: the room's own levels decide.
    admin_config = replace(config, admins=frozenset({UserID(MEMBER)}))
    admin_router = make_router(recording_registry(calls), admin_config, store)
    still_refused = await route_from(admin_router, "!shutdown", sender=MEMBER)
    assert still_refused.template == "permission_denied"
    assert not any(c.sender == MEMBER for c in calls.contexts)


async def test_bad_arguments_give_the_usage_line(tmp_path: Path, store: Store) -> None:
    calls = Calls()
    router = make_router(recording_registry(calls), make_config(tmp_path, prefix="?"), store)
    reply = await route_from(router, "?close three", prefix="?", sender=MOD)
    assert reply.template == "usage_error"
    assert reply.data["usage"] == "?close [--quiet] <number>"
    assert reply.data["name"] == "close"
    assert "must be a number" in body_of(reply, prefix="?")
    assert "Usage: ?close [--quiet] <number>" in body_of(reply, prefix="?")
    assert calls.args == []


async def test_missing_argument_gives_the_usage_line(tmp_path: Path, store: Store) -> None:
    router = make_router(recording_registry(Calls()), make_config(tmp_path), store)
    reply = await route_from(router, "!close", sender=MOD)
    assert reply.template == "usage_error"
    assert body_of(reply, prefix="?").startswith("Missing <number>.\n")


async def test_a_refusal_is_the_reply_in_its_catalogue_words(tmp_path: Path, store: Store) -> None:
    router = make_router(recording_registry(Calls()), make_config(tmp_path), store)
    reply = await route_from(router, "!refuse")
    assert reply == Reply("command_error", {"words": Words("usage.missing", {"param": "number"})})
    assert body_of(reply) == "Missing <number>."


async def test_unexpected_errors_are_left_to_the_error_boundary(
    tmp_path: Path, store: Store
) -> None:
    router = make_router(recording_registry(Calls()), make_config(tmp_path), store)
    with pytest.raises(RuntimeError, match="a bug"):
        await route_from(router, "!crash")
