"""Reading what people type for alliances: `as`, `--alliance` after text, imported lists."""

from __future__ import annotations

from bot.contract import Command, UsageError, parse_args
from bot.families import build_registry
from bot.render import Renderer
from commands.alliance.objectives import import_lines, plan_import
from tests.unit.words import refused


def _command(name: str) -> Command:
    registry = build_registry()
    command = registry.lookup(name)
    assert command is not None
    return command


def test_join_reads_the_alliance_and_the_name_around_as() -> None:
    join = _command("movement join")
    assert join.usage("!") == "!movement join <alliance> as <movement name>"

    def readings(text: str) -> tuple[tuple[str, str], ...]:
        return parse_args(join, text).readings("alliance")

    assert readings("Earth Alliance as Climate Camp") == (("Earth Alliance", "Climate Camp"),)
    assert readings('"Act as One" as Tenants') == (("Act as One", "Tenants"),)
    # Unquoted, every reading is offered; the command takes the one naming a real alliance.
    assert readings("Act as One AS Tenants") == (
        ("Act", "One AS Tenants"),
        ("Act as One", "Tenants"),
    )
    assert readings("Earth Alliance Climate Camp") == ()
    assert readings("as Climate Camp") == ()
    assert readings('Earth "as" Camp') == ()


def test_remove_shows_its_reason_in_the_usage_line() -> None:
    remove = _command("movement remove")
    assert remove.usage("!") == "!movement remove <movement> because <reason>"


def test_an_alliance_option_after_a_text_is_taken_out_of_it() -> None:
    statement = _command("statement")

    def read(text: str) -> tuple[str | None, str]:
        args = parse_args(statement, text)
        return args.option("alliance"), args.text("movement")

    assert read("climate-camp --alliance earth") == ("earth", "climate-camp")
    assert read('Climate Camp —alliance "Earth Alliance"') == ("Earth Alliance", "Climate Camp")
    assert read("--alliance=earth 3") == ("earth", "3")
    assert read("camp tenants") == (None, "camp tenants")
    with refused(UsageError, "--alliance needs a value"):
        read("camp --alliance")


def test_an_imported_list_loses_its_bullets_and_numbers_but_not_its_words() -> None:
    text = """
    1. Respect for nature
    - Radical egalitarianism in social relations

    * Democratic administrative procedures
    #4 Labour processes organised directly by the producers
    3 meals a day for everyone
    """
    assert import_lines(text) == [
        "Respect for nature",
        "Radical egalitarianism in social relations",
        "Democratic administrative procedures",
        "Labour processes organised directly by the producers",
        "3 meals a day for everyone",
    ]


def test_an_import_leaves_out_duplicates_and_long_lines_and_says_why() -> None:
    plan = plan_import(
        ["Respect for nature", "respect for nature.", "x" * 501, "New one", "Old one"],
        {"old one": 4},
    )
    assert plan.add == ["Respect for nature", "New one"]
    assert [(line, Renderer().say(why)) for line, why in plan.skipped] == [
        ("respect for nature.", "given twice"),
        ("x" * 501, "too long (501 characters, at most 500)"),
        ("Old one", "already objective #4"),
    ]
