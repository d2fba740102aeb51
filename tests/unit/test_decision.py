"""Decision rules for consensus polls: reading them, describing them, and applying them."""

from fractions import Fraction

import pytest

from bot.render import Renderer
from commands.polls.rules import (
    CONSENSUS_OPTIONS,
    ConsensusCounts,
    Rule,
    RuleError,
    decide,
    format_rule,
    option_words,
    parse_quorum,
    parse_rule,
    rule_words,
)
from tests.unit.words import refused, said

SAY = Renderer(globals={"prefix": "!"}).say

CONSENSUS = Rule("consensus", None)
MAJORITY = Rule("majority", None)


def modified(percent: int, quorum: int = 0) -> Rule:
    return Rule("modified-consensus", Fraction(percent, 100), quorum)


def supermajority(threshold: Fraction, quorum: int = 0) -> Rule:
    return Rule("supermajority", threshold, quorum)


def votes(
    agree: int = 0, reservations: int = 0, stand_aside: int = 0, block: int = 0
) -> ConsensusCounts:
    return ConsensusCounts(agree, reservations, stand_aside, block)


# --- parse_rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("consensus", CONSENSUS),
        ("  Consensus  ", CONSENSUS),
        ("CONSENSUS quorum 5", Rule("consensus", None, 5)),
        ("consensus quorum 0", CONSENSUS),
        ("modified-consensus", modified(90)),
        ("modified_consensus", modified(90)),
        ("modified consensus", modified(90)),
        ("modified-consensus 90%", modified(90)),
        ("modified-consensus 0.9", modified(90)),
        ("modified-consensus .9", modified(90)),
        ("modified-consensus 9/10", modified(90)),
        ("modified-consensus 90.0%", modified(90)),
        ("modified-consensus 90 %", modified(90)),
        ("modified-consensus 80% quorum 12", modified(80, 12)),
        ("modified-consensus 100%", modified(100)),
        ("modified-consensus 1", modified(100)),
        ("modified-consensus quorum 3", modified(90, 3)),
        ("majority", MAJORITY),
        ("majority quorum 7", Rule("majority", None, 7)),
        ("supermajority", supermajority(Fraction(2, 3))),
        ("super-majority", supermajority(Fraction(2, 3))),
        ("super majority", supermajority(Fraction(2, 3))),
        ("supermajority 2/3", supermajority(Fraction(2, 3))),
        ("supermajority 4/6", supermajority(Fraction(2, 3))),
        ("supermajority 75%", supermajority(Fraction(3, 4))),
        ("supermajority 0.75", supermajority(Fraction(3, 4))),
        ("supermajority 66.5%", supermajority(Fraction(133, 200))),
        ("supermajority 50.1%", supermajority(Fraction(501, 1000))),
        ("supermajority 0.51 quorum 4", supermajority(Fraction(51, 100), 4)),
        ("supermajority quorum 4", supermajority(Fraction(2, 3), 4)),
    ],
)
def test_parse_rule(text: str, rule: Rule) -> None:
    assert parse_rule(text) == rule


