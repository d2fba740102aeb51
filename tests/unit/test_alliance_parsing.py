"""Reading what people type for alliances: `as`, `--alliance` after text, imported lists."""

from __future__ import annotations

from bot.render import Renderer
from commands.alliance.movements import join_splits, take_alliance_flag
from commands.alliance.objectives import import_lines, plan_import


def test_join_reads_the_alliance_and_the_name_around_as() -> None:
    assert join_splits("Earth Alliance as Climate Camp") == [("Earth Alliance", "Climate Camp")]
    assert join_splits('"Act as One" as Tenants') == [("Act as One", "Tenants")]
    # Unquoted, every reading is offered; the command takes the one naming a real alliance.
    assert join_splits("Act as One AS Tenants") == [
        ("Act", "One AS Tenants"),
        ("Act as One", "Tenants"),
    ]
    assert join_splits("Earth Alliance Climate Camp") == []
    assert join_splits("as Climate Camp") == []


def test_an_alliance_option_after_a_text_is_taken_out_of_it() -> None:
    assert take_alliance_flag("climate-camp --alliance earth") == ("earth", "climate-camp")
    assert take_alliance_flag('Climate Camp —alliance "Earth Alliance"') == (
        "Earth Alliance",
        "Climate Camp",
    )
    assert take_alliance_flag("--alliance=earth 3") == ("earth", "3")
    assert take_alliance_flag("camp tenants") == (None, "camp tenants")
    assert take_alliance_flag("camp --alliance") == (None, "camp --alliance")


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
