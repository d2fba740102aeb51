"""How an alliance decides a proposal movement by movement: pure logic, no Matrix, no SQL.

A movement's :class:`Position` is what its own consensus poll settled on under its own room's
rule (:func:`position_of`): ``agree``, ``reservations`` (agreed, with reservations), ``block``,
``stand_aside`` (most of its voters stood aside: not bound by the outcome) or ``none`` (no
votes, quorum missed). The alliance's :class:`AllianceRule` counts positions of the movements
that count (:func:`tally_movements`):

- ``consensus``: no movement blocks, and at least one agrees;
- ``consensus-minus-one``: one blocking movement does not stop it, two do;
- ``supermajority T`` (optionally ``blocks N``): at least T of the movements with a position
  agree (with or without reservations), and no more than N block (without ``blocks``, a block
  counts only against the share);
- ``consent``: no paramount objection. A block must give a reason; one without a reason
  counts as reservations. Passes when no reasoned block remains and one movement agrees.

Each with a quorum: movements that took a position (not ``none``) must be at least a share of
the counted movements (default half). Shares are exact fractions, no floats.

Text forms read by :func:`parse_alliance_rule` (case does not matter)::

    consensus | consensus-minus-one | supermajority [T] [blocks N] | consent   [quorum Q]

with T and Q a percentage (``66%``), a fraction (``2/3``), ``half`` or ``all``.
:func:`format_alliance_rule` writes the canonical form, read back to an equal rule.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import ceil
from typing import Final, Literal

from bot.contract import Refusal, Words
from commands.polls.rules import Outcome

PositionKind = Literal["agree", "reservations", "stand_aside", "block", "none"]
RuleKind = Literal["consensus", "consensus-minus-one", "supermajority", "consent"]
State = Literal["passed", "not_passed", "undecided"]
ReasonCode = Literal["passed", "no_quorum", "blocked", "no_support", "below_threshold"]
DiffOp = Literal["same", "added", "removed"]

NO_LIMIT: Final = -1
"""`AllianceRule.max_blocks` when a supermajority sets no limit on blocks."""
HALF: Final = Fraction(1, 2)


class CouncilRuleError(Refusal, ValueError):
    """An alliance rule that cannot be used; its `words` say why and what to type."""


@dataclass(frozen=True)
class Reason:
    """Why a member voted as they did: their answer (`block`, `stand_aside`, `reservations`)
    and their words (None when they gave none)."""

    choice: str
    text: str | None


@dataclass(frozen=True)
class Position:
    """A movement's answer to a proposal, with the reasons that go with it."""

    kind: PositionKind
    reasons: tuple[Reason, ...] = ()
    given_by: str = "poll"


def position_of(outcome: Outcome, reasons: Sequence[Reason]) -> Position:
    """The position a movement's consensus poll settled on (see the module docstring)."""
    counts = outcome.counts
    if outcome.passed:
        if counts.reservations:
            return Position("reservations", _of(reasons, "reservations"))
        return Position("agree")
    if counts.block and outcome.reason_code in ("blocked", "below_threshold"):
        return Position("block", _of(reasons, "block"))
    if counts.total and counts.stand_aside * 2 > counts.total and outcome.quorum_met:
        return Position("stand_aside", _of(reasons, "stand_aside"))
    return Position("none")


def _of(reasons: Sequence[Reason], choice: str) -> tuple[Reason, ...]:
    return tuple(reason for reason in reasons if reason.choice == choice)


@dataclass(frozen=True)
class AllianceRule:
    """How the alliance counts its movements' positions. Checked when made."""

    kind: RuleKind = "consensus"
    threshold: Fraction | None = None
    max_blocks: int = NO_LIMIT
    quorum: Fraction = HALF

    def __post_init__(self) -> None:
        if self.kind == "supermajority":
            if self.threshold is None or not HALF < self.threshold <= 1:
                raise CouncilRuleError("council.threshold_range")
        elif self.threshold is not None or self.max_blocks != NO_LIMIT:
            raise CouncilRuleError("council.only_supermajority")
        if self.max_blocks < NO_LIMIT:
            raise CouncilRuleError("council.blocks_number")
        if not 0 <= self.quorum <= 1:
            raise CouncilRuleError("council.quorum_range")

    def needed(self, counted: int) -> int:
        """How many movements must take a position for the quorum."""
        return ceil(self.quorum * counted)


