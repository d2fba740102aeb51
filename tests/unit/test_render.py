"""Messages from template pairs: user text escaped in HTML, help that follows the prefix."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import pytest

from bot.contract import Args, Command, Context, Registry, Reply, Words
from bot.events import Event
from bot.families import build_registry
from bot.ids import EventID, RoomID, UserID
from bot.render import REPLY_BUDGET, Message, Renderer, templates_dir
from bot.rooms import RoomState
from bot.router import Router
from bot.store import Store
from commands.help import commands as help_family
from tests.unit.fakes import EVERY_REQUEST, FakeServices, make_config

ROOM = RoomID("!room:hs")
NASTY = "<script>alert(\"hi\")</script> & 'friends'"


def render(name: str, data: Mapping[str, Any], *, prefix: str = "!") -> Message:
    return Renderer(globals={"prefix": prefix}).render(name, data)


# --- escaping -------------------------------------------------------------------------------


def typed(text: str) -> dict[str, Words]:
    """A refusal that repeats what someone typed (the usage catalogue's `not_a_number`)."""
    return {"words": Words("usage.not_a_number", {"param": "p", "typed": text})}


def test_user_text_is_escaped_in_html_but_kept_in_the_plain_body() -> None:
    message = render("command_error", typed(NASTY))
    assert message.body == f"<p> must be a number, not '{NASTY}'."
    assert "<script>" not in message.html
    assert message.html == (
        "&lt;p&gt; must be a number, not &#39;"
        "&lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt; &amp; &#39;friends&#39;&#39;."
    )


def test_an_unknown_word_typed_by_a_user_is_escaped() -> None:
    message = render("unknown_command", {"word": "<b>bold</b>", "suggestions": []})
    assert "<b>bold</b>" in message.body
    assert "&lt;b&gt;bold&lt;/b&gt;" in message.html
    assert "<b>" not in message.html


def test_a_missing_value_is_an_error_not_a_blank() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("command_error", {})
    with pytest.raises(jinja2.UndefinedError):
        Renderer().render("unknown_command", {"word": "x", "suggestions": []})


def test_every_template_comes_as_a_txt_and_html_pair() -> None:
    folder = templates_dir()
    txt = {p.stem for p in folder.glob("*.txt")}
    html = {p.stem for p in folder.glob("*.html")}
    assert txt, "no templates found"
    assert txt - html == set(), "plain templates without an HTML twin"
    assert html - txt == set(), "HTML templates without a plain twin"
    assert Renderer().names() == txt


# --- help follows the prefix ----------------------------------------------------------------


async def ask(registry: Registry, store: Store, tmp_path: Path, prefix: str, text: str) -> Message:
    """What the bot answers to `<prefix><text>` (text without the prefix)."""
    config = make_config(tmp_path, prefix=prefix)
    services = FakeServices(config, store, forbid=EVERY_REQUEST)  # help only answers
    router = Router(registry=registry, config=config, store=store, services=services)
    event = Event(
        event_id=EventID("$help"),
        room_id=ROOM,
        sender=UserID("@ana:hs"),
        type="m.room.message",
        ts=0,
        content={"msgtype": "m.text", "body": prefix + text},
    )
    reply = await router.route(event, RoomState(ROOM), text)
    return render(reply.template, reply.data, prefix=prefix)


async def test_help_list_uses_the_configured_prefix_everywhere(
    store: Store, tmp_path: Path
) -> None:
    registry = build_registry()
    message = await ask(registry, store, tmp_path, "?", "help")
    for part in (message.body, message.html):
        assert "!" not in part
        assert "?help" in part
        for command in registry.commands():
            assert command.usage("?").replace("<", "&lt;").replace(">", "&gt;") in message.html
            assert command.usage("?") in message.body


async def test_help_for_each_command_uses_the_configured_prefix(
    store: Store, tmp_path: Path
) -> None:
    registry = build_registry()
    for command in registry.commands():
        message = await ask(registry, store, tmp_path, "?", f"help {command.name}")
        for part in (message.body, message.html):
            assert "!" not in part, f"help {command.name} mentions '!'"
            assert f"?{command.name}" in part


async def test_help_about_an_unknown_command_uses_the_prefix(store: Store, tmp_path: Path) -> None:
    message = await ask(build_registry(), store, tmp_path, "?", "help hlep")
    assert "?hlep" in message.body
    assert "Did you mean ?help" in message.body
    assert "!" not in message.body + message.html


async def _noop(ctx: Context, args: Args) -> Reply:
    return Reply("pong", {})


@pytest.mark.parametrize("asked", ["movement", "mv!movement", "MV!Movement"])
async def test_help_explains_a_command_when_the_prefix_has_letters(
    store: Store, tmp_path: Path, asked: str
) -> None:
    registry = Registry()
    help_family.register(registry)
    registry.family("alliance", "Alliance", order=1)
    registry.add(
        Command(name="movement", family="alliance", summary="Show a movement", handler=_noop)
    )
    message = await ask(registry, store, tmp_path, "mv!", f"help {asked}")
    assert message.body.startswith("mv!movement\nShow a movement.")


def test_a_reply_too_long_for_one_event_is_cut_at_a_line_with_a_note() -> None:
    renderer = Renderer(globals={"prefix": "!"})
    reason = "a reason that someone wrote at length " * 5
    lines = [f"{n}. <{reason}>" for n in range(1000)]
    message = Message(body="\n".join(lines), html="<br>".join(lines))
    assert message.size > REPLY_BUDGET
    cut = renderer.render_fitted("command_error", typed(message.body))
    assert cut.size <= REPLY_BUDGET
    kept = cut.body.splitlines()[:-1]
    assert kept[0] == "<p> must be a number, not '0. <" + reason + ">"
    assert kept[1:] == lines[1 : len(kept)]  # whole lines, from the start
    assert len(kept) > 50
    assert f"I left out the last {1000 - len(kept)} lines" in cut.body
    assert "&lt;a reason" in cut.html  # the HTML is rebuilt from escaped text
    assert "<a reason" not in cut.html


def test_a_single_line_too_long_for_one_event_is_cut_too() -> None:
    renderer = Renderer(globals={"prefix": "!"})
    cut = renderer.render_fitted("command_error", typed("x" * 100_000))
    assert cut.size <= REPLY_BUDGET
    assert "so it is cut short" in cut.body


def test_a_reply_that_fits_is_left_as_it_is() -> None:
    renderer = Renderer(globals={"prefix": "!"})
    data = typed("three")
    assert renderer.render_fitted("command_error", data) == renderer.render("command_error", data)


async def test_help_says_who_may_use_a_command(store: Store, tmp_path: Path) -> None:
    registry = build_registry()
    follow = await ask(registry, store, tmp_path, "!", "help follow")
    assert "Who may use it: a moderator of this room (power level 50 or more)." in follow.body
    assert "<p>Who may use it: a moderator of this room (power level 50 or more).</p>" in (
        follow.html
    )
    shared = await ask(registry, store, tmp_path, "!", "help shared")
    assert "Who may use it: anyone in the room." in shared.body
