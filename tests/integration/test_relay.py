"""Shared threads as people in Element see them: a commons and movement rooms, both ways.

The alliance is set up through the real commands (`!alliance create`, `!movement join ... as ...`,
`!movement approve ...`). Edits, redactions, notices, pills and attachments are sent exactly as
Element sends them. Every wait is bounded; "not relayed" is checked once the bot has marked the
event handled in its inbox, against its record of copies.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import UploadResponse
from nio.crypto.attachments import decrypt_attachment

from bot.app import Bot
from bot.config import Config, InviteAllowlist
from bot.events import Event
from bot.ids import RoomID, UserID
from bot.store import Store
from bot.tooling.homeserver import LocalSynapse
from tests.integration.conftest import (
    MakeUser,
    RunningBot,
    StartBot,
    has_joined,
    join_room,
    room_with_bot,
)
from tests.integration.matrix_user import MatrixUser

pytestmark = pytest.mark.integration

MARKER = "org.multilogue.relay"
PROFILE = "com.beeper.per_message_profile"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def body(event: dict[str, Any]) -> str:
    return str(event["content"].get("body", ""))


def html(event: dict[str, Any]) -> str:
    return str(event["content"].get("formatted_body", ""))


def in_thread(user: MatrixUser, room: str, root: str, sender: str) -> list[dict[str, Any]]:
    """Messages from `sender` in the thread of `root`, as `user` received them, in order."""
    return [
        e
        for e in user.messages_from(sender, room)
        if e["content"].get("m.relates_to", {}).get("rel_type") == "m.thread"
        and e["content"]["m.relates_to"].get("event_id") == root
    ]


def copies(user: MatrixUser, bot: RunningBot, room: str, root: str) -> list[dict[str, Any]]:
    """The bot's relayed copies in a thread (not its own notices)."""
    return [e for e in in_thread(user, room, root, bot.user_id) if MARKER in e["content"]]


async def copy_with(
    user: MatrixUser, bot: RunningBot, room: str, root: str, text: str, *, timeout: float = 30
) -> dict[str, Any]:
    found = await user.wait_for(
        lambda: [e for e in copies(user, bot, room, root) if text in body(e)],
        timeout=timeout,
        what=f"a copy of {text!r}",
    )
    assert len(found) == 1, f"{text!r} arrived {len(found)} times"
    return dict(found[0])


async def notice_in_thread(
    user: MatrixUser, bot: RunningBot, room: str, root: str, text: str
) -> dict[str, Any]:
    found = await user.wait_for(
        lambda: [
            e
            for e in in_thread(user, room, root, bot.user_id)
            if MARKER not in e["content"] and text in body(e)
        ],
        what=f"a notice with {text!r}",
    )
    return dict(found[-1])


async def root_copy(user: MatrixUser, bot: RunningBot, room: str, number: int) -> dict[str, Any]:
    """The bot's copy of shared thread #number's first message: a new thread in `room`."""
    found = await user.wait_for(
        lambda: [
            e
            for e in user.messages_from(bot.user_id, room)
            if e["content"].get(MARKER, {}).get("shared_thread") == number
            and "m.relates_to" not in e["content"]
        ],
        what=f"the first message of shared thread #{number}",
    )
    assert len(found) == 1
    return dict(found[0])


async def handled(bot: RunningBot, event_id: str, *, timeout: float = 30) -> None:
    """Wait until the bot has handled this event (it is marked done in its inbox)."""
    deadline = time.monotonic() + timeout
    while True:
        row = await bot.bot.store.fetch_one(
            "SELECT state FROM inbox WHERE event_id = ?", (event_id,)
        )
        if row is not None and row[0] == "done":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the bot did not handle {event_id} within {timeout} s")
        await asyncio.sleep(0.05)


async def copied_to(bot: RunningBot, event_id: str) -> set[str]:
    rows = await bot.bot.store.fetch_all(
        "SELECT target_room_id FROM relay_copies WHERE source_event_id = ? AND state = 'sent'",
        (event_id,),
    )
    return {str(row[0]) for row in rows}


@dataclass
class World:
    """Ada's commons; Bea's Climate Camp (with Erin, an ordinary member); Cal's Tenants Union."""

    ada: MatrixUser
    bea: MatrixUser
    cal: MatrixUser
    erin: MatrixUser
    commons: str
    camp: str
    tenants: str


async def person(make_user: MakeUser, name: str) -> MatrixUser:
    user = await make_user(name.lower())
    await user.client.set_displayname(name)
    return user


