"""Tallying a native Matrix poll (MSC3381) the way Element counts it.

Pure domain logic: plain data in, plain data out. No Matrix client, no database, no I/O.

Rules, applied in this order:

1. A response whose event id is in ``redacted`` is ignored entirely, as if it had never been
   sent. If a voter's latest response was redacted, their previous response counts again.
2. A response with ``ts`` after ``closed_at`` (the poll's end event) is ignored. A response with
   exactly the end event's timestamp still counts, as in Element.
3. When ``members`` is given, responses from senders not in it are ignored.
4. Only each sender's latest response counts, by ``ts`` (``origin_server_ts``). On equal ``ts``
   the response that comes later in the input wins (Element keeps the earlier one; the caller
   should pass responses in timeline order, so the later one is the newer event).
5. A latest response with an empty answer list withdraws the vote: the sender is neither a voter
   nor spoiled.
6. A latest response naming any answer id that the poll does not have is spoiled: it is counted
   in ``spoiled`` and none of its answers count.
7. Otherwise, repeated answer ids count once (Element would count them twice; we do not), and of
   the remaining distinct answers only the first ``max_selections`` count. A ``max_selections``
   below 1 is treated as 1, the smallest value the poll format allows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import floor


@dataclass(frozen=True)
class Ballot:
    """One poll response event, reduced to what tallying needs."""

    event_id: str
    sender: str
    answers: tuple[str, ...]
    ts: int
    """The event's ``origin_server_ts`` in milliseconds."""


@dataclass(frozen=True)
class Tally:
    """The result of counting a poll.

    ``counts`` holds every answer id of the poll, in the poll's order, with 0 where nobody chose
    it. ``voters`` is the number of people whose vote counts (equal to ``len(choices)``).
    ``choices`` maps each counted voter to the answers counted for them, in the order they gave.
    """

    counts: dict[str, int]
    voters: int
    spoiled: int
    choices: dict[str, tuple[str, ...]]

    def share(self, answer_id: str) -> Fraction:
        """The fraction of voters who chose ``answer_id`` (0 when nobody voted)."""
        if self.voters == 0:
            return Fraction(0)
        return Fraction(self.counts[answer_id], self.voters)

    def percent(self, answer_id: str) -> int:
        """The percentage of voters who chose ``answer_id``, rounded half up to a whole number.

        With several selections per voter the percentages can add up to more than 100.
        """
        return floor(self.share(answer_id) * 100 + Fraction(1, 2))

    def leading(self) -> tuple[str, ...]:
        """The answer ids with the most votes, in poll order; several on a tie, none if no votes."""
        top = max(self.counts.values(), default=0)
        if top == 0:
            return ()
        return tuple(answer for answer, count in self.counts.items() if count == top)


def tally(
    ballots: Iterable[Ballot],
    *,
    answer_ids: Sequence[str],
    max_selections: int,
    closed_at: int | None = None,
    members: Collection[str] | None = None,
    redacted: Collection[str] = (),
) -> Tally:
    """Count ``ballots`` for a poll with ``answer_ids`` by the rules in the module docstring."""
    member_ids = None if members is None else frozenset(members)
    redacted_ids = frozenset(redacted)
    eligible = (
        ballot
        for ballot in ballots
        if _is_eligible(ballot, closed_at=closed_at, members=member_ids, redacted=redacted_ids)
    )
    latest = _latest_per_sender(eligible)
    known = frozenset(answer_ids)
    limit = max(1, max_selections)
    counts = dict.fromkeys(answer_ids, 0)
    choices: dict[str, tuple[str, ...]] = {}
    spoiled = 0
    for sender, ballot in latest.items():
        if not ballot.answers:
            continue
        if not known.issuperset(ballot.answers):
            spoiled += 1
            continue
        chosen = _distinct(ballot.answers)[:limit]
        choices[sender] = chosen
        for answer in chosen:
            counts[answer] += 1
    return Tally(counts=counts, voters=len(choices), spoiled=spoiled, choices=choices)


def _is_eligible(
    ballot: Ballot,
    *,
    closed_at: int | None,
    members: frozenset[str] | None,
    redacted: frozenset[str],
) -> bool:
    """Whether a response takes part at all (not redacted, not late, from a member)."""
    if ballot.event_id in redacted:
        return False
    if closed_at is not None and ballot.ts > closed_at:
        return False
    return members is None or ballot.sender in members


def _latest_per_sender(ballots: Iterable[Ballot]) -> dict[str, Ballot]:
    """Each sender's latest response; on equal timestamps the later one in input order."""
    latest: dict[str, Ballot] = {}
    for ballot in ballots:
        previous = latest.get(ballot.sender)
        if previous is None or ballot.ts >= previous.ts:
            latest[ballot.sender] = ballot
    return latest


def _distinct(answers: Iterable[str]) -> tuple[str, ...]:
    """The answers without repeats, keeping the order of first appearance."""
    return tuple(dict.fromkeys(answers))
