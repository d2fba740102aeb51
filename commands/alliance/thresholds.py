"""When an objective counts as *common*: plain data in, plain data out.

:func:`parse_threshold` reads ``more than half`` (the default), ``all``, a share (``2/3``,
``75%``, ``0.6``) or a number of movements (``3``); :func:`format_threshold` writes the form it
reads back (how a threshold is stored), :func:`threshold_words` what people read
(``templates/refusals/compare.txt``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from math import ceil
from typing import Final, Literal

from bot.contract import Refusal, Words
from commands.alliance.names import name_key

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
