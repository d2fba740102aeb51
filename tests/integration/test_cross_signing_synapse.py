"""Cross-signing against a real Synapse: what another user sees after the bot signs its device.

Every test registers fresh accounts on one Synapse started for this module. Device keys are
uploaded by a real nio client with encryption, as the bot does at startup. Signatures are
checked from another user's point of view with `verify_json`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from Crypto.Cipher import AES
from nio import AsyncClient, AsyncClientConfig, KeysUploadResponse

from bot import cross_signing as cs
from bot.tooling.homeserver import LocalSynapse, RegisteredUser

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    server = LocalSynapse(tmp_path_factory.mktemp("synapse"), in_memory_db=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- helpers ---------------------------------------------------------------------------------------


def unique(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}"


async def api(
    server: LocalSynapse, method: str, path: str, *, token: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    return await asyncio.to_thread(server.api, method, path, token=token, body=body)


async def upload_device_keys(server: LocalSynapse, user: RegisteredUser, store: Path) -> str:
    """Upload the device keys with nio as the bot does; return the device's Ed25519 key."""
    await asyncio.to_thread(store.mkdir, parents=True, exist_ok=True)
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    client = AsyncClient(
        server.url, user.user_id, device_id=user.device_id, store_path=str(store), config=config
    )
    try:
        client.restore_login(user.user_id, user.device_id, user.access_token)
        response = await client.keys_upload()
        assert isinstance(response, KeysUploadResponse), response
        return str(client.olm.account.identity_keys["ed25519"])
    finally:
        await client.close()


async def query_keys(
    server: LocalSynapse, *, viewer: RegisteredUser, user_id: str
) -> dict[str, Any]:
    return await api(
        server,
        "POST",
        "/_matrix/client/v3/keys/query",
        token=viewer.access_token,
        body={"device_keys": {user_id: []}},
    )


def public_of(key_object: dict[str, Any]) -> str:
    ((value,),) = [list(key_object["keys"].values())]
    return str(value)


def signed_by(obj: dict[str, Any], *, user_id: str, public: str) -> bool:
    return cs.verify_json(obj, user_id=user_id, key_id=f"ed25519:{public}", public_key_b64=public)


async def ensure(
    server: LocalSynapse,
    user: RegisteredUser,
    data_dir: Path,
    *,
    device_key: str | None = None,
    password: str | None = None,
    recovery_key: str | None = None,
    reset: bool = False,
) -> cs.CrossSigningStatus:
    return await cs.ensure_cross_signing(
        homeserver=server.url,
        access_token=user.access_token,
        user_id=user.user_id,
        device_id=user.device_id,
        password=password,
        data_dir=data_dir,
        recovery_key=recovery_key,
        reset=reset,
        device_ed25519_key=device_key,
    )


def assert_no_secrets(status: cs.CrossSigningStatus, *secrets_: bytes | str) -> None:
    for secret in secrets_:
        text = secret if isinstance(secret, str) else cs.encode_base64(secret)
        assert text not in status.message
        assert text not in repr(status)