def test_thresholds_are_exact_fractions() -> None:
    threshold = parse_rule("modified-consensus 0.9").threshold
    assert isinstance(threshold, Fraction)
    assert threshold == Fraction(9, 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Please name a decision rule. Accepted rules: consensus, modified-consensus 90%"),
        ("   ", "Please name a decision rule."),
        ("voting", "'voting' is not a decision rule I know. Accepted rules:"),
        ("quorum 5", "'quorum' is not a decision rule I know."),
        ("75% supermajority", "'75%' is not a decision rule I know."),
        ("consensus 90%", "Plain consensus has no percentage. For one, use modified-consensus"),
        ("majority 60%", "A simple majority has no percentage: it means more than half."),
        ("consensus please", "I don't understand 'please' in that rule. Accepted rules:"),
        ("supermajority abc", "I don't understand 'abc' in that rule."),
        ("supermajority 75", "Did you mean 75%? Write it as a percentage (75%), a fraction (3/4)"),
        ("supermajority 2", "Did you mean 2%?"),
        ("supermajority 50%", "The threshold must be more than 50% and at most 100%; 50% is not."),
        ("supermajority 1/2", "The threshold must be more than 50% and at most 100%; 1/2 is not."),
        ("supermajority 0.5", "more than 50% and at most 100%; 0.5 is not."),
        ("modified-consensus 40%", "more than 50% and at most 100%; 40% is not."),
        ("modified-consensus 101%", "more than 50% and at most 100%; 101% is not."),
        ("supermajority 4/3", "more than 50% and at most 100%; 4/3 is not."),
        ("supermajority 0%", "more than 50% and at most 100%; 0% is not."),
        ("supermajority 2/0", "'2/0' is not a threshold I can read. Write it as a percentage"),
        ("supermajority -75%", "'-75%' is not a threshold I can read."),
        ("supermajority 7.5.1%", "'7.5.1%' is not a threshold I can read."),
        ("supermajority 1e-1", "'1e-1' is not a threshold I can read."),
        pytest.param(
            "supermajority " + "9" * 5000 + "%",
            "'" + "9" * 29 + "…' is not a threshold I can read.",
            id="too-many-digits",
        ),
        pytest.param(
            "supermajority 0." + "1" * 40,
            "at most 100%; 0." + "1" * 27 + "… is not.",
            id="long-decimal",
        ),
        ("supermajority 75% 80%", "I don't understand '80%' in that rule."),
        ("majority quorum", "After 'quorum', give the minimum number of voters, e.g. 'quorum 5'."),
        ("majority quorum -1", "The quorum cannot be negative. Use 'quorum 0' for no quorum."),
        ("majority quorum 2.5", "The quorum must be a whole number of voters, e.g. 'quorum 5'"),
        ("majority quorum five", "The quorum must be a whole number of voters"),
        ("majority quorum 5 now", "I don't understand 'now' in that rule."),
        pytest.param(
            "majority quorum " + "9" * 5000, "That quorum is far too large.", id="huge-quorum"
        ),
    ],
)
def test_parse_rule_refuses_with_a_plain_message(text: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    assert message in said(caught.value)


def test_rule_errors_are_value_errors() -> None:
    assert issubclass(RuleError, ValueError)


# --- format_rule and the round trip -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (CONSENSUS, "consensus"),
        (Rule("consensus", None, 5), "consensus quorum 5"),
        (modified(90), "modified-consensus 90%"),
        (modified(100, 1), "modified-consensus 100% quorum 1"),
        (MAJORITY, "majority"),
        (Rule("majority", None, 12), "majority quorum 12"),
        (supermajority(Fraction(2, 3)), "supermajority 2/3"),
        (supermajority(Fraction(3, 4)), "supermajority 75%"),
        (supermajority(Fraction(133, 200)), "supermajority 66.5%"),
        (supermajority(Fraction(50001, 100000)), "supermajority 50.001%"),
        (supermajority(Fraction(5000001, 10000000)), "supermajority 5000001/10000000"),
        (supermajority(Fraction(513, 1024)), "supermajority 513/1024"),
        (supermajority(Fraction(5, 7), 3), "supermajority 5/7 quorum 3"),
    ],
)
def test_format_rule(rule: Rule, text: str) -> None:
    assert format_rule(rule) == text


ROUND_TRIP_RULES = [
    Rule(kind, None, quorum) for kind in ("consensus", "majority") for quorum in (0, 1, 5, 1000)
] + [
    Rule(kind, threshold, quorum)
    for kind in ("modified-consensus", "supermajority")
    for threshold in (
        Fraction(2, 3),
        Fraction(3, 4),
        Fraction(9, 10),
        Fraction(1),
        Fraction(51, 100),
        Fraction(133, 200),
        Fraction(50001, 100000),
        Fraction(513, 1024),
        Fraction(999_999, 1_000_000),
        Fraction(10**30 + 1, 2 * 10**30),
        Fraction(4, 7),
    )
    for quorum in (0, 3)
]


@pytest.mark.parametrize("rule", ROUND_TRIP_RULES, ids=format_rule)
def test_format_then_parse_gives_the_same_rule(rule: Rule) -> None:
    assert parse_rule(format_rule(rule)) == rule


