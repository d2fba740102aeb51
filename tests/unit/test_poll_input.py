"""Reading polls, votes and reasons as people type them."""

from __future__ import annotations

import pytest

from bot.contract import Command, UsageError, parse_args
from bot.families import build_registry
from commands.polls.input import (
    PollInputError,
    PollRequest,
    ProposalRequest,
    check_reason,
    parse_choices,
    parse_poll,
    parse_proposal,
)
from tests.unit.words import refused, said


def _command(name: str) -> Command:
    command = build_registry().lookup(name)
    assert command is not None
    return command


def typed_poll(text: str) -> PollRequest:
    """A poll as `!poll` reads it: the command parser takes the options out first."""
    args = parse_args(_command("poll"), text)
    return parse_poll(args.text("question"), flags=args.flags)


def typed_proposal(text: str) -> ProposalRequest:
    args = parse_args(_command("consensus"), text)
    return parse_proposal(args.text("proposal"), flags=args.flags)


# -- the two ways of typing a poll --------------------------------------------------------------


def test_question_on_the_first_line_and_one_option_per_line() -> None:
    assert parse_poll("Where do we meet?\nPark\nLibrary\n\nOnline\n") == PollRequest(
        "Where do we meet?", ("Park", "Library", "Online")
    )


def test_options_may_carry_bullets_or_numbers() -> None:
    request = parse_poll("Where?\n- Park\n* Library\n3. Online\n4) Street")
    assert request.options == ("Park", "Library", "Online", "Street")


def test_everything_quoted_on_one_line() -> None:
    request = parse_poll('"Where do we meet?" "Park" “Library” Online')
    assert request == PollRequest("Where do we meet?", ("Park", "Library", "Online"))


def test_unquoted_words_before_the_first_quote_are_the_question() -> None:
    request = parse_poll('Where do we meet? "Park" "Library"')
    assert request == PollRequest("Where do we meet?", ("Park", "Library"))


def test_a_line_of_quoted_options_under_the_question() -> None:
    assert parse_poll('Where?\n"Park" "Library"').options == ("Park", "Library")


def test_a_fully_quoted_question_line_is_unquoted() -> None:
    assert parse_poll('"Where?"\nPark\nLibrary').question == "Where?"


# -- options ------------------------------------------------------------------------------------


def test_flags_given_before_the_question_are_used() -> None:
    request = parse_poll("Q\nA\nB", flags={"multi": "2", "hidden": True, "closes": "48h"})
    assert (request.max_selections, request.hidden, request.closes) == (2, True, "48h")


def test_flags_on_the_question_line_or_a_line_of_their_own() -> None:
    request = typed_poll("Where? --hidden --closes 3d\nPark\n--multi 2\nLibrary\nOnline")
    assert request == PollRequest(
        "Where?", ("Park", "Library", "Online"), max_selections=2, hidden=True, closes="3d"
    )


def test_flags_in_the_quoted_one_line_form() -> None:
    request = typed_poll('"Which days?" "Mon" "Tue" --multi 2 "Wed"')
    assert request == PollRequest("Which days?", ("Mon", "Tue", "Wed"), max_selections=2)


def test_a_date_and_time_after_closes_stay_together() -> None:
    assert typed_poll("Q --closes 2026-12-01 18:00\nA\nB").closes == "2026-12-01 18:00"
    request = typed_poll("--closes 2026-12-01 18:00 Q\nA\nB")
    assert (request.question, request.closes) == ("Q", "2026-12-01 18:00")
    # A time on the next line is not part of the option.
    with refused(UsageError, "--closes needs a value"):
        typed_poll("Q --closes\n18:00\nB")


