"""`!record export` on a real Synapse: in an encrypted commons the record arrives as an encrypted
file that only the room's members can read, and it holds the alliance's record."""

from __future__ import annotations

import json

import pytest
from nio import MemoryDownloadResponse
from nio.crypto.attachments import decrypt_attachment

from tests.integration.conftest import MakeUser, RunningBot, room_with_bot

pytestmark = pytest.mark.integration


async def test_the_record_of_an_encrypted_commons_is_an_encrypted_file(
    bot: RunningBot, make_user: MakeUser
) -> None:
    ada, bea = await make_user("ada"), await make_user("bea")
    commons = await room_with_bot(ada, bot.user_id, name="Commons", encrypted=True)
    await ada.ask(commons, "!alliance create Earth Alliance", bot=bot.user_id)
    camp = await room_with_bot(bea, bot.user_id, name="Camp", encrypted=True)
    await bea.ask(camp, "!movement join earth-alliance as Climate Camp", bot=bot.user_id)
    await ada.ask(commons, "!movement approve Climate Camp", bot=bot.user_id)

    refused = await bea.ask(camp, "!record export", bot=bot.user_id)
    assert "commons room" in refused["content"]["body"]
    asked = await ada.say(commons, "!record export")
    (said,) = await ada.wait_for(
        lambda: [
            e
            for e in ada.replies_to(bot.user_id, commons, asked)
            if e["content"].get("msgtype") == "m.notice"
        ],
        what="the bot's words with the file",
    )
    assert said["content"]["body"].startswith("Here is the record of Earth Alliance: 1 movement")
    files = await ada.wait_for(
        lambda: [
            e
            for e in ada.messages_from(bot.user_id, commons)
            if e["content"].get("msgtype") == "m.file"
        ],
        what="the record's file",
    )
    (event,) = files
    assert event["decrypted"] is True
    content = event["content"]
    assert content["body"] == "earth-alliance-record.json"
    assert "url" not in content  # only the encrypted file's pointer
    pointer = content["file"]
    downloaded = await ada.client.download(mxc=pointer["url"])
    assert isinstance(downloaded, MemoryDownloadResponse)
    assert b"Earth Alliance" not in downloaded.body  # what the server holds is ciphertext
    plain = decrypt_attachment(
        downloaded.body, pointer["key"]["k"], pointer["hashes"]["sha256"], pointer["iv"]
    )
    record = json.loads(plain)
    assert record["schema_version"] == 1
    assert record["alliance"]["name"] == "Earth Alliance"
    assert [m["name"] for m in record["movements"]] == ["Climate Camp"]
