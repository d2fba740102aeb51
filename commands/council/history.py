"""What the alliance decided together between two moments: the reads a digest needs.

Read-only; times are milliseconds since the epoch, a span is `[start, end)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.store import Store


@dataclass(frozen=True)
class RoundSeen:
    """A round of a proposal as a digest tells it."""

    number: int
    round: int
    text: str
    opened_at: int
    closes_at: int
    closed_at: int | None
    outcome: Literal["passed", "not_passed"] | None
    written: str | None
    """What was decided, in the proposer's words (`!outcome`)."""


async def rounds_seen(
    store: Store, alliance_id: int, start: int, end: int, *, closing_before: int
) -> list[RoundSeen]:
    """Rounds opened or closed in the span, and open rounds closing before `closing_before`,
    by proposal number."""

    def row(r: Sequence[Any]) -> RoundSeen:
        return RoundSeen(int(r[0]), int(r[1]), str(r[2]), int(r[3]), int(r[4]), r[5], r[6], r[7])

    return await store.find_all(
        row,
        "SELECT p.number, r.round, r.text, r.opened_at, r.closes_at, r.closed_at, r.outcome,"
        " o.text FROM council_rounds r JOIN council_proposals p ON p.id = r.proposal_id"
        " LEFT JOIN council_outcomes o ON o.proposal_id = p.id"
        " WHERE p.alliance_id = ? AND ((r.opened_at >= ? AND r.opened_at < ?)"
        " OR (r.closed_at >= ? AND r.closed_at < ?)"
        " OR (r.closed_at IS NULL AND r.closes_at < ?))"
        " ORDER BY p.number, r.round",
        (alliance_id, start, end, start, end, closing_before),
    )


async def last_positions(store: Store, alliance_id: int) -> dict[int, int]:
    """When each movement of the alliance last gave a position on a proposal (by its poll or
    its spokes; a round closing without one does not count)."""
    rows = await store.fetch_all(
        "SELECT s.movement_id, MAX(s.decided_at) FROM council_seats s"
        " JOIN council_rounds r ON r.id = s.round_id"
        " JOIN council_proposals p ON p.id = r.proposal_id"
        " WHERE p.alliance_id = ? AND s.given_by IN ('poll', 'spokes')"
        " AND s.decided_at IS NOT NULL GROUP BY s.movement_id",
        (alliance_id,),
    )
    return {int(movement_id): int(at) for movement_id, at in rows}
