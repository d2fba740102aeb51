"""A Spanish movement room and an English commons in one alliance, on a real Synapse: each
room reads the bot only in its own language, while people's own words cross as written.

Bea's Climate Camp chooses Spanish with `!language es`; Ada's commons stays English. They take
part in one shared thread and one alliance-wide poll. Every notice the bot writes in each room
is read for words of the other language (what people wrote themselves is set aside first).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.ids import RoomID
from bot.room_languages import STATE_TYPE
from tests.integration.conftest import MakeUser, RunningBot, StartBot, room_with_bot
from tests.integration.matrix_user import MatrixUser
from tests.integration.test_alliance import give_power, state_of
from tests.integration.test_alliance_polls import bot_ends, bot_polls, vote, votes_read
from tests.integration.test_relay import copy_with, person, root_copy

pytestmark = pytest.mark.integration

# People's own words in this test: they must cross rooms exactly as written.
THEIR_WORDS = (
    "¿Marchamos juntos el día 12?",
    "Llevamos tambores",
    "Soup from the commons",
    "Where do we meet?",
    "Park",
    "Library",
    "Earth Alliance",
    "earth-alliance",
    "Climate Camp",
    "Earth commons",
    "Climate Camp room",
)
ENGLISH = re.compile(r"\b(the|is|you|your|this|here|with|has|was|will|now|vote|votes)\b", re.I)
SPANISH = re.compile(r"\b(el|la|los|las|está|esta|ahora|sala|encuesta|votos|votó)\b", re.I)


def body(event: dict[str, Any]) -> str:
    return str(event["content"].get("body", ""))


def the_bots_words(text: str) -> str:
    """`text` without people's own words, names, links and command words."""
    for words in sorted(THEIR_WORDS, key=len, reverse=True):
        text = text.replace(words, " ")
    text = re.sub(r"https?://\S+|[@!#$][\w.:=/-]+|--[\w-]+", " ", text)
    return re.sub(r"\b(Ada|Bea|Gus)\b", " ", text)


def notices(user: MatrixUser, bot: RunningBot, room: str) -> list[str]:
    return [
        body(e)
        for e in user.messages_from(bot.user_id, room)
        if e["content"].get("msgtype") == "m.notice"
    ]


async def test_a_spanish_movement_and_an_english_commons_each_read_their_own_language(
    bot: RunningBot, make_user: MakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    ada, bea, gus = [await person(make_user, name) for name in ("Ada", "Bea", "Gus")]
    bot_id = bot.user_id
    commons = await room_with_bot(ada, bot_id, name="Earth commons")
    camp = await room_with_bot(bea, bot_id, name="Climate Camp room")

    # The camp chooses Spanish. The bot keeps it, but may not write it into the room's state
    # yet, and says so; once it may, the room's state holds it too.
    chosen = await bea.ask(camp, "!language es", bot=bot_id)
    assert body(chosen).startswith("A partir de ahora hablo español en esta sala.")
    assert "dame permiso para cambiar los ajustes de la sala" in body(chosen)
    assert await state_of(bea, camp, STATE_TYPE, "") is None
    await give_power(bea, camp, bot, 50)
    chosen = await bea.ask(camp, "!language es", bot=bot_id)
    assert "dame permiso" not in body(chosen)
    assert await state_of(bea, camp, STATE_TYPE, "") == {"language": "es"}
    assert body(await ada.ask(commons, "!language", bot=bot_id)).startswith("I speak English")

    assert "Earth Alliance" in body(
        await ada.ask(commons, "!alliance create Earth Alliance", bot=bot_id)
    )
    asked = await bea.ask(camp, "!movement join earth-alliance as Climate Camp", bot=bot_id)
    assert "Asked to join" not in body(asked)
    approved = await ada.ask(commons, "!movement approve Climate Camp", bot=bot_id)
    assert "Climate Camp is now a member of Earth Alliance" in body(approved)

    # One shared thread: the framing is each room's, the words are Bea's and Ada's own.
    root = await bea.say(camp, "¿Marchamos juntos el día 12?")
    shared = await bea.ask(camp, "!share", bot=bot_id, thread_root=root)
    assert "Shared with" not in body(shared)
    copied = await root_copy(ada, bot, commons, 1)
    assert body(copied).startswith("Bea · Climate Camp: ¿Marchamos juntos el día 12?")
    assert "(Shared thread #1 from Climate Camp" in body(copied)
    await bea.say(camp, "Llevamos tambores", thread_root=root)
    drums = await copy_with(ada, bot, commons, str(copied["event_id"]), "Llevamos tambores")
    assert body(drums) == "Bea · Climate Camp: Llevamos tambores"
    await ada.say(commons, "Soup from the commons", thread_root=str(copied["event_id"]))
    soup = await copy_with(bea, bot, camp, root, "Soup from the commons")
    said_by, _, said = body(soup).partition(": ")
    assert said == "Soup from the commons"
    assert said_by.startswith("Ada · ")
    assert said_by != "Ada · commons"  # the word for the commons is the room's

    # One alliance poll: the question and options are Ada's; everything around them is not.
    await ada.invite(commons, gus.user_id)
    await gus.join(commons)
    opened = await ada.ask(
        commons, '!poll --alliance "Where do we meet?" "Park" "Library"', bot=bot_id
    )
    assert "Alliance poll #1 is open" in body(opened)
    (in_camp,) = await bea.wait_for(lambda: bot_polls(bea, bot, camp), what="the camp's poll")
    (in_commons,) = await ada.wait_for(lambda: bot_polls(ada, bot, commons))
    question = in_camp["content"]["org.matrix.msc3381.poll.start"]["question"]["body"]
    assert question == "Where do we meet?"
    await vote(bea, camp, str(in_camp["event_id"]), "a1")
    await vote(gus, commons, str(in_commons["event_id"]), "a2")
    await votes_read(bot, 2)
    closed = body(await ada.ask(commons, "!poll close", bot=bot_id))
    assert closed.startswith("Results of alliance poll #1 of ")
    await bea.wait_for(lambda: bot_ends(bea, bot, camp, str(in_camp["event_id"])))
    told = await bea.wait_for(
        lambda: [
            e
            for e in bea.replies_to(bot_id, camp, str(in_camp["event_id"]))
            if "Climate Camp (" in body(e)
        ],
        what="the results in the camp",
    )
    assert "is closed" not in body(told[-1])

    # Read everything the bot wrote in each room.
    camp_words = [the_bots_words(text) for text in notices(bea, bot, camp)]
    commons_words = [the_bots_words(text) for text in notices(ada, bot, commons)]
    assert len(camp_words) >= 5
    assert len(commons_words) >= 5
    english_in_camp = [(t, ENGLISH.findall(t)) for t in camp_words if ENGLISH.search(t)]
    spanish_in_commons = [(t, SPANISH.findall(t)) for t in commons_words if SPANISH.search(t)]
    assert english_in_camp == []
    assert spanish_in_commons == []

    # A new installation (an empty data folder) finds the camp's language in the room's state.
    await bot.stop()
    again = await start_bot(data_dir=tmp_path / "reinstalled")
    assert again.bot.services.language(RoomID(camp)) == "es"
    assert again.bot.services.language(RoomID(commons)) == "en"
    shown = await bea.ask(camp, "!language", bot=bot_id)
    assert body(shown).startswith("Hablo español en esta sala.")
