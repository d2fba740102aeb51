"""Each room hears the bot in its own language: `!language`, an alliance's default for its
movement rooms, the room state a new installation finds, and dates written as each language
writes them. Votes never depend on words."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import languages
from bot.languages import Day, Moment, localized
from bot.room_languages import STATE_TYPE, RoomLanguages
from bot.store import Store
from commands.language.choosing import read_language
from commands.polls.results import consensus_outcome
from commands.polls.store import poll_by_start
from tests.unit.fakes import room_state
from tests.unit.test_alliance_commands import (
    ADA,
    BEA,
    CAL,
    CAMP,
    COMMONS,
    DEE,
    EVE,
    FARMERS,
    TENANTS,
    World,
    make_alliance,
    new_world,
)

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def world(tmp_path: Path, store: Store) -> World:
    rooms = [
        room_state(COMMONS, ADA, members=[EVE], name="Commons"),
        room_state(CAMP, BEA, members=[EVE], name="Camp room"),
        room_state(TENANTS, CAL, name="Tenants room"),
        room_state(FARMERS, DEE, name="Farmers room"),
    ]
    return new_world(store, tmp_path, rooms)


# -- dates, numbers and lists ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "day_text", "moment_text"),
    [
        ("en", "2026-12-04", "Fri 4 Dec 2026, 18:00 (Europe/Berlin)"),
        ("es", "4 dic 2026", "vie, 4 dic 2026, 18:00 (Europe/Berlin)"),
        ("fr", "4 déc. 2026", "ven. 4 déc. 2026, 18:00 (Europe/Berlin)"),
        ("de", "04.12.2026", "Fr., 4. Dez. 2026, 18:00 (Europe/Berlin)"),
    ],
)
def test_dates_and_times_are_written_as_each_language_writes_them(
    language: str, day_text: str, moment_text: str
) -> None:
    moment = Moment(datetime(2026, 12, 4, 18, 0, tzinfo=BERLIN), "Europe/Berlin")
    assert Day(date(2026, 12, 4)).said_in(language) == day_text
    assert moment.said_in(language) == moment_text
    # Wherever the code uses them as text, they read as English.
    assert str(moment) == "Fri 4 Dec 2026, 18:00 (Europe/Berlin)"
    rendered = localized({"closes": moment, "rows": [{"on": Day(date(2026, 12, 4))}]}, language)
    assert rendered == {"closes": moment_text, "rows": [{"on": day_text}]}


@pytest.mark.parametrize(
    ("language", "number", "listing"),
    [
        ("en", "1,000", "Camp, Union, and Farmers"),
        ("es", "1.000", "Camp, Union y Farmers"),
        ("fr", "1\u202f000", "Camp, Union et Farmers"),
        ("de", "1.000", "Camp, Union und Farmers"),
    ],
)
def test_numbers_and_lists_follow_the_language(language: str, number: str, listing: str) -> None:
    assert languages.number(1000, language) == number
    assert languages.listing(["Camp", "Union", "Farmers"], language) == listing


def test_a_language_is_named_by_its_code_or_its_name_in_any_language() -> None:
    for typed in ("es", "ES", "español", "Spanish", "espagnol", "Spanisch"):
        assert read_language(typed) == "es"
    assert read_language("Deutsch") == "de"
    assert read_language("klingon") is None
    assert read_language("") is None


# -- a room's own language ---------------------------------------------------------------------


async def test_a_moderator_chooses_the_room_language_and_the_bot_answers_in_it(
    world: World,
) -> None:
    shown = await world.body(CAMP, EVE, "language")
    assert shown.startswith("I speak English in this room (the default).")
    assert "en, es, fr, de" in shown

    template, message = await world.say(CAMP, EVE, "language es")
    assert template == "command_error"
    assert "Only a moderator of this room chooses its language." in message.body
    assert world.services.language(CAMP) == "en"

    template, message = await world.say(CAMP, BEA, "language español")
    assert template == "language_set"
    assert message.body.startswith("A partir de ahora hablo español en esta sala.")
    assert world.services.state[(CAMP, STATE_TYPE, "")] == {"language": "es"}
    # Every answer now, a refusal too; other rooms keep English.
    assert (await world.body(CAMP, EVE, "language")).startswith("Hablo español en esta sala.")
    refused_here = await world.body(CAMP, EVE, "poll close 7")
    refused_in_english = await world.body(TENANTS, CAL, "poll close 7")
    assert refused_here
    assert refused_here != refused_in_english
    assert (await world.body(TENANTS, CAL, "language")).startswith("I speak English")

    template, message = await world.say(CAMP, BEA, "language klingon")
    assert template == "command_error"
    assert "klingon" in message.body
    assert "en, es, fr, de" in message.body
    assert world.services.language(CAMP) == "es"

    template, message = await world.say(CAMP, BEA, "language default")
    assert template == "language_set"
    assert message.body.startswith("This room hears the default language again: English.")
    assert world.services.state[(CAMP, STATE_TYPE, "")] == {}


async def test_the_choice_survives_a_restart_and_a_new_installation_finds_it(
    store: Store,
) -> None:
    stored = RoomLanguages(store, "en")
    await stored.choose(CAMP, "fr", now_ms=1)
    again = RoomLanguages(store, "en")
    await again.load()
    assert (again.of(CAMP), again.own(CAMP), again.of(TENANTS)) == ("fr", "fr", "en")

    # A bot with an empty store reads the room state the homeserver sends.
    fresh = RoomLanguages(store, "en")
    await fresh.choose(CAMP, None, now_ms=2)
    await fresh.adopt(CAMP, {"language": "de"}, now_ms=3)
    assert fresh.own(CAMP) == "de"
    # What the bot does not speak, or cannot read, changes nothing.
    for odd in ({"language": "xx"}, {"language": 5}, {}, "de", None):
        await fresh.adopt(CAMP, odd, now_ms=4)
        assert fresh.own(CAMP) == "de"


# -- an alliance's default ---------------------------------------------------------------------


async def test_the_commons_gives_its_movement_rooms_a_default_that_a_room_choice_overrides(
    world: World,
) -> None:
    await make_alliance(world)
    await world.say(TENANTS, CAL, "language de")

    template, message = await world.say(COMMONS, EVE, "alliance set language fr")
    assert template == "permission_denied"  # a member of the commons, not a moderator
    template, message = await world.say(COMMONS, ADA, "alliance set language français")
    assert template == "language_alliance_set", message.body
    assert "2 rooms" in message.body
    assert world.services.language(COMMONS) == "en"  # the commons keeps its own
    assert (world.services.language(CAMP), world.services.language(FARMERS)) == ("fr", "fr")
    assert world.services.language(TENANTS) == "de"  # its own choice stays
    assert world.services.own_language(CAMP) is None
    assert "Language of the movement rooms: français (fr)" in await world.body(
        COMMONS, ADA, "alliance"
    )

    # A room that goes back to the default hears the alliance's.
    await world.say(TENANTS, CAL, "language default")
    assert world.services.language(TENANTS) == "fr"

    # Off: every room without its own choice hears the bot's default again.
    template, message = await world.say(COMMONS, ADA, "alliance set language off")
    assert template == "language_alliance_set"
    assert [world.services.language(r) for r in (CAMP, TENANTS, FARMERS)] == ["en"] * 3


async def test_a_movement_approved_later_is_welcomed_in_the_alliance_language(
    world: World,
) -> None:
    await world.say(COMMONS, ADA, "alliance create Earth Alliance")
    await world.say(COMMONS, ADA, "alliance set language es")
    await world.say(CAMP, BEA, "movement join earth-alliance as Climate Camp")
    assert world.services.language(CAMP) == "en"  # asking to join changes nothing yet
    await world.say(COMMONS, ADA, "movement approve Climate Camp")
    assert world.services.language(CAMP) == "es"
    welcome = world.notices_in(CAMP)[-1]
    assert "Climate Camp" in welcome
    assert "Earth Alliance" in welcome
    assert "is now a member" not in welcome  # not the English sentence

    # Leaving the alliance takes its default away.
    await world.say(CAMP, BEA, "movement leave")
    assert world.services.language(CAMP) == "en"


# -- votes never depend on words ---------------------------------------------------------------


async def test_changing_the_language_mid_poll_changes_no_vote(world: World) -> None:
    template, _ = await world.say(CAMP, BEA, "consensus We meet on Mondays")
    assert template == "consensus_created"
    [start] = world.polls_in(CAMP)
    options = next(s for s in world.services.sent if s.event_id == start).content
    answers = options["org.matrix.msc3381.poll.start"]["answers"]
    english = [a["org.matrix.msc1767.text"] for a in answers]
    assert english[0] == "Agree"
    await world.vote(CAMP, EVE, start, answers[0]["id"])

    await world.say(CAMP, BEA, "language de")
    await world.vote(CAMP, BEA, start, answers[3]["id"])  # a block, after the change
    template, message = await world.say(CAMP, BEA, "poll close 1")
    assert template == "poll_results"
    # The room reads German now; the options keep the words they were opened with.
    assert message.body.startswith("Ergebnisse")
    assert "1. Agree " in message.body
    poll = await poll_by_start(world.services.store, CAMP, start)
    assert poll is not None
    outcome = await consensus_outcome(world.services.store, poll.id)
    assert outcome is not None
    # Counted by answer id: one agree, one block, whatever words the room reads.
    assert (outcome.counts.agree, outcome.counts.block, outcome.passed) == (1, 1, False)
