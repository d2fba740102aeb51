"""Alliances as plain data: names, thresholds, comparing stances, and the bridging score.

Pure domain logic: plain data in, plain data out. No Matrix client, no database, no I/O.

- Names: :func:`name_key` (what makes two names "the same", case and spacing aside),
  :func:`slugify` (the short form people may type instead), :func:`match_name` (find what
  someone meant among named things), :func:`text_key` (duplicate objectives).
- Thresholds: when an objective counts as *common*. :func:`parse_threshold` reads
  ``more than half`` (the default), ``all``, a share (``2/3``, ``75%``, ``0.6``) or a number of
  movements (``3``); :func:`format_threshold` writes the form it reads back (how a threshold
  is stored), :func:`threshold_words` what people read (``templates/refusals/compare.txt``).
- A :class:`Board` holds an alliance's active movements, its objectives, each movement's
  :class:`Stance` and its own wording (a linked statement item). :func:`support`,
  :func:`compare_pair`, :func:`compare_objective` and :func:`bridging` answer the questions
  ``!objectives``, ``!compare`` and ``!bridging`` ask.
- Pages: a long reply cut into pages that each fit one Matrix event. :func:`lay_out` finds
  the :class:`Layout` (rows, and for the matrix movement columns, per page) from a function
  that measures one page; :func:`pieces` cuts a list evenly.

The bridging score is Pol.is's group-informed consensus with the movements as the groups: the
product over active movements of ``(A + 1) / (S + 2)``, where ``A`` counts Agree and Agree with
reservations and ``S`` all votes in that movement's latest decided endorsement poll. A movement
without one contributes 1/2. The score is high only when every movement leans towards the
objective. An objective *divides* the alliance when at least one movement leans towards it
(more than 1/2) and at least one leans away (less than 1/2). An objective that no movement has
decided on yet is not ranked at all: its score would only say how many movements there are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from math import ceil
from typing import Final, Generic, Literal, TypeVar

from bot.contract import Refusal, Words
from commands.polls.rules import ConsensusCounts

# -- names ------------------------------------------------------------------------------------

SLUG_MAX = 24
NAME_MAX = 80
_NO_LIMIT = 10_000
_MIN_PREFIX = 3

_T = TypeVar("_T")


class BadName(Refusal, ValueError):
    """A name that cannot be used; its `words` say why (``what``: alliance or movement)."""


def name_key(name: str) -> str:
    """Two names with the same key are the same name (case and spacing do not matter)."""
    return " ".join(name.casefold().split())


def slugify(name: str, *, limit: int = SLUG_MAX) -> str:
    """A short lower-case form: letters and digits (accents dropped), words joined by ``-``.

    Letters of every script are kept, so a name in Greek or Arabic keeps a slug.
    Cut at a word boundary to at most ``limit`` characters when it can be.
    """
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = [w for w in re.split(r"[^\w]+|_", plain) if w]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            if not slug:
                slug = word[:limit]
            break
        slug = candidate
    return slug


def check_name(name: str, *, what: str) -> str:
    """The name tidied up (spaces collapsed), or :class:`BadName` saying what is wrong."""
    tidy = " ".join(name.split())
    if not tidy:
        raise BadName("compare.no_name", what=what)
    if len(tidy) > NAME_MAX:
        raise BadName("compare.name_too_long", what=what, length=len(tidy), limit=NAME_MAX)
    if not slugify(tidy):
        raise BadName("compare.name_needs_letter", what=what)
    return tidy


def text_key(text: str) -> str:
    """Two objectives with the same key say the same thing (case, spacing, final dot aside)."""
    return name_key(text).rstrip(" .!;")


@dataclass(frozen=True)
class Match(Generic[_T]):
    """What a typed name matched: exactly one thing, or several (ambiguous), or nothing."""

    found: _T | None
    candidates: tuple[_T, ...] = ()


def match_name(
    typed: str, items: Sequence[_T], *, name: Callable[[_T], str], slug: Callable[[_T], str]
) -> Match[_T]:
    """Find what ``typed`` names among ``items``.

    In order: the exact name (case and spacing aside) or slug; the same name written with
    other punctuation; a slug that starts with what was typed (3 characters or more). When
    several fit, nothing is found and ``candidates`` lists them.
    """
    key = name_key(typed.strip().strip("\"'“”‘’«»"))
    if not key:
        return Match(None)
    for item in items:
        if name_key(name(item)) == key or slug(item) == key:
            return Match(item)
    wanted = slugify(key, limit=_NO_LIMIT)
    if not wanted:
        return Match(None)
    same = tuple(item for item in items if slugify(name(item), limit=_NO_LIMIT) == wanted)
    if len(same) == 1:
        return Match(same[0])
    prefixed = tuple(
        item for item in items if len(wanted) >= _MIN_PREFIX and slug(item).startswith(wanted)
    )
    if not same and len(prefixed) == 1:
        return Match(prefixed[0])
    return Match(None, same or prefixed)


def split_names(words: Sequence[str], resolves: Callable[[str], bool]) -> tuple[str, ...]:
    """The names ``words`` hold, read as a person means them (``!compare Climate Camp Tenants``).

    The whole text when it is one name (``Climate Camp``, unquoted). Otherwise two names that
    both resolve, trying the longest first name first; quoted names count as one word. ``()``
    when neither reading works.
    """
    if not words:
        return ()
    whole = " ".join(words)
    if resolves(whole):
        return (whole,)
    for cut in range(len(words) - 1, 0, -1):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        if resolves(first) and resolves(second):
            return (first, second)
    return ()


def objective_number(word: str) -> int | None:
    """``3``, ``#3`` or ``no. 3`` as a number; None when the word is not one."""
    cleaned = word.strip().lstrip("#").removeprefix("no.").strip()
    return int(cleaned) if cleaned.isdecimal() and len(cleaned) < 10 else None