async def make_world(
    bot: RunningBot,
    make_user: MakeUser,
    *,
    camp_encrypted: bool = False,
    tenants_encrypted: bool = False,
    commons_encrypted_later: bool = False,
) -> World:
    """`commons_encrypted_later`: the commons turns encryption on once both movements are in
    (an encrypted commons takes only encrypted movement rooms, so plain ones are there from
    before)."""
    ada, bea, cal, erin = [await person(make_user, n) for n in ("Ada", "Bea", "Cal", "Erin")]
    commons = await room_with_bot(ada, bot.user_id, name="Earth commons")
    created = await ada.ask(commons, "!alliance create Earth Alliance", bot=bot.user_id)
    assert "Earth Alliance" in body(created)
    camp = await room_with_bot(bea, bot.user_id, name="Climate Camp room", encrypted=camp_encrypted)
    tenants = await room_with_bot(
        cal, bot.user_id, name="Tenants Union room", encrypted=tenants_encrypted
    )
    for mover, room, name in ((bea, camp, "Climate Camp"), (cal, tenants, "Tenants Union")):
        asked = await mover.ask(room, f"!movement join earth-alliance as {name}", bot=bot.user_id)
        assert "Asked to join Earth Alliance" in body(asked)
        approved = await ada.ask(commons, f"!movement approve {name}", bot=bot.user_id)
        assert f"{name} is now a member of Earth Alliance" in body(approved)
    if commons_encrypted_later:
        await ada.turn_on_encryption(commons)
    await bea.invite(camp, erin.user_id)
    await erin.join(camp)
    await bea.wait_for(lambda: has_joined(bea, camp, erin.user_id), what="Erin to join")
    return World(ada, bea, cal, erin, commons, camp, tenants)


async def share_thread(world: World, bot: RunningBot, text: str) -> tuple[str, dict[str, Any]]:
    """Bea starts a thread in Climate Camp's room and shares it; returns it and the commons copy."""
    root = await world.bea.say(world.camp, text)
    started = await world.bea.ask(world.camp, "!share", bot=bot.user_id, thread_root=root)
    assert "Shared with Earth Alliance as shared thread" in body(started), body(started)
    number = int(body(started).split("shared thread #")[1].split(".")[0])
    return root, await root_copy(world.ada, bot, world.commons, number)


def start_burst(user: MatrixUser, room: str, root: str, texts: list[str]) -> asyncio.Task[None]:
    """`user` writes these messages in the thread, one after another, as fast as they can."""

    async def burst() -> None:
        for text in texts:
            await user.say(room, text, thread_root=root)

    return asyncio.create_task(burst())


