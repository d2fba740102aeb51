"""Relayed messages under a homeserver's rate limit: none given up, answers to people first."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.contract import RateLimited
from bot.ids import EventID, RoomID
from bot.outbox import Outbox

ROOM = RoomID("!room:hs")


class PacedMatrix:
    """One send per `interval_s`; earlier ones are refused with 429 and the wait left."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.last = 0.0
        self.order: list[str] = []
        self.refused = 0
        self.started = asyncio.Event()  # two sends went through

    async def send(
        self, room_id: RoomID, *, event_type: str, content: dict[str, Any], txn_id: str
    ) -> EventID:
        now = time.monotonic()
        wait_s = self.last + self.interval_s - now
        if wait_s > 0:
            self.refused += 1
            raise RateLimited(max(1, int(wait_s * 1000)))
        self.last = now
        self.order.append(txn_id)
        if len(self.order) >= 2:
            self.started.set()
        return EventID(f"${txn_id}")

    async def redact(
        self, room_id: RoomID, event_id: EventID, *, reason: str | None, txn_id: str
    ) -> EventID:
        return await self.send(room_id, event_type="m.room.redaction", content={}, txn_id=txn_id)


def outbox(matrix: PacedMatrix) -> Outbox:
    return Outbox(matrix)  # type: ignore[arg-type]


async def test_being_paced_never_counts_as_failing() -> None:
    matrix = PacedMatrix(interval_s=0.005)
    box = outbox(matrix)
    sent = [
        await box.deliver(
            ROOM, event_type="m.room.message", content={}, txn_id=f"r{n}", background=True
        )
        for n in range(24)
    ]
    assert all(sent)
    assert matrix.refused >= 12  # more than any number of failures a send would survive


async def test_an_answer_goes_before_relayed_messages_waiting_for_the_limit() -> None:
    matrix = PacedMatrix(interval_s=0.05)
    box = outbox(matrix)

    async def relay(room: int) -> None:
        for n in range(4):
            await box.deliver(
                ROOM,
                event_type="m.room.message",
                content={},
                txn_id=f"relay{room}-{n}",
                background=True,
            )

    relaying = [asyncio.create_task(relay(room)) for room in range(3)]
    await asyncio.wait_for(matrix.started.wait(), timeout=5)
    answer = await box.deliver(ROOM, event_type="m.room.message", content={}, txn_id="answer")
    await asyncio.gather(*relaying)
    assert answer == "$answer"
    # The answer waited for at most the relayed message already on its way, not the rest.
    assert matrix.order.index("answer") <= 3, matrix.order
    for room in range(3):  # each room's relayed messages still in order
        mine = [t for t in matrix.order if t.startswith(f"relay{room}-")]
        assert mine == [f"relay{room}-{n}" for n in range(4)]


async def test_a_redaction_is_retried_like_a_send() -> None:
    matrix = PacedMatrix(interval_s=0.02)
    box = outbox(matrix)
    first = await box.redact(ROOM, EventID("$a"), reason=None, txn_id="one")
    second = await box.redact(ROOM, EventID("$b"), reason="gone", txn_id="two")
    assert (first, second) == ("$one", "$two")
    assert matrix.refused >= 1
