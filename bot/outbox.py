"""Sending, paced and retried, and the per-room work queues.

- `Outbox.send` (and `Outbox.redact`) retries until it lands: it waits as long as the
  homeserver asks (429 `retry_after_ms`, which then holds back every room's sends, since the
  limit is per account; waiting never counts as a failed attempt), backs off while the
  homeserver is unreachable, and gives up only on a definite refusal (not in the room,
  forbidden) or after MAX_SEND_ATTEMPTS failures to reach it. The transaction id is derived
  from the event that caused the send, so a retry, even after a restart, never doubles it.
- `RoomQueues` runs each room's work in order, one room's work never waiting on another's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from bot.events import Event
from bot.ids import EventID, RoomID
from bot.matrix import Matrix, MatrixError, MatrixUnavailable, RateLimited
from bot.render import Message

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
MAX_SEND_ATTEMPTS = 12


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
        thread = answering.thread_root
        if thread is not None:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": answering.event_id},
            }
        else:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": answering.event_id}}
    return content


class Outbox:
    def __init__(self, matrix: Matrix) -> None:
        self._matrix = matrix
        self._not_before = 0.0  # monotonic time before which nobody sends (after a 429)
        # Answers to people go before background sends (relayed messages) when the homeserver
        # paces the account: a background send waits while any answer is waiting.
        self._answers_waiting = 0
        self._no_answer_waiting = asyncio.Event()
        self._no_answer_waiting.set()

    async def send(
        self,
        room_id: RoomID,
        *,
        event_type: str,
        content: dict[str, Any],
        txn_id: str,
        background: bool = False,
    ) -> EventID | None:
        """Send, retrying; None when the homeserver definitely refused (already logged).

        A `background` send (relayed messages) lets every other send waiting go first.
        """
        return await self._retrying(
            room_id,
            lambda: self._matrix.send(
                room_id, event_type=event_type, content=content, txn_id=txn_id
            ),
            background=background,
        )

    async def redact(
        self, room_id: RoomID, event_id: EventID, *, reason: str | None, txn_id: str
    ) -> EventID | None:
        """Redact, retrying as `send` does; None when the homeserver definitely refused."""
        return await self._retrying(
            room_id,
            lambda: self._matrix.redact(room_id, event_id, reason=reason, txn_id=txn_id),
        )

    async def _retrying(
        self,
        room_id: RoomID,
        attempt_once: Callable[[], Awaitable[EventID]],
        *,
        background: bool = False,
    ) -> EventID | None:
        if background:
            return await self._attempts(room_id, attempt_once, background=True)
        self._answers_waiting += 1
        self._no_answer_waiting.clear()
        try:
            return await self._attempts(room_id, attempt_once, background=False)
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
    ) -> EventID | None:
        backoff = 0.5
        attempt = 0
        while attempt < MAX_SEND_ATTEMPTS:
            if background:
                await self._no_answer_waiting.wait()
            delay = self._not_before - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                if background and not self._no_answer_waiting.is_set():
                    continue  # an answer came up while we waited: it goes first
            try:
                return await attempt_once()
            except RateLimited as exc:
                # Pacing, not failure: wait as asked and try again, however long a burst is.
                wait_s = exc.retry_after_ms / 1000
                self._not_before = max(self._not_before, time.monotonic() + wait_s)
                log.info("Rate limited; waiting %.1f s before sending again", wait_s)
                continue
            except MatrixUnavailable as exc:
                attempt += 1
                log.warning("Send to %s failed (attempt %d): %s", room_id, attempt, exc)
                await asyncio.sleep(backoff * (1 + random.random() / 4))
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            except MatrixError as exc:
                log.warning("Send to %s refused: %s", room_id, exc)
                return None
        log.error("Gave up sending to %s after %d attempts", room_id, MAX_SEND_ATTEMPTS)
        return None


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
