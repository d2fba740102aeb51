"""Comparing movements and ranking objectives on plain data, what `!compare` and `!bridging` say."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bot.render import Renderer
from commands.alliance.compare import (
    Board,
    MovementInfo,
    ObjectiveInfo,
    Stance,
    Wording,
    bridging,
    bridging_score,
    compare_objective,
    compare_pair,
    lean,
    percent,
    support,
)
from commands.alliance.names import (
    BadName,
    check_name,
    match_name,
    name_key,
    objective_number,
    slugify,
    split_names,
    text_key,
)
from commands.alliance.thresholds import (
    MAJORITY,
    Threshold,
    ThresholdError,
    format_threshold,
    parse_threshold,
    threshold_words,
)
from commands.polls.rules import ConsensusCounts
from tests.unit.words import refused as refused_with

CAMP = MovementInfo(1, "Climate Camp", "climate-camp")
TENANTS = MovementInfo(2, "Tenants Union", "tenants-union")
FARMERS = MovementInfo(3, "Farmers", "farmers")
NATURE = ObjectiveInfo(10, 1, "Respect for nature")
EQUALITY = ObjectiveInfo(11, 2, "Radical egalitarianism")
DEMOCRACY = ObjectiveInfo(12, 3, "Democratic administrative procedures")


def endorsed(agree: int = 3, reservations: int = 0, stand_aside: int = 0) -> Stance:
    counts = ConsensusCounts(agree, reservations, stand_aside, 0)
    return Stance("endorsed", "endorsed", counts)


def refused(block: int = 1, agree: int = 1, reasons: tuple[str, ...] = ()) -> Stance:
    counts = ConsensusCounts(agree, 0, 0, block)
    return Stance("not_endorsed", "not_endorsed", counts, reasons)


def board(
    stances: dict[tuple[MovementInfo, ObjectiveInfo], Stance],
    *,
    movements: tuple[MovementInfo, ...] = (CAMP, TENANTS, FARMERS),
    threshold: Threshold = MAJORITY,
    wordings: dict[tuple[MovementInfo, ObjectiveInfo], Wording] | None = None,
) -> Board:
    return Board(
        movements=movements,
        objectives=(NATURE, EQUALITY, DEMOCRACY),
        stances={(m.id, o.id): s for (m, o), s in stances.items()},
        wordings={(m.id, o.id): w for (m, o), w in (wordings or {}).items()},
        threshold=threshold,
    )


# -- names ------------------------------------------------------------------------------------


def test_slugs_are_short_lower_case_and_keep_every_script() -> None:
    assert slugify("Climate Camp!") == "climate-camp"
    assert slugify("Mouvement des Sans-Terre") == "mouvement-des-sans-terre"
    assert slugify("Écologie   Sociale") == "ecologie-sociale"
    assert slugify("Κίνημα Πόλης") == "κινημα-πολησ"  # casefolded, as typed names are
    assert slugify("Extinction Rebellion Local Group Berlin") == "extinction-rebellion"
    assert slugify("🌍🌍") == ""


def test_names_are_the_same_whatever_their_case_and_spacing() -> None:
    assert name_key("  Climate   CAMP ") == name_key("climate camp")
    assert text_key("Respect for nature.") == text_key("respect  for Nature")


def test_a_name_needs_a_letter_and_a_sensible_length() -> None:
    assert check_name("  Climate   Camp ", what="movement") == "Climate Camp"
    with refused_with(BadName, "give the movement a name"):
        check_name("   ", what="movement")
    with refused_with(BadName, "at least one letter"):
        check_name("🌍", what="movement")
    with refused_with(BadName, "81 characters"):
        check_name("x" * 81, what="alliance")


def find(typed: str, items: tuple[MovementInfo, ...] = (CAMP, TENANTS, FARMERS)) -> object:
    return match_name(typed, items, name=lambda m: m.name, slug=lambda m: m.slug)


def test_a_movement_is_found_by_name_slug_or_the_start_of_its_slug() -> None:
    assert find("climate camp").found == CAMP  # type: ignore[attr-defined]
    assert find("CLIMATE-CAMP").found == CAMP  # type: ignore[attr-defined]
    assert find('"Tenants Union"').found == TENANTS  # type: ignore[attr-defined]
    assert find("tenants").found == TENANTS  # type: ignore[attr-defined]
    assert find("Tenants, Union").found == TENANTS  # type: ignore[attr-defined]


def test_an_ambiguous_or_unknown_name_finds_nothing() -> None:
    close = MovementInfo(4, "Climate Justice", "climate-justice")
    match = match_name("climate", (CAMP, close), name=lambda m: m.name, slug=lambda m: m.slug)
    assert match.found is None
    assert set(match.candidates) == {CAMP, close}
    assert find("bakers").found is None  # type: ignore[attr-defined]
    assert find("cl").found is None  # type: ignore[attr-defined]  # too short to guess


def test_names_are_read_as_one_whole_name_or_two_longest_first() -> None:
    known = {"climate camp", "tenants union", "farmers", "tenants", "climate", "camp"}

    def resolves(name: str) -> bool:
        return name.lower() in known

    assert split_names(["Climate Camp", "farmers"], resolves) == ("Climate Camp", "farmers")
    assert split_names(["Climate", "Camp", "Farmers"], resolves) == ("Climate Camp", "Farmers")
    # The whole text is one known name: that is what was meant, not "Climate" and "Camp".
    assert split_names(["Climate", "Camp"], resolves) == ("Climate Camp",)
    assert split_names(["farmers"], resolves) == ("farmers",)
    assert split_names(["Climate", "Camp", "Tenants", "Union"], resolves) == (
        "Climate Camp",
        "Tenants Union",
    )
    # Two readings ("Climate" + "Camp Farmers", "Climate Camp" + "Farmers"): the longest
    # first name wins.
    also = known | {"camp farmers"}
    assert split_names(["Climate", "Camp", "Farmers"], lambda n: n.lower() in also) == (
        "Climate Camp",
        "Farmers",
    )
    assert split_names(["Bakers", "Farmers", "Union"], resolves) == ()
    assert split_names([], resolves) == ()


def test_objective_numbers_may_have_a_hash() -> None:
    assert objective_number("3") == 3
    assert objective_number("#12") == 12
    assert objective_number("three") is None


# -- thresholds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "active", "needed"),
    [
        ("more than half", 4, 3),
        ("more than half", 3, 2),
        ("majority", 1, 1),
        ("2/3", 3, 2),
        ("2/3", 4, 3),
        ("75%", 4, 3),
        ("0.5", 4, 2),
        ("at least 3 movements", 5, 3),
        ("3", 2, 2),  # never more than there are
        ("all", 4, 4),
        ("100%", 4, 4),
    ],
)
def test_a_threshold_says_how_many_endorsements_make_an_objective_common(
    text: str, active: int, needed: int
) -> None:
    threshold = parse_threshold(text)
    assert threshold.needed(active) == needed
    assert threshold.is_met(needed, active)
    assert not threshold.is_met(needed - 1, active)
    assert parse_threshold(format_threshold(threshold)) == threshold
    assert parse_threshold(Renderer().say(threshold_words(threshold))) == threshold


def test_nothing_is_common_without_active_movements() -> None:
    assert not MAJORITY.is_met(0, 0)


@pytest.mark.parametrize("text", ["", "lots", "0", "0%", "150%", "3/0", "-2"])
def test_unreadable_thresholds_are_refused_plainly(text: str) -> None:
    with refused_with(ThresholdError, r"threshold|movements|share") as caught:
        parse_threshold(text)
    assert isinstance(caught.value, ValueError)  # still a ValueError for callers that catch one


def test_thresholds_are_written_in_plain_words() -> None:
    def say(text: str) -> str:
        return Renderer().say(threshold_words(parse_threshold(text)))

    assert say("more than half") == "more than half"
    assert say("2/3") == "at least 2/3"
    assert say("75 %") == "at least 75%"
    assert say("1") == "at least 1 movement"
    assert say("3") == "at least 3 movements"
    assert say("everyone") == "all"


def test_thresholds_are_stored_in_the_words_they_are_read_back_from() -> None:
    assert format_threshold(MAJORITY) == "more than half"
    assert format_threshold(parse_threshold("2/3")) == "at least 2/3"
    assert format_threshold(parse_threshold("75 %")) == "at least 75%"
    assert format_threshold(parse_threshold("1")) == "at least 1 movement"
    assert format_threshold(parse_threshold("everyone")) == "all"


# -- support and comparisons --------------------------------------------------------------------


def test_an_objective_is_common_when_enough_active_movements_endorse_it() -> None:
    seen = board({(CAMP, NATURE): endorsed(), (TENANTS, NATURE): endorsed()})
    result = support(seen, NATURE)
    assert result.common
    assert result.endorsed == (CAMP, TENANTS)
    assert result.undecided == (FARMERS,)
    assert result.needed == 2
    assert not support(seen, EQUALITY).common


def test_a_stricter_threshold_changes_what_is_common() -> None:
    seen = board(
        {(CAMP, NATURE): endorsed(), (TENANTS, NATURE): endorsed()},
        threshold=parse_threshold("all"),
    )
    assert not support(seen, NATURE).common


def test_an_open_poll_shows_as_voting_but_keeps_the_earlier_endorsement() -> None:
    voting_again = Stance("pending", "endorsed", ConsensusCounts(3, 0, 0, 0))
    seen = board(
        {(CAMP, NATURE): voting_again, (TENANTS, NATURE): endorsed(), (FARMERS, NATURE): refused()}
    )
    result = support(seen, NATURE)
    assert result.pending == (CAMP,)
    assert result.not_endorsed == (FARMERS,)
    assert result.common  # Climate Camp's endorsement still counts while it votes again


def test_two_movements_compared_with_their_own_wording() -> None:
    words = Wording(2, "We live within the limits of the living world.")
    seen = board(
        {
            (CAMP, NATURE): endorsed(),
            (TENANTS, NATURE): endorsed(),
            (CAMP, EQUALITY): endorsed(),
            (TENANTS, DEMOCRACY): endorsed(),
            (TENANTS, EQUALITY): refused(),
        },
        wordings={(CAMP, NATURE): words},
    )
    pair = compare_pair(seen, CAMP, TENANTS)
    assert [e.objective for e in pair.both] == [NATURE]
    assert pair.both[0].wording_a == words
    assert pair.both[0].wording_b is None
    assert [e.objective for e in pair.only_a] == [EQUALITY]
    assert [e.objective for e in pair.only_b] == [DEMOCRACY]
    assert pair.neither == 0
    assert compare_pair(seen, FARMERS, CAMP).neither == 1


def test_one_objective_compared_across_every_movement() -> None:
    seen = board(
        {(CAMP, NATURE): endorsed(), (TENANTS, NATURE): refused(reasons=("Rents first",))},
        wordings={(CAMP, NATURE): Wording(1, "Earth first")},
    )
    rows = compare_objective(seen, NATURE)
    assert [(r.movement, r.stance.state) for r in rows] == [
        (CAMP, "endorsed"),
        (TENANTS, "not_endorsed"),
        (FARMERS, "none"),
    ]
    assert rows[0].wording == Wording(1, "Earth first")
    assert rows[1].stance.block_reasons == ("Rents first",)


# -- bridging ---------------------------------------------------------------------------------


def test_a_movements_lean_is_agreement_plus_one_over_votes_plus_two() -> None:
    assert lean(None) == Fraction(1, 2)
    assert lean(ConsensusCounts(agree=3, reservations=1, stand_aside=1, block=0)) == Fraction(5, 7)
    assert lean(ConsensusCounts(agree=0, reservations=0, stand_aside=0, block=2)) == Fraction(1, 4)
    assert bridging_score([Fraction(1, 2), Fraction(2, 3)]) == Fraction(1, 3)
    assert bridging_score([]) == 1


def test_bridging_ranks_what_every_movement_leans_towards_above_what_many_people_like() -> None:
    seen = board(
        {
            # Nature: everyone mildly for it.
            (CAMP, NATURE): endorsed(agree=2),
            (TENANTS, NATURE): endorsed(agree=2),
            (FARMERS, NATURE): endorsed(agree=2),
            # Equality: two movements keen, one firmly against.
            (CAMP, EQUALITY): endorsed(agree=20),
            (TENANTS, EQUALITY): endorsed(agree=20),
            (FARMERS, EQUALITY): refused(block=5, agree=0),
        }
    )
    report = bridging(seen)
    assert [row.objective for row in report.ranked] == [NATURE, EQUALITY]
    assert report.undecided == (DEMOCRACY,)  # no movement decided: not ranked at all
    nature = report.ranked[0]
    assert nature.score == Fraction(3, 4) ** 3
    assert nature.towards == (CAMP, TENANTS, FARMERS)
    assert [row.objective for row in report.dividing] == [EQUALITY]
    assert report.dividing[0].away == (FARMERS,)


def test_objectives_nobody_decided_on_are_not_ranked_and_divide_nobody() -> None:
    report = bridging(board({}))
    assert report.ranked == ()
    assert report.dividing == ()
    assert [o.number for o in report.undecided] == [1, 2, 3]


def test_a_movement_that_has_not_decided_is_named_apart_from_those_that_lean() -> None:
    report = bridging(
        board(
            {
                (CAMP, NATURE): endorsed(agree=2),
                # As many for as against: decided, but leaning neither way.
                (TENANTS, NATURE): Stance(
                    "not_endorsed", "not_endorsed", ConsensusCounts(1, 0, 0, 1)
                ),
            }
        )
    )
    (nature,) = report.ranked
    assert nature.towards == (CAMP,)
    assert nature.away == ()
    assert nature.split == 1
    assert nature.undecided == (FARMERS,)
    # Undecided movements still count as one half each in the order.
    assert nature.score == Fraction(3, 4) * Fraction(1, 2) * Fraction(1, 2)


def test_shares_are_shown_rounded() -> None:
    assert percent(Fraction(2, 3)) == 67