@pytest.mark.parametrize(
    "text",
    [
        "Consensus",
        "modified consensus 0.95 quorum 3",
        "supermajority 4/6",
        "super-majority 75 %",
        "supermajority .7",
        "MAJORITY quorum 0",
        "modified_consensus 9/10",
    ],
)
def test_parse_then_format_is_stable(text: str) -> None:
    canonical = format_rule(parse_rule(text))
    assert format_rule(parse_rule(canonical)) == canonical


# --- Rule itself --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "threshold", "quorum", "message"),
    [
        ("consensus", Fraction(9, 10), 0, "The rule consensus has no threshold."),
        ("majority", Fraction(3, 5), 0, "The rule majority has no threshold."),
        ("supermajority", None, 0, "The rule supermajority needs a threshold, e.g."),
        ("modified-consensus", None, 0, "The rule modified-consensus needs a threshold"),
        ("supermajority", Fraction(1, 2), 0, "more than 50% and at most 100%; 50% is not."),
        ("supermajority", Fraction(11, 10), 0, "more than 50% and at most 100%; 110% is not."),
        ("modified-consensus", Fraction(1, 3), 0, "more than 50% and at most 100%; 1/3 is not."),
        ("consensus", None, -1, "The quorum cannot be negative."),
        ("voting", None, 0, "'voting' is not a decision rule I know."),
    ],
)
def test_an_unusable_rule_cannot_be_built(
    kind: str, threshold: Fraction | None, quorum: int, message: str
) -> None:
    with refused(RuleError, message.replace("?", r"\?")):
        Rule(kind, threshold, quorum)  # type: ignore[arg-type]


def test_with_quorum_changes_only_the_quorum() -> None:
    rule = parse_rule("supermajority 75% quorum 3")
    assert rule.with_quorum(8) == supermajority(Fraction(3, 4), 8)
    assert rule.with_quorum(0) == supermajority(Fraction(3, 4))
    assert rule.quorum == 3


def test_with_quorum_refuses_a_negative_quorum() -> None:
    with refused(RuleError, "The quorum cannot be negative"):
        CONSENSUS.with_quorum(-2)


@pytest.mark.parametrize(("text", "quorum"), [("5", 5), ("quorum 5", 5), (" Quorum  0 ", 0)])
def test_parse_quorum(text: str, quorum: int) -> None:
    assert parse_quorum(text) == quorum


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Give the quorum as one whole number of voters"),
        ("quorum", "Give the quorum as one whole number of voters"),
        ("5 6", "Give the quorum as one whole number of voters"),
        ("-5", "The quorum cannot be negative"),
        ("many", "The quorum must be a whole number of voters"),
    ],
)
def test_parse_quorum_refuses(text: str, message: str) -> None:
    with refused(RuleError, message):
        parse_quorum(text)


# --- describe_rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("consensus", "Consensus: passes with at least one Agree and no Block."),
        (
            "consensus quorum 5",
            "Consensus: passes with at least one Agree and no Block. Quorum: 5 voters.",
        ),
        (
            "consensus quorum 1",
            "Consensus: passes with at least one Agree and no Block. Quorum: 1 voter.",
        ),
        (
            "modified-consensus",
            "Modified consensus: passes when at least 90% of all votes are Agree or Agree with "
            "reservations; a Block is heard but does not stop it on its own.",
        ),
        (
            "majority",
            "Majority: passes when more than half of the votes for or against are Agree or "
            "Agree with reservations; stand-asides are not counted.",
        ),
        (
            "supermajority quorum 10",
            "Supermajority: passes when at least 2/3 of the votes for or against are Agree or "
            "Agree with reservations; stand-asides are not counted. Quorum: 10 voters.",
        ),
        (
            "supermajority 75%",
            "Supermajority: passes when at least 75% of the votes for or against are Agree or "
            "Agree with reservations; stand-asides are not counted.",
        ),
    ],
)
def test_describe_rule(text: str, description: str) -> None:
    assert SAY(rule_words(parse_rule(text))) == description


