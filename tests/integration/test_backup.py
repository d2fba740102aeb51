"""A backup taken with `multilogue backup` while the bot runs and tallies, restored with
`multilogue restore` into a new data folder: the bot starts on the same device and identity,
reads and writes its encrypted room, answers nothing twice, and its record is the original's."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from bot.tooling.homeserver import LocalSynapse
from tests.integration.conftest import MakeUser, StartBot, room_with_bot
from tests.integration.test_bot_cross_signing import query_bot_keys, single_key
from tests.integration.test_polls import ask, counts, start_poll, vote
from tests.integration.test_relay import copies, make_world, share_thread, start_burst

pytestmark = pytest.mark.integration


async def multilogue(*args: str) -> subprocess.CompletedProcess[str]:
    """The `multilogue` command, run as an operator runs it (another process)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def env_file(path: Path, synapse: LocalSynapse, bot_id: str, password: str, data: Path) -> Path:
    path.write_text(
        f"MATRIX_HOMESERVER={synapse.url}\nMATRIX_USER_ID={bot_id}\n"
        f"MATRIX_PASSWORD={password}\nMULTILOGUE_DATA_DIR={data}\n"
    )
    return path


async def test_a_backup_of_the_running_bot_restored_elsewhere_goes_on_where_it_was(
    synapse: LocalSynapse, start_bot: StartBot, make_user: MakeUser, tmp_path: Path
) -> None:
    running = await start_bot()
    bot_id, device_id = running.user_id, running.bot.matrix.device_id
    password = running.config.password or ""
    alice, bob = await make_user("alice"), await make_user("bob")
    room = await room_with_bot(alice, bot_id, encrypted=True)
    await alice.invite(room, bob.user_id)
    await bob.join(room)
    poll = await start_poll(alice, bot_id, room, '!poll "Where?" "Park" "Library"')
    await vote(alice, room, poll, "a2")
    await vote(bob, room, poll, "a1")
    before = await ask(alice, room, "!poll results", bot=bot_id)
    assert counts(before) == {"Park": 1, "Library": 1}
    world = await make_world(running, make_user)
    commons = world.commons
    root, commons_root = await share_thread(world, running, "Buses to the march?")
    identity = single_key(
        (await query_bot_keys(synapse, alice.account.access_token, bot_id))["master_keys"][bot_id]
    )

    # Taken while the bot runs and relays a burst of messages, from another process.
    archive = tmp_path / "backups" / "multilogue.tar.gz"
    old_env = env_file(tmp_path / "old.env", synapse, bot_id, password, running.config.data_dir)
    texts = [f"We have {n} seats" for n in range(40)]
    burst = start_burst(world.bea, world.camp, root, texts)
    made = await multilogue("backup", str(archive), "--env-file", str(old_env))
    assert made.returncode == 0, made.stderr
    assert password not in made.stdout + made.stderr
    await burst
    thread = commons_root["event_id"]
    await world.ada.wait_for(
        lambda: len(copies(world.ada, running, commons, thread)) >= len(texts),
        what="every message relayed",
        timeout=60,
    )

    # The bot goes on after the backup: a changed vote and a command it answers. (Both are
    # encrypted with keys the bot had before the backup: see the README on what it cannot
    # read after a restore.)
    await vote(bob, room, poll, "a2")
    proposed = await world.ada.ask(commons, "!objective propose Respect for nature", bot=bot_id)
    assert "Objective #1" in proposed["content"]["body"]
    after = await alice.say(room, "!poll results")
    (answer,) = [await alice.reply_from(bot_id, room, after)]
    assert counts(answer["content"]["body"]) == {"Park": 0, "Library": 2}
    await running.stop()

    # The old server is gone: restored into a new data folder.
    new_data = tmp_path / "new-data"
    new_env = env_file(tmp_path / "new.env", synapse, bot_id, password, new_data)
    put = await multilogue("restore", str(archive), "--env-file", str(new_env))
    assert put.returncode == 0, put.stderr
    restored = await start_bot(data_dir=new_data)
    assert restored.bot.matrix.device_id == device_id
    keys = await query_bot_keys(synapse, alice.account.access_token, bot_id)
    assert single_key(keys["master_keys"][bot_id]) == identity

    # It reads and answers the encrypted room; what it caught up on counts once.
    closed = await ask(alice, room, "!poll close 1", bot=bot_id)
    assert counts(closed) == {"Park": 0, "Library": 2}
    assert len(alice.replies_to(bot_id, room, after)) == 1  # handled again, sent once
    assert all(e["decrypted"] for e in alice.messages_from(bot_id, room))

    # The messages relayed before and after the backup are in the commons once each.
    await world.bea.ask(world.camp, "!shared", bot=bot_id)  # the restored bot has caught up
    relayed = [e["content"]["body"] for e in copies(world.ada, restored, commons, thread)]
    for text in texts:
        assert sum(text in copy for copy in relayed) == 1, text

    # Its record is the original's: the objective proposed after the backup once, no more.
    await restored.stop()
    original = await multilogue("export", "--env-file", str(old_env))
    copy = await multilogue("export", "--env-file", str(new_env))
    assert original.returncode == copy.returncode == 0, original.stderr + copy.stderr
    assert '"Respect for nature"' in copy.stdout
    assert copy.stdout == original.stdout
    restored = await start_bot(data_dir=new_data)

    # Restoring over the data the bot has written since is refused.
    again = await multilogue("restore", str(archive), "--env-file", str(new_env))
    assert again.returncode == 1
    assert "the bot is running" in again.stderr or "changed after this backup" in again.stderr
    await restored.stop()
