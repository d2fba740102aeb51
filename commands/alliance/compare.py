"""Comparing movements as plain data: the board, stances, pairs, and the bridging score.

Pure domain logic: plain data in, plain data out. No Matrix client, no database, no I/O.

Names live in `commands.alliance.names`, thresholds in `commands.alliance.thresholds`.

- A :class:`Board` holds an alliance's active movements, its objectives, each movement's
  :class:`Stance` and its own wording (a linked statement item). :func:`support`,
  :func:`compare_pair`, :func:`compare_objective` and :func:`bridging` answer the questions
  ``!objectives``, ``!compare`` and ``!bridging`` ask.

The bridging score is Pol.is's group-informed consensus with the movements as the groups: the
product over active movements of ``(A + 1) / (S + 2)``, where ``A`` counts Agree and Agree with
reservations and ``S`` all votes in that movement's latest decided endorsement poll. A movement
without one contributes 1/2. The score is high only when every movement leans towards the
objective. An objective *divides* the alliance when at least one movement leans towards it
(more than 1/2) and at least one leans away (less than 1/2). An objective that no movement has
decided on yet is not ranked at all: its score would only say how many movements there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Final, Literal

from commands.alliance.thresholds import MAJORITY, Threshold
from commands.polls.rules import ConsensusCounts

_HALF: Final = Fraction(1, 2)

# -- the board --------------------------------------------------------------------------------

StanceState = Literal["endorsed", "not_endorsed", "pending", "none"]

STANCE_MARKS: Final[Mapping[str, str]] = {
    "endorsed": "✓",
    "not_endorsed": "✗",
    "pending": "…",
    "none": "·",
}


@dataclass(frozen=True)
class MovementInfo:
    id: int
    name: str
    slug: str


@dataclass(frozen=True)
class ObjectiveInfo:
    id: int
    number: int
    text: str


@dataclass(frozen=True)
class Stance:
    """A movement's stance on an objective.

    ``state`` is the latest: ``pending`` while an endorsement poll is open. ``decided`` is the
    outcome of the latest *closed* poll (``none`` if there was none), and ``counts`` its votes,
    which the bridging score uses. ``block_reasons`` are the reasons of that poll's blocks.
    """

    state: StanceState = "none"
    decided: StanceState = "none"
    counts: ConsensusCounts | None = None
    block_reasons: tuple[str, ...] = ()


NO_STANCE: Final = Stance()


@dataclass(frozen=True)
class Wording:
    """A movement's own wording of an objective: an item of its core statement."""

    item_number: int
    text: str


@dataclass(frozen=True)
class Board:
    """An alliance, ready to compare: active movements, objectives, stances and wordings."""

    movements: tuple[MovementInfo, ...]
    objectives: tuple[ObjectiveInfo, ...]
    stances: Mapping[tuple[int, int], Stance] = field(default_factory=dict)
    """By (movement id, objective id)."""
    wordings: Mapping[tuple[int, int], Wording] = field(default_factory=dict)
    """By (movement id, objective id)."""
    threshold: Threshold = MAJORITY

    def stance(self, movement: MovementInfo, objective: ObjectiveInfo) -> Stance:
        return self.stances.get((movement.id, objective.id), NO_STANCE)

    def wording(self, movement: MovementInfo, objective: ObjectiveInfo) -> Wording | None:
        return self.wordings.get((movement.id, objective.id))

    def endorses(self, movement: MovementInfo, objective: ObjectiveInfo) -> bool:
        """The latest closed poll endorsed it (an open poll does not change that yet)."""
        return self.stance(movement, objective).decided == "endorsed"


@dataclass(frozen=True)
class Support:
    """Where the active movements stand on one objective."""

    objective: ObjectiveInfo
    endorsed: tuple[MovementInfo, ...]
    not_endorsed: tuple[MovementInfo, ...]
    pending: tuple[MovementInfo, ...]
    undecided: tuple[MovementInfo, ...]
    needed: int
    common: bool
    endorsing: int = 0
    """How many count towards the threshold: ``endorsed`` and those voting again after an
    endorsement."""


def support(board: Board, objective: ObjectiveInfo) -> Support:
    """Who endorses ``objective`` and whether it counts as common under the threshold.

    A movement voting again is listed as pending, but its earlier endorsement still counts.
    """
    groups: dict[str, list[MovementInfo]] = {"endorsed": [], "not_endorsed": [], "pending": []}
    undecided: list[MovementInfo] = []
    endorsing = 0
    stances = board.stances
    for movement in board.movements:
        stance = stances.get((movement.id, objective.id), NO_STANCE)
        if stance.decided == "endorsed":
            endorsing += 1
        if stance.state == "pending":
            groups["pending"].append(movement)
        elif stance.decided in groups:
            groups[stance.decided].append(movement)
        else:
            undecided.append(movement)
    active = len(board.movements)
    return Support(
        objective=objective,
        endorsed=tuple(groups["endorsed"]),
        not_endorsed=tuple(groups["not_endorsed"]),
        pending=tuple(groups["pending"]),
        undecided=tuple(undecided),
        needed=board.threshold.needed(active) if active else 0,
        common=board.threshold.is_met(endorsing, active),
        endorsing=endorsing,
    )


