"""How the alliance counts its movements: positions from each movement's poll, the alliance's
rules at their edges, the quorum in exact shares, and what an amendment changed."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bot.render import Renderer
from commands.council.rules import (
    DEFAULT_RULE,
    AllianceRule,
    CouncilRuleError,
    Position,
    PositionKind,
    Reason,
    alliance_rule_words,
    format_alliance_rule,
    parse_alliance_rule,
    position_of,
    tally_movements,
    word_diff,
)
from commands.polls.rules import ConsensusCounts, Rule, decide
from tests.unit.words import refused

CONSENSUS = Rule("consensus", None)


def positions(*kinds: PositionKind) -> dict[int, Position]:
    return {number: Position(kind) for number, kind in enumerate(kinds, start=1)}


def outcome(rule: AllianceRule, *kinds: PositionKind, counted: int | None = None) -> str:
    every = list(range(1, (counted or len(kinds)) + 1))
    return tally_movements(rule, positions(*kinds), every, final=True).state


# -- a movement's position ---------------------------------------------------------------------


def test_a_movement_agrees_when_its_poll_passes_and_lists_reservations_when_there_were_some() -> (
    None
):
    passed = decide(CONSENSUS, ConsensusCounts(agree=3))
    assert position_of(passed, []).kind == "agree"
    with_doubts = decide(CONSENSUS, ConsensusCounts(agree=2, reservations=1))
    reasons = [Reason("reservations", "Weekends only"), Reason("block", "ignored")]
    found = position_of(with_doubts, reasons)
    assert found.kind == "reservations"
    assert found.reasons == (Reason("reservations", "Weekends only"),)


def test_a_block_that_stops_the_poll_makes_the_movement_block_with_its_reasons() -> None:
    blocked = decide(CONSENSUS, ConsensusCounts(agree=5, block=1))
    found = position_of(blocked, [Reason("block", "Not on our land")])
    assert (found.kind, found.reasons) == ("block", (Reason("block", "Not on our land"),))


def test_most_standing_aside_is_standing_aside_and_otherwise_no_position() -> None:
    aside = decide(CONSENSUS, ConsensusCounts(stand_aside=3, reservations=1))
    assert position_of(aside, []).kind == "stand_aside"
    half = decide(CONSENSUS, ConsensusCounts(stand_aside=1, reservations=1))
    assert position_of(half, []).kind == "none"  # reservations alone never pass consensus
    assert position_of(decide(CONSENSUS, ConsensusCounts()), []).kind == "none"
    short = decide(Rule("consensus", None, quorum=5), ConsensusCounts(stand_aside=3))
    assert position_of(short, []).kind == "none"  # the room's quorum was missed


# -- the alliance's rules ----------------------------------------------------------------------


def test_consensus_any_block_stops_it_minus_one_takes_two() -> None:
    minus_one = parse_alliance_rule("consensus-minus-one")
    assert outcome(DEFAULT_RULE, "agree", "agree", "agree") == "passed"
    assert outcome(DEFAULT_RULE, "agree", "agree", "block") == "not_passed"
    assert outcome(minus_one, "agree", "agree", "block") == "passed"
    assert outcome(minus_one, "agree", "block", "block", "agree") == "not_passed"
    assert outcome(DEFAULT_RULE, "stand_aside", "stand_aside") == "not_passed"  # no one agreed


def test_supermajority_counts_every_movement_with_a_position_and_may_limit_blocks() -> None:
    two_thirds = parse_alliance_rule("supermajority 2/3")
    assert outcome(two_thirds, "agree", "agree", "block") == "passed"  # exactly 2/3
    assert outcome(two_thirds, "agree", "agree", "stand_aside", "block") == "not_passed"
    none_blocking = parse_alliance_rule("supermajority 2/3 blocks 0")
    assert outcome(none_blocking, "agree", "agree", "agree", "block") == "not_passed"
    one_block = parse_alliance_rule("supermajority 75% blocks 1")
    assert outcome(one_block, "agree", "agree", "reservations", "block") == "passed"


def test_consent_a_block_without_a_reason_is_only_reservations() -> None:
    consent = parse_alliance_rule("consent")
    silent = {1: Position("agree"), 2: Position("block")}
    assert tally_movements(consent, silent, [1, 2], final=True).state == "passed"
    reasoned = {1: Position("agree"), 2: Position("block", (Reason("block", "Unsafe"),))}
    result = tally_movements(consent, reasoned, [1, 2], final=True)
    assert (result.state, result.block) == ("not_passed", (2,))
    assert tally_movements(DEFAULT_RULE, silent, [1, 2], final=True).state == "not_passed"


@pytest.mark.parametrize(
    ("counted", "took", "passes"),
    [(4, 2, True), (4, 1, False), (5, 2, False), (5, 3, True), (1, 1, True)],
)
def test_the_default_quorum_is_half_of_the_movements_rounded_up(
    counted: int, took: int, passes: bool
) -> None:
    kinds: list[PositionKind] = ["agree"] * took + ["none"] * (counted - took)
    assert (outcome(DEFAULT_RULE, *kinds) == "passed") is passes


def test_a_movement_that_left_no_longer_counts_and_the_rest_are_deciding_until_final() -> None:
    found = {1: Position("agree"), 2: Position("block")}
    without_the_blocker = tally_movements(DEFAULT_RULE, found, [1, 3], final=False)
    assert without_the_blocker.state == "undecided"
    assert without_the_blocker.deciding == (3,)
    assert without_the_blocker.passes_so_far  # 1 of 2 took a position: the quorum is met
    closed = tally_movements(DEFAULT_RULE, found, [1, 3], final=True)
    assert (closed.state, closed.none) == ("passed", (3,))
    everyone = tally_movements(DEFAULT_RULE, found, [1, 2], final=False)
    assert everyone.everyone_answered
    assert everyone.state == "not_passed"


def test_an_alliance_without_movements_passes_nothing() -> None:
    assert tally_movements(DEFAULT_RULE, {}, [], final=True).state == "not_passed"


# -- reading and writing rules -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "consensus",
        "Consensus minus one",
        "consensus-minus-one quorum 2/3",
        "supermajority",
        "supermajority 75% blocks 1 quorum all",
        "supermajority 66.5% quorum none",
        "consent quorum 60%",
    ],
)
def test_every_rule_reads_back_as_written(text: str) -> None:
    rule = parse_alliance_rule(text)
    assert parse_alliance_rule(format_alliance_rule(rule)) == rule
    assert Renderer().say(alliance_rule_words(rule)).endswith("must take a position.")


def test_rules_are_read_exactly() -> None:
    assert parse_alliance_rule("supermajority").threshold == Fraction(2, 3)
    assert parse_alliance_rule("supermajority 66.5%").threshold == Fraction(133, 200)
    assert parse_alliance_rule("consensus quorum 60%").quorum == Fraction(3, 5)
    assert format_alliance_rule(DEFAULT_RULE) == "consensus quorum half"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Name a rule"),
        ("majority", "'majority' is not a rule I know"),
        ("consensus 2/3", "I don't understand '2/3'"),
        ("consensus blocks 1", "Only a supermajority"),
        ("supermajority 1/2", "needs more than half"),
        ("supermajority 2/3 blocks many", "whole number of movements"),
        ("supermajority 4/3", "more than all the movements"),
        ("consensus quorum lots", "'lots' is not a share I can read"),
        ("consensus quorum 1/0", "not a share I can read"),
        ("consensus quorum", "I don't understand 'quorum'"),
    ],
)
def test_a_rule_that_cannot_be_used_says_what_to_type(text: str, problem: str) -> None:
    with refused(CouncilRuleError, problem):
        parse_alliance_rule(text)


# -- amendments --------------------------------------------------------------------------------


def test_an_amendment_shows_the_words_taken_out_and_put_in() -> None:
    assert word_diff("We march through the old town", "We march along the ring road") == [
        ("same", "We march"),
        ("removed", "through"),
        ("added", "along"),
        ("same", "the"),
        ("removed", "old town"),
        ("added", "ring road"),
    ]
    assert word_diff("a b", "a  b") == [("same", "a b")]
    assert word_diff("", "new") == [("added", "new")]
