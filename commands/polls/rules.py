"""Decision rules for consensus polls: does a proposal pass?

Domain logic: plain data in, plain data out. No Matrix client, no database. What a rule says,
why a proposal passed and what is wrong with a rule are `Words` of
`templates/refusals/rules.txt`.

A consensus poll has four options (answer ids in :data:`CONSENSUS_OPTIONS`): ``agree``,
``reservations`` (agree with reservations), ``stand_aside`` and ``block``. Each voter picks
exactly one, so every option counts as a voter. "Support" means Agree plus Agree with
reservations.

:func:`decide` applies a :class:`Rule` to :class:`ConsensusCounts`:

- Quorum, checked first: the minimum number of voters (all four options count). With fewer
  voters the proposal does not pass, whatever the votes say. A quorum of 0 means none.
- No votes at all never pass.
- ``consensus``: passes with no Block and at least one Agree. Reservations alone are not enough.
- ``modified-consensus T``: a Block is heard but does not stop the proposal on its own. It passes
  when support is at least T of all votes cast (agree + reservations + stand_aside + block).
- ``majority``: passes when support is more than half of the votes for or against
  (agree + reservations + block). Stand-asides abstain. If everyone stands aside it does not pass.
- ``supermajority T``: passes when support is at least T of the votes for or against
  (agree + reservations + block). Stand-asides abstain. If everyone stands aside it does not pass.

Thresholds T are exact :class:`~fractions.Fraction` values in (1/2, 1]; no floats anywhere.
Defaults: ``modified-consensus`` 90%, ``supermajority`` 2/3.

Text forms read by :func:`parse_rule` (case does not matter, ``_`` may stand for ``-``)::

    consensus | modified-consensus [T] | majority | supermajority [T]   [quorum N]

with T written as a percentage (``90%``, ``66.5%``), a fraction (``2/3``) or a decimal (``0.9``).
:func:`format_rule` writes the canonical form, which :func:`parse_rule` reads back to an equal
rule. Every :class:`RuleError` is meant to be shown to activists: its `words` say what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from math import floor
from types import MappingProxyType
from typing import Final, Literal

from bot.contract import Refusal, Words

Kind = Literal["consensus", "modified-consensus", "majority", "supermajority"]
"""The decision rules a consensus poll can use."""

ReasonCode = Literal["passed", "no_quorum", "no_votes", "blocked", "no_agree", "below_threshold"]
"""Why an :class:`Outcome` came out as it did, for code that must not parse sentences.