@dataclass(frozen=True)
class PairEntry:
    """One objective in a two-movement comparison, with each movement's own wording."""

    objective: ObjectiveInfo
    wording_a: Wording | None
    wording_b: Wording | None


@dataclass(frozen=True)
class Pair:
    a: MovementInfo
    b: MovementInfo
    both: tuple[PairEntry, ...]
    only_a: tuple[PairEntry, ...]
    only_b: tuple[PairEntry, ...]
    neither: int
    """How many objectives neither endorses."""


def compare_pair(board: Board, a: MovementInfo, b: MovementInfo) -> Pair:
    """The objectives both endorse, those only one endorses, and how many neither does."""
    both: list[PairEntry] = []
    only_a: list[PairEntry] = []
    only_b: list[PairEntry] = []
    neither = 0
    for objective in board.objectives:
        entry = PairEntry(objective, board.wording(a, objective), board.wording(b, objective))
        in_a, in_b = board.endorses(a, objective), board.endorses(b, objective)
        if in_a and in_b:
            both.append(entry)
        elif in_a:
            only_a.append(entry)
        elif in_b:
            only_b.append(entry)
        else:
            neither += 1
    return Pair(a, b, tuple(both), tuple(only_a), tuple(only_b), neither)


@dataclass(frozen=True)
class MovementStance:
    movement: MovementInfo
    stance: Stance
    wording: Wording | None


def compare_objective(board: Board, objective: ObjectiveInfo) -> list[MovementStance]:
    """Every active movement's stance on one objective, with its own wording."""
    return [
        MovementStance(m, board.stance(m, objective), board.wording(m, objective))
        for m in board.movements
    ]


# -- bridging ---------------------------------------------------------------------------------


def lean(counts: ConsensusCounts | None) -> Fraction:
    """How much a movement leans towards an objective: ``(A + 1) / (S + 2)``; 1/2 without a poll."""
    if counts is None:
        return _HALF
    return Fraction(counts.support + 1, counts.total + 2)


def bridging_score(leans: Iterable[Fraction]) -> Fraction:
    """The product of the movements' leans (1 when there are no movements)."""
    numerator = denominator = 1
    for value in leans:  # one reduction at the end, not one per movement
        numerator *= value.numerator
        denominator *= value.denominator
    return Fraction(numerator, denominator)


def _above_half(value: Fraction) -> bool:
    return 2 * value.numerator > value.denominator


def _below_half(value: Fraction) -> bool:
    return 2 * value.numerator < value.denominator


@dataclass(frozen=True)
class Bridging:
    objective: ObjectiveInfo
    score: Fraction
    leans: tuple[tuple[MovementInfo, Fraction], ...]
    undecided: tuple[MovementInfo, ...] = ()
    """The movements without a decided endorsement poll on the objective."""

    @cached_property
    def towards(self) -> tuple[MovementInfo, ...]:
        return tuple(m for m, value in self.leans if _above_half(value))

    @cached_property
    def away(self) -> tuple[MovementInfo, ...]:
        return tuple(m for m, value in self.leans if _below_half(value))

    @cached_property
    def spread(self) -> Fraction:
        values = [value for _, value in self.leans]
        return max(values) - min(values) if values else Fraction(0)

    @cached_property
    def split(self) -> int:
        """Movements that decided but lean neither way (as many for as against)."""
        return len(self.leans) - len(self.towards) - len(self.away) - len(self.undecided)

    @property
    def divides(self) -> bool:
        return bool(self.towards) and bool(self.away)


@dataclass(frozen=True)
class BridgingReport:
    ranked: tuple[Bridging, ...]
    """Objectives at least one movement has decided on, highest score first (ties: lower
    number first)."""
    dividing: tuple[Bridging, ...]
    """Objectives some movements lean towards and others away from, widest gap first."""
    undecided: tuple[ObjectiveInfo, ...] = ()
    """Objectives no movement has decided on yet, by number: they have no place in a ranking."""


def bridging(board: Board) -> BridgingReport:
    rows = []
    undecided_objectives = []
    leans_of: dict[ConsensusCounts | None, Fraction] = {}  # few distinct vote counts
    for objective in board.objectives:
        leans = []
        undecided = []
        for movement in board.movements:
            counts = board.stance(movement, objective).counts
            if counts is None:
                undecided.append(movement)
            value = leans_of.get(counts)
            if value is None:
                value = leans_of[counts] = lean(counts)
            leans.append((movement, value))
        if len(undecided) == len(leans):
            undecided_objectives.append(objective)
            continue
        score = bridging_score(v for _, v in leans)
        rows.append(Bridging(objective, score, tuple(leans), tuple(undecided)))
    ranked = sorted(rows, key=lambda r: (-r.score, r.objective.number))
    dividing = sorted((r for r in rows if r.divides), key=lambda r: (-r.spread, r.objective.number))
    undecided_objectives.sort(key=lambda o: o.number)
    return BridgingReport(tuple(ranked), tuple(dividing), tuple(undecided_objectives))


def percent(value: Fraction) -> int:
    """A share as a whole percentage, rounded to nearest (for display only)."""
    return int(value * 100 + _HALF)
