"""The running bot cross-signs its own device, so Element's "exclude insecure devices" trusts it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cross_signing import verify_json
from bot.tooling.homeserver import LocalSynapse
from tests.integration.conftest import MakeUser, StartBot

pytestmark = pytest.mark.integration


def single_key(key_object: dict[str, Any]) -> tuple[str, str]:
    ((key_id, public),) = key_object["keys"].items()
    return key_id, public


async def query_bot_keys(synapse: LocalSynapse, token: str, bot_id: str) -> dict[str, Any]:
    return synapse.api(
        "POST", "/_matrix/client/v3/keys/query", token=token, body={"device_keys": {bot_id: []}}
    )


async def test_the_bot_cross_signs_its_device_and_keeps_its_identity_across_restarts(
    synapse: LocalSynapse, start_bot: StartBot, make_user: MakeUser
) -> None:
    running = await start_bot()
    bot_id, device_id = running.user_id, running.bot.matrix.device_id
    alice = await make_user("alice")

    keys = await query_bot_keys(synapse, alice.account.access_token, bot_id)

    master = keys["master_keys"][bot_id]
    self_signing = keys["self_signing_keys"][bot_id]
    device = keys["device_keys"][bot_id][device_id]
    master_id, master_public = single_key(master)
    ssk_id, ssk_public = single_key(self_signing)
    assert verify_json(self_signing, user_id=bot_id, key_id=master_id, public_key_b64=master_public)
    assert verify_json(device, user_id=bot_id, key_id=ssk_id, public_key_b64=ssk_public)

    await running.stop()
    again = await start_bot()
    after = await query_bot_keys(synapse, alice.account.access_token, bot_id)

    assert again.bot.matrix.device_id == device_id
    assert single_key(after["master_keys"][bot_id]) == (master_id, master_public)


async def test_reset_cross_signing_replaces_the_identity_and_signs_the_device_again(
    synapse: LocalSynapse, start_bot: StartBot, make_user: MakeUser, tmp_path: Path
) -> None:
    running = await start_bot()
    bot_id, device_id = running.user_id, running.bot.matrix.device_id
    await running.stop()
    alice = await make_user("alice")
    before = await query_bot_keys(synapse, alice.account.access_token, bot_id)
    env_file = tmp_path / "bot.env"
    env_file.write_text(
        f"MATRIX_HOMESERVER={synapse.url}\n"
        f"MATRIX_USER_ID={bot_id}\n"
        f"MATRIX_PASSWORD={running.config.password}\n"
        f"MULTILOGUE_DATA_DIR={running.config.data_dir}\n"
    )

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "reset-cross-signing", "--env-file", str(env_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "new cross-signing identity" in result.stdout
    assert running.config.password not in result.stdout + result.stderr
    after = await query_bot_keys(synapse, alice.account.access_token, bot_id)
    new_master = after["master_keys"][bot_id]
    assert single_key(new_master) != single_key(before["master_keys"][bot_id])
    ssk_id, ssk_public = single_key(after["self_signing_keys"][bot_id])
    device = after["device_keys"][bot_id][device_id]
    assert verify_json(device, user_id=bot_id, key_id=ssk_id, public_key_b64=ssk_public)