def test_a_double_dash_inside_words_is_not_an_option() -> None:
    assert typed_poll("Is A --or-- B better?\nA\nB").question == "Is A --or-- B better?"
    assert typed_poll('"Is --hidden a word?" A B').question == "Is --hidden a word?"


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flags", "problem"),
    [
        ("Where do we meet?", {}, "I found no options"),
        ("", {}, "needs a question"),
        ('"" "A" "B"', {}, "needs a question"),
        ("Where?\nPark", {}, "only one option"),
        (
            "Q\n" + "\n".join(f"o{i}" for i in range(21)),
            {},
            "21 options; a poll can have at most 20",
        ),
        ("Q\nA\n" + "x" * 341, {}, "Option 2 ('xxxx"),
        ("Q\nPark\n  PARK ", {}, "Options 1 and 2 are the same ('PARK')"),
        ('"Q" "A" "B', {}, "A quote is not closed"),
        ("Q --colour red\nA\nB", {}, "Unknown option --colour. Options are: --multi"),
        ("Q\nA\nB", {"multi": "two"}, "--multi needs a number of choices"),
        ("Q\nA\nB", {"multi": "0"}, "--multi must be at least 1"),
        ("Q\nA\nB", {"multi": "3"}, "--multi 3 allows more choices than there are options (2)"),
        ("Q" * 2001 + "\nA\nB", {}, "The question is too long (2001 characters"),
    ],
)
def test_bad_polls_are_refused_with_the_reason(
    text: str, flags: dict[str, str | bool], problem: str | None
) -> None:
    with pytest.raises(PollInputError) as caught:
        parse_poll(text, flags=flags)
    if problem is not None:
        assert problem in said(caught.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Q --closes\nA\nB", "--closes needs a value"),
        ('"Q" "A" "B" --closes', "--closes needs a value"),
        ("--colour red Q\nA\nB", "Unknown option --colour. Options are: --multi"),
    ],
)
def test_bad_options_are_refused_by_the_command_parser(text: str, problem: str) -> None:
    with refused(UsageError, problem):
        typed_poll(text)


def test_twenty_options_of_340_characters_are_fine() -> None:
    options = [f"{i:02d}" + "x" * 338 for i in range(20)]
    assert len(parse_poll("Q\n" + "\n".join(options)).options) == 20


# -- proposals ----------------------------------------------------------------------------------


def test_a_proposal_keeps_its_lines_and_gives_up_its_flags() -> None:
    assert typed_proposal("We march --closes 3d\non Saturday\n\nwith banners") == ProposalRequest(
        "We march\non Saturday\n\nwith banners", closes="3d"
    )
    assert typed_proposal("--closes 2026-12-01 18:00 We march") == ProposalRequest(
        "We march", closes="2026-12-01 18:00"
    )


def test_an_empty_proposal_is_refused() -> None:
    with refused(PollInputError, "Write the proposal"):
        parse_proposal("  ")
    with refused(UsageError, "Missing <proposal>"):
        typed_proposal("--closes 3d")


# -- votes --------------------------------------------------------------------------------------

STRAW = [["Park"], ["Library"], ["Online"]]
CONSENSUS = [
    ["Agree", "agree"],
    ["Agree with reservations", "reservations"],
    ["Stand aside", "stand_aside"],
    ["Block", "block"],
]


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("2", (1,)),
        ("#2", (1,)),
        ("1,3", (0, 2)),
        ("1, 3", (0, 2)),
        ("1 3", (0, 2)),
        ("1 and 3", (0, 2)),
        ("3,1,3", (2, 0)),
        ("library", (1,)),
        ("Park, online", (0, 2)),
        ("none", ()),
        ("withdraw", ()),
    ],
)
def test_votes_by_number_or_name(text: str, chosen: tuple[int, ...]) -> None:
    assert parse_choices(text, STRAW, max_selections=2) == chosen


@pytest.mark.parametrize(
    ("text", "chosen"),
    [("block", (3,)), ("Stand aside", (2,)), ("stand-aside", (2,)), ("reservations", (1,))],
)
def test_consensus_votes_by_name(text: str, chosen: tuple[int, ...]) -> None:
    assert parse_choices(text, CONSENSUS, max_selections=1) == chosen


@pytest.mark.parametrize(
    ("text", "max_selections", "problem"),
    [
        ("", 1, "Say which option"),
        ("4", 1, "There is no option 4: this poll has options 1 to 3"),
        ("0", 1, "There is no option 0"),
        ("maybe", 1, "I can't read 'maybe' as an option"),
        ("1,2", 1, "This poll allows one option; you chose 2"),
        ("1,2,3", 2, "This poll allows up to 2 options; you chose 3"),
    ],
)
def test_votes_that_cannot_be_counted(text: str, max_selections: int, problem: str) -> None:
    with refused(PollInputError, problem):
        parse_choices(text, STRAW, max_selections=max_selections)


def test_reasons_are_trimmed_and_bounded() -> None:
    assert check_reason("  too far away \n") == "too far away"
    with refused(PollInputError, "Write your reason"):
        check_reason("  ")
    with refused(PollInputError, "too long"):
        check_reason("x" * 2001)