# -- thresholds -------------------------------------------------------------------------------

ThresholdKind = Literal["majority", "share", "count"]
_HALF: Final = Fraction(1, 2)


class ThresholdError(Refusal, ValueError):
    """A threshold that cannot be used; its `words` say why."""


@dataclass(frozen=True)
class Threshold:
    """How many active movements must endorse an objective for it to count as common.

    ``majority``: more than half. ``share``: at least ``share`` of them (1 means all).
    ``count``: at least ``count`` movements (or all of them, when there are fewer).
    """

    kind: ThresholdKind = "majority"
    share: Fraction | None = None
    count: int | None = None

    def needed(self, active: int) -> int:
        """Endorsements needed among ``active`` movements (at least 1)."""
        if self.kind == "count":
            assert self.count is not None
            wanted = min(self.count, active)
        elif self.kind == "share":
            assert self.share is not None
            wanted = ceil(self.share * active)
        else:
            wanted = active // 2 + 1
        return max(wanted, 1)

    def is_met(self, endorsed: int, active: int) -> bool:
        return active > 0 and endorsed >= self.needed(active)


MAJORITY: Final = Threshold()


def parse_threshold(text: str) -> Threshold:
    """Read a threshold (see the module docstring); raise :class:`ThresholdError`."""
    words = name_key(text).replace("at least", "").replace("movements", "").split()
    phrase = " ".join(words)
    if phrase in ("more than half", "majority", "a majority", "default", "over half"):
        return MAJORITY
    if phrase in ("all", "everyone", "every movement", "unanimous", "100%"):
        return Threshold("share", share=Fraction(1))
    if phrase.isdecimal():
        count = int(phrase)
        if count < 1 or len(phrase) > 6:
            raise ThresholdError("compare.count_below_one")
        return Threshold("count", count=count)
    share = _read_share(phrase.replace(" ", ""))
    if share is None:
        raise ThresholdError("compare.unreadable_threshold", typed=text.strip()[:30])
    if share == 1:
        return Threshold("share", share=Fraction(1))
    if not 0 < share < 1:
        raise ThresholdError("compare.share_range")
    return Threshold("share", share=share)


def _read_share(word: str) -> Fraction | None:
    try:
        if match := re.fullmatch(r"(\d+(?:\.\d+)?)%", word):
            return Fraction(match[1]) / 100
        if match := re.fullmatch(r"(\d+)/(\d+)", word):
            return None if int(match[2]) == 0 else Fraction(int(match[1]), int(match[2]))
        if re.fullmatch(r"0?\.\d+|1(?:\.0+)?", word):
            return Fraction(word)
    except (ValueError, ZeroDivisionError):
        return None
    return None


def format_threshold(threshold: Threshold) -> str:
    """The form :func:`parse_threshold` reads back to an equal threshold: how it is stored.
    People read :func:`threshold_words`."""
    if threshold.kind == "count":
        n = threshold.count
        return f"at least {n} movement{'' if n == 1 else 's'}"
    if threshold.kind == "share":
        assert threshold.share is not None
        if threshold.share == 1:
            return "all"
        percent = threshold.share * 100
        if percent.denominator == 1:
            return f"at least {percent.numerator}%"
        return f"at least {threshold.share.numerator}/{threshold.share.denominator}"
    return "more than half"


def threshold_words(threshold: Threshold) -> Words:
    """The threshold as people read it (and may type it back)."""
    if threshold.kind == "count":
        return Words("compare.threshold", {"form": "count", "count": threshold.count})
    if threshold.kind == "share":
        assert threshold.share is not None
        if threshold.share == 1:
            return Words("compare.threshold", {"form": "all", "count": None})
        percent = threshold.share * 100
        if percent.denominator == 1:
            return Words("compare.threshold", {"form": "percent", "count": percent.numerator})
        share = f"{threshold.share.numerator}/{threshold.share.denominator}"
        return Words("compare.threshold", {"form": "share", "count": share})
    return Words("compare.threshold", {"form": "majority", "count": None})


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
