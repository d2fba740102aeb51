"""Replies that are never sent twice, never ping anyone, and rooms that never wait on each other."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from bot.events import Event
from bot.ids import EventID, RoomID, UserID
from bot.matrix import is_final
from bot.outbox import (
    FIRST_BACKOFF_S,
    MAX_BACKOFF_S,
    RoomQueues,
    backoff_s,
    notice_content,
    txn_id_for,
)
from bot.render import Message
from tests.waiting import eventually

MESSAGE = Message(body="Poll closed.", html="<p>Poll closed.</p>")


def event(name: str, *, room: str = "!a:hs", content: dict[str, Any] | None = None) -> Event:
    return Event(
        event_id=EventID(f"${name}"),
        room_id=RoomID(room),
        sender=UserID("@ana:hs"),
        type="m.room.message",
        ts=0,
        content=content if content is not None else {"msgtype": "m.text", "body": "!help"},
    )


# --- transaction ids ------------------------------------------------------------------------


def test_txn_id_is_the_same_every_time_for_the_same_trigger() -> None:
    assert txn_id_for("$event:hs") == txn_id_for("$event:hs")
    assert txn_id_for("$event:hs", "m.poll.start") == txn_id_for("$event:hs", "m.poll.start")


def test_txn_id_differs_by_trigger_and_by_purpose() -> None:
    ids = {
        txn_id_for("$one:hs"),
        txn_id_for("$two:hs"),
        txn_id_for("$one:hs", "m.poll.start"),
        txn_id_for("$one:hs", "m.poll.end"),
    }
    assert len(ids) == 4


def test_txn_id_is_safe_in_a_url_path() -> None:
    assert re.fullmatch(r"[A-Za-z0-9]+", txn_id_for("$a/b?c#d:hs", "a purpose"))


# --- notice content -------------------------------------------------------------------------


def test_notice_without_a_trigger_is_a_plain_notice() -> None:
    content = notice_content(MESSAGE, answering=None)
    assert content == {
        "msgtype": "m.notice",
        "body": "Poll closed.",
        "format": "org.matrix.custom.html",
        "formatted_body": "<p>Poll closed.</p>",
        "m.mentions": {},
    }


def test_answer_to_a_message_outside_a_thread_is_a_reply() -> None:
    content = notice_content(MESSAGE, answering=event("cmd"))
    assert content["msgtype"] == "m.notice"
    assert content["m.mentions"] == {}
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$cmd"}}


def test_answer_to_a_message_in_a_thread_stays_in_that_thread() -> None:
    in_thread = event(
        "cmd",
        content={
            "msgtype": "m.text",
            "body": "!help",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": "$root",
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": "$previous"},
            },
        },
    )
    content = notice_content(MESSAGE, answering=in_thread)
    assert content["m.mentions"] == {}
    assert content["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$cmd"},
    }


# --- room queues ----------------------------------------------------------------------------


async def test_one_rooms_events_are_handled_in_order() -> None:
    handled: list[str] = []
    active: list[str] = []

    async def handle(e: Event) -> None:
        active.append(e.event_id)
        assert len(active) == 1, f"{active} handled at the same time"
        # The first event is the slowest: running them side by side would reorder them.
        await asyncio.sleep(0.02 if e.event_id == "$1" else 0)
        handled.append(e.event_id)
        active.remove(e.event_id)

    queues = RoomQueues(handle)
    for name in ("1", "2", "3", "4"):
        queues.put(event(name))
    await eventually(lambda: len(handled) == 4, what="the queues", timeout=2)
    assert handled == ["$1", "$2", "$3", "$4"]
    await eventually(lambda: not queues.busy(), what="the queues", timeout=2)


async def test_a_blocked_room_does_not_hold_up_another_room() -> None:
    gate = asyncio.Event()
    handled: list[str] = []

    async def handle(e: Event) -> None:
        if e.event_id == "$a1":
            await gate.wait()
        handled.append(e.event_id)

    queues = RoomQueues(handle)
    queues.put(event("a1", room="!a:hs"))
    queues.put(event("a2", room="!a:hs"))
    queues.put(event("b1", room="!b:hs"))
    queues.put(event("b2", room="!b:hs"))
    try:
        await eventually(lambda: handled == ["$b1", "$b2"], what="the queues", timeout=2)
        queues.put(event("a3", room="!a:hs"))
        queues.put(event("b3", room="!b:hs"))
        await eventually(lambda: "$b3" in handled, what="the queues", timeout=2)
        assert "$a2" not in handled
        assert queues.busy()

        gate.set()
        await eventually(lambda: len(handled) == 6, what="the queues", timeout=2)
        assert [h for h in handled if h.startswith("$a")] == ["$a1", "$a2", "$a3"]
        await eventually(lambda: not queues.busy(), what="the queues", timeout=2)
    finally:
        await queues.stop()


async def test_stop_cancels_work_in_progress() -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def handle(e: Event) -> None:
        started.set()
        await asyncio.Event().wait()
        finished.append(e.event_id)

    queues = RoomQueues(handle)
    queues.put(event("stuck"))
    await asyncio.wait_for(started.wait(), timeout=2)
    await queues.stop()
    assert not queues.busy()
    assert finished == []


async def test_thread_lanes_run_side_by_side_and_other_events_wait_for_them() -> None:
    from bot.events import Event as _Event

    def ev(event_id: str, lane: str | None) -> _Event:
        return _Event.from_source(
            "!room",
            {
                "event_id": event_id,
                "sender": "@a:x",
                "type": "m.room.message",
                "content": {"lane": lane},
            },
            encrypted=False,
        )

    release = asyncio.Event()
    order: list[str] = []

    async def handle(event: _Event) -> None:
        if event.event_id == "$slow":
            await release.wait()
        order.append(event.event_id)

    queues = RoomQueues(handle, lambda event: event.content.get("lane"))
    for event in (ev("$slow", "t1"), ev("$fast", "t2"), ev("$t1-next", "t1"), ev("$cmd", None)):
        queues.put(event)
    for _ in range(20):
        await asyncio.sleep(0)

    # Thread t2 went ahead of the stuck thread t1; t1 keeps its order; the command waits.
    assert order == ["$fast"]
    release.set()
    await queues.wait_idle(at_most=5)
    assert order == ["$fast", "$slow", "$t1-next", "$cmd"]


# --- final or transient ---------------------------------------------------------------------


def test_a_definite_refusal_is_final_whatever_the_status() -> None:
    for errcode in ("M_FORBIDDEN", "M_NOT_FOUND", "M_TOO_LARGE", "M_BAD_JSON", "M_UNRECOGNIZED"):
        assert is_final(errcode, 400)
        assert is_final(errcode, None)


def test_a_failing_or_unreachable_homeserver_is_transient() -> None:
    assert not is_final("M_UNKNOWN", 500)  # Synapse's internal error
    assert not is_final(None, 502)  # a proxy's error page
    assert not is_final(None, None)  # no answer at all
    assert not is_final("M_UNKNOWN", None)
    assert not is_final(None, 408)
    assert not is_final("M_LIMIT_EXCEEDED", 429)
    assert not is_final("M_SOMETHING_NEW", 503)


def test_a_4xx_that_names_its_reason_is_final() -> None:
    assert is_final("M_UNKNOWN", 400)
    assert is_final("ORG.EXAMPLE.SUSPENDED", 403)
    assert not is_final(None, 404)  # no Matrix answer: a proxy in the way, not the homeserver


def test_backoff_doubles_up_to_a_cap_with_jitter() -> None:
    for failures in range(1, 40):
        ceiling = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (failures - 1))
        waits = {backoff_s(failures) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered
