"""Reading a command's arguments the way people type them, on desktops and on phones."""

from __future__ import annotations

import pytest

from bot.contract import (
    Args,
    Command,
    Context,
    Flag,
    Param,
    Reply,
    UsageError,
    parse_args,
    read_number,
    split_items,
    tokenize,
)
from tests.unit.words import refused, said


async def _unused(ctx: Context, args: Args) -> Reply:
    raise AssertionError("parsing never runs the handler")


def command(*params: Param, flags: tuple[Flag, ...] = ()) -> Command:
    return Command(
        name="poll", family="polls", summary="x", handler=_unused, params=params, flags=flags
    )


POLL = command(
    Param("question"),
    Param("answers", many=True),
    flags=(Flag("hidden", help="hide results"), Flag("multi", value="N", help="choices")),
)
CLOSE = command(Param("number", kind="int"))
STATEMENT = command(Param("movement"), Param("text", kind="text"))
OPTIONAL = command(Param("command", kind="text", optional=True))


# --- words and quotes -----------------------------------------------------------------------


def test_words_are_split_on_spaces_and_new_lines() -> None:
    args = parse_args(POLL, "lunch\npizza   pasta")
    assert args.values == {"question": "lunch", "answers": ["pizza", "pasta"]}


@pytest.mark.parametrize(
    "typed",
    [
        '"Where do we meet?" "the park" "the square"',
        "“Where do we meet?” “the park” “the square”",
        "„Where do we meet?“ „the park“ „the square“",
        "'Where do we meet?' 'the park' 'the square'",
        "‘Where do we meet?’ ‘the park’ ‘the square’",
        "«Where do we meet?» «the park» «the square»",
    ],
)
def test_quoted_text_is_one_argument_with_straight_or_curly_quotes(typed: str) -> None:
    args = parse_args(POLL, typed)
    assert args.get("question") == "Where do we meet?"
    assert args.get("answers") == ["the park", "the square"]


def test_an_apostrophe_inside_a_word_is_not_a_quote() -> None:
    assert tokenize("don't we’re") == ["don't", "we’re"]


def test_unclosed_quote_is_explained() -> None:
    with refused(UsageError, "quote is not closed"):
        parse_args(POLL, '"Where do we meet? park square')


def test_text_parameter_keeps_new_lines_and_quotes_as_typed() -> None:
    typed = 'climate-now We demand:\n- a "just" transition\n- no new coal\n'
    args = parse_args(STATEMENT, typed)
    assert args.get("movement") == "climate-now"
    assert args.text("text") == 'We demand:\n- a "just" transition\n- no new coal'


def test_text_parameter_takes_what_looks_like_a_flag_as_text() -> None:
    args = parse_args(STATEMENT, "climate-now Stop --everything now")
    assert args.text("text") == "Stop --everything now"


def test_optional_text_may_be_left_out() -> None:
    args = parse_args(OPTIONAL, "   ")
    assert args.values == {}
    assert args.text("command") == ""


# --- flags ----------------------------------------------------------------------------------


def test_flags_with_and_without_values_before_the_words() -> None:
    args = parse_args(POLL, "--hidden --multi 2 lunch pizza pasta")
    assert args.flag("hidden")
    assert args.option("multi") == "2"
    assert args.values == {"question": "lunch", "answers": ["pizza", "pasta"]}


def test_flags_between_the_words_and_in_capitals() -> None:
    args = parse_args(POLL, 'lunch --MULTI "2" pizza --Hidden pasta')
    assert args.flag("hidden")
    assert args.option("multi") == "2"
    assert args.get("answers") == ["pizza", "pasta"]


def test_a_flag_not_given_is_off() -> None:
    args = parse_args(POLL, "lunch pizza")
    assert not args.flag("hidden")
    assert args.option("multi") is None


def test_quoted_double_dash_is_a_word_not_a_flag() -> None:
    args = parse_args(POLL, 'lunch "--hidden"')
    assert args.get("answers") == ["--hidden"]
    assert not args.flag("hidden")


def test_unknown_flag_lists_the_options() -> None:
    with pytest.raises(UsageError) as caught:
        parse_args(POLL, "--secret lunch pizza")
    assert said(caught.value) == "Unknown option --secret. Options are: --hidden, --multi."


def test_unknown_flag_on_a_command_without_options() -> None:
    with refused(UsageError, "This command has no options"):
        parse_args(CLOSE, "--force 3")


def test_flag_value_missing_at_the_end() -> None:
    with refused(UsageError, r"--multi needs a value \(N\)"):
        parse_args(POLL, "lunch pizza --multi")