# --- ConsensusCounts ----------------------------------------------------------------------------


def test_counts_totals() -> None:
    counts = votes(agree=4, reservations=3, stand_aside=2, block=1)
    assert (counts.total, counts.support, counts.for_or_against) == (10, 7, 8)


def test_counts_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        votes(block=-1)


def test_counts_from_a_poll_tally() -> None:
    counts = ConsensusCounts.from_mapping({"agree": 3, "reservations": 1, "block": 2})
    assert counts == votes(agree=3, reservations=1, block=2)


def test_counts_from_a_mapping_with_other_answers_are_refused() -> None:
    with pytest.raises(ValueError, match="not consensus poll options"):
        ConsensusCounts.from_mapping({"agree": 1, "yes": 2})


def test_the_four_options_and_their_names() -> None:
    assert CONSENSUS_OPTIONS == ("agree", "reservations", "stand_aside", "block")
    assert [SAY(option_words(choice)) for choice in CONSENSUS_OPTIONS] == [
        "Agree",
        "Agree with reservations",
        "Stand aside",
        "Block",
    ]


# --- decide: quorum -----------------------------------------------------------------------------

ALL_RULES = [CONSENSUS, modified(90), MAJORITY, supermajority(Fraction(2, 3))]


@pytest.mark.parametrize("rule", ALL_RULES, ids=format_rule)
def test_below_quorum_nothing_passes(rule: Rule) -> None:
    outcome = decide(rule.with_quorum(5), votes(agree=4))
    assert not outcome.passed
    assert SAY(outcome.words) == "Not passed: only 4 voters, the quorum is 5."
    assert outcome.reason_code == "no_quorum"
    assert not outcome.quorum_met


@pytest.mark.parametrize("rule", ALL_RULES, ids=format_rule)
def test_at_quorum_the_rule_decides(rule: Rule) -> None:
    outcome = decide(rule.with_quorum(5), votes(agree=5))
    assert outcome.passed
    assert outcome.quorum_met


@pytest.mark.parametrize("rule", ALL_RULES, ids=format_rule)
def test_every_option_counts_towards_the_quorum(rule: Rule) -> None:
    outcome = decide(rule.with_quorum(4), votes(agree=1, reservations=1, stand_aside=1, block=1))
    assert outcome.quorum_met
    assert outcome.reason_code != "no_quorum"


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        (votes(), "Not passed: no one voted, the quorum is 3."),
        (votes(stand_aside=1), "Not passed: only 1 voter, the quorum is 3."),
        (votes(block=2), "Not passed: only 2 voters, the quorum is 3."),
    ],
)
def test_quorum_reasons(counts: ConsensusCounts, reason: str) -> None:
    assert SAY(decide(Rule("consensus", None, 3), counts).words) == reason


def test_quorum_is_checked_before_blocks() -> None:
    outcome = decide(Rule("consensus", None, 3), votes(block=1))
    assert outcome.reason_code == "no_quorum"


@pytest.mark.parametrize("rule", ALL_RULES, ids=format_rule)
def test_no_votes_never_pass(rule: Rule) -> None:
    outcome = decide(rule, votes())
    assert not outcome.passed
    assert SAY(outcome.words) == "Not passed: no votes were cast."
    assert outcome.reason_code == "no_votes"


# --- decide: consensus --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "passed", "code", "reason"),
    [
        (votes(agree=1), True, "passed", "Passed: 1 agree and no blocks."),
        (
            votes(agree=3, reservations=2, stand_aside=4),
            True,
            "passed",
            "Passed: 3 agree and no blocks.",
        ),
        (votes(agree=1, stand_aside=20), True, "passed", "Passed: 1 agree and no blocks."),
        (votes(agree=30, block=1), False, "blocked", "Not passed: 1 block."),
        (votes(agree=30, reservations=2, block=2), False, "blocked", "Not passed: 2 blocks."),
        (votes(block=1), False, "blocked", "Not passed: 1 block."),
        (votes(reservations=3), False, "no_agree", "Not passed: no one chose Agree."),
        (votes(stand_aside=3), False, "no_agree", "Not passed: no one chose Agree."),
        (
            votes(reservations=1, stand_aside=1),
            False,
            "no_agree",
            "Not passed: no one chose Agree.",
        ),
    ],
)
def test_consensus(counts: ConsensusCounts, passed: bool, code: str, reason: str) -> None:
    outcome = decide(CONSENSUS, counts)
    assert (outcome.passed, outcome.reason_code, SAY(outcome.words)) == (passed, code, reason)


