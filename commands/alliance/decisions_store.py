"""Storage of what the alliance's consensus polls are deciding, across both kinds.

A poll decides a movement's stance on an objective (`commands.alliance.objectives_store`) or a
change to its core statement (`commands.alliance.statements_store`). :func:`settle_poll` is the
one call a poll's close needs: it finds what that poll was deciding and records the outcome.
Every outcome is keyed by its poll (`commands.alliance.store.PollRef`), so recording it twice
changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.store import Store
from commands.alliance.objectives_store import StanceRecord, record_stance
from commands.alliance.statements_store import (
    AppliedChange,
    apply_statement_change,
    proposal_by_poll,
)
from commands.alliance.store import PollRef, poll_ref
from commands.polls.rules import Outcome


@dataclass(frozen=True)
class Settled:
    """What :func:`settle_poll` recorded: a stance, a statement change, or neither."""

    stance: StanceRecord | None = None
    change: AppliedChange | None = None


async def settle_poll(
    store: Store,
    *,
    poll: PollRef,
    outcome: Outcome,
    reason: str,
    decided_at: int,
    block_reasons: Sequence[str] = (),
) -> Settled:
    """A consensus poll closed: record its outcome for whatever it was deciding here.

    The single call for the polls module. A poll that decides nothing here returns an empty
    :class:`Settled`.
    """
    stance = await store.fetch_one(
        "SELECT movement_id, objective_id FROM stances WHERE poll_key = ?", (poll.key,)
    )
    if stance is not None:
        record = await record_stance(
            store,
            movement_id=int(stance[0]),
            objective_id=int(stance[1]),
            outcome=outcome,
            reason=reason,
            poll=poll,
            decided_at=decided_at,
            block_reasons=block_reasons,
        )
        return Settled(stance=record)
    proposal = await proposal_by_poll(store, poll)
    if proposal is not None:
        applied = await apply_statement_change(
            store,
            room_id=proposal.room_id,
            change=proposal.change,
            outcome=outcome,
            poll=poll,
            decided_at=decided_at,
        )
        return Settled(change=applied)
    return Settled()


# -- polls still deciding ---------------------------------------------------------------------


async def pending_polls(store: Store) -> list[PollRef]:
    """The bot's own polls that an open endorsement or statement proposal waits for."""
    rows = await store.fetch_all(
        "SELECT poll_id, poll_room_id, poll_event_id FROM stances"
        " WHERE state = 'pending' AND poll_id IS NOT NULL"
        " UNION SELECT poll_id, room_id, poll_event_id FROM statement_proposals"
        " WHERE outcome IS NULL AND poll_id IS NOT NULL ORDER BY 1"
    )
    return [poll_ref(row[0], row[1], row[2]) for row in rows]


async def withdraw_poll(store: Store, poll: PollRef, *, at: int) -> None:
    """The poll was removed before it decided anything: forget what waited for it."""
    async with store.transaction() as db:
        await db.execute(
            "DELETE FROM stances WHERE poll_key = ? AND state = 'pending'", (poll.key,)
        )
        await db.execute(
            "UPDATE statement_proposals SET outcome = 'withdrawn', decided_at = ?, announced = 1"
            " WHERE poll_key = ? AND outcome IS NULL",
            (at, poll.key),
        )
