"""Odd events nobody typed never crash the bot: every listener takes them in its stride.

Poll responses and poll ends (both names of each), messages and edits in a shared thread, and
redactions, sent by a buggy or hostile client in every odd shape: content missing, `null` or a
list; relations that are strings, lists or point at the wrong thing; answers that are not a
list of ids; bodies and HTML that are huge, nested a thousand deep or carry scripts; files
without an address; senders that are not user ids; timestamps that are words, negative or
in the far future. Each one is built from raw event JSON by `Event.from_source` and round-trips
through JSON as it waits in the inbox, then goes to every listener of the registry.

The world gives the listeners something to act on: an alliance with a commons and an active
movement, an open straw poll, an open consensus poll, a closed poll and an alliance-wide poll,
and the movement's thread shared into the commons with messages already copied both ways.

In the bot, an exception escaping a listener posts "something went wrong" into the room, so
each one is a bug; so are Python's error names or the world's ids in what the bot says, copies
too big to send or carrying scripts, and a store left in a state the bot can no longer show.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from bot.contract import Reply
from bot.events import Event
from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.polls import live_tally
from commands.polls import store as db
from commands.relay import store as rdb
from commands.relay.content import MARKER
from tests.unit.fakes import BOT, FakeServices, Harness, in_thread, make_config, room_state
from tests.unit.robustness import PYTHON_WORDS, Built, built_once, leaks, where_raised

FOUNDER, MOD, MEMBER = "@founder:hs", "@mod:hs", "@mia:hs"
STRANGER, HELPER_BOT = "@stranger:hs", "@helperbot:hs"
PLAIN, COMMONS, CAMP = RoomID("!plain:hs"), RoomID("!commons:hs"), RoomID("!camp:hs")

MESSAGE: Final = "m.room.message"
REDACTION: Final = "m.room.redaction"
RESPONSE: Final = "org.matrix.msc3381.poll.response"
STABLE_RESPONSE: Final = "m.poll.response"
END: Final = "org.matrix.msc3381.poll.end"
STABLE_END: Final = "m.poll.end"

# Stand-ins for the world's event ids, replaced by the real ones once the world is built.
STRAW = "<the straw poll>"
CONSENSUS = "<the consensus poll>"
CLOSED = "<the closed poll>"
ALLIANCE_HERE = "<the alliance poll in the movement room>"
ALLIANCE_COMMONS = "<the alliance poll in the commons>"
VOTE = "<a vote on the straw poll>"
ROOT = "<the shared thread's root>"
ROOT_COPY = "<the root's copy in the commons>"
SAID = "<a relayed message>"
SAID_COPY = "<the relayed message's copy in the commons>"
ANSWER = "<a message in the commons' thread>"
ANSWER_COPY = "<the commons message's copy in the movement room>"
FILE = "<a relayed file>"
FILE_COPY = "<the relayed file's copy in the commons>"
ELSEWHERE = "<a message in a room outside the alliance>"

MISSING: Final = object()
"""In a case: leave this key out of the event."""

# What a person must never see: Python's own words, and the world's ids ("!camp", "$made12").
ROOM_IDS = ("!plain", "!commons", "!camp", "!space")
UNSAFE_HTML = re.compile(r"<script|javascript:|<[^>]*\son\w+\s*=", re.IGNORECASE)
MAX_CONTENT_BYTES = 60_000  # Synapse refuses events over 64 KiB, signatures and all


# -- the cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """An event as a client sends it: its type, content, room, sender and other top-level keys.

    `content`, `sender` and the values of `top` may be anything JSON holds, or MISSING.
    """

    type: str
    content: Any
    room: RoomID = CAMP
    sender: Any = MEMBER
    top: Mapping[str, Any] = field(default_factory=dict)

    def but(self, **changes: Any) -> Case:
        return dataclasses.replace(self, **changes)

    def with_top(self, **top: Any) -> Case:
        return dataclasses.replace(self, top={**self.top, **top})

    def with_content(self, changes: Mapping[str, Any]) -> Case:
        """The content with keys changed; a key "a/b" is key b inside key a."""
        content = copy.deepcopy(self.content)
        for path, value in changes.items():
            *outer, last = path.split("/")
            inner = content
            for key in outer:
                inner = inner[key]
            if value is MISSING:
                inner.pop(last, None)
            else:
                inner[last] = value
        return dataclasses.replace(self, content=content)


def reference(poll: Any) -> dict[str, Any]:
    return {"rel_type": "m.reference", "event_id": poll}


def nested(tag: str, depth: int = 1000) -> str:
    return f"<{tag}>" * depth + "deep" + f"</{tag}>" * depth


HUGE = "word " * 20_000  # 100 kB
SCRIPT = '<p>hi</p><script>alert("x")</script>'
JS_IMAGE = '<img src="javascript:alert(1)" onerror="alert(2)">'
JS_LINK = '<a href="javascript:alert(1)" onclick="alert(2)">click</a>'
REDACTED_BECAUSE = {
    "type": REDACTION,
    "sender": MOD,
    "event_id": "$gone",
    "origin_server_ts": 1,
    "content": {"reason": "spam"},
}
UNSIGNED = {
    "age": 1234,
    "transaction_id": "m1234",
    "m.relations": {"m.thread": {"count": 3, "latest_event": {"content": None}}},
    "redacted_because": REDACTED_BECAUSE,
}

BASES: dict[str, Case] = {
    "response": Case(RESPONSE, {"m.relates_to": reference(STRAW), RESPONSE: {"answers": ["a2"]}}),
    "stable response": Case(
        STABLE_RESPONSE, {"m.relates_to": reference(STRAW), "m.selections": ["a2"]}
    ),
    "end": Case(
        END,
        {
            "m.relates_to": reference(STRAW),
            END: {},
            "org.matrix.msc1767.text": "The poll has ended.",
            "body": "The poll has ended.",
            "msgtype": "m.text",
        },
        sender=MOD,
    ),
    "stable end": Case(
        STABLE_END,
        {
            "m.relates_to": reference(CONSENSUS),
            STABLE_END: {},
            "m.text": [{"body": "The poll has ended."}],
        },
        sender=MOD,
    ),
    "message": Case(
        MESSAGE, {"msgtype": "m.text", "body": "See you there.", "m.relates_to": in_thread(ROOT)}
    ),
    "edit": Case(
        MESSAGE,
        {
            "msgtype": "m.text",
            "body": "* Yes, Sunday.",
            "m.new_content": {"msgtype": "m.text", "body": "Yes, Sunday."},
            "m.relates_to": {"rel_type": "m.replace", "event_id": SAID},
        },
    ),
    "redaction": Case(REDACTION, {"redacts": SAID, "reason": "typo"}, top={"redacts": SAID}),
}
"""A well-formed event of each kind (each acts on the world); the odd ones change one part."""

ANY_EVENT: dict[str, Callable[[Case], Case]] = {
    "content missing": lambda c: c.but(content=MISSING),
    "content null": lambda c: c.but(content=None),
    "content a list": lambda c: c.but(content=[c.content]),
    "content a string": lambda c: c.but(content="hello"),
    "sender missing": lambda c: c.but(sender=MISSING),
    "sender empty": lambda c: c.but(sender=""),
    "sender not a user id": lambda c: c.but(sender="mallory"),
    "sender an int": lambda c: c.but(sender=42),
    "sent by the bot": lambda c: c.but(sender=BOT),
    "sender not in the room": lambda c: c.but(sender=STRANGER),
    "timestamp missing": lambda c: c.with_top(origin_server_ts=MISSING),
    "timestamp a word": lambda c: c.with_top(origin_server_ts="yesterday"),
    "timestamp a number in a string": lambda c: c.with_top(origin_server_ts="1700000000000"),
    "timestamp null": lambda c: c.with_top(origin_server_ts=None),
    "timestamp a list": lambda c: c.with_top(origin_server_ts=[1]),
    "timestamp a float": lambda c: c.with_top(origin_server_ts=1.7e12),
    "timestamp negative": lambda c: c.with_top(origin_server_ts=-1),
    "timestamp far past": lambda c: c.with_top(origin_server_ts=-(2**53) + 1),
    "timestamp far future": lambda c: c.with_top(origin_server_ts=2**53 - 1),
    "event id missing": lambda c: c.with_top(event_id=MISSING),
    "event id an int": lambda c: c.with_top(event_id=7),
    "event id of an earlier event": lambda c: c.with_top(event_id=SAID),
    "an unsigned block": lambda c: c.with_top(unsigned=UNSIGNED),
    "redacted (content stripped)": lambda c: c.but(content={}).with_top(
        unsigned={"redacted_because": REDACTED_BECAUSE}
    ),
    "with a state key": lambda c: c.with_top(state_key=""),
    "in a room outside the alliance": lambda c: c.but(room=PLAIN),
    "in the commons": lambda c: c.but(room=COMMONS),
}
"""What any event can get wrong, applied to each well-formed one."""

RELATIONS: dict[str, Any] = {
    "relation missing": MISSING,
    "relation null": None,
    "relation a string": "m.reference",
    "relation a list": [reference(STRAW)],
    "related event id missing": {"rel_type": "m.reference"},
    "related event id an int": reference(42),
    "related event id null": reference(None),
    "related event id a list": reference([STRAW]),
    "related event id unknown": reference("$nobody-knows"),
    "related event id empty": reference(""),
    "related to an event in another room": reference(ELSEWHERE),
    "related to the other room's alliance poll": reference(ALLIANCE_COMMONS),
    "related to a relayed copy": reference(ANSWER_COPY),
    "related to a vote": reference(VOTE),
    "rel_type missing": {"event_id": STRAW},
    "rel_type an annotation": {"rel_type": "m.annotation", "event_id": STRAW, "key": "👍"},
    "rel_type a thread": in_thread(STRAW),
    "rel_type an int": {"rel_type": 1, "event_id": STRAW},
    "rel_type a list": {"rel_type": ["m.reference"], "event_id": STRAW},
    "m.in_reply_to a string": {**reference(STRAW), "m.in_reply_to": STRAW},
}
"""What a poll response or end can say about the poll it is about."""

ANSWERS: dict[str, Any] = {
    "answers missing": MISSING,
    "answers null": None,
    "answers a string": "a1",
    "answers an int": 1,
    "answers a dict": {"a1": True},
    "answers empty": [],
    "answers ints": [1, 2],
    "answers dicts": [{"id": "a1"}],
    "answers lists": [["a1"]],
    "answers null in a list": [None],
    "answers a 100 kB id": ["a" * 100_000],
    "answers 5000 ids": [f"a{n}" for n in range(5000)],
    "answers a1 5000 times": ["a1"] * 5000,
    "answers duplicated": ["a1", "a1"],
    "answers both options": ["a1", "a2"],
    "answers unknown": ["nope"],
    "answers with a NUL": ["a1\x00"],
    "answers an empty id": [""],
}
"""What a poll response can choose (the straw poll's options are a1 and a2)."""

RESPONSE_BODIES: dict[str, Any] = {
    "response body missing": MISSING,
    "response body null": None,
    "response body a list": [{"answers": ["a1"]}],
    "response body a string": "a1",
}


def response(answers: Any, *, poll: str = STRAW, stable: bool = False) -> Case:
    if stable:
        content = {"m.relates_to": reference(poll), "m.selections": answers}
        if answers is MISSING:
            del content["m.selections"]
        return Case(STABLE_RESPONSE, content)
    body = {} if answers is MISSING else {"answers": answers}
    return Case(RESPONSE, {"m.relates_to": reference(poll), RESPONSE: body})


def poll_events() -> dict[str, Case]:
    """Poll responses and ends, beyond what ANY_EVENT does to them."""
    cases: dict[str, Case] = {}
    for kind in ("response", "stable response", "end", "stable end"):
        for name, relation in RELATIONS.items():
            cases[f"{kind}: {name}"] = BASES[kind].with_content({"m.relates_to": relation})
    for stable, kind in ((False, "response"), (True, "stable response")):
        for name, answers in ANSWERS.items():
            cases[f"{kind}: {name}"] = response(answers, stable=stable)
        cases[f"{kind}: to the closed poll"] = response(["a1"], poll=CLOSED, stable=stable)
        cases[f"{kind}: to the alliance poll"] = response(["a1"], poll=ALLIANCE_HERE, stable=stable)
        cases[f"{kind}: block on the consensus poll"] = response(
            ["block"], poll=CONSENSUS, stable=stable
        )
    for name, body in RESPONSE_BODIES.items():
        cases[f"response: {name}"] = BASES["response"].with_content({RESPONSE: body})
    cases["stable response: in the unstable body"] = Case(
        STABLE_RESPONSE, {"m.relates_to": reference(STRAW), STABLE_RESPONSE: {"answers": ["a1"]}}
    )
    cases["response: both forms, disagreeing"] = BASES["response"].with_content(
        {"m.selections": ["a1"]}
    )
    objecting = {
        "block twice": (["block", "block"], MEMBER),
        "block, then agree": (["block", "agree"], MEMBER),
        "block 5000 times": (["block"] * 5000, MEMBER),
        "stand aside, not in the room": (["stand_aside"], STRANGER),
        "block, sender not a user id": (["block"], "mallory"),
        "block, sender empty": (["block"], ""),
        "block, sender with markup": (["block"], "@<b>x</b>:hs"),
        "block, by the bot": (["block"], BOT),
    }
    for name, (answers, sender) in objecting.items():
        cases[f"response: {name}"] = response(answers, poll=CONSENSUS).but(sender=sender)
    cases["response: block, far-future timestamp"] = response(["block"], poll=CONSENSUS).with_top(
        origin_server_ts=2**53 - 1
    )
    ends = {
        "by a member": BASES["end"].but(sender=MEMBER),
        "of the closed poll": BASES["end"].with_content({"m.relates_to": reference(CLOSED)}),
        "of the alliance poll": BASES["end"].with_content(
            {"m.relates_to": reference(ALLIANCE_HERE)}
        ),
        "of the alliance poll, in the commons": BASES["end"]
        .with_content({"m.relates_to": reference(ALLIANCE_COMMONS)})
        .but(room=COMMONS),
        "of the consensus poll, far-future timestamp": BASES["stable end"].with_top(
            origin_server_ts=2**53 - 1
        ),
        "of the alliance poll, far-future timestamp": BASES["end"]
        .with_content({"m.relates_to": reference(ALLIANCE_HERE)})
        .with_top(origin_server_ts=2**53 - 1),
        "of the alliance poll in the commons, far-future timestamp": BASES["end"]
        .with_content({"m.relates_to": reference(ALLIANCE_COMMONS)})
        .but(room=COMMONS)
        .with_top(origin_server_ts=2**53 - 1),
        "end body a string": BASES["end"].with_content({END: "ended"}),
        "end body a list": BASES["end"].with_content({END: [1]}),
        "body an int": BASES["end"].with_content({"body": 5}),
    }
    cases.update({f"end: {name}": case for name, case in ends.items()})
    return cases


def thread_messages() -> dict[str, Case]:
    """Messages in the shared thread, beyond what ANY_EVENT does to them."""
    base = BASES["message"]
    rich = base.with_content({"format": "org.matrix.custom.html"})
    said = {
        "body missing": base.with_content({"body": MISSING}),
        "body null": base.with_content({"body": None}),
        "body an int": base.with_content({"body": 5}),
        "body a list": base.with_content({"body": ["hi"]}),
        "body empty": base.with_content({"body": ""}),
        "body only whitespace": base.with_content({"body": " \n\t \u200b "}),
        "body 100 kB": base.with_content({"body": HUGE}),
        "body with a NUL": base.with_content({"body": "a\x00b"}),
        "body 100 kB of ampersands": base.with_content({"body": "&" * 100_000}),
        "body 100 kB of emoji": base.with_content({"body": "🔥" * 25_000}),
        "body only a quote": base.with_content({"body": "> quoted"}),
        "body a command": base.with_content({"body": "!poll list"}),
        "formatted_body without format": base.with_content({"formatted_body": "<b>hi</b>"}),
        "format without formatted_body": rich,
        "format an int": base.with_content({"format": 1, "formatted_body": "<b>hi</b>"}),
        "formatted_body an int": rich.with_content({"formatted_body": 5}),
        "formatted_body a list": rich.with_content({"formatted_body": ["<b>hi</b>"]}),
        "formatted_body 1000 <b> deep": rich.with_content({"formatted_body": nested("b")}),
        "formatted_body 1000 <blockquote> deep": rich.with_content(
            {"formatted_body": nested("blockquote")}
        ),
        "formatted_body 1000 unclosed <div>": rich.with_content({"formatted_body": "<div>" * 1000}),
        "formatted_body 1000 nested <script>": rich.with_content(
            {"formatted_body": nested("script")}
        ),
        "formatted_body with <script>": rich.with_content({"formatted_body": SCRIPT}),
        "formatted_body with a javascript: image": rich.with_content({"formatted_body": JS_IMAGE}),
        "formatted_body with a javascript: link": rich.with_content({"formatted_body": JS_LINK}),
        "formatted_body 100 kB": rich.with_content({"formatted_body": "<b>x</b> " * 12_000}),
        "formatted_body with a NUL": rich.with_content({"formatted_body": "<b>a\x00b</b>"}),
        "formatted_body with bad character references": rich.with_content(
            {"formatted_body": "&#0; &#x110000; &#xD800; &bogus; &"}
        ),
        "formatted_body an unclosed comment": rich.with_content({"formatted_body": "<!-- <b>"}),
        "formatted_body a broken tag": rich.with_content({"formatted_body": '<a href="x'}),
        "msgtype unknown": base.with_content({"msgtype": "m.bogus"}),
        "msgtype missing": base.with_content({"msgtype": MISSING}),
        "msgtype an int": base.with_content({"msgtype": 1}),
        "msgtype a list": base.with_content({"msgtype": ["m.text"]}),
        "msgtype a dict": base.with_content({"msgtype": {"m.text": 1}}),
        "an emote": base.with_content({"msgtype": "m.emote"}),
        "a notice from a bot": base.with_content({"msgtype": "m.notice"}).but(sender=HELPER_BOT),
        "a location": base.with_content({"msgtype": "m.location", "geo_uri": 5}),
        "a verification request": base.with_content(
            {"msgtype": "m.key.verification.request", "methods": None}
        ),
        "marked as relayed": base.with_content({MARKER: {"shared_thread": 1}}),
        "marked as relayed, marker a string": base.with_content({MARKER: "yes"}),
        "thread root an int": base.with_content({"m.relates_to/event_id": 5}),
        "thread root null": base.with_content({"m.relates_to/event_id": None}),
        "thread root unknown": base.with_content({"m.relates_to/event_id": "$nobody-knows"}),
        "thread root in another room": base.with_content({"m.relates_to/event_id": ELSEWHERE}),
        "thread root the commons' copy": base.with_content({"m.relates_to/event_id": ROOT_COPY}),
        "thread root a poll": base.with_content({"m.relates_to/event_id": STRAW}),
        "rel_type odd": base.with_content({"m.relates_to/rel_type": "m.bogus"}),
        "rel_type an int": base.with_content({"m.relates_to/rel_type": 5}),
        "relation a string": base.with_content({"m.relates_to": "m.thread"}),
        "relation a list": base.with_content({"m.relates_to": [in_thread(ROOT)]}),
        "m.in_reply_to a string": base.with_content({"m.relates_to/m.in_reply_to": ROOT}),
        "m.in_reply_to a list": base.with_content({"m.relates_to/m.in_reply_to": [ROOT]}),
        "replying to an int": base.with_content(
            {"m.relates_to/m.in_reply_to": {"event_id": 5}, "m.relates_to/is_falling_back": False}
        ),
        "replying to an unknown event": base.with_content(
            {
                "m.relates_to/m.in_reply_to": {"event_id": "$nobody-knows"},
                "m.relates_to/is_falling_back": False,
            }
        ),
        "replying to a copy": base.with_content(
            {
                "m.relates_to/m.in_reply_to": {"event_id": ANSWER_COPY},
                "m.relates_to/is_falling_back": False,
            }
        ),
        "replying to another room's event": base.with_content(
            {
                "m.relates_to/m.in_reply_to": {"event_id": ELSEWHERE},
                "m.relates_to/is_falling_back": False,
            }
        ),
        "is_falling_back a string": base.with_content({"m.relates_to/is_falling_back": "no"}),
        "a reply outside any thread": base.with_content(
            {"m.relates_to": {"m.in_reply_to": {"event_id": SAID}}}
        ),
        "in the commons' thread, 1000 deep": rich.with_content(
            {"formatted_body": nested("b"), "m.relates_to": in_thread(ROOT_COPY)}
        ).but(room=COMMONS, sender=MOD),
        "in the commons' thread, body 100 kB": base.with_content(
            {"body": HUGE, "m.relates_to": in_thread(ROOT_COPY)}
        ).but(room=COMMONS, sender=MOD),
    }
    cases = {f"message: {name}": case for name, case in said.items()}

    def attachment(msgtype: str, **content: Any) -> Case:
        return base.but(
            content={"msgtype": msgtype, "body": "plan.pdf", "m.relates_to": in_thread(ROOT)}
        ).with_content({k.replace("__", "/"): v for k, v in content.items()})

    key = {"kty": "oct", "k": "x", "alg": "A256CTR", "ext": True, "key_ops": ["decrypt"]}
    good_file = {"url": "mxc://hs/f", "key": key, "iv": "iv", "hashes": {"sha256": "h"}, "v": "v2"}
    files = {
        "m.file without url or file": attachment("m.file"),
        "m.image without url or file": attachment("m.image"),
        "m.file with url an int": attachment("m.file", url=5),
        "m.file with url null": attachment("m.file", url=None),
        "m.file with an http url": attachment("m.file", url="https://example.org/x.pdf"),
        "m.file with a javascript: url": attachment("m.file", url="javascript:alert(1)"),
        "m.image with file missing its keys": attachment("m.image", file={"url": "mxc://hs/f"}),
        "m.image with file empty": attachment("m.image", file={}),
        "m.image with file a list": attachment("m.image", file=["mxc://hs/f"]),
        "m.image with file's url an int": attachment("m.image", file={**good_file, "url": 5}),
        "m.image with file's key a string": attachment("m.image", file={**good_file, "key": "k"}),
        "m.image, encrypted, into an unencrypted room": attachment("m.image", file=good_file),
        "m.file with info a list": attachment("m.file", url="mxc://hs/f", info=[1]),
        "m.file with odd info": attachment(
            "m.file",
            url="mxc://hs/f",
            info={"size": "big", "w": -1, "mimetype": 5, "thumbnail_info": [], "thumbnail_url": 5},
        ),
        "m.file with body missing": attachment("m.file", url="mxc://hs/f", body=MISSING),
        "m.file with body an int": attachment("m.file", url="mxc://hs/f", body=5),
        "m.image with filename an int": attachment("m.image", url="mxc://hs/f", filename=5),
        "m.image with a 100 kB caption in HTML": attachment(
            "m.image",
            url="mxc://hs/f",
            filename="plan.png",
            body=HUGE,
            format="org.matrix.custom.html",
            formatted_body=nested("i"),
        ),
        "m.video with a script caption": attachment(
            "m.video",
            url="mxc://hs/f",
            filename="clip.mp4",
            body="see",
            format="org.matrix.custom.html",
            formatted_body=SCRIPT,
        ),
        "m.audio with a 100 kB filename": attachment("m.audio", url="mxc://hs/f", filename=HUGE),
    }
    cases.update({f"message, {name}": case for name, case in files.items()})
    return cases


def edits() -> dict[str, Case]:
    """Edits of messages of the shared thread, beyond what ANY_EVENT does to them."""
    base = BASES["edit"]
    text = {"msgtype": "m.text", "body": "Yes, Sunday."}
    rich = {**text, "format": "org.matrix.custom.html"}
    edit: dict[str, dict[str, Any]] = {
        "m.new_content missing": {"m.new_content": MISSING},
        "m.new_content null": {"m.new_content": None},
        "m.new_content a list": {"m.new_content": [text]},
        "m.new_content a string": {"m.new_content": "Yes, Sunday."},
        "m.new_content empty": {"m.new_content": {}},
        "m.new_content without body": {"m.new_content/body": MISSING},
        "new body an int": {"m.new_content/body": 5},
        "new body 100 kB": {"m.new_content/body": HUGE},
        "new body only whitespace": {"m.new_content/body": "   "},
        "new body with a NUL": {"m.new_content/body": "a\x00b"},
        "new msgtype missing": {"m.new_content/msgtype": MISSING},
        "new msgtype unknown": {"m.new_content/msgtype": "m.bogus"},
        "new msgtype a list": {"m.new_content/msgtype": ["m.text"]},
        "new body 100 kB of emoji": {"m.new_content/body": "🔥" * 25_000},
        "new content marked as relayed": {"m.new_content": {**text, MARKER: {}}},
        "new content 1000 <b> deep": {"m.new_content": {**rich, "formatted_body": nested("b")}},
        "new content with <script>": {"m.new_content": {**rich, "formatted_body": SCRIPT}},
        "new content with a javascript: image": {
            "m.new_content": {**rich, "formatted_body": JS_IMAGE}
        },
        "new content formatted_body an int": {"m.new_content": {**rich, "formatted_body": 5}},
        "new content a file without url": {"m.new_content": {"msgtype": "m.file", "body": "x"}},
        "new content a file with url an int": {
            "m.new_content": {"msgtype": "m.file", "body": "x", "url": 5}
        },
        "new content with its own relation": {
            "m.new_content": {**text, "m.relates_to": in_thread(ROOT)}
        },
        "edited event id missing": {"m.relates_to/event_id": MISSING},
        "edited event id an int": {"m.relates_to/event_id": 5},
        "edited event id null": {"m.relates_to/event_id": None},
        "edited event id a list": {"m.relates_to/event_id": [SAID]},
        "edited event unknown": {"m.relates_to/event_id": "$nobody-knows"},
        "edited event in another room": {"m.relates_to/event_id": ELSEWHERE},
        "edited event a copy": {"m.relates_to/event_id": ANSWER_COPY},
        "edited event a poll": {"m.relates_to/event_id": STRAW},
        "edited event the root": {"m.relates_to/event_id": ROOT},
        "edited event the relayed file": {"m.relates_to/event_id": FILE},
        "relation a string": {"m.relates_to": "m.replace"},
        "relation a list": {"m.relates_to": [{"rel_type": "m.replace", "event_id": SAID}]},
        "m.in_reply_to a string": {"m.relates_to/m.in_reply_to": SAID},
    }
    cases = {f"edit: {name}": base.with_content(change) for name, change in edit.items()}
    cases["edit: by someone else"] = base.but(sender=MOD)
    cases["edit: of a copy, in the commons"] = base.with_content(
        {"m.relates_to/event_id": SAID_COPY}
    ).but(room=COMMONS, sender=MOD)
    cases["edit: by the bot, of its copy"] = base.with_content(
        {"m.relates_to/event_id": SAID_COPY}
    ).but(room=COMMONS, sender=BOT)
    return cases


def redactions() -> dict[str, Case]:
    """Redactions, beyond what ANY_EVENT does to them."""

    def redaction(redacts: Any, *, sender: str = MEMBER, room: RoomID = CAMP) -> Case:
        return Case(
            REDACTION, {"reason": "gone"}, room=room, sender=sender, top={"redacts": redacts}
        )

    redact = {
        "redacts missing": redaction(MISSING),
        "redacts an int": redaction(5),
        "redacts null": redaction(None),
        "redacts a list": redaction([SAID]),
        "redacts empty": redaction(""),
        "redacts an unknown event": redaction("$nobody-knows"),
        "redacts the straw poll": redaction(STRAW, sender=MOD),
        "redacts the straw poll, by its creator": redaction(STRAW),
        "redacts the consensus poll": redaction(CONSENSUS, sender=MOD),
        "redacts the closed poll": redaction(CLOSED, sender=MOD),
        "redacts the alliance poll here": redaction(ALLIANCE_HERE, sender=MOD),
        "redacts the alliance poll in the commons": redaction(
            ALLIANCE_COMMONS, sender=MOD, room=COMMONS
        ),
        "redacts a vote": redaction(VOTE),
        "redacts a vote, by someone else": redaction(VOTE, sender=STRANGER),
        "redacts a relayed message, by a moderator": redaction(SAID, sender=MOD),
        "redacts a relayed message, by someone not allowed": redaction(SAID, sender=STRANGER),
        "redacts a relayed message, from another room": redaction(SAID, room=PLAIN),
        "redacts a relayed message, from the commons": redaction(SAID, sender=MOD, room=COMMONS),
        "redacts a copy, in the commons": redaction(SAID_COPY, sender=MOD, room=COMMONS),
        "redacts a copy, by the bot": redaction(SAID_COPY, sender=BOT, room=COMMONS),
        "redacts a copy in the movement room": redaction(ANSWER_COPY, sender=MOD),
        "redacts a copy's original, in the commons": redaction(ANSWER, sender=MOD, room=COMMONS),
        "redacts the thread's root": redaction(ROOT),
        "redacts the root's copy": redaction(ROOT_COPY, sender=MOD, room=COMMONS),
        "redacts a relayed file": redaction(FILE),
        "redacts a relayed file's copy": redaction(FILE_COPY, sender=MOD, room=COMMONS),
        "redacts an event of another room": redaction(ELSEWHERE),
        "redacts in the content only": Case(REDACTION, {"redacts": SAID}),
        "redacts in the content an int": Case(REDACTION, {"redacts": 5}),
        "redacts in the content a list": Case(REDACTION, {"redacts": [SAID]}),
        "redacts: two that disagree": Case(REDACTION, {"redacts": SAID}, top={"redacts": FILE}),
        "reason an int": Case(REDACTION, {"reason": 5}, top={"redacts": SAID}),
        "reason 100 kB": Case(REDACTION, {"reason": HUGE}, top={"redacts": SAID}),
    }
    return {f"redaction: {name}": case for name, case in redact.items()}


def all_cases() -> list[Any]:
    cases: dict[str, Case] = {}
    for kind, base in BASES.items():
        cases[f"{kind}: well formed"] = base
        for name, odd in ANY_EVENT.items():
            cases[f"{kind}: {name}"] = odd(base)
    for more in (poll_events(), thread_messages(), edits(), redactions()):
        assert not cases.keys() & more.keys(), "each case has its own name"
        cases.update(more)
    return [pytest.param(case, id=name) for name, case in cases.items()]


# -- the world ----------------------------------------------------------------------------------


def started(poll: db.Poll) -> EventID:
    """The poll's start event (every poll of the world was sent)."""
    assert poll.start_event_id is not None
    return poll.start_event_id


class World(Harness):
    ids: dict[str, str]  # the real event id of each stand-in
    polls: dict[str, int]  # the poll id of each poll's stand-in

    async def must(self, room: RoomID, sender: str, text: str, template: str) -> Reply:
        reply, message = await self.answer(room, sender, text)
        assert reply.template == template, message.body
        return reply

    async def say(
        self, room: RoomID, sender: str, content: dict[str, Any], *, kind: str = MESSAGE
    ) -> EventID:
        """A member's event, handled by every listener as the bot does."""
        event = self.make_event(room, sender, kind, content)
        await self.listen(event)
        return event.event_id

    async def latest_poll(self, room: RoomID) -> db.Poll:
        poll = await db.latest_poll(self.services.store, room, open_only=False)
        assert poll is not None
        return poll

    def resolve(self, value: Any) -> Any:
        """`value` with every stand-in replaced by the real event id."""
        if isinstance(value, str):
            return self.ids.get(value, value)
        if isinstance(value, dict):
            return {key: self.resolve(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [self.resolve(inner) for inner in value]
        return value

    def source(self, case: Case) -> dict[str, Any]:
        """The raw event a sync would give for `case`."""
        self.clock += 1000
        raw: dict[str, Any] = {
            "type": case.type,
            "event_id": f"$odd{next(self._ids)}",
            "sender": case.sender,
            "origin_server_ts": self.clock,
            "content": case.content,
            **case.top,
        }
        resolved: dict[str, Any] = self.resolve(
            {key: value for key, value in raw.items() if value is not MISSING}
        )
        return resolved


async def build_world(data_dir: Path, store: Store) -> World:
    """An alliance: the commons and Climate Camp (active), with polls and a shared thread.

    In Climate Camp: an alliance-wide poll, a straw poll (with a vote), a consensus poll and
    a closed poll; and a thread shared with the commons, where the member's message and file
    were copied into the commons and the moderator's answer there into the camp. The moderator
    created the commons and has power 50 in the other rooms; the member has power 0.
    """
    rooms = [
        room_state(room, creator, members=[MOD, MEMBER], powers={MOD: 50}, name=name, named=True)
        for room, creator, name in (
            (PLAIN, FOUNDER, "Plain room"),
            (COMMONS, MOD, "Commons"),
            (CAMP, FOUNDER, "Camp room"),
        )
    ]
    rooms[2].apply(  # a bot-like member, whose notices are never relayed
        Event(
            event_id=EventID("$helper-joins"),
            room_id=CAMP,
            sender=UserID(HELPER_BOT),
            type="m.room.member",
            ts=0,
            content={"membership": "join", "displayname": "Helper Bot"},
            state_key=HELPER_BOT,
        )
    )
    world = World(FakeServices(make_config(data_dir), store, rooms))
    await world.must(COMMONS, MOD, "alliance create Earth Alliance", "alliance_created")
    joining = "movement join earth-alliance as Climate Camp"
    await world.must(CAMP, MOD, joining, "movement_join_requested")
    await world.must(COMMONS, MOD, "movement approve climate-camp", "movement_decided")

    alliance_poll = "poll --alliance Which day?\nMonday\nFriday"
    await world.must(COMMONS, MOD, alliance_poll, "poll_alliance_created")
    alliance_commons, alliance_here = (
        await world.latest_poll(COMMONS),
        await world.latest_poll(CAMP),
    )
    await world.must(CAMP, MEMBER, "poll Where do we meet?\nPark\nLibrary", "poll_created")
    straw = await world.latest_poll(CAMP)
    await world.must(CAMP, MEMBER, "consensus We join the march", "consensus_created")
    consensus = await world.latest_poll(CAMP)
    await world.must(CAMP, MEMBER, "poll Bring snacks?\nYes\nNo", "poll_created")
    closed = await world.latest_poll(CAMP)
    await world.must(CAMP, MEMBER, f"poll close {closed.number}", "poll_results")
    vote = {"m.relates_to": reference(started(straw)), RESPONSE: {"answers": ["a1"]}}
    voted = await world.say(CAMP, MEMBER, vote, kind=RESPONSE)
    agree = {"m.relates_to": reference(started(consensus)), RESPONSE: {"answers": ["agree"]}}
    await world.say(CAMP, MOD, agree, kind=RESPONSE)

    root = world.make_event(CAMP, MEMBER, MESSAGE, {"msgtype": "m.text", "body": "Shall we march?"})
    reply, message = await world.answer(CAMP, MEMBER, "share", relates_to=in_thread(root.event_id))
    assert reply.template == "share_started", message.body
    [root_copy] = [
        s.event_id for s in world.services.sent if s.room_id == COMMONS and MARKER in s.content
    ]

    async def relayed(room: RoomID, sender: str, content: dict[str, Any], thread: str) -> EventID:
        said = await world.say(room, sender, {**content, "m.relates_to": in_thread(thread)})
        copies = await rdb.copies_of(store, said)
        assert [c.state for c in copies] == ["sent"], f"{content} was copied"
        return said

    said = await relayed(
        CAMP, MEMBER, {"msgtype": "m.text", "body": "Yes, Saturday."}, root.event_id
    )
    answer = await relayed(COMMONS, MOD, {"msgtype": "m.text", "body": "Count us in."}, root_copy)
    attached = {"msgtype": "m.file", "body": "plan.pdf", "url": "mxc://hs/plan"}
    file = await relayed(CAMP, MEMBER, attached, root.event_id)
    elsewhere = world.make_event(PLAIN, FOUNDER, MESSAGE, {"msgtype": "m.text", "body": "Hi"})

    async def copy_of(event_id: EventID, room: RoomID) -> str:
        made = await rdb.copy_of(store, event_id, room)
        assert made is not None
        assert made.copy_event_id is not None
        return made.copy_event_id

    world.polls = {
        STRAW: straw.id,
        CONSENSUS: consensus.id,
        CLOSED: closed.id,
        ALLIANCE_HERE: alliance_here.id,
        ALLIANCE_COMMONS: alliance_commons.id,
    }
    world.ids = {
        STRAW: started(straw),
        CONSENSUS: started(consensus),
        CLOSED: started(closed),
        ALLIANCE_HERE: started(alliance_here),
        ALLIANCE_COMMONS: started(alliance_commons),
        VOTE: voted,
        ROOT: root.event_id,
        ROOT_COPY: root_copy,
        SAID: said,
        SAID_COPY: await copy_of(said, COMMONS),
        ANSWER: answer,
        ANSWER_COPY: await copy_of(answer, CAMP),
        FILE: file,
        FILE_COPY: await copy_of(file, COMMONS),
        ELSEWHERE: elsewhere.event_id,
    }
    return world


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built[World]:
    """The world, built once for the module: building it takes longer than a test of it."""
    return built_once(tmp_path_factory.mktemp("world"), build_world)


@pytest.fixture
async def world(built: Built[World], tmp_path: Path) -> AsyncIterator[World]:
    """A copy of the built world for one test, which may change it as it likes."""
    copied, store = await built.copy_for(tmp_path)
    yield copied
    await store.close()


# -- what is checked ----------------------------------------------------------------------------


def received(room: RoomID, source: dict[str, Any]) -> Event:
    """The event the listeners get: parsed from the sync, then kept in the inbox as JSON."""
    event = Event.from_source(room, source, encrypted=False)
    return Event.from_json(json.loads(json.dumps(event.to_json())))


def failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}{where_raised(exc, lines=3)}"


def unsendable(content: dict[str, Any]) -> list[str]:
    """What is wrong with an event the bot sends (a relayed copy, an end, an edit)."""
    try:
        size = len(json.dumps(content, allow_nan=False, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        return [f"not JSON: {exc}"]
    found = [f"is {size} bytes"] if size > MAX_CONTENT_BYTES else []
    for key in ("body", "formatted_body"):
        text = content.get(key)
        if not isinstance(text, str):
            continue
        found += [f"{key} shows {m.group(0)!r}" for m in PYTHON_WORDS.finditer(text)]
        if key == "formatted_body" and (unsafe := UNSAFE_HTML.search(text)):
            found.append(f"formatted_body carries {unsafe.group(0)!r}")
    return found


async def what_people_see_next(world: World) -> list[str]:
    """The store still makes sense: every poll reads and tallies, the shared thread routes,
    and the results, poll list and shared threads are shown without a crash or a leak."""
    store, services = world.services.store, world.services
    problems = []
    for stand_in, poll_id in world.polls.items():
        try:
            poll = await db.get_poll(store, poll_id)
            if poll is None:
                problems.append(f"{stand_in} is gone from the store")
                continue
            await live_tally(services, poll)
        except Exception as exc:
            problems.append(f"reading {stand_in}: {failure(exc)}")
            continue
        if not poll.removed:
            shown = f"poll results {poll.number}"
            problems += [f"{shown}: {p}" for p in await answered(world, poll.room_id, shown)]
    for room, root in ((CAMP, ROOT), (COMMONS, ROOT_COPY)):
        try:
            routes = await rdb.routes_from(store, room, EventID(world.ids[root]))
        except Exception as exc:
            problems.append(f"routes from {root}: {failure(exc)}")
            continue
        if not routes:
            problems.append(f"{root} no longer routes anywhere")
    problems += [f"poll list: {p}" for p in await answered(world, CAMP, "poll list")]
    problems += [f"shared: {p}" for p in await answered(world, COMMONS, "shared")]
    return problems


async def answered(world: World, room: RoomID, text: str) -> list[str]:
    try:
        reply, message = await world.answer(room, MOD, text)
    except Exception as exc:
        return [failure(exc)]
    wrong = ["answered internal_error"] if reply.template == "internal_error" else []
    return wrong + leaks(message, ROOM_IDS)


# -- the tests ----------------------------------------------------------------------------------


async def test_the_world_has_real_things_to_act_on(world: World) -> None:
    """The check of the fixture: the polls are open or closed as said, the thread is shared,
    and nothing of the world shows a problem before an odd event arrives."""
    store = world.services.store
    polls = {name: await db.get_poll(store, poll_id) for name, poll_id in world.polls.items()}
    assert {name for name, poll in polls.items() if poll and poll.is_open} == {
        STRAW,
        CONSENSUS,
        ALLIANCE_HERE,
        ALLIANCE_COMMONS,
    }
    straw = polls[STRAW]
    assert straw is not None
    assert (await live_tally(world.services, straw)).counts["a1"] == 1
    assert len(world.ids) == 15, "every stand-in has its own name"
    assert len(set(world.ids.values())) == 15, "every stand-in is its own event"
    assert await what_people_see_next(world) == []


async def acted(world: World, kind: str, sends: int) -> bool:
    """Whether the well-formed event of `kind` did what it should to the world."""
    services, store = world.services, world.services.store
    new = services.sends[sends:]
    if kind in ("response", "stable response"):
        straw = await db.get_poll(store, world.polls[STRAW])
        return straw is not None and (await live_tally(services, straw)).choices[MEMBER] == ("a2",)
    if kind in ("end", "stable end"):
        ended = await db.get_poll(store, world.polls[STRAW if kind == "end" else CONSENSUS])
        return ended is not None and not ended.is_open and ended.announced
    if kind == "message":
        return [s.room_id for s in new if MARKER in s.content] == [COMMONS]
    if kind == "edit":
        edited = [s.content["m.relates_to"] for s in new if MARKER in s.content]
        return edited == [{"rel_type": "m.replace", "event_id": world.ids[SAID_COPY]}]
    return [event for _, event, _ in services.redacted] == [world.ids[SAID_COPY]]


@pytest.mark.parametrize("kind", BASES)
async def test_each_well_formed_event_acts_on_the_world(world: World, kind: str) -> None:
    """The check of the cases: each odd event is a change of one that reaches deep."""
    sends = len(world.services.sends)
    event = received(BASES[kind].room, world.source(BASES[kind]))
    await world.listen(event)
    assert await acted(world, kind, sends)


@pytest.mark.parametrize("case", all_cases())
async def test_odd_event_never_crashes_a_listener(world: World, case: Case) -> None:
    services = world.services
    source = world.source(case)
    try:
        event = received(case.room, source)
    except Exception as exc:
        pytest.fail(f"Event.from_source: {failure(exc)}")
    services.events[event.event_id] = event
    notices, sends = len(services.notices), len(services.sends)
    problems = []
    for listener in world.registry.listeners:
        if event.type not in listener.event_types:
            continue
        try:
            reply = await listener.handler(services, event)
        except Exception as exc:
            problems.append(f"listener {listener.name!r}: {failure(exc)}")
            continue
        if reply is not None:
            try:
                message = services.render(reply)
            except Exception as exc:
                problems.append(f"listener {listener.name!r}'s reply: {failure(exc)}")
                continue
            problems += [
                f"listener {listener.name!r}'s reply {leak}" for leak in leaks(message, ROOM_IDS)
            ]
    for notice in services.notices[notices:]:
        problems += [
            f"notice {notice.reply.template}: {leak}" for leak in leaks(notice.message, ROOM_IDS)
        ]
    for sent in services.sends[sends:]:
        problems += [f"sent {sent.event_type} {leak}" for leak in unsendable(sent.content)]
    problems += [f"afterwards, {problem}" for problem in await what_people_see_next(world)]
    assert not problems, "\n".join(problems)