# --- decide: modified consensus -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "counts", "passed"),
    [
        (90, votes(agree=9, block=1), True),
        (90, votes(agree=8, reservations=1, block=1), True),
        (90, votes(agree=8, block=2), False),
        (90, votes(agree=9, stand_aside=1), True),
        (90, votes(agree=8, stand_aside=1, block=1), False),
        (90, votes(agree=90, block=10), True),
        (90, votes(agree=89, block=11), False),
        (90, votes(agree=89, stand_aside=11), False),
        (90, votes(agree=900, block=99), True),
        (90, votes(agree=899, block=100), False),
        (90, votes(reservations=10), True),
        (90, votes(stand_aside=10), False),
        (90, votes(block=1), False),
        (100, votes(agree=10), True),
        (100, votes(agree=10, block=1), False),
        (100, votes(agree=10, stand_aside=1), False),
        (75, votes(agree=3, block=1), True),
        (75, votes(agree=2, stand_aside=1, block=1), False),
        (51, votes(agree=51, block=49), True),
        (51, votes(agree=50, block=50), False),
    ],
)
def test_modified_consensus_around_its_threshold(
    percent: int, counts: ConsensusCounts, passed: bool
) -> None:
    outcome = decide(modified(percent), counts)
    assert outcome.passed is passed
    assert outcome.reason_code == ("passed" if passed else "below_threshold")


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        (
            votes(agree=8, reservations=1, block=1),
            "Passed: 9 of 10 votes (90%) agree or agree with reservations, at least 90% needed.",
        ),
        (
            votes(agree=8, stand_aside=1, block=1),
            "Not passed: 8 of 10 votes (80%) agree or agree with reservations, "
            "at least 90% needed.",
        ),
        (
            votes(agree=1),
            "Passed: 1 of 1 vote (100%) agree or agree with reservations, at least 90% needed.",
        ),
        (
            votes(agree=17, block=2),
            "Not passed: 17 of 19 votes (89.4%) agree or agree with reservations, "
            "at least 90% needed.",
        ),
    ],
)
def test_modified_consensus_reasons(counts: ConsensusCounts, reason: str) -> None:
    assert SAY(decide(modified(90), counts).words) == reason


# --- decide: majority ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "passed"),
    [
        (votes(agree=1), True),
        (votes(agree=6, block=5), True),
        (votes(agree=5, block=5), False),
        (votes(agree=3, reservations=3, block=5), True),
        (votes(agree=2, reservations=3, block=5), False),
        (votes(agree=5, block=6), False),
        (votes(agree=2, stand_aside=100, block=1), True),
        (votes(agree=1, stand_aside=100, block=1), False),
        (votes(reservations=1), True),
        (votes(block=1), False),
        (votes(agree=501, block=500), True),
        (votes(agree=500, block=500), False),
    ],
)
def test_majority_around_half(counts: ConsensusCounts, passed: bool) -> None:
    outcome = decide(MAJORITY, counts)
    assert outcome.passed is passed
    assert outcome.reason_code == ("passed" if passed else "below_threshold")


def test_majority_when_everyone_stands_aside() -> None:
    outcome = decide(MAJORITY, votes(stand_aside=4))
    assert not outcome.passed
    assert SAY(outcome.words) == "Not passed: everyone stood aside."
    assert outcome.reason_code == "no_votes"


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        (
            votes(agree=6, block=4),
            "Passed: 6 of 10 votes (60%) agree or agree with reservations, more than half needed.",
        ),
        (
            votes(agree=5, stand_aside=2, block=5),
            "Not passed: 5 of 10 votes (50%) agree or agree with reservations, "
            "more than half needed (2 stand-asides not counted).",
        ),
        (
            votes(agree=1, stand_aside=1),
            "Passed: 1 of 1 vote (100%) agree or agree with reservations, "
            "more than half needed (1 stand-aside not counted).",
        ),
    ],
)
def test_majority_reasons(counts: ConsensusCounts, reason: str) -> None:
    assert SAY(decide(MAJORITY, counts).words) == reason