# Someone else's identity, made the way Element does it, with its keys in secret storage.

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def encode_recovery_key(key: bytes, *, parity_error: bool = False) -> str:
    raw = b"\x8b\x01" + key
    parity = 0
    for byte in raw:
        parity ^= byte
    number = int.from_bytes(raw + bytes([parity ^ parity_error]), "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = BASE58[digit] + text
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def ssss_encrypt(storage_key: bytes, name: str, plaintext: bytes) -> dict[str, str]:
    prk = hmac.new(bytes(32), storage_key, hashlib.sha256).digest()
    first = hmac.new(prk, name.encode() + b"\x01", hashlib.sha256).digest()
    second = hmac.new(prk, first + name.encode() + b"\x02", hashlib.sha256).digest()
    iv = bytearray(os.urandom(16))
    iv[8] &= 0x7F
    ciphertext = AES.new(first, AES.MODE_CTR, nonce=b"", initial_value=bytes(iv)).encrypt(plaintext)
    mac = hmac.new(second, ciphertext, hashlib.sha256).digest()
    return {
        "iv": base64.b64encode(bytes(iv)).decode(),  # Element writes padded base64
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "mac": base64.b64encode(mac).decode(),
    }


class ForeignIdentity:
    """Cross-signing keys made outside the bot (as Element would), uploaded to the server."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.master, self.self_signing, self.user_signing = (cs.generate_seed() for _ in range(3))
        self.master_public = cs.public_key(self.master)
        self.self_signing_public = cs.public_key(self.self_signing)

    def _key(self, usage: str, seed: bytes) -> dict[str, Any]:
        public = cs.public_key(seed)
        obj = {"user_id": self.user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}
        if usage == "master":
            return obj
        return cs.sign_json(
            obj,
            user_id=self.user_id,
            key_id=f"ed25519:{self.master_public}",
            private_key=self.master,
        )

    async def upload(self, server: LocalSynapse, user: RegisteredUser) -> None:
        body = {
            "master_key": self._key("master", self.master),
            "self_signing_key": self._key("self_signing", self.self_signing),
            "user_signing_key": self._key("user_signing", self.user_signing),
        }
        path = "/_matrix/client/v3/keys/device_signing/upload"
        await api(server, "POST", path, token=user.access_token, body=body)

    async def store_in_secret_storage(self, server: LocalSynapse, user: RegisteredUser) -> str:
        """Write Element-style secret storage; return the recovery key for it."""
        storage_key = os.urandom(32)
        key_id = secrets.token_urlsafe(24)
        check = ssss_encrypt(storage_key, "", bytes(32))
        account_data: dict[str, dict[str, Any]] = {
            f"m.secret_storage.key.{key_id}": {
                "algorithm": "m.secret_storage.v1.aes-hmac-sha2",
                "iv": check["iv"],
                "mac": check["mac"],
            },
            "m.secret_storage.default_key": {"key": key_id},
        }
        for name, seed in (
            ("m.cross_signing.master", self.master),
            ("m.cross_signing.self_signing", self.self_signing),
            ("m.cross_signing.user_signing", self.user_signing),
        ):
            secret = base64.b64encode(seed)
            account_data[name] = {"encrypted": {key_id: ssss_encrypt(storage_key, name, secret)}}
        for event_type, content in account_data.items():
            path = (
                f"/_matrix/client/v3/user/{quote(user.user_id, safe='')}"
                f"/account_data/{quote(event_type, safe='')}"
            )
            await api(server, "PUT", path, token=user.access_token, body=content)
        return encode_recovery_key(storage_key)


async def foreign_account(
    server: LocalSynapse, tmp_path: Path
) -> tuple[RegisteredUser, str, ForeignIdentity]:
    user = server.register(unique("foreign"))
    device_key = await upload_device_keys(server, user, tmp_path / "nio-foreign")
    identity = ForeignIdentity(user.user_id)
    await identity.upload(server, user)
    return user, device_key, identity


# -- the bot's own identity -----------------------------------------------------------------------


async def test_new_account_gets_an_identity_that_others_can_verify(
    synapse: LocalSynapse, tmp_path: Path
) -> None:
    bot = synapse.register(unique("bot"))
    viewer = synapse.register(unique("viewer"))
    device_key = await upload_device_keys(synapse, bot, tmp_path / "nio")
    data_dir = tmp_path / "data"

    status = await ensure(synapse, bot, data_dir, device_key=device_key, password=bot.password)

    assert status.state == "created"
    assert status.master_key is not None
    assert cs.fingerprint(status.master_key) in status.message
    assert bot.device_id in status.message
    seen = await query_keys(synapse, viewer=viewer, user_id=bot.user_id)
    master = seen["master_keys"][bot.user_id]
    ssk = seen["self_signing_keys"][bot.user_id]
    device = seen["device_keys"][bot.user_id][bot.device_id]
    assert public_of(master) == status.master_key
    assert master["usage"] == ["master"]
    assert ssk["usage"] == ["self_signing"]
    assert signed_by(ssk, user_id=bot.user_id, public=status.master_key)
    assert signed_by(device, user_id=bot.user_id, public=public_of(ssk))
    assert bot.user_id not in seen.get("user_signing_keys", {})  # private to the owner

    own_view = await query_keys(synapse, viewer=bot, user_id=bot.user_id)
    usk = own_view["user_signing_keys"][bot.user_id]
    assert signed_by(usk, user_id=bot.user_id, public=status.master_key)

    key_file = data_dir / "cross_signing.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    stored = cs.load_key_file(data_dir)
    assert stored is not None
    assert stored.is_full_set
    assert stored.master_public == status.master_key
    assert stored.self_signing_public == public_of(ssk)
    assert_no_secrets(status, stored.self_signing, bot.password, bot.access_token)
    assert stored.master is not None
    assert_no_secrets(status, stored.master)


async def test_second_start_is_already_signed_and_keeps_the_identity(
    synapse: LocalSynapse, tmp_path: Path
) -> None:
    bot = synapse.register(unique("bot"))
    device_key = await upload_device_keys(synapse, bot, tmp_path / "nio")
    first = await ensure(synapse, bot, tmp_path / "data", device_key=device_key)
    assert first.state == "created"  # first upload needs no password on Synapse (MSC3967)
    file_before = (tmp_path / "data" / "cross_signing.json").read_bytes()

    second = await ensure(synapse, bot, tmp_path / "data", device_key=device_key)

    assert second.state == "already-signed"
    assert second.master_key == first.master_key
    assert (tmp_path / "data" / "cross_signing.json").read_bytes() == file_before


async def test_a_new_login_is_signed_with_the_stored_keys(
    synapse: LocalSynapse, tmp_path: Path
) -> None:
    localpart = unique("bot")
    bot = synapse.register(localpart)
    viewer = synapse.register(unique("viewer"))
    first = await ensure(
        synapse,
        bot,
        tmp_path / "data",
        device_key=await upload_device_keys(synapse, bot, tmp_path / "nio-1"),
    )
    relogged = synapse.login(localpart, bot.password)
    assert relogged.device_id != bot.device_id
    device_key = await upload_device_keys(synapse, relogged, tmp_path / "nio-2")

    status = await ensure(synapse, relogged, tmp_path / "data", device_key=device_key)

    assert status.state == "signed"
    assert status.master_key == first.master_key
    seen = await query_keys(synapse, viewer=viewer, user_id=bot.user_id)
    ssk_public = public_of(seen["self_signing_keys"][bot.user_id])
    for device_id in (bot.device_id, relogged.device_id):
        device = seen["device_keys"][bot.user_id][device_id]
        assert signed_by(device, user_id=bot.user_id, public=ssk_public)


async def test_keys_saved_before_a_crash_are_uploaded_on_the_next_start(
    synapse: LocalSynapse, tmp_path: Path
) -> None:
    bot = synapse.register(unique("bot"))
    device_key = await upload_device_keys(synapse, bot, tmp_path / "nio")
    saved = cs.CrossSigningKeys.generate(bot.user_id)  # saved, then the process died
    cs.save_key_file(tmp_path / "data", saved)

    status = await ensure(synapse, bot, tmp_path / "data", device_key=device_key)

    assert status.state == "created"
    assert status.master_key == saved.master_public
    assert cs.load_key_file(tmp_path / "data") == saved


async def test_a_device_without_keys_is_an_error(synapse: LocalSynapse, tmp_path: Path) -> None:
    bot = synapse.register(unique("bot"))
    with pytest.raises(cs.CrossSigningError, match="keys_upload"):
        await ensure(synapse, bot, tmp_path / "data")
    assert not (tmp_path / "data" / "cross_signing.json").exists()


async def test_a_swapped_device_key_is_not_signed(synapse: LocalSynapse, tmp_path: Path) -> None:
    bot = synapse.register(unique("bot"))
    await upload_device_keys(synapse, bot, tmp_path / "nio")
    other_key = cs.public_key(cs.generate_seed())
    with pytest.raises(cs.CrossSigningError, match="different Ed25519 key"):
        await ensure(synapse, bot, tmp_path / "data", device_key=other_key)


# -- an identity made elsewhere -------------------------------------------------------------------


async def test_foreign_identity_is_left_alone_and_the_operator_told_what_to_do(
    synapse: LocalSynapse, tmp_path: Path
) -> None:
    user, device_key, identity = await foreign_account(synapse, tmp_path)
    viewer = synapse.register(unique("viewer"))
    before = await query_keys(synapse, viewer=viewer, user_id=user.user_id)

    status = await ensure(synapse, user, tmp_path / "data", device_key=device_key)

    assert status.state == "foreign-identity"
    assert status.master_key == identity.master_public
    assert "MULTILOGUE_RECOVERY_KEY" in status.message
    assert "multilogue reset-cross-signing" in status.message
    assert cs.fingerprint(identity.master_public) in status.message
    after = await query_keys(synapse, viewer=viewer, user_id=user.user_id)
    assert after["master_keys"] == before["master_keys"]
    assert after["self_signing_keys"] == before["self_signing_keys"]
    assert after["device_keys"] == before["device_keys"]
    device = after["device_keys"][user.user_id][user.device_id]
    assert not signed_by(device, user_id=user.user_id, public=identity.self_signing_public)
    assert not (tmp_path / "data" / "cross_signing.json").exists()


async def test_a_key_file_of_another_identity_counts_as_foreign(
    synapse: LocalSynapse, tmp_path: Path
) -> None:
    user, device_key, _ = await foreign_account(synapse, tmp_path)
    stale = cs.CrossSigningKeys.generate(user.user_id)
    cs.save_key_file(tmp_path / "data", stale)

    status = await ensure(synapse, user, tmp_path / "data", device_key=device_key)

    assert status.state == "foreign-identity"
    assert cs.load_key_file(tmp_path / "data") == stale
    # The same with a key file that holds only a (stale) self-signing key.
    stale_ssk_only = cs.CrossSigningKeys(user.user_id, self_signing=cs.generate_seed())
    cs.save_key_file(tmp_path / "ssk-only", stale_ssk_only)
    status = await ensure(synapse, user, tmp_path / "ssk-only", device_key=device_key)
    assert status.state == "foreign-identity"


async def test_recovery_key_adopts_the_foreign_identity(
    synapse: LocalSynapse, tmp_path: Path
) -> None:
    user, device_key, identity = await foreign_account(synapse, tmp_path)
    viewer = synapse.register(unique("viewer"))
    recovery_key = await identity.store_in_secret_storage(synapse, user)
    data_dir = tmp_path / "data"

    status = await ensure(synapse, user, data_dir, device_key=device_key, recovery_key=recovery_key)

    assert status.state == "signed"
    assert status.master_key == identity.master_public
    seen = await query_keys(synapse, viewer=viewer, user_id=user.user_id)
    assert public_of(seen["master_keys"][user.user_id]) == identity.master_public
    device = seen["device_keys"][user.user_id][user.device_id]
    assert signed_by(device, user_id=user.user_id, public=identity.self_signing_public)
    stored = cs.load_key_file(data_dir)
    assert stored == cs.CrossSigningKeys(user.user_id, self_signing=identity.self_signing)
    saved = json.loads((data_dir / "cross_signing.json").read_text())
    assert "master" not in saved
    assert "user_signing" not in saved
    assert_no_secrets(status, recovery_key, identity.self_signing, identity.master)

    # Next start: the key file is enough, no recovery key needed.
    again = await ensure(synapse, user, data_dir, device_key=device_key)
    assert again.state == "already-signed"


async def test_a_wrong_recovery_key_changes_nothing(synapse: LocalSynapse, tmp_path: Path) -> None:
    user, device_key, identity = await foreign_account(synapse, tmp_path)
    await identity.store_in_secret_storage(synapse, user)
    wrong = encode_recovery_key(os.urandom(32))
    typo = encode_recovery_key(os.urandom(32), parity_error=True)

    with pytest.raises(cs.SecretStorageError, match="wrong recovery key"):
        await ensure(synapse, user, tmp_path / "data", device_key=device_key, recovery_key=wrong)
    with pytest.raises(cs.RecoveryKeyError, match="parity"):
        await ensure(synapse, user, tmp_path / "data", device_key=device_key, recovery_key=typo)
    assert not (tmp_path / "data" / "cross_signing.json").exists()


async def test_a_raw_self_signing_key_works_instead_of_a_recovery_key(
    synapse: LocalSynapse, tmp_path: Path
) -> None:
    user, device_key, identity = await foreign_account(synapse, tmp_path)
    raw_key = cs.encode_base64(identity.self_signing)

    status = await ensure(
        synapse, user, tmp_path / "data", device_key=device_key, recovery_key=raw_key
    )

    assert status.state == "signed"
    assert_no_secrets(status, raw_key)
    wrong = cs.encode_base64(cs.generate_seed())
    with pytest.raises(cs.SecretStorageError, match="not the account's current self-signing key"):
        await ensure(synapse, user, tmp_path / "other", device_key=device_key, recovery_key=wrong)


# -- reset ----------------------------------------------------------------------------------------


async def test_reset_replaces_the_identity(synapse: LocalSynapse, tmp_path: Path) -> None:
    user, device_key, identity = await foreign_account(synapse, tmp_path)
    viewer = synapse.register(unique("viewer"))

    with pytest.raises(cs.CrossSigningError, match="password"):
        await ensure(synapse, user, tmp_path / "data", device_key=device_key, reset=True)
    with pytest.raises(cs.CrossSigningError, match="rejected the account password"):
        await ensure(
            synapse, user, tmp_path / "data", device_key=device_key, reset=True, password="nope"
        )
    seen = await query_keys(synapse, viewer=viewer, user_id=user.user_id)
    assert public_of(seen["master_keys"][user.user_id]) == identity.master_public

    status = await ensure(
        synapse, user, tmp_path / "data", device_key=device_key, reset=True, password=user.password
    )

    assert status.state == "created"
    assert status.master_key is not None
    assert status.master_key != identity.master_public
    assert_no_secrets(status, user.password)
    seen = await query_keys(synapse, viewer=viewer, user_id=user.user_id)
    assert public_of(seen["master_keys"][user.user_id]) == status.master_key
    ssk = seen["self_signing_keys"][user.user_id]
    assert signed_by(ssk, user_id=user.user_id, public=status.master_key)
    device = seen["device_keys"][user.user_id][user.device_id]
    assert signed_by(device, user_id=user.user_id, public=public_of(ssk))
    stored = cs.load_key_file(tmp_path / "data")
    assert stored is not None
    assert stored.master_public == status.master_key

    again = await ensure(synapse, user, tmp_path / "data", device_key=device_key)
    assert again.state == "already-signed"
    assert again.master_key == status.master_key


async def test_a_failed_reset_keeps_the_working_key_file(
    synapse: LocalSynapse, tmp_path: Path
) -> None:
    bot = synapse.register(unique("bot"))
    device_key = await upload_device_keys(synapse, bot, tmp_path / "nio")
    created = await ensure(synapse, bot, tmp_path / "data", device_key=device_key)
    before = (tmp_path / "data" / "cross_signing.json").read_bytes()

    with pytest.raises(cs.CrossSigningError, match="rejected the account password"):
        await ensure(
            synapse, bot, tmp_path / "data", device_key=device_key, reset=True, password="wrong"
        )

    assert (tmp_path / "data" / "cross_signing.json").read_bytes() == before
    again = await ensure(synapse, bot, tmp_path / "data", device_key=device_key)
    assert again.state == "already-signed"
    assert again.master_key == created.master_key
