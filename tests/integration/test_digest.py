"""The weekly digest on a real Synapse: asked for with `!digest`, and the week's digest missed
while the bot was away posted once when it is back, in the commons and in the movement room
that asked for it (never a second time after another restart)."""

from __future__ import annotations

import pytest

from bot.store import Store
from tests.integration.conftest import MakeUser, StartBot
from tests.integration.matrix_user import MatrixUser
from tests.integration.test_council import body, council

pytestmark = pytest.mark.integration

DAY_MS = 24 * 3600 * 1000


def digests(user: MatrixUser, bot_id: str, room: str) -> list[str]:
    return [
        body(e)
        for e in user.messages_from(bot_id, room)
        if body(e).startswith("This week in Earth Alliance")
    ]


async def test_a_digest_missed_while_the_bot_was_away_is_posted_once(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    running = await start_bot()
    bot_id = running.user_id
    c = await council(bot_id, make_user, ("Climate Camp", "Tenants Union"))
    camp, camp_room = c.movers["Climate Camp"], c.rooms["Climate Camp"]
    opened = await c.ada.ask(c.commons, "!proposal We share one legal team", bot=bot_id)
    assert "Proposal 1" in body(opened), body(opened)

    now = await c.ada.ask(c.commons, "!digest", bot=bot_id)
    assert body(now).startswith("Earth Alliance, the last 7 days"), body(now)
    assert "Proposals opened:\n  - 1: We share one legal team" in body(now)
    assert "Joined: Climate Camp, Tenants Union" in body(now)

    weekly = await c.ada.ask(c.commons, "!alliance set digest weekly", bot=bot_id)
    assert "gets a digest here every Monday at 9:00" in body(weekly), body(weekly)
    wanted = await camp.ask(camp_room, "!rules set digest weekly", bot=bot_id)
    assert "This room gets the alliance's weekly digest too" in body(wanted), body(wanted)
    await running.stop()

    # All this happened more than a week ago; the bot was away since.
    store = await Store.open(running.config.database_path)
    try:
        async with store.transaction() as db:
            await db.execute("UPDATE alliance_digests SET set_at = set_at - ?", (8 * DAY_MS,))
            await db.execute("UPDATE room_digests SET set_at = set_at - ?", (8 * DAY_MS,))
            await db.execute("UPDATE movements SET decided_at = decided_at - ?", (8 * DAY_MS,))
    finally:
        await store.close()

    second = await start_bot()
    (commons_digest,) = await c.ada.wait_for(
        lambda: digests(c.ada, bot_id, c.commons), what="the digest in the commons", timeout=60
    )
    assert "1: We share one legal team" in commons_digest
    assert "Stop it: !alliance set digest off" in commons_digest
    (camp_digest,) = await camp.wait_for(
        lambda: digests(camp, bot_id, camp_room), what="the digest in the camp", timeout=60
    )
    assert "1: We share one legal team" in camp_digest
    await second.stop()

    third = await start_bot()
    await c.ada.ask(c.commons, "!digest", bot=bot_id)  # the bot is up and in sync
    await camp.ask(camp_room, "!rules", bot=bot_id)
    assert len(digests(c.ada, bot_id, c.commons)) == 1
    assert len(digests(camp, bot_id, camp_room)) == 1
    await third.stop()