# --- decide: supermajority ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "counts", "passed"),
    [
        (Fraction(2, 3), votes(agree=2, block=1), True),
        (Fraction(2, 3), votes(agree=3, block=2), False),
        (Fraction(2, 3), votes(agree=666, block=333), True),
        (Fraction(2, 3), votes(agree=665, block=334), False),
        (Fraction(2, 3), votes(agree=67, block=33), True),
        (Fraction(2, 3), votes(agree=66, block=34), False),
        (Fraction(2, 3), votes(agree=2, stand_aside=50, block=1), True),
        (Fraction(2, 3), votes(agree=1, reservations=1, block=1), True),
        (Fraction(3, 4), votes(agree=3, block=1), True),
        (Fraction(3, 4), votes(agree=74, block=26), False),
        (Fraction(3, 4), votes(agree=75, block=25), True),
        (Fraction(1), votes(agree=9, stand_aside=3), True),
        (Fraction(1), votes(agree=9, block=1), False),
        # 0.7 * 10 is 7.000000000000001 in floating point; exact arithmetic gets it right.
        (Fraction(7, 10), votes(agree=7, block=3), True),
        (Fraction(7, 10), votes(agree=6, reservations=1, block=3), True),
        (Fraction(7, 10), votes(agree=69, block=31), False),
    ],
)
def test_supermajority_around_its_threshold(
    threshold: Fraction, counts: ConsensusCounts, passed: bool
) -> None:
    outcome = decide(supermajority(threshold), counts)
    assert outcome.passed is passed
    assert outcome.reason_code == ("passed" if passed else "below_threshold")


def test_supermajority_when_everyone_stands_aside() -> None:
    outcome = decide(supermajority(Fraction(2, 3)), votes(stand_aside=2))
    assert SAY(outcome.words) == "Not passed: everyone stood aside."


@pytest.mark.parametrize(
    ("rule_text", "counts", "reason"),
    [
        (
            "supermajority",
            votes(agree=2, block=1),
            "Passed: 2 of 3 votes (66.6%) agree or agree with reservations, at least 2/3 needed.",
        ),
        (
            "supermajority 75%",
            votes(agree=2, reservations=1, stand_aside=3, block=2),
            "Not passed: 3 of 5 votes (60%) agree or agree with reservations, at least 75% "
            "needed (3 stand-asides not counted).",
        ),
    ],
)
def test_supermajority_reasons(rule_text: str, counts: ConsensusCounts, reason: str) -> None:
    assert SAY(decide(parse_rule(rule_text), counts).words) == reason


# --- Outcome ------------------------------------------------------------------------------------


def test_outcome_carries_the_rule_and_counts() -> None:
    rule = parse_rule("modified-consensus 90% quorum 2")
    counts = votes(agree=9, block=1)
    outcome = decide(rule, counts)
    assert (outcome.passed, outcome.reason_code, outcome.rule, outcome.counts) == (
        True,
        "passed",
        rule,
        counts,
    )
    reason = "Passed: 9 of 10 votes (90%) agree or agree with reservations, at least 90% needed."
    assert SAY(outcome.words) == reason
    assert SAY(outcome.words) == reason  # as text, for the families that keep it


def test_a_shown_percentage_never_reaches_a_bar_it_misses() -> None:
    outcome = decide(modified(90), votes(agree=8999, block=1001))
    assert not outcome.passed
    assert "(89.9%)" in SAY(outcome.words)


def test_outcome_is_frozen() -> None:
    outcome = decide(CONSENSUS, votes(agree=1))
    with pytest.raises(AttributeError):
        outcome.passed = False  # type: ignore[misc]