``no_votes``: nothing to decide on (nobody voted, or under ``majority``/``supermajority``
everyone stood aside). ``blocked`` and ``no_agree`` come only from ``consensus``;
``below_threshold`` only from the other three rules.
"""

CONSENSUS_OPTIONS: Final[tuple[str, ...]] = ("agree", "reservations", "stand_aside", "block")
"""The answer ids of a consensus poll, in the order they are shown."""


def option_words(choice: str) -> Words:
    """How the consensus option `choice` (an answer id) is named to people."""
    return Words("rules.option", {"choice": choice})


_HALF: Final = Fraction(1, 2)
_DEFAULT_THRESHOLDS: Final[Mapping[str, Fraction]] = MappingProxyType(
    {"modified-consensus": Fraction(9, 10), "supermajority": Fraction(2, 3)}
)
_KIND_WORDS: Final[Mapping[str, Kind]] = MappingProxyType(
    {
        "consensus": "consensus",
        "modified-consensus": "modified-consensus",
        "majority": "majority",
        "supermajority": "supermajority",
        "super-majority": "supermajority",
    }
)
_NUMBER: Final = r"(?:\d+(?:\.\d+)?|\.\d+)"
_PERCENT_RE: Final = re.compile(rf"({_NUMBER})%")
_DECIMAL_RE: Final = re.compile(_NUMBER)
_FRACTION_RE: Final = re.compile(r"(\d+)/(\d+)")
_QUORUM_RE: Final = re.compile(r"-?\d+")
_LOOKS_NUMERIC_RE: Final = re.compile(r"[-+.\d]")


class RuleError(Refusal, ValueError):
    """A decision rule that cannot be used; its `words` tell the people voting why."""


@dataclass(frozen=True)
class Rule:
    """A decision rule: its kind, its threshold (only for the two kinds that have one), a quorum.

    Construction checks the combination, so every ``Rule`` in existence can be used.
    """

    kind: Kind
    threshold: Fraction | None
    quorum: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KIND_WORDS.values():
            raise RuleError("rules.unknown_rule", word=_cut(self.kind))
        _check_threshold(self.kind, self.threshold)
        _check_quorum(self.quorum)

    def with_quorum(self, quorum: int) -> Rule:
        """The same rule with another quorum (0 removes it)."""
        return replace(self, quorum=quorum)


@dataclass(frozen=True)
class ConsensusCounts:
    """How many people chose each option of a consensus poll."""

    agree: int = 0
    reservations: int = 0
    stand_aside: int = 0
    block: int = 0

    def __post_init__(self) -> None:
        if min(self.agree, self.reservations, self.stand_aside, self.block) < 0:
            raise ValueError(f"vote counts cannot be negative: {self!r}")

    @classmethod
    def from_mapping(cls, counts: Mapping[str, int]) -> ConsensusCounts:
        """Counts keyed by answer id (e.g. ``Tally.counts``); missing options count 0."""
        unknown = set(counts) - set(CONSENSUS_OPTIONS)
        if unknown:
            raise ValueError(f"not consensus poll options: {sorted(unknown)}")
        return cls(
            agree=counts.get("agree", 0),
            reservations=counts.get("reservations", 0),
            stand_aside=counts.get("stand_aside", 0),
            block=counts.get("block", 0),
        )

    @property
    def total(self) -> int:
        """Everyone who voted, whatever they chose."""
        return self.agree + self.reservations + self.stand_aside + self.block

    @property
    def support(self) -> int:
        """Agree plus Agree with reservations."""
        return self.agree + self.reservations

    @property
    def for_or_against(self) -> int:
        """The votes that take a side: everyone except those who stand aside."""
        return self.support + self.block


@dataclass(frozen=True)
class Outcome:
    """Whether a proposal passed under a rule, why (`words`, one sentence), what was counted."""

    passed: bool
    words: Words
    reason_code: ReasonCode
    rule: Rule
    counts: ConsensusCounts

    @property
    def quorum_met(self) -> bool:
        """Whether enough people voted for the result to stand."""
        return self.counts.total >= self.rule.quorum


def parse_rule(text: str) -> Rule:
    """Read a full rule such as ``supermajority 75% quorum 5``; raise :class:`RuleError`."""
    words = _words(text)
    if not words:
        raise RuleError("rules.name_a_rule")
    kind, rest = _take_kind(words)
    threshold_word: str | None = None
    if rest and _LOOKS_NUMERIC_RE.match(rest[0]):
        threshold_word, rest = rest[0], rest[1:]
    quorum = 0
    if rest and rest[0] == "quorum":
        if len(rest) < 2:
            raise RuleError("rules.quorum_after")
        quorum, rest = _parse_quorum_word(rest[1]), rest[2:]
    if rest:
        raise RuleError("rules.not_understood", word=_cut(rest[0]))
    return Rule(kind, _threshold_for(kind, threshold_word), quorum)


def parse_quorum(text: str) -> int:
    """Read a quorum on its own, ``5`` or ``quorum 5``; raise :class:`RuleError`."""
    words = _words(text)
    if words and words[0] == "quorum":
        words = words[1:]
    if len(words) != 1:
        raise RuleError("rules.quorum_alone")
    return _parse_quorum_word(words[0])


def format_rule(rule: Rule) -> str:
    """The canonical text of ``rule``; ``parse_rule(format_rule(rule)) == rule``."""
    parts: list[str] = [rule.kind]
    if rule.threshold is not None:
        parts.append(_threshold_text(rule.threshold))
    if rule.quorum:
        parts.append(f"quorum {rule.quorum}")
    return " ".join(parts)


def rule_words(rule: Rule) -> Words:
    """A short plain description of ``rule`` for the people voting."""
    threshold = None if rule.threshold is None else _threshold_text(rule.threshold)
    return Words(
        "rules.describe", {"kind": rule.kind, "threshold": threshold, "quorum": rule.quorum}
    )


def decide(rule: Rule, counts: ConsensusCounts) -> Outcome:
    """Apply ``rule`` to ``counts`` as described in the module docstring."""
    if counts.total < rule.quorum:
        why = Words("rules.no_quorum", {"voters": counts.total, "quorum": rule.quorum})
        return _not_passed(rule, counts, "no_quorum", why)
    if counts.total == 0:
        return _not_passed(rule, counts, "no_votes", Words("rules.no_votes"))
    if rule.kind == "consensus":
        return _decide_consensus(rule, counts)
    if rule.kind == "modified-consensus":
        return _decide_share(rule, counts, base=counts.total)
    if counts.for_or_against == 0:
        return _not_passed(rule, counts, "no_votes", Words("rules.everyone_stood_aside"))
    return _decide_share(rule, counts, base=counts.for_or_against)


def _decide_consensus(rule: Rule, counts: ConsensusCounts) -> Outcome:
    if counts.block:
        why = Words("rules.blocked", {"blocks": counts.block})
        return _not_passed(rule, counts, "blocked", why)
    if not counts.agree:
        return _not_passed(rule, counts, "no_agree", Words("rules.no_agree"))
    words = Words("rules.consensus_passed", {"agree": counts.agree})
    return Outcome(passed=True, words=words, reason_code="passed", rule=rule, counts=counts)


def _decide_share(rule: Rule, counts: ConsensusCounts, *, base: int) -> Outcome:
    """Compare the share of support among ``base`` votes with the rule's bar (more than half
    when it has no threshold)."""
    share = Fraction(counts.support, base)
    passed = share > _HALF if rule.threshold is None else share >= rule.threshold
    words = Words(
        "rules.share",
        {
            "passed": passed,
            "support": counts.support,
            "votes": base,
            "percent": _percent_text(share),
            "threshold": None if rule.threshold is None else _threshold_text(rule.threshold),
            "stand_asides": counts.stand_aside if base < counts.total else None,
        },
    )
    code: ReasonCode = "passed" if passed else "below_threshold"
    return Outcome(passed=passed, words=words, reason_code=code, rule=rule, counts=counts)


def _not_passed(rule: Rule, counts: ConsensusCounts, code: ReasonCode, why: Words) -> Outcome:
    return Outcome(passed=False, words=why, reason_code=code, rule=rule, counts=counts)


def _words(text: str) -> list[str]:
    """Lower-cased words, with ``_`` read as ``-`` and ``90 %`` read as ``90%``."""
    normal = re.sub(r"\s+%", "%", text.lower().replace("_", "-"))
    return normal.split()


def _take_kind(words: list[str]) -> tuple[Kind, list[str]]:
    """The rule kind at the start of ``words`` (one word or two) and the words after it."""
    if len(words) >= 2 and f"{words[0]}-{words[1]}" in _KIND_WORDS:
        return _KIND_WORDS[f"{words[0]}-{words[1]}"], words[2:]
    if words[0] in _KIND_WORDS:
        return _KIND_WORDS[words[0]], words[1:]
    raise RuleError("rules.unknown_rule", word=_cut(words[0]))


def _threshold_for(kind: Kind, word: str | None) -> Fraction | None:
    if kind == "consensus" and word is not None:
        raise RuleError("rules.consensus_threshold")
    if kind == "majority" and word is not None:
        raise RuleError("rules.majority_threshold")
    if word is None:
        return _DEFAULT_THRESHOLDS.get(kind)
    return _parse_threshold_word(word)


def _parse_threshold_word(word: str) -> Fraction:
    value = _read_fraction(word)
    if value is None:
        raise RuleError("rules.unreadable_threshold", word=_cut(word))
    if value > 1 and _DECIMAL_RE.fullmatch(word):
        raise RuleError("rules.percent_meant", word=_cut(word))
    if not _HALF < value <= 1:
        raise RuleError("rules.threshold_range", threshold=_cut(word))
    return value


def _read_fraction(word: str) -> Fraction | None:
    """The exact value of a percentage, fraction or decimal, or None if it is none of those."""
    try:
        if match := _PERCENT_RE.fullmatch(word):
            return Fraction(match[1]) / 100
        if match := _FRACTION_RE.fullmatch(word):
            return None if int(match[2]) == 0 else Fraction(int(match[1]), int(match[2]))
        if _DECIMAL_RE.fullmatch(word):
            return Fraction(word)
    except ValueError:  # more digits than Python converts
        return None
    return None


def _parse_quorum_word(word: str) -> int:
    if not _QUORUM_RE.fullmatch(word):
        raise RuleError("rules.quorum_not_whole", word=_cut(word))
    try:
        quorum = int(word)
    except ValueError:  # more digits than Python converts
        raise RuleError("rules.quorum_too_large") from None
    _check_quorum(quorum)
    return quorum


def _check_threshold(kind: Kind, threshold: Fraction | None) -> None:
    if kind in _DEFAULT_THRESHOLDS:
        if threshold is None:
            raise RuleError("rules.needs_threshold", kind=kind)
        if not _HALF < threshold <= 1:
            raise RuleError("rules.threshold_range", threshold=_threshold_text(threshold))
    elif threshold is not None:
        raise RuleError("rules.no_threshold", kind=kind)


def _check_quorum(quorum: int) -> None:
    if quorum < 0:
        raise RuleError("rules.quorum_negative")


def _threshold_text(threshold: Fraction) -> str:
    """``90%`` or ``66.5%`` when the percentage is a short exact decimal, else ``2/3``."""
    percent = threshold * 100
    for places in range(5):
        scaled = percent * 10**places
        if scaled.denominator == 1:
            return f"{_decimal_text(scaled.numerator, places)}%"
    return f"{threshold.numerator}/{threshold.denominator}"


def _percent_text(share: Fraction) -> str:
    """A share as a percentage: whole if exact, else rounded down to one decimal place.

    Rounding down means a share below a bar is never shown as reaching it.
    """
    percent = share * 100
    if percent.denominator == 1:
        return f"{percent.numerator}%"
    return f"{_decimal_text(floor(percent * 10), 1)}%"


def _decimal_text(scaled: int, places: int) -> str:
    """``scaled / 10**places`` written out exactly, e.g. (665, 1) -> ``66.5``."""
    if places == 0:
        return str(scaled)
    whole, fraction = divmod(scaled, 10**places)
    return f"{whole}.{fraction:0{places}d}"


def _cut(word: str, limit: int = 30) -> str:
    """``word``, or its start and an ellipsis when it is longer than ``limit``."""
    return word if len(word) <= limit else f"{word[: limit - 1]}…"