DEFAULT_RULE: Final = AllianceRule()


@dataclass(frozen=True)
class CouncilOutcome:
    """Where a round stands under the alliance's rule: movements by position, and why."""

    state: State
    reason_code: ReasonCode
    words: Words
    agree: tuple[int, ...]
    reservations: tuple[int, ...]
    stand_aside: tuple[int, ...]
    block: tuple[int, ...]
    none: tuple[int, ...]
    deciding: tuple[int, ...]
    counted: int = 0
    passes_so_far: bool = False

    @property
    def everyone_answered(self) -> bool:
        return not self.deciding


def tally_movements(
    rule: AllianceRule,
    positions: Mapping[int, Position],
    counted: Collection[int],
    *,
    final: bool,
) -> CouncilOutcome:
    """Count the positions of the `counted` movements (those that may answer and have not
    left) under `rule`. Until `final`, movements without a position are still deciding and the
    outcome is what it would be if the round closed now."""
    by_kind: dict[str, list[int]] = {
        kind: [] for kind in ("agree", "reservations", "stand_aside", "block", "none", "deciding")
    }
    for movement in sorted(counted):
        position = positions.get(movement)
        if position is None:
            by_kind["none" if final else "deciding"].append(movement)
            continue
        kind: str = position.kind
        if (
            rule.kind == "consent"
            and kind == "block"
            and not any(reason.text for reason in position.reasons)
        ):
            kind = "reservations"  # no paramount objection without a reason
        by_kind[kind].append(movement)
    took = sum(len(by_kind[k]) for k in ("agree", "reservations", "stand_aside", "block"))
    support = len(by_kind["agree"]) + len(by_kind["reservations"])
    blocks = len(by_kind["block"])
    code, words = _decide(rule, len(counted), took, support, blocks)
    passed = code == "passed"
    if final or not by_kind["deciding"]:
        state: State = "passed" if passed else "not_passed"
    else:
        state = "undecided"
    return CouncilOutcome(
        state=state,
        reason_code=code,
        words=words,
        agree=tuple(by_kind["agree"]),
        reservations=tuple(by_kind["reservations"]),
        stand_aside=tuple(by_kind["stand_aside"]),
        block=tuple(by_kind["block"]),
        none=tuple(by_kind["none"]),
        deciding=tuple(by_kind["deciding"]),
        counted=len(counted),
        passes_so_far=passed,
    )


def _decide(
    rule: AllianceRule, counted: int, took: int, support: int, blocks: int
) -> tuple[ReasonCode, Words]:
    needed = rule.needed(counted)
    if took < needed or counted == 0:
        return "no_quorum", Words("council.no_quorum", {"took": took, "needed": needed})
    allowed = 1 if rule.kind == "consensus-minus-one" else 0
    if rule.kind == "supermajority":
        allowed = blocks if rule.max_blocks == NO_LIMIT else rule.max_blocks
    if blocks > allowed:
        return "blocked", Words("council.blocked", {"blocks": blocks, "allowed": allowed})
    if support == 0:
        return "no_support", Words("council.no_support")
    if rule.kind == "supermajority":
        assert rule.threshold is not None
        if Fraction(support, took) < rule.threshold:
            return "below_threshold", Words(
                "council.below_threshold",
                {"support": support, "took": took, "threshold": _share_text(rule.threshold)},
            )
    return "passed", Words("council.passed", {"support": support, "blocks": blocks})


# -- reading and writing rules -----------------------------------------------------------------

_KINDS: Final[Mapping[str, RuleKind]] = {
    "consensus": "consensus",
    "consensus-minus-one": "consensus-minus-one",
    "consensus-1": "consensus-minus-one",
    "supermajority": "supermajority",
    "super-majority": "supermajority",
    "consent": "consent",
}
_SHARE_RE: Final = re.compile(r"^(\d{1,3})(?:\.(\d{1,2}))?%$|^(\d{1,3})/(\d{1,3})$")


