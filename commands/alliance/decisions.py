"""Settling the alliance family's decisions when their consensus polls close.

Two things are decided by a consensus poll in a movement's own room: its stance on a common
objective (`!endorse`, in `commands.alliance.objectives`) and a change to its core
statement (`!statement propose/amend/drop`, in `commands.alliance.statements`). Each command
opens its poll with `commands.polls.open_consensus_poll` and records what the poll is about
(`objectives_store.open_endorsement` / `statements_store.open_statement_proposal`).

The timer :func:`settle_decisions` (registered by `commands.alliance.movements`) notices when such a
poll has closed (`commands.polls.consensus_result`), records the outcome
(`decisions_store.settle_poll`), and tells the room, in reply to the poll. Outcomes are keyed
by their poll and the notices carry transaction keys derived from it, so settling again after
a restart records nothing twice.
"""

from __future__ import annotations

from typing import Final

from bot.contract import Registry, Reply, Services, Timer
from bot.events import Event
from bot.ids import UserID
from commands import polls
from commands.alliance import decisions_store, objectives_store, statements_store
from commands.alliance.objectives_store import StanceRecord
from commands.alliance.statements_store import Proposal
from commands.alliance.store import PollRef, alliance_by_id, movement_by_id
from commands.polls import lifecycle as poll_lifecycle
from commands.polls import store as poll_store

DECISION_CHECK_S: Final = 2.0


def register(registry: Registry) -> None:
    registry.every(
        Timer(
            "alliance decisions",
            DECISION_CHECK_S,
            settle_decisions,
            woken_by=frozenset({poll_lifecycle.CLOSED}),
        )
    )


async def settle_decisions(services: Services) -> None:
    """Record the outcome of every closed poll a decision waits for, then tell the rooms."""
    store = services.store
    for ref in await decisions_store.pending_polls(store):
        assert ref.poll_id is not None
        result = await polls.consensus_result(store, ref.poll_id)
        if result is None:
            poll = await poll_store.get_poll(store, ref.poll_id)
            if poll is None or poll.removed:
                await decisions_store.withdraw_poll(
                    store, ref, at=(poll.closed_at or 0) if poll else 0
                )
            continue
        # A block without a reason is kept as "" (the templates say that none was given).
        reasons = [o.reason or "" for o in result.objections if o.choice == "block"]
        await decisions_store.settle_poll(
            store,
            poll=ref,
            outcome=result.outcome,
            reason=services.say(ref.room_id, result.outcome.words),
            decided_at=result.poll.closed_at or result.poll.created_at,
            block_reasons=reasons,
        )
    for stance in await objectives_store.stances_to_announce(store):
        await _announce_stance(services, stance)
        await objectives_store.mark_stance_announced(store, stance.id)
    for proposal in await statements_store.proposals_to_announce(store):
        await _announce_change(services, proposal)
        await statements_store.mark_proposal_announced(store, proposal.id)


def _poll_event(services: Services, poll: PollRef) -> Event | None:
    """The poll's start event, enough of it to answer it."""
    if poll.event_id is None:
        return None
    return Event(
        event_id=poll.event_id,
        room_id=poll.room_id,
        sender=UserID(services.config.user_id),
        type="org.matrix.msc3381.poll.start",
        ts=0,
        content={},
    )


async def _announce_stance(services: Services, stance: StanceRecord) -> None:
    movement = await movement_by_id(services.store, stance.movement_id)
    objective = await objectives_store.objective_by_id(services.store, stance.objective_id)
    if movement is None or objective is None:
        return
    alliance = await alliance_by_id(services.store, movement.alliance_id)
    await services.notice(
        stance.poll.room_id,
        Reply(
            "objective_stance_recorded",
            {
                "endorsed": stance.state == "endorsed",
                "movement": movement.name,
                "alliance": alliance.name if alliance else "",
                "number": objective.number,
                "text": objective.text,
                "reason": stance.reason or "",
                "blocks": list(stance.block_reasons),
            },
        ),
        txn_key=f"{stance.poll.key}/stance",
        answering=_poll_event(services, stance.poll),
    )


async def _announce_change(services: Services, proposal: Proposal) -> None:
    version = await statements_store.version_by_poll(services.store, proposal.poll)
    result = None
    if proposal.poll.poll_id is not None:
        result = await polls.consensus_result(services.store, proposal.poll.poll_id)
    await services.notice(
        proposal.room_id,
        Reply(
            "statement_vote_decided",
            {
                "outcome": proposal.outcome,
                "reason": result.outcome.words if result else None,
                "change": proposal.change.kind,
                "item": version.item_number if version else None,
                "version": version.version if version else None,
            },
        ),
        txn_key=f"{proposal.poll.key}/statement",
        answering=_poll_event(services, proposal.poll),
    )