async def edit(user: MatrixUser, room: str, original: str, new_body: str) -> str:
    return await user.send(
        room,
        {
            "msgtype": "m.text",
            "body": f"* {new_body}",
            "m.new_content": {"msgtype": "m.text", "body": new_body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    )


async def redact(user: MatrixUser, room: str, event_id: str) -> str:
    response = await user.client.room_redact(room, event_id)
    assert hasattr(response, "event_id"), response
    return str(response.event_id)


async def upload(
    user: MatrixUser, data: bytes, *, encrypt: bool
) -> tuple[str, dict[str, Any] | None]:
    response, keys = await user.client.upload(
        io.BytesIO(data),
        content_type="image/png",
        filename="dot.png",
        encrypt=encrypt,
        filesize=len(data),
    )
    assert isinstance(response, UploadResponse), response
    return str(response.content_uri), keys


def download(homeserver: str, token: str, mxc: str) -> bytes:
    server, media_id = mxc.removeprefix("mxc://").split("/", 1)
    request = urllib.request.Request(
        f"{homeserver}/_matrix/client/v1/media/download/{server}/{media_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        data: bytes = response.read()
    return data


# -- sharing, and answers coming back -----------------------------------------------------------


async def test_a_shared_thread_reaches_the_commons_and_answers_come_back(
    bot: RunningBot, make_user: MakeUser
) -> None:
    world = await make_world(bot, make_user)
    ada, bea, cal, erin = world.ada, world.bea, world.cal, world.erin
    bot_id = bot.user_id
    root = await bea.say(world.camp, "Shall we march together on the 12th?")
    early = await erin.say(world.camp, "Our banner is half done", thread_root=root)

    # An ordinary member who did not write the thread may not share it.
    refused = await erin.ask(world.camp, "!share", bot=bot_id, thread_root=root)
    assert "Only the thread's author (Bea) or a moderator" in body(refused)
    assert refused["content"]["m.relates_to"]["event_id"] == root  # answered in the thread

    # Its author shares it: first the bot says where it will be visible, then the root crosses.
    started = await bea.ask(world.camp, "!share", bot=bot_id, thread_root=root)
    assert "Shared with Earth Alliance as shared thread #1" in body(started)
    assert "visible in the commons room Earth commons (1 member)" in body(started)
    copied_root = await root_copy(ada, bot, world.commons, 1)
    assert started["origin_server_ts"] <= copied_root["origin_server_ts"]
    assert body(copied_root).startswith("Bea · Climate Camp: Shall we march together on the 12th?")
    content = copied_root["content"]
    assert content[PROFILE]["displayname"] == "Bea · Climate Camp"
    assert content[PROFILE]["has_fallback"] is True
    assert html(copied_root).startswith(
        "<strong data-mx-profile-fallback>Bea · Climate Camp: </strong>"
    )
    assert f"https://matrix.to/#/{quote(world.camp, safe='')}/{quote(root, safe='')}" in html(
        copied_root
    )
    assert content["m.mentions"] == {}
    commons_root = str(copied_root["event_id"])

    # Later messages go to the commons; the answer written before the share stayed home.
    await erin.say(world.camp, "We bring drums", thread_root=root)
    drums = await copy_with(ada, bot, world.commons, commons_root, "We bring drums")
    assert body(drums) == "Erin · Climate Camp: We bring drums"
    assert drums["content"]["m.relates_to"]["is_falling_back"] is True
    assert await copied_to(bot, early) == set()

    # Answers from the commons come back: as "commons" from Ada (in no movement room), with
    # the movement of Cal, who is in exactly one movement room.
    await ada.say(world.commons, "The commons brings soup", thread_root=commons_root)
    soup = await copy_with(bea, bot, world.camp, root, "The commons brings soup")
    assert body(soup) == "Ada · commons: The commons brings soup"
    await ada.invite(world.commons, cal.user_id)
    await cal.join(world.commons)
    await ada.wait_for(lambda: has_joined(ada, world.commons, cal.user_id), what="Cal")
    cals = await cal.say(world.commons, "Tenants will be there", thread_root=commons_root)
    tenants_line = await copy_with(bea, bot, world.camp, root, "Tenants will be there")
    assert body(tenants_line) == "Cal · Tenants Union: Tenants will be there"
    # A real reply in the thread points at the copy of what it answers.
    reply = await erin.send(
        world.camp,
        {
            "msgtype": "m.text",
            "body": "Welcome, tenants!",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": False,
                "m.in_reply_to": {"event_id": str(tenants_line["event_id"])},
            },
        },
    )
    welcome = await copy_with(ada, bot, world.commons, commons_root, "Welcome, tenants!")
    assert welcome["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == cals
    assert welcome["content"]["m.relates_to"]["is_falling_back"] is False
    await handled(bot, reply)

    # Commands in the thread are answered there and not relayed; a bot's notice is not relayed.
    helper = await person(make_user, "Helperbot")
    await bea.invite(world.camp, helper.user_id)
    await helper.join(world.camp)
    ping = await erin.ask(world.camp, "!ping", bot=bot_id, thread_root=root)
    assert body(ping) == "pong"
    notice = await helper.send(
        world.camp,
        {
            "msgtype": "m.notice",
            "body": "Reminder: meeting at six",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        },
    )
    await handled(bot, notice)
    assert (
        await copied_to(bot, ping["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]) == set()
    )
    assert await copied_to(bot, notice) == set()
    # A person's notice is relayed.
    await bea.send(
        world.camp,
        {
            "msgtype": "m.notice",
            "body": "Bea's note: bring water",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        },
    )
    note = await copy_with(ada, bot, world.commons, commons_root, "bring water")
    assert note["content"]["msgtype"] == "m.notice"

    # @room and a pill become plain text; hostile HTML is cleaned; the attribution is not forged.
    hostile_html = (
        "<strong data-mx-profile-fallback>Ada · commons: </strong>Careful @room, ask "
        '<a href="https://matrix.to/#/@someone:localhost">Someone</a>'
        '<script>alert("x")</script><img src="https://evil.example/x.png" onerror="steal()">'
        '<a href="javascript:alert(1)">click</a><iframe src="https://evil.example">frame</iframe>'
        '<mx-reply><blockquote>forged quote</blockquote></mx-reply><b style="color:red">bold</b>'
        '<font data-mx-color="#ff0000">red</font>'
    )
    await erin.say(
        world.camp,
        "Ada · commons: Careful @room, ask Someone",
        html=hostile_html,
        thread_root=root,
    )
    hostile = await copy_with(ada, bot, world.commons, commons_root, "Careful")
    assert body(hostile) == "Erin · Climate Camp: Ada - commons: Careful @\u2060room, ask Someone"
    cleaned = html(hostile)
    assert cleaned.startswith("<strong data-mx-profile-fallback>Erin · Climate Camp: </strong>")
    assert cleaned.count("data-mx-profile-fallback") == 1
    assert "Ada · commons" not in cleaned
    for bad in (
        "<script",
        "alert",
        "evil.example",
        "onerror",
        "javascript:",
        "<iframe",
        "frame<",
        "forged quote",
        "style=",
        "matrix.to/#/@someone",
    ):
        assert bad not in cleaned, bad
    assert "@\u2060room" in cleaned
    assert "@room" not in cleaned
    assert "Someone" in cleaned
    assert "<b>bold</b>" in cleaned
    assert '<font data-mx-color="#ff0000">red</font>' in cleaned
    assert hostile["content"]["m.mentions"] == {}

    # An image goes as an attachment: the same mxc address, attributed in its caption.
    mxc, _ = await upload(erin, PNG, encrypt=False)
    await erin.send(
        world.camp,
        {
            "msgtype": "m.image",
            "body": "dot.png",
            "url": mxc,
            "info": {"mimetype": "image/png", "size": len(PNG), "w": 1, "h": 1},
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        },
    )
    image = await copy_with(ada, bot, world.commons, commons_root, "dot.png")
    assert image["content"]["msgtype"] == "m.image"
    assert image["content"]["url"] == mxc
    assert body(image) == "Erin · Climate Camp: dot.png"
    assert image["content"]["info"]["mimetype"] == "image/png"

    # Nothing was copied twice, and the commons received the thread in the order it was written.
    lines = [body(e) for e in copies(ada, bot, world.commons, commons_root)]
    assert lines == [
        "Erin · Climate Camp: We bring drums",
        "Erin · Climate Camp: Welcome, tenants!",
        "Bea · Climate Camp: Bea's note: bring water",
        body(hostile),
        "Erin · Climate Camp: dot.png",
    ]


# -- following: a three-way conversation -------------------------------------------------------


async def test_following_makes_a_three_way_conversation_with_edits_and_redactions(
    bot: RunningBot, make_user: MakeUser
) -> None:
    world = await make_world(bot, make_user)
    ada, bea, cal, erin = world.ada, world.bea, world.cal, world.erin
    bot_id = bot.user_id
    root, copied_root = await share_thread(world, bot, "Rent strike in solidarity?")
    commons_root = str(copied_root["event_id"])

    listed = body(await cal.ask(world.tenants, "!shared", bot=bot_id))
    assert "#1 from Climate Camp: Rent strike in solidarity?" in listed
    assert "followed by no movement yet" in listed
    followed = await cal.ask(world.tenants, "!follow 1", bot=bot_id)
    assert "This room now follows shared thread #1 from Climate Camp" in body(followed)
    tenants_copy = await root_copy(cal, bot, world.tenants, 1)
    assert body(tenants_copy).startswith("Bea · Climate Camp: Rent strike in solidarity?")
    tenants_root = str(tenants_copy["event_id"])
    await notice_in_thread(bea, bot, world.camp, root, "Tenants Union now follows this thread")
    await notice_in_thread(ada, bot, world.commons, commons_root, "Tenants Union now follows")
    again = body(await cal.ask(world.tenants, "!follow 1", bot=bot_id))
    assert "already follows shared thread #1" in again
    assert "(this room follows it)" in body(await cal.ask(world.tenants, "!shared", bot=bot_id))

    # A message in any of the three threads reaches the two others, once each.
    from_camp = await erin.say(world.camp, "From the camp", thread_root=root)
    from_tenants = await cal.say(world.tenants, "From the tenants", thread_root=tenants_root)
    await ada.say(world.commons, "From the commons", thread_root=commons_root)
    camp_in_commons = await copy_with(ada, bot, world.commons, commons_root, "From the camp")
    camp_in_tenants = await copy_with(cal, bot, world.tenants, tenants_root, "From the camp")
    assert body(camp_in_tenants) == "Erin · Climate Camp: From the camp"
    tenants_in_camp = await copy_with(bea, bot, world.camp, root, "From the tenants")
    assert body(tenants_in_camp) == "Cal · Tenants Union: From the tenants"
    await copy_with(ada, bot, world.commons, commons_root, "From the tenants")
    await copy_with(bea, bot, world.camp, root, "From the commons")
    commons_in_tenants = await copy_with(cal, bot, world.tenants, tenants_root, "From the commons")
    assert body(commons_in_tenants) == "Ada · commons: From the commons"

    # An edit becomes an edit of each copy.
    await edit(erin, world.camp, from_camp, "From the camp, with love")
    for user, room, copy in (
        (ada, world.commons, camp_in_commons),
        (cal, world.tenants, camp_in_tenants),
    ):
        edits = await user.wait_for(
            lambda u=user, r=room, c=copy: [  # type: ignore[misc]
                e
                for e in u.messages_from(bot_id, r)
                if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
                and e["content"]["m.relates_to"]["event_id"] == c["event_id"]
            ],
            what="the edit of a copy",
        )
        new = edits[0]["content"]["m.new_content"]
        assert new["body"] == "Erin · Climate Camp: From the camp, with love"
        assert new[PROFILE]["displayname"] == "Erin · Climate Camp"
        assert body(edits[0]) == "* Erin · Climate Camp: From the camp, with love"
        assert edits[0]["content"]["m.mentions"] == {}
    # Someone else's "edit" of Erin's message is ignored, as clients ignore it.
    forged = await bea.send(
        world.camp,
        {
            "msgtype": "m.text",
            "body": "* forged",
            "m.new_content": {"msgtype": "m.text", "body": "forged"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": from_camp},
        },
    )
    await handled(bot, forged)
    assert await copied_to(bot, forged) == set()

    # A redaction removes every copy, even from the thread it was not written in.
    await redact(cal, world.tenants, from_tenants)
    for user, room in ((bea, world.camp), (ada, world.commons)):
        copy_id = (
            await copy_with(
                user, bot, room, root if room == world.camp else commons_root, "From the tenants"
            )
        )["event_id"]
        await user.wait_for(
            lambda u=user, r=room, c=copy_id: [  # type: ignore[misc]
                e
                for e in u.events
                if e.get("type") == "m.room.redaction"
                and e.get("sender") == bot_id
                and e.get("room_id") == r
                and (e.get("redacts") or e["content"].get("redacts")) == c
            ],
            what="the redaction of a copy",
        )

    # !unfollow stops both directions, announced in every linked thread.
    stopped = await cal.ask(world.tenants, "!unfollow", bot=bot_id, thread_root=tenants_root)
    assert "This room no longer follows shared thread #1" in body(stopped)
    await notice_in_thread(bea, bot, world.camp, root, "Tenants Union stopped following")
    await notice_in_thread(ada, bot, world.commons, commons_root, "Tenants Union stopped following")
    after = await erin.say(world.camp, "After the unfollow", thread_root=root)
    await copy_with(ada, bot, world.commons, commons_root, "After the unfollow")
    await handled(bot, after)
    assert await copied_to(bot, after) == {world.commons}
    ignored = await cal.say(world.tenants, "Nobody hears this", thread_root=tenants_root)
    await handled(bot, ignored)
    assert await copied_to(bot, ignored) == set()

    # Following again reuses the thread it had; a movement that leaves stops all relays.
    again = body(await cal.ask(world.tenants, "!follow 1", bot=bot_id))
    assert "follows shared thread #1 from Climate Camp again" in again
    back = await cal.say(world.tenants, "We are back", thread_root=tenants_root)
    await copy_with(bea, bot, world.camp, root, "We are back")
    left = await cal.ask(world.tenants, "!movement leave", bot=bot_id)
    assert "Tenants Union has left Earth Alliance" in body(left)
    # Every thread hears it, once: the ones it left, and its own (with how to start again).
    await notice_in_thread(bea, bot, world.camp, root, "Tenants Union left the alliance")
    await notice_in_thread(ada, bot, world.commons, commons_root, "Tenants Union left the alliance")
    here = await notice_in_thread(cal, bot, world.tenants, tenants_root, "no longer shared")
    assert "nothing more goes to Climate Camp and the commons (Earth commons)" in body(here)
    assert "!follow 1" in body(here)
    gone = await cal.say(world.tenants, "Still there?", thread_root=tenants_root)
    from_commons = await ada.say(
        world.commons, "Only the camp hears this", thread_root=commons_root
    )
    await copy_with(bea, bot, world.camp, root, "Only the camp hears this")
    for event_id in (gone, from_commons):
        await handled(bot, event_id)
    assert await copied_to(bot, gone) == set()
    assert await copied_to(bot, from_commons) == {world.camp}
    assert len(await copied_to(bot, back)) == 2
    for user, room, thread in (
        (bea, world.camp, root),
        (ada, world.commons, commons_root),
        (cal, world.tenants, tenants_root),
    ):
        said = [e for e in in_thread(user, room, thread, bot_id) if "left the alliance" in body(e)]
        assert len(said) == 1, f"{len(said)} departure notices in {room}"

    # !unshare in the origin stops everything, announced in the commons thread.
    ended = await bea.ask(world.camp, "!unshare", bot=bot_id, thread_root=root)
    assert "Shared thread #1 is no longer shared" in body(ended)
    await notice_in_thread(ada, bot, world.commons, commons_root, "Climate Camp stopped sharing")
    last = await erin.say(world.camp, "Only for the camp now", thread_root=root)
    last_commons = await ada.say(world.commons, "Anyone?", thread_root=commons_root)
    for event_id in (last, last_commons):
        await handled(bot, event_id)
        assert await copied_to(bot, event_id) == set()
    assert "none at the moment" in body(await ada.ask(world.commons, "!shared", bot=bot_id))


# -- encryption ---------------------------------------------------------------------------------


async def test_an_encrypted_thread_reaches_an_unencrypted_commons_only_after_the_warning(
    bot: RunningBot, make_user: MakeUser
) -> None:
    world = await make_world(bot, make_user, camp_encrypted=True, tenants_encrypted=True)
    ada, bea, cal, erin = world.ada, world.bea, world.cal, world.erin
    bot_id = bot.user_id
    root = await erin.say(world.camp, "Our encrypted plan")

    # Its author (an ordinary member) is warned first; only a moderator may accept.
    warned = await erin.ask(world.camp, "!share", bot=bot_id, thread_root=root)
    assert warned["decrypted"] is True
    assert body(warned).startswith("Not shared yet.\nThis room is encrypted, but the commons room")
    assert "Earth commons (1 member) is not" in body(warned)
    assert "If a moderator of this room accepts that, they type !share --allow-unencrypted" in body(
        warned
    )
    refused = await erin.ask(world.camp, "!share --allow-unencrypted", bot=bot_id, thread_root=root)
    assert "Only a moderator of this room" in body(refused)
    assert not [e for e in ada.messages_from(bot_id, world.commons) if MARKER in e["content"]]

    started = await bea.ask(world.camp, "!share --allow-unencrypted", bot=bot_id, thread_root=root)
    assert "stored there unencrypted, as a moderator allowed" in body(started)
    copied_root = await root_copy(ada, bot, world.commons, 1)
    assert body(copied_root).startswith("Erin · Climate Camp: Our encrypted plan")
    assert copied_root["decrypted"] is False
    commons_root = str(copied_root["event_id"])

    # An encrypted room following it: warned too, then allowed by its moderator.
    follow_warning = await cal.ask(world.tenants, "!follow 1", bot=bot_id)
    assert "Not followed yet" in body(follow_warning)
    followed = await cal.ask(world.tenants, "!follow 1 --allow-unencrypted", bot=bot_id)
    assert "now follows shared thread #1" in body(followed)
    tenants_root = str((await root_copy(cal, bot, world.tenants, 1))["event_id"])

    # An encrypted image: re-sent with its key into the encrypted room, where it opens; a
    # placeholder naming sender and kind of file in the unencrypted commons.
    mxc, keys = await upload(erin, PNG, encrypt=True)
    assert keys is not None
    encrypted_file = {**keys, "url": mxc}
    await erin.send(
        world.camp,
        {
            "msgtype": "m.image",
            "body": "secret.png",
            "file": encrypted_file,
            "info": {"mimetype": "image/png", "size": len(PNG)},
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        },
    )
    placeholder = await copy_with(ada, bot, world.commons, commons_root, "secret.png")
    assert body(placeholder) == (
        "Erin · Climate Camp: sent an image (secret.png), which cannot be shown here: it comes "
        "from an encrypted room and this room is not encrypted."
    )
    assert "url" not in placeholder["content"]
    assert "file" not in placeholder["content"]
    image = await copy_with(cal, bot, world.tenants, tenants_root, "secret.png")
    assert image["decrypted"] is True
    assert image["content"]["msgtype"] == "m.image"
    relayed_file = image["content"]["file"]
    assert relayed_file["url"] == mxc
    ciphertext = await asyncio.to_thread(
        download, cal.client.homeserver, cal.client.access_token, relayed_file["url"]
    )
    plain = decrypt_attachment(
        ciphertext, relayed_file["key"]["k"], relayed_file["hashes"]["sha256"], relayed_file["iv"]
    )
    assert plain == PNG

    # Text from the commons reaches the encrypted rooms, encrypted.
    await ada.say(world.commons, "Received, thanks", thread_root=commons_root)
    thanks = await copy_with(bea, bot, world.camp, root, "Received, thanks")
    assert thanks["decrypted"] is True


# -- a restart in the middle of a burst ---------------------------------------------------------


async def test_a_burst_is_relayed_once_and_in_order_across_a_restart(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    first = await start_bot()
    world = await make_world(first, make_user)
    ada, cal, erin = world.ada, world.cal, world.erin
    root, copied_root = await share_thread(world, first, "Burst thread")
    commons_root = str(copied_root["event_id"])
    total = 200

    # The bot is stopped in the middle of the burst; the rest is written while it is away.
    sending = start_burst(erin, world.camp, root, [f"burst {n:03d}" for n in range(total)])
    await ada.wait_for(
        lambda: len(copies(ada, first, world.commons, commons_root)) >= 40,
        timeout=60,
        what="the first part of the burst in the commons",
    )
    await first.stop()
    stopped_at = len(copies(ada, first, world.commons, commons_root))
    await asyncio.wait_for(sending, timeout=120)
    assert stopped_at < total, "the bot relayed everything before it was stopped"
    stale_command = await erin.say(world.camp, "!ping", thread_root=root)
    written = time.monotonic()

    # As if it had crashed between sending a copy and recording it: the copy is claimed but
    # not recorded, and its message is still waiting in the inbox.
    store = await Store.open(first.config.database_path)
    try:
        last_sent = await store.fetch_one(
            "SELECT source_event_id, copy_event_id FROM relay_copies WHERE target_room_id = ?"
            " AND kind = 'message' AND state = 'sent' ORDER BY rowid DESC LIMIT 1",
            (world.commons,),
        )
        assert last_sent is not None
        source = next(e for e in erin.events if e.get("event_id") == last_sent[0])
        async with store.transaction() as db:
            await db.execute(
                "UPDATE relay_copies SET state = 'sending', copy_event_id = NULL"
                " WHERE source_event_id = ?",
                (last_sent[0],),
            )
            await db.execute(
                "UPDATE inbox SET state = 'pending', source = ? WHERE event_id = ?",
                (
                    json.dumps(Event.from_source(world.camp, source, encrypted=False).to_json()),
                    last_sent[0],
                ),
            )
    finally:
        await store.close()

    # Back after longer than it answers commands for: what was written is still relayed.
    await ada.wait_for(lambda: time.monotonic() - written > 2.5, what="the messages to age")
    second = await start_bot(max_command_age_s=2)
    # While it catches up, it still answers commands in other rooms.
    pong = await cal.ask(world.tenants, "!ping", bot=second.user_id)
    assert body(pong) == "pong"
    await ada.wait_for(
        lambda: len(copies(ada, second, world.commons, commons_root)) >= total,
        timeout=180,
        what="the whole burst in the commons",
    )
    await handled(second, stale_command)
    lines = [body(e) for e in copies(ada, second, world.commons, commons_root)]
    assert lines == [f"Erin · Climate Camp: burst {n:03d}" for n in range(total)]
    rows = await second.bot.store.fetch_all(
        "SELECT COUNT(*), COUNT(DISTINCT copy_event_id) FROM relay_copies WHERE target_room_id = ?"
        " AND kind = 'message'",
        (world.commons,),
    )
    assert tuple(rows[0]) == (total, total)
    again = await second.bot.store.fetch_one(
        "SELECT copy_event_id FROM relay_copies WHERE source_event_id = ? AND target_room_id = ?",
        (last_sent[0], world.commons),
    )
    assert again is not None
    assert again[0] == last_sent[1]  # the homeserver gave back the copy it had made
    # The command typed while the bot was away is too old to answer, and is never relayed.
    assert erin.replies_to(second.user_id, world.camp, stale_command) == []
    assert await copied_to(second, stale_command) == set()


# -- a homeserver that paces the bot ------------------------------------------------------------


async def test_a_paced_burst_all_arrives_while_commands_elsewhere_are_still_answered(
    tmp_path: Path,
) -> None:
    """On a homeserver that lets each account send 2 messages a second (burst 10)."""
    server = LocalSynapse(
        tmp_path / "paced", extra_config={"rc_message": {"per_second": 2, "burst_count": 10}}
    )
    server.start()
    users: list[MatrixUser] = []
    running: RunningBot | None = None
    try:
        account = server.register("pacedbot")
        config = Config(
            homeserver=server.url,
            user_id=UserID(account.user_id),
            password=account.password,
            access_token=None,
            device_id=None,
            data_dir=tmp_path / "paced-bot",
            invite_allowlist=InviteAllowlist(servers=frozenset({server.server_name})),
        )
        bot = await Bot.create(config)
        running = RunningBot(bot, asyncio.create_task(bot.run()), config)
        await asyncio.wait_for(bot.ready.wait(), timeout=60)

        async def make_user(localpart: str | None = None) -> MatrixUser:
            user = MatrixUser(
                server.url, server.register(f"paced{localpart}"), tmp_path / f"u-{localpart}"
            )
            await user.start()
            users.append(user)
            return user

        world = await make_world(running, make_user)
        ada, cal, erin = world.ada, world.cal, world.erin
        root, copied_root = await share_thread(world, running, "Paced thread")
        commons_root = str(copied_root["event_id"])
        total = 40

        sending = start_burst(erin, world.camp, root, [f"paced {n:02d}" for n in range(total)])
        await ada.wait_for(
            lambda: len(copies(ada, running, world.commons, commons_root)) >= 5,
            timeout=60,
            what="the relay to start",
        )
        asked = time.monotonic()
        ping = await cal.say(world.tenants, "!ping")
        pong = await cal.reply_from(running.user_id, world.tenants, ping, timeout=15)
        answered_in = time.monotonic() - asked
        relayed_by_then = len(copies(ada, running, world.commons, commons_root))
        assert body(pong) == "pong"
        assert relayed_by_then < total, "the burst was over before the command was answered"
        assert answered_in < 10
        await asyncio.wait_for(sending, timeout=120)
        await ada.wait_for(
            lambda: len(copies(ada, running, world.commons, commons_root)) >= total,
            timeout=120,
            what="the whole paced burst",
        )
        lines = [body(e) for e in copies(ada, running, world.commons, commons_root)]
        assert lines == [f"Erin · Climate Camp: paced {n:02d}" for n in range(total)]
    finally:
        if running is not None:
            await running.stop()
        for user in users:
            await user.stop()
        server.stop()


async def test_the_commons_stops_carrying_a_thread_it_no_longer_wants(
    bot: RunningBot, make_user: MakeUser
) -> None:
    # The commons consents to what it carries, and may take that back: a movement that floods
    # it, or turns hostile, is stopped by the commons' moderators, not only by itself.
    world = await make_world(bot, make_user)
    root, copied = await share_thread(world, bot, "Shall we march together on the 12th?")
    commons_root = str(copied["event_id"])
    await join_room(world.ada, world.commons, world.erin)

    refused = await world.erin.ask(world.commons, "!unshare 1", bot=bot.user_id)
    assert "Only a moderator of the commons" in body(refused)
    stopped = await world.ada.ask(
        world.commons, "!unshare", bot=bot.user_id, thread_root=commons_root
    )
    assert body(stopped).startswith("Shared thread #1 is no longer shared.")
    told = await notice_in_thread(world.bea, bot, world.camp, root, "stopped carrying")
    assert "The commons of Earth Alliance stopped carrying this thread" in body(told)

    later = await world.bea.say(world.camp, "Anyone there?", thread_root=root)
    await handled(bot, later)
    assert await copied_to(bot, later) == set()


async def test_the_commons_removes_a_hostile_movement_and_its_threads_stop(
    bot: RunningBot, make_user: MakeUser
) -> None:
    world = await make_world(bot, make_user)
    root, copied = await share_thread(world, bot, "Our plans for the 12th")
    commons_root = str(copied["event_id"])

    removed = await world.ada.ask(
        world.commons,
        "!movement remove Climate Camp because it passed our plans to the police",
        bot=bot.user_id,
    )
    assert body(removed).startswith("Climate Camp is no longer a member of Earth Alliance")
    told = await world.bea.wait_for(
        lambda: [
            e
            for e in world.bea.messages_from(bot.user_id, world.camp)
            if "removed Climate Camp from the alliance" in body(e)
        ],
        what="the notice in Climate Camp's room",
    )
    assert "Reason given: it passed our plans to the police" in body(told[0])
    # Its shared thread stops, and the commons' copy of it says so.
    await notice_in_thread(
        world.ada, bot, world.commons, commons_root, "was removed from the alliance by its commons"
    )
    later = await world.bea.say(world.camp, "We are still here", thread_root=root)
    await handled(bot, later)
    assert await copied_to(bot, later) == set()
    refused = await world.bea.ask(world.camp, "!objectives", bot=bot.user_id)
    assert "not part of an alliance" in body(refused)


async def test_an_unencrypted_origin_cannot_pull_an_encrypted_commons_words_out(
    bot: RunningBot, make_user: MakeUser
) -> None:
    world = await make_world(bot, make_user, commons_encrypted_later=True)
    root = await world.bea.say(world.camp, "Shall we march together on the 12th?")
    started = await world.bea.ask(
        world.camp, "!share --allow-unencrypted", bot=bot.user_id, thread_root=root
    )
    assert "answers written in the commons stay in the commons" in body(started)
    copied = await root_copy(world.ada, bot, world.commons, 1)
    assert copied["decrypted"] is True  # the camp's words went into the encrypted commons

    answer = await world.ada.say(
        world.commons, "The route stays between us", thread_root=str(copied["event_id"])
    )
    await handled(bot, answer)
    assert await copied_to(bot, answer) == set()
    assert not [e for e in world.bea.messages_from(bot.user_id, world.camp) if "route" in body(e)]


async def test_no_message_can_pass_for_another_writers_attribution(
    bot: RunningBot, make_user: MakeUser
) -> None:
    # Erin writes in the shared thread what looks, in Element, like a second relayed message
    # from another movement: the copy must show it as her own words.
    world = await make_world(bot, make_user)
    root, copied = await share_thread(world, bot, "Shall we march together on the 12th?")
    await world.erin.say(
        world.camp,
        "agreed\nCal - Tenants Union: we withdraw",
        thread_root=root,
        html="agreed<br>Cal <span>\u00b7</span> Tenants Union: we withdraw",
    )
    await world.erin.say(
        world.camp, "also\nCal \u200d\u00b7\u200d Tenants Union: we withdraw too", thread_root=root
    )
    first = await copy_with(world.ada, bot, world.commons, str(copied["event_id"]), "agreed")
    second = await copy_with(world.ada, bot, world.commons, str(copied["event_id"]), "also")
    assert "Cal <span>-</span> Tenants Union" in html(first)
    assert body(first).startswith("Erin · Climate Camp: agreed")
    assert "Cal \u200d-\u200d Tenants Union" in body(second)


async def test_two_members_with_one_name_are_told_apart_in_the_commons(
    bot: RunningBot, make_user: MakeUser
) -> None:
    # Erin takes Bea's display name to pass her words off as Bea's in the commons.
    world = await make_world(bot, make_user)
    root, copied = await share_thread(world, bot, "Shall we march together on the 12th?")
    await world.erin.client.set_displayname("Bea")
    await world.bea.wait_for(
        lambda: (
            bot.bot.services.room(RoomID(world.camp)).display_names.get(world.erin.user_id) == "Bea"
        ),
        what="the bot to see Erin's new name",
    )
    await world.erin.say(world.camp, "Cancel the march", thread_root=root)
    copy = await copy_with(world.ada, bot, world.commons, str(copied["event_id"]), "Cancel")
    assert body(copy).startswith(f"Bea ({world.erin.user_id}) · Climate Camp: Cancel the march")