def parse_alliance_rule(text: str) -> AllianceRule:
    """Read a rule such as ``supermajority 2/3 blocks 1 quorum 60%``."""
    words = " ".join(text.lower().replace("_", "-").split())
    words = words.replace("consensus minus one", "consensus-minus-one")
    parts = words.split()
    if not parts:
        raise CouncilRuleError("council.name_a_rule")
    kind = _KINDS.get(parts[0])
    if kind is None:
        raise CouncilRuleError("council.unknown_rule", word=_cut(parts[0]))
    rest = parts[1:]
    threshold: Fraction | None = None
    max_blocks = NO_LIMIT
    quorum = HALF
    if kind == "supermajority":
        threshold = Fraction(2, 3)
        if rest and rest[0] not in ("blocks", "quorum"):
            threshold = read_share(rest.pop(0))
    while rest:
        word = rest.pop(0)
        if word not in ("blocks", "quorum") or not rest:
            raise CouncilRuleError("council.not_understood", word=_cut(word))
        value = rest.pop(0)
        if word == "quorum":
            quorum = read_share(value)
        elif kind != "supermajority":
            raise CouncilRuleError("council.only_supermajority")
        elif not value.isdecimal() or len(value) > 4:
            raise CouncilRuleError("council.blocks_number")
        else:
            max_blocks = int(value)
    return AllianceRule(kind, threshold, max_blocks, quorum)


def read_share(word: str) -> Fraction:
    """``half``, ``all``, ``none``, ``60%``, ``2/3`` as an exact share from 0 to 1."""
    named = {"half": HALF, "all": Fraction(1), "none": Fraction(0)}
    if word in named:
        return named[word]
    match = _SHARE_RE.match(word)
    if match is None:
        raise CouncilRuleError("council.unreadable_share", word=_cut(word))
    if match[1] is not None:
        decimals = match[2] or ""
        share = Fraction(int(match[1] + decimals), 100 * 10 ** len(decimals))
    else:
        if int(match[4]) == 0:
            raise CouncilRuleError("council.unreadable_share", word=_cut(word))
        share = Fraction(int(match[3]), int(match[4]))
    if share > 1:
        raise CouncilRuleError("council.share_above_all", word=_cut(word))
    return share


def format_alliance_rule(rule: AllianceRule) -> str:
    """The canonical text of `rule`: `parse_alliance_rule(format_alliance_rule(r)) == r`."""
    parts: list[str] = [rule.kind]
    if rule.threshold is not None:
        parts.append(_share_text(rule.threshold))
    if rule.max_blocks != NO_LIMIT:
        parts.append(f"blocks {rule.max_blocks}")
    parts.append(f"quorum {_share_text(rule.quorum)}")
    return " ".join(parts)


def alliance_rule_words(rule: AllianceRule) -> Words:
    """What `rule` means, for the people of the alliance."""
    return Words(
        "council.describe_rule",
        {
            "kind": rule.kind,
            "threshold": None if rule.threshold is None else _share_text(rule.threshold),
            "max_blocks": None if rule.max_blocks == NO_LIMIT else rule.max_blocks,
            "quorum": _share_text(rule.quorum),
        },
    )


def _share_text(share: Fraction) -> str:
    if share == HALF:
        return "half"
    if share == 1:
        return "all"
    if share == 0:
        return "none"
    if (share * 100).denominator == 1:
        return f"{share * 100}%"
    return f"{share.numerator}/{share.denominator}"


def _cut(word: str, limit: int = 30) -> str:
    return word if len(word) <= limit else word[: limit - 1] + "…"


# -- what an amendment changed -----------------------------------------------------------------


def word_diff(old: str, new: str) -> list[tuple[DiffOp, str]]:
    """`new` against `old`, word by word: runs of words kept, put in, or taken out."""
    before, after = old.split(), new.split()
    runs: list[tuple[DiffOp, str]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            runs.append(("same", " ".join(before[a1:a2])))
            continue
        if a2 > a1:
            runs.append(("removed", " ".join(before[a1:a2])))
        if b2 > b1:
            runs.append(("added", " ".join(after[b1:b2])))
    return runs
