"""Sending, paced and retried, and the per-room work queues.

- `Outbox.deliver` (and `redact`) retries until it lands, however long that takes:
  it waits as long as the homeserver asks (429 `retry_after_ms`, which then holds back every
  room's sends, since the limit is per account; waiting never counts as a failure), and while
  the homeserver is unreachable or failing (5xx, M_UNKNOWN, timeouts, dropped connections) it
  tries again with capped exponential backoff and jitter. It stops only on a definite refusal
  (`bot.matrix` says which answers are final), or when what it sends is no longer useful
  (`until_ms`: a command's answer after the command age limit). The transaction id is derived
  from the event that caused the send, so a retry, even after a restart, never doubles it:
  the homeserver answers a repeated transaction with the event it already made.
- `RoomQueues` runs each room's work in order, one room's work never waiting on another's.

A stop cancels the sends still retrying; the work that asked for them is still pending (in the
inbox, or in the record a timer reads) and is done again at the next start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.contract import LoginFailed, MatrixError, MatrixUnavailable, RateLimited
from bot.events import Event
from bot.ids import EventID, RoomID
from bot.matrix import Matrix
from bot.render import Message

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 60.0
LOG_EVERY = 10  # failures in a row between two log lines about the same send


@dataclass(frozen=True)
class Refused:
    """The homeserver definitely refused a send (already logged)."""

    errcode: str | None
    reason: str


Delivery = EventID | Refused | None
"""What became of a send: its event, a definite refusal, or None when it stopped being
useful (its `until_ms` passed) before the homeserver could take it."""


def backoff_s(failures: int) -> float:
    """How long to wait after `failures` failures in a row: doubling from FIRST_BACKOFF_S up
    to MAX_BACKOFF_S, each wait drawn between half and all of that (so that many sends that
    failed together do not all come back at once)."""
    ceiling = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2.0 ** min(failures - 1, 16))
    return ceiling * (0.5 + random.random() / 2)


def wall_ms() -> int:
    return int(time.time() * 1000)


def txn_id_for(trigger: str, purpose: str = "reply") -> str:
    """A transaction id that is the same every time for the same trigger and purpose."""
    digest = hashlib.sha256(f"{trigger}\x00{purpose}".encode()).hexdigest()
    return f"ml{digest[:40]}"


def notice_content(message: Message, *, answering: Event | None) -> dict[str, Any]:
    """An `m.notice` in the thread of `answering`, or as a reply to it. Never pings anyone."""
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": message.body,
        "format": "org.matrix.custom.html",
        "formatted_body": message.html,
        "m.mentions": {},
    }
    if answering is not None:
        content["m.relates_to"] = answering_relation(answering)
    return content


def answering_relation(answering: Event) -> dict[str, Any]:
    """`m.relates_to` of an answer to `answering`: in its thread, or as a reply to it."""
    thread = answering.thread_root
    if thread is not None:
        return {
            "rel_type": "m.thread",
            "event_id": thread,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": answering.event_id},
        }
    return {"m.in_reply_to": {"event_id": answering.event_id}}


class Outbox:
    def __init__(self, matrix: Matrix) -> None:
        self._matrix = matrix
        self._not_before = 0.0  # monotonic time before which nobody sends (after a 429)
        # Answers to people go before background sends (relayed messages) when the homeserver
        # paces the account: a background send waits while any answer is waiting.
        self._answers_waiting = 0
        self._no_answer_waiting = asyncio.Event()
        self._no_answer_waiting.set()

    async def deliver(
        self,
        room_id: RoomID,
        *,
        event_type: str,
        content: dict[str, Any],
        txn_id: str,
        background: bool = False,
        until_ms: int | None = None,
    ) -> Delivery:
        """Send one event, retrying until it lands, is refused, or `until_ms` (wall clock)
        passes. A `background` send (relayed messages) lets every other send waiting go
        first."""
        return await self._retrying(
            room_id,
            lambda: self._matrix.send(
                room_id, event_type=event_type, content=content, txn_id=txn_id
            ),
            background=background,
            until_ms=until_ms,
        )

    async def redact(
        self, room_id: RoomID, event_id: EventID, *, reason: str | None, txn_id: str
    ) -> EventID | None:
        """Redact, retrying as `deliver` does; None when the homeserver definitely refused."""
        done = await self._retrying(
            room_id,
            lambda: self._matrix.redact(room_id, event_id, reason=reason, txn_id=txn_id),
        )
        return done if isinstance(done, str) else None

    async def _retrying(
        self,
        room_id: RoomID,
        attempt_once: Callable[[], Awaitable[EventID]],
        *,
        background: bool = False,
        until_ms: int | None = None,
    ) -> Delivery:
        if background:
            return await self._attempts(room_id, attempt_once, background=True, until_ms=until_ms)
        self._answers_waiting += 1
        self._no_answer_waiting.clear()
        try:
            return await self._attempts(room_id, attempt_once, background=False, until_ms=until_ms)
        finally:
            self._answers_waiting -= 1
            if self._answers_waiting == 0:
                self._no_answer_waiting.set()

    async def _attempts(
        self,
        room_id: RoomID,
        attempt_once: Callable[[], Awaitable[EventID]],
        *,
        background: bool,
        until_ms: int | None,
    ) -> Delivery:
        failures = 0
        while True:
            if background:
                await self._no_answer_waiting.wait()
            delay = self._not_before - time.monotonic()
            if delay > 0:
                if until_ms is not None and wall_ms() + delay * 1000 > until_ms:
                    log.warning("Gave up a send to %s: paced past its use", room_id)
                    return None
                await asyncio.sleep(delay)
                if background and not self._no_answer_waiting.is_set():
                    continue  # an answer came up while we waited: it goes first
            try:
                event_id = await attempt_once()
            except RateLimited as exc:
                # Pacing, not failure: wait as asked and try again, however long a burst is.
                wait_s = exc.retry_after_ms / 1000
                self._not_before = max(self._not_before, time.monotonic() + wait_s)
                log.info("Rate limited; waiting %.1f s before sending again", wait_s)
                continue
            except (MatrixUnavailable, LoginFailed) as exc:
                # Transient (a lost session is restored by the sync loop): try again.
                failures += 1
                wait_s = backoff_s(failures)
                if until_ms is not None and wall_ms() + wait_s * 1000 > until_ms:
                    log.warning(
                        "Gave up a send to %s after %d failures: no longer useful (%s)",
                        room_id,
                        failures,
                        exc,
                    )
                    return None
                if failures == 1 or failures % LOG_EVERY == 0:
                    log.warning(
                        "Send to %s failed (%d so far, trying again): %s", room_id, failures, exc
                    )
                await asyncio.sleep(wait_s)
                continue
            except MatrixError as exc:
                log.warning("The homeserver refused a send to %s: %s", room_id, exc)
                return Refused(exc.errcode, str(exc))
            if failures:
                log.info("Sent to %s after %d failures", room_id, failures)
            return event_id


class RoomQueues:
    """One worker per room with work, draining that room's queue in order.

    An event with a lane (a plain message in a thread) is handed to that lane's worker and the
    room moves on: lanes of one room run side by side, each in order. An event without a lane
    (a command, an edit, a redaction, anything else) first waits for every lane of its room
    to be done, so it sees everything before it handled.
    """

    def __init__(
        self,
        handle: Callable[[Event], Awaitable[None]],
        lane_of: Callable[[Event], str | None] = lambda event: None,
    ) -> None:
        self._handle = handle
        self._lane_of = lane_of
        self._queues: dict[RoomID, deque[Event]] = {}
        self._tasks: dict[RoomID, asyncio.Task[None]] = {}
        self._lanes: dict[tuple[RoomID, str], deque[Event]] = {}
        self._lane_tasks: dict[tuple[RoomID, str], asyncio.Task[None]] = {}

    def put(self, event: Event) -> None:
        queue = self._queues.setdefault(event.room_id, deque())
        queue.append(event)
        if event.room_id not in self._tasks:
            self._tasks[event.room_id] = asyncio.create_task(
                self._drain(event.room_id), name=f"room-worker {event.room_id}"
            )

    async def _drain(self, room_id: RoomID) -> None:
        queue = self._queues[room_id]
        try:
            while queue:
                event = queue[0]
                lane = self._lane_of(event)
                if lane is None:
                    busy = [t for (room, _), t in self._lane_tasks.items() if room == room_id]
                    if busy:
                        await asyncio.gather(*busy, return_exceptions=True)
                    await self._handle(event)
                else:
                    key = (room_id, lane)
                    self._lanes.setdefault(key, deque()).append(event)
                    if key not in self._lane_tasks:
                        self._lane_tasks[key] = asyncio.create_task(self._drain_lane(key))
                queue.popleft()
        finally:
            del self._tasks[room_id]
            if not queue:
                self._queues.pop(room_id, None)

    async def _drain_lane(self, key: tuple[RoomID, str]) -> None:
        lane = self._lanes[key]
        try:
            while lane:
                await self._handle(lane[0])
                lane.popleft()
        finally:
            del self._lane_tasks[key]
            if not lane:
                self._lanes.pop(key, None)

    def busy(self) -> bool:
        return bool(self._tasks) or bool(self._lane_tasks)

    async def wait_idle(self, *, at_most: float) -> None:
        """Wait until every room's queue is empty, or `at_most` seconds, whichever is first."""
        tasks = [*self._tasks.values(), *self._lane_tasks.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=at_most)

    async def stop(self) -> None:
        """Cancel all work; unfinished events stay pending in the inbox for the next start."""
        tasks = [*self._tasks.values(), *self._lane_tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
