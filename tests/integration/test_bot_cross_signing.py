"""The running bot cross-signs its own device, so Element's "exclude insecure devices" trusts it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.cross_signing import verify_json
from bot.homeserver import LocalSynapse
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