STATEMENT_WITH_OPTIONS = command(
    Param("movement"),
    Param("text", kind="text"),
    flags=(Flag("alliance", value="NAME"), Flag("closes", value="WHEN", reads="when")),
)


def test_flags_after_free_text_are_read_and_taken_out_of_it() -> None:
    args = parse_args(
        STATEMENT_WITH_OPTIONS, "camp We demand:\n- housing --alliance earth\n- no coal"
    )
    assert args.option("alliance") == "earth"
    assert args.text("text") == "We demand:\n- housing\n- no coal"


def test_a_line_that_held_only_flags_goes_and_other_lines_stay_as_typed() -> None:
    typed = "camp First  line\n--closes 3d\n\n  Second line"
    args = parse_args(STATEMENT_WITH_OPTIONS, typed)
    assert args.option("closes") == "3d"
    assert args.text("text") == "First  line\n\n  Second line"


def test_a_time_flag_takes_a_date_and_its_time_on_the_same_line() -> None:
    args = parse_args(STATEMENT_WITH_OPTIONS, "camp Text —closes 2026-12-01 18:00 more")
    assert args.option("closes") == "2026-12-01 18:00"
    assert args.text("text") == "Text more"
    args = parse_args(STATEMENT_WITH_OPTIONS, "camp Text --closes 2026-12-01\n18:00 is when")
    assert args.option("closes") == "2026-12-01"
    assert args.text("text") == "Text\n18:00 is when"


def test_in_free_text_quoted_unknown_and_dash_words_stay_text() -> None:
    typed = 'camp We say "--alliance" —and --everything now'
    args = parse_args(STATEMENT_WITH_OPTIONS, typed)
    assert args.flags == {}
    assert args.text("text") == 'We say "--alliance" —and --everything now'


def test_free_text_that_was_only_flags_is_missing() -> None:
    with refused(UsageError, "Missing <text>"):
        parse_args(STATEMENT_WITH_OPTIONS, "camp --alliance earth")


def test_a_flag_value_is_never_read_from_the_next_line() -> None:
    with refused(UsageError, "--alliance needs a value"):
        parse_args(STATEMENT_WITH_OPTIONS, "camp Text --alliance\nearth")


SPLIT = command(Param("alliance", kind="text", split_at="as", second="movement name"))


def test_a_split_parameter_offers_every_reading_and_shows_both_parts() -> None:
    assert SPLIT.usage("!") == "!poll <alliance> as <movement name>"
    args = parse_args(SPLIT, "Act as One as Tenants")
    assert args.text("alliance") == "Act as One as Tenants"
    assert args.readings("alliance") == (("Act", "One as Tenants"), ("Act as One", "Tenants"))
    assert parse_args(SPLIT, "Earth as").readings("alliance") == ()


# --- counting and converting ----------------------------------------------------------------


def test_missing_required_parameter_is_named() -> None:
    with pytest.raises(UsageError) as caught:
        parse_args(POLL, "--hidden")
    assert said(caught.value) == "Missing <question>."


def test_numbers_are_converted_and_may_start_with_a_hash() -> None:
    assert parse_args(CLOSE, "12").get("number") == 12
    assert parse_args(CLOSE, "#7").get("number") == 7


@pytest.mark.parametrize("typed", ["three", "-1", "2.5", "#", "²"])
def test_not_a_number_is_a_usage_error(typed: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_args(CLOSE, typed)
    assert said(caught.value) == f"<number> must be a number, not '{typed}'."


def test_too_many_words() -> None:
    with refused(UsageError, "more words than this command takes"):
        parse_args(CLOSE, "3 4")


# --- lists of items -------------------------------------------------------------------------


def test_split_items_one_per_line_keeps_spaces_inside_an_item() -> None:
    typed = "\n  the park  \nthe town square\n\n“the station”\n"
    assert split_items(typed) == ["the park", "the town square", "the station"]


def test_split_items_on_one_line_uses_quotes() -> None:
    assert split_items('"the park" “the town square” station') == [
        "the park",
        "the town square",
        "station",
    ]


def test_numbers_are_read_with_or_without_hash_and_absurd_ones_are_refused() -> None:
    assert read_number("3") == 3
    assert read_number(" #12 ") == 12
    assert read_number("three") is None
    assert read_number("-1") is None
    assert read_number("999999999") == 999_999_999
    with refused(UsageError, "too big a number"):
        read_number("99999999999999999999")
