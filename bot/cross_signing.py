"""Cross-signing of the bot's own device, so Element keeps sending it room keys.

Element excludes devices that their owner has not cross-signed (MSC4153), and matrix-nio has
no cross-signing. This module gives the bot a cross-signing identity of its own (three Ed25519
keys: master, self-signing, user-signing) and uses the self-signing key to sign the device that
nio created. It talks to the homeserver with `aiohttp` directly: `ensure_cross_signing` opens
one short-lived `aiohttp.ClientSession` of its own and closes it before returning.

The flow of `ensure_cross_signing`, run once at startup after nio's first `keys_upload`:

1. Read `cross_signing.json` from the data dir (if any) and ask the server for the bot's own
   keys (`POST /keys/query`). The device must already have keys there, or this raises.
2. `reset=True`: make three new keys, save them, upload them (the server asks for the account
   password through user-interactive auth), sign the device. State "created".
3. No identity on the server: upload the keys from the key file if it holds a full set (a
   crash after saving, before uploading), else make new keys, save them first, then upload.
   Synapse allows this first upload without a password (MSC3967). State "created".
4. The server's identity is the one in our key file: sign the device unless the device already
   carries a valid signature by our self-signing key. State "signed" or "already-signed".
5. Someone else's identity (made in Element, say): with a recovery key, fetch the self-signing
   key from secret storage, check it against the server's, keep only that key in the key file
   and sign the device. Without one, touch nothing and return "foreign-identity" with a message
   telling the operator what to do.

Signing a device: take the device-keys object exactly as `/keys/query` returned it, drop
`signatures` and `unsigned`, sign its canonical JSON with the self-signing key and post it to
`/keys/signatures/upload` carrying only the new signature.

The pure helpers (canonical JSON, signing, unpadded base64, recovery keys, secret storage)
do no I/O. Private keys and the recovery key never reach a log line, an exception message or
a `repr`; messages name key files and public fingerprints only.

Errors: everything this module raises for the caller is a `CrossSigningError` (its text is
safe to log); `RecoveryKeyError` and `SecretStorageError` are its subclasses for a bad
recovery key and for secret storage that cannot be read with it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import hmac
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]

KEY_FILE_NAME = "cross_signing.json"
KEY_FILE_VERSION = 1
SEED_BYTES = 32
RECOVERY_KEY_PREFIX = b"\x8b\x01"
SECRET_STORAGE_ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
SELF_SIGNING_SECRET = "m.cross_signing.self_signing"
RECOVERY_KEY_ENV = "MULTILOGUE_RECOVERY_KEY"
RESET_COMMAND = "multilogue reset-cross-signing"

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: index for index, char in enumerate(_BASE58_ALPHABET)}
_MAX_SAFE_INT = 2**53 - 1
_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)
_MAX_RATE_LIMIT_RETRIES = 3


class CrossSigningError(Exception):
    """Cross-signing could not be set up. The message is safe to log and says what went wrong."""


class RecoveryKeyError(CrossSigningError, ValueError):
    """The recovery key (or raw self-signing key) given by the operator is malformed."""


class SecretStorageError(CrossSigningError):
    """Secret storage is missing, uses an unknown scheme, or does not open with the given key."""


# -- unpadded base64 ------------------------------------------------------------------------------


def encode_base64(data: bytes) -> str:
    """Standard base64 without `=` padding, as Matrix uses for keys and signatures."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def decode_base64(text: str) -> bytes:
    """Decode standard base64 with or without padding; raise ValueError if it is not base64."""
    stripped = text.strip().rstrip("=")
    if len(stripped) % 4 == 1:
        raise ValueError("not valid base64: impossible length")
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except binascii.Error as error:
        raise ValueError(f"not valid base64: {error}") from None


# -- canonical JSON and signatures ----------------------------------------------------------------


def _check_canonical(value: object, where: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            raise ValueError(f"canonical JSON: integer out of range at {where}")
        return
    if isinstance(value, float):
        raise ValueError(f"canonical JSON: floats are not allowed (at {where})")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON: object keys must be strings (at {where})")
            _check_canonical(item, f"{where}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_canonical(item, f"{where}[{index}]")
        return
    raise TypeError(f"canonical JSON: cannot encode {type(value).__name__} (at {where})")


def canonical_json(obj: object) -> bytes:
    """The Matrix spec's canonical JSON: sorted keys, no whitespace, UTF-8, integers only."""
    _check_canonical(obj, "$")
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.encode("utf-8")


def _signing_payload(obj: Mapping[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


def _private_key(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != SEED_BYTES:
        raise ValueError(f"an Ed25519 seed has {SEED_BYTES} bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(seed: bytes) -> str:
    """The unpadded-base64 Ed25519 public key for a 32-byte seed."""
    raw = (
        _private_key(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return encode_base64(raw)


def generate_seed() -> bytes:
    """A new random 32-byte Ed25519 seed."""
    return secrets.token_bytes(SEED_BYTES)


def sign_json(obj: Mapping[str, Any], *, user_id: str, key_id: str, private_key: bytes) -> JsonDict:
    """Return a copy of `obj` with an Ed25519 signature added at `signatures[user_id][key_id]`.

    `key_id` is the full signing key identifier (`ed25519:<key>`); `private_key` is the 32-byte
    seed. `signatures` and `unsigned` are left out of what is signed and kept in the result.
    """
    signature = _private_key(private_key).sign(_signing_payload(obj))
    signed = copy.deepcopy(dict(obj))
    signatures = signed.setdefault("signatures", {})
    signatures.setdefault(user_id, {})[key_id] = encode_base64(signature)
    return signed


def verify_json(obj: Mapping[str, Any], *, user_id: str, key_id: str, public_key_b64: str) -> bool:
    """True if `obj` has a valid signature by `public_key_b64` in `signatures[user_id][key_id]`."""
    try:
        signature_b64 = obj["signatures"][user_id][key_id]
        signature = decode_base64(signature_b64)
        key = Ed25519PublicKey.from_public_bytes(decode_base64(public_key_b64))
        key.verify(signature, _signing_payload(obj))
    except (KeyError, TypeError, ValueError, InvalidSignature):
        return False
    return True


def fingerprint(master_key_b64: str) -> str:
    """A public key in groups of four characters, for people to compare with Element's."""
    return " ".join(master_key_b64[i : i + 4] for i in range(0, len(master_key_b64), 4))


# -- recovery keys and secret storage -------------------------------------------------------------


def _base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            raise RecoveryKeyError("The recovery key contains a character that base58 does not use")
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    leading_zeros = len(text) - len(text.lstrip(_BASE58_ALPHABET[0]))
    return b"\x00" * leading_zeros + body


def decode_recovery_key(text: str) -> bytes:
    """Decode Element's recovery key (base58, spaces allowed) into the 32-byte storage key."""
    raw = _base58_decode("".join(text.split()))
    if len(raw) != len(RECOVERY_KEY_PREFIX) + SEED_BYTES + 1:
        raise RecoveryKeyError("The recovery key has the wrong length")
    if not raw.startswith(RECOVERY_KEY_PREFIX):
        raise RecoveryKeyError("This is not a Matrix recovery key (wrong prefix)")
    parity = 0
    for byte in raw:
        parity ^= byte
    if parity != 0:
        raise RecoveryKeyError("The recovery key has a typo (parity check failed)")
    return raw[len(RECOVERY_KEY_PREFIX) : -1]


def _derive_keys(storage_key: bytes, name: str) -> tuple[bytes, bytes]:
    """HKDF-SHA-256 with 32 zero bytes of salt and the secret name as info: (AES key, MAC key)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=64, salt=bytes(32), info=name.encode("utf-8"))
    material = hkdf.derive(storage_key)
    return material[:32], material[32:]


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    if len(iv) != 16:
        raise SecretStorageError("Secret storage data has an IV that is not 16 bytes long")
    cryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return cryptor.update(data) + cryptor.finalize()


def _field_bytes(data: Mapping[str, Any], name: str, what: str) -> bytes:
    value = data.get(name)
    if not isinstance(value, str):
        raise SecretStorageError(f"{what} has no {name!r}")
    try:
        return decode_base64(value)
    except ValueError:
        raise SecretStorageError(f"{what} has a {name!r} that is not base64") from None


def check_secret_storage_key(storage_key: bytes, key_description: Mapping[str, Any]) -> None:
    """Raise SecretStorageError unless `storage_key` fits this `m.secret_storage.key.*` content.

    The check encrypts 32 zero bytes with the key and compares the MAC with the stored one;
    a description without `iv` and `mac` cannot be checked and is accepted, as the spec says.
    """
    if key_description.get("algorithm") != SECRET_STORAGE_ALGORITHM:
        raise SecretStorageError(
            "The secret storage key uses an unsupported algorithm "
            f"(only {SECRET_STORAGE_ALGORITHM} is supported)"
        )
    if "iv" not in key_description or "mac" not in key_description:
        return
    iv = _field_bytes(key_description, "iv", "The secret storage key description")
    expected = _field_bytes(key_description, "mac", "The secret storage key description")
    aes_key, mac_key = _derive_keys(storage_key, "")
    actual = hmac.new(mac_key, _aes_ctr(aes_key, iv, bytes(32)), sha256).digest()
    if not hmac.compare_digest(actual, expected):
        raise SecretStorageError(
            "The recovery key does not open this account's secret storage (wrong recovery key?)"
        )


def decrypt_secret(storage_key: bytes, *, name: str, encrypted: Mapping[str, Any]) -> str:
    """Decrypt one `m.secret_storage.v1.aes-hmac-sha2` entry (`iv`, `ciphertext`, `mac`)."""
    what = f"The stored secret {name}"
    iv = _field_bytes(encrypted, "iv", what)
    ciphertext = _field_bytes(encrypted, "ciphertext", what)
    expected = _field_bytes(encrypted, "mac", what)
    aes_key, mac_key = _derive_keys(storage_key, name)
    actual = hmac.new(mac_key, ciphertext, sha256).digest()
    if not hmac.compare_digest(actual, expected):
        raise SecretStorageError(f"{what} fails its integrity check (wrong key or corrupted)")
    try:
        return _aes_ctr(aes_key, iv, ciphertext).decode("utf-8")
    except UnicodeDecodeError:
        raise SecretStorageError(f"{what} does not decrypt to text") from None


def secret_to_seed(secret: str, *, what: str) -> bytes:
    """A cross-signing secret is the base64 of a 32-byte seed; return the seed."""
    try:
        seed = decode_base64(secret)
    except ValueError:
        raise SecretStorageError(f"{what} is not base64") from None
    if len(seed) != SEED_BYTES:
        raise SecretStorageError(f"{what} is not a {SEED_BYTES}-byte key")
    return seed


def read_secret_from_storage(
    storage_key: bytes,
    *,
    name: str,
    secret_content: Mapping[str, Any] | None,
    default_key_id: str | None,
    key_descriptions: Mapping[str, Mapping[str, Any] | None],
) -> str:
    """Decrypt secret `name` from its account data, preferring the default storage key.

    `key_descriptions` maps key ids to their `m.secret_storage.key.<id>` content (or None when
    missing). Each key id the secret is encrypted with is tried, default first; a key is used
    only if `storage_key` passes that key's check.
    """
    encrypted_map = secret_content.get("encrypted") if secret_content else None
    if not isinstance(encrypted_map, Mapping) or not encrypted_map:
        raise SecretStorageError(f"The account's secret storage holds no {name}")
    key_ids = sorted(encrypted_map, key=lambda key_id: key_id != default_key_id)
    last_error: SecretStorageError | None = None
    for key_id in key_ids:
        description = key_descriptions.get(key_id)
        entry = encrypted_map[key_id]
        if description is None or not isinstance(entry, Mapping):
            continue
        try:
            check_secret_storage_key(storage_key, description)
            return decrypt_secret(storage_key, name=name, encrypted=entry)
        except SecretStorageError as error:
            last_error = error
    if last_error is not None:
        raise last_error
    raise SecretStorageError(f"No usable secret storage key description for {name}")


# -- the key file ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossSigningKeys:
    """Private seeds of the bot's cross-signing keys; `master`/`user_signing` may be unknown.

    A full set is what the bot makes itself. After adopting an identity made elsewhere with
    a recovery key, only the self-signing seed is held: enough to sign the bot's own devices.
    """

    user_id: str
    self_signing: bytes = field(repr=False)
    master: bytes | None = field(default=None, repr=False)
    user_signing: bytes | None = field(default=None, repr=False)

    @classmethod
    def generate(cls, user_id: str) -> CrossSigningKeys:
        return cls(user_id, generate_seed(), generate_seed(), generate_seed())

    @property
    def master_public(self) -> str | None:
        return public_key(self.master) if self.master is not None else None

    @property
    def self_signing_public(self) -> str:
        return public_key(self.self_signing)

    @property
    def user_signing_public(self) -> str | None:
        return public_key(self.user_signing) if self.user_signing is not None else None

    @property
    def is_full_set(self) -> bool:
        return self.master is not None and self.user_signing is not None


def key_file_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEY_FILE_NAME


def save_key_file(data_dir: Path, keys: CrossSigningKeys) -> Path:
    """Write the key file atomically with mode 0600: a private temp file, then a rename."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    content: JsonDict = {
        "version": KEY_FILE_VERSION,
        "user_id": keys.user_id,
        "self_signing": encode_base64(keys.self_signing),
    }
    if keys.master is not None:
        content["master"] = encode_base64(keys.master)
    if keys.user_signing is not None:
        content["user_signing"] = encode_base64(keys.user_signing)
    path = key_file_path(data_dir)
    temp = data_dir / f".{KEY_FILE_NAME}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(content, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    with contextlib.suppress(OSError):  # make the rename durable where the platform allows it
        dir_fd = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def load_key_file(data_dir: Path) -> CrossSigningKeys | None:
    """Read the key file, or None if there is none. Raises CrossSigningError if it is broken."""
    path = key_file_path(data_dir)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CrossSigningError(f"Cannot read {path}: {error.strerror}") from None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o); restricting it to 0600", path, mode)
        path.chmod(0o600)

    def seed(content: Mapping[str, Any], name: str) -> bytes | None:
        value = content.get(name)
        if value is None:
            return None
        try:
            decoded = decode_base64(value) if isinstance(value, str) else b""
        except ValueError:
            decoded = b""
        if len(decoded) != SEED_BYTES:
            raise CrossSigningError(f"{path} is damaged: {name} is not a {SEED_BYTES}-byte key")
        return decoded

    try:
        content = json.loads(raw)
    except ValueError:
        raise CrossSigningError(f"{path} is not valid JSON") from None
    if not isinstance(content, dict) or content.get("version") != KEY_FILE_VERSION:
        raise CrossSigningError(f"{path} is not a version {KEY_FILE_VERSION} key file")
    user_id = content.get("user_id")
    self_signing = seed(content, "self_signing")
    if not isinstance(user_id, str) or self_signing is None:
        raise CrossSigningError(f"{path} is damaged: it lacks user_id or self_signing")
    return CrossSigningKeys(
        user_id=user_id,
        self_signing=self_signing,
        master=seed(content, "master"),
        user_signing=seed(content, "user_signing"),
    )


# -- the server's view ----------------------------------------------------------------------------


def _key_id(public_b64: str) -> str:
    return f"ed25519:{public_b64}"


def _cross_signing_key_object(
    user_id: str, usage: str, public_b64: str, signer: CrossSigningKeys | None = None
) -> JsonDict:
    obj: JsonDict = {
        "user_id": user_id,
        "usage": [usage],
        "keys": {_key_id(public_b64): public_b64},
    }
    if signer is not None:
        if signer.master is None:
            raise CrossSigningError("Signing a cross-signing key needs the master key")
        obj = sign_json(
            obj,
            user_id=user_id,
            key_id=_key_id(public_key(signer.master)),
            private_key=signer.master,
        )
    return obj


def _single_public_key(key_object: object, *, user_id: str, usage: str) -> str:
    """The public key inside a cross-signing key object from /keys/query, checked for shape."""
    if not isinstance(key_object, Mapping):
        raise CrossSigningError(f"The server returned a malformed {usage} key")
    keys = key_object.get("keys")
    usages = key_object.get("usage")
    if (
        key_object.get("user_id") != user_id
        or not isinstance(usages, list)
        or usage not in usages
        or not isinstance(keys, Mapping)
        or len(keys) != 1
    ):
        raise CrossSigningError(f"The server returned a malformed {usage} key")
    ((key_id, value),) = keys.items()
    if not isinstance(value, str) or key_id != _key_id(value):
        raise CrossSigningError(f"The server returned a malformed {usage} key")
    return value


@dataclass(frozen=True)
class _ServerIdentity:
    """What /keys/query says about the bot's own account."""

    device: JsonDict
    master: str | None
    self_signing: str | None
    self_signing_object: JsonDict | None


def _parse_query(reply: Mapping[str, Any], *, user_id: str, device_id: str) -> _ServerIdentity:
    devices = reply.get("device_keys", {}).get(user_id) or {}
    device = devices.get(device_id)
    if not isinstance(device, dict):
        raise CrossSigningError(
            f"Device {device_id} of {user_id} has no keys on the homeserver yet; "
            "upload them with nio's keys_upload() before setting up cross-signing"
        )
    master_object = reply.get("master_keys", {}).get(user_id)
    ssk_object = reply.get("self_signing_keys", {}).get(user_id)
    master = self_signing = None
    if master_object is not None:
        master = _single_public_key(master_object, user_id=user_id, usage="master")
    if ssk_object is not None:
        self_signing = _single_public_key(ssk_object, user_id=user_id, usage="self_signing")
    return _ServerIdentity(device, master, self_signing, ssk_object)


def _check_device_keys(
    identity: _ServerIdentity, *, user_id: str, device_id: str, device_ed25519_key: str | None
) -> None:
    """Refuse to cross-sign device keys that are not the device's own, self-signed keys."""
    device = identity.device
    own_key_id = f"ed25519:{device_id}"
    own_key = device.get("keys", {}).get(own_key_id)
    if device.get("user_id") != user_id or device.get("device_id") != device_id:
        raise CrossSigningError(f"The homeserver returned keys of another device for {device_id}")
    if not isinstance(own_key, str) or not verify_json(
        device, user_id=user_id, key_id=own_key_id, public_key_b64=own_key
    ):
        raise CrossSigningError(
            f"The keys of device {device_id} on the homeserver are not validly self-signed; "
            "not cross-signing them"
        )
    if device_ed25519_key is not None and own_key != device_ed25519_key:
        raise CrossSigningError(
            f"The homeserver holds a different Ed25519 key for device {device_id} than the "
            "bot's own; not cross-signing it"
        )


def _device_signed_by(identity: _ServerIdentity, *, user_id: str, ssk_public: str) -> bool:
    return verify_json(
        identity.device, user_id=user_id, key_id=_key_id(ssk_public), public_key_b64=ssk_public
    )


def _keys_match_server(keys: CrossSigningKeys, identity: _ServerIdentity) -> bool:
    if identity.self_signing != keys.self_signing_public:
        return False
    return keys.master is None or keys.master_public == identity.master


# -- HTTP -----------------------------------------------------------------------------------------


class _Homeserver:
    """The few client-server calls this module makes, with the bot's access token."""

    def __init__(self, session: aiohttp.ClientSession, homeserver: str, access_token: str) -> None:
        self._session = session
        self._base = homeserver.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}"}

    async def request(
        self, method: str, path: str, body: JsonDict | None = None
    ) -> tuple[int, JsonDict]:
        """Return (status, JSON object). Retries HTTP 429 a few times; never raises on status."""
        for attempt in range(_MAX_RATE_LIMIT_RETRIES + 1):
            try:
                async with self._session.request(
                    method, self._base + path, json=body, headers=self._headers
                ) as response:
                    status = response.status
                    try:
                        reply = await response.json(content_type=None)
                    except ValueError:
                        reply = None
            except (aiohttp.ClientError, TimeoutError) as error:
                raise CrossSigningError(
                    f"Cannot reach the homeserver for {method} {path}: {type(error).__name__}"
                ) from None
            if not isinstance(reply, dict):
                raise CrossSigningError(
                    f"{method} {path} returned HTTP {status} without a JSON object"
                )
            if status == 429 and attempt < _MAX_RATE_LIMIT_RETRIES:
                delay_ms = reply.get("retry_after_ms", 1000)
                delay = min(max(delay_ms if isinstance(delay_ms, int) else 1000, 100), 10_000)
                await asyncio.sleep(delay / 1000)
                continue
            return status, reply
        raise AssertionError("unreachable")

    async def call(self, method: str, path: str, body: JsonDict | None = None) -> JsonDict:
        """Like `request`, but any status other than 200 raises CrossSigningError."""
        status, reply = await self.request(method, path, body)
        if status != 200:
            raise _http_error(method, path, status, reply)
        return reply

    async def account_data(self, user_id: str, event_type: str) -> JsonDict | None:
        path = (
            f"/_matrix/client/v3/user/{quote(user_id, safe='')}"
            f"/account_data/{quote(event_type, safe='')}"
        )
        status, reply = await self.request("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise _http_error("GET", path, status, reply)
        return reply


def _http_error(method: str, path: str, status: int, reply: Mapping[str, Any]) -> CrossSigningError:
    errcode = reply.get("errcode", "")
    detail = reply.get("error", "")
    return CrossSigningError(f"{method} {path} failed: HTTP {status} {errcode} {detail}".rstrip())


# -- the steps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossSigningStatus:
    """What `ensure_cross_signing` found or did; `message` is meant for the operator's log."""

    state: Literal["created", "signed", "already-signed", "foreign-identity"]
    master_key: str | None  # unpadded base64 public key, for the fingerprint
    message: str  # one plain sentence for the operator log, never containing secrets


async def _query_own_keys(server: _Homeserver, *, user_id: str, device_id: str) -> _ServerIdentity:
    reply = await server.call(
        "POST", "/_matrix/client/v3/keys/query", {"device_keys": {user_id: []}}
    )
    return _parse_query(reply, user_id=user_id, device_id=device_id)


async def _upload_identity(
    server: _Homeserver, keys: CrossSigningKeys, *, password: str | None
) -> None:
    """Publish the three public keys, answering the server's password prompt if it asks."""
    if keys.master_public is None or keys.user_signing_public is None:
        raise CrossSigningError("Uploading a cross-signing identity needs all three keys")
    user_id = keys.user_id
    body: JsonDict = {
        "master_key": _cross_signing_key_object(user_id, "master", keys.master_public),
        "self_signing_key": _cross_signing_key_object(
            user_id, "self_signing", keys.self_signing_public, signer=keys
        ),
        "user_signing_key": _cross_signing_key_object(
            user_id, "user_signing", keys.user_signing_public, signer=keys
        ),
    }
    path = "/_matrix/client/v3/keys/device_signing/upload"
    status, reply = await server.request("POST", path, body)
    if status == 200:
        return
    if status != 401 or "flows" not in reply:
        raise _http_error("POST", path, status, reply)
    flows = reply.get("flows") or []
    password_flow = any(
        isinstance(flow, Mapping) and flow.get("stages") == ["m.login.password"] for flow in flows
    )
    if not password_flow:
        params = reply.get("params") or {}
        url = next(
            (p.get("url") for p in params.values() if isinstance(p, Mapping) and p.get("url")),
            None,
        )
        where = f" at {url}" if url else " in the account management of your homeserver"
        raise CrossSigningError(
            "The homeserver does not accept a password to replace the cross-signing keys; "
            f"approve the reset{where} and try again"
        )
    if password is None:
        raise CrossSigningError(
            "The homeserver asks for the account password to upload cross-signing keys: "
            "set MATRIX_PASSWORD for this run"
        )
    body["auth"] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user_id},
        "password": password,
        "session": reply.get("session"),
    }
    status, reply = await server.request("POST", path, body)
    if status == 401:
        raise CrossSigningError(
            "The homeserver rejected the account password while uploading cross-signing keys"
        )
    if status != 200:
        raise _http_error("POST", path, status, reply)


async def _sign_device(
    server: _Homeserver, identity: _ServerIdentity, keys: CrossSigningKeys, *, device_id: str
) -> None:
    user_id = keys.user_id
    ssk_public = keys.self_signing_public
    unsigned_device = {
        k: v for k, v in identity.device.items() if k not in ("signatures", "unsigned")
    }
    signed = sign_json(
        unsigned_device, user_id=user_id, key_id=_key_id(ssk_public), private_key=keys.self_signing
    )
    path = "/_matrix/client/v3/keys/signatures/upload"
    reply = await server.call("POST", path, {user_id: {device_id: signed}})
    failure = (reply.get("failures") or {}).get(user_id, {}).get(device_id)
    if failure is not None:
        detail = failure.get("errcode") or failure.get("error") or "rejected"
        raise CrossSigningError(
            f"The homeserver refused the signature of device {device_id}: {detail}"
        )


async def _adopt_with_recovery_key(
    server: _Homeserver, identity: _ServerIdentity, *, user_id: str, recovery_key: str
) -> CrossSigningKeys:
    """Get the self-signing seed for the server's identity from a recovery key or a raw key."""
    compact = "".join(recovery_key.split())
    if len(compact) in (43, 44):  # a raw self-signing key in base64, not a base58 recovery key
        try:
            seed = decode_base64(compact)
        except ValueError:
            raise RecoveryKeyError(
                f"{RECOVERY_KEY_ENV} is neither a recovery key nor a base64 self-signing key"
            ) from None
        if len(seed) != SEED_BYTES:
            raise RecoveryKeyError(f"{RECOVERY_KEY_ENV} is not a {SEED_BYTES}-byte base64 key")
        what = f"The self-signing key in {RECOVERY_KEY_ENV}"
    else:
        storage_key = decode_recovery_key(recovery_key)
        default = await server.account_data(user_id, "m.secret_storage.default_key")
        default_key_id = default.get("key") if default else None
        secret_content = await server.account_data(user_id, SELF_SIGNING_SECRET)
        encrypted = (secret_content or {}).get("encrypted")
        key_ids = set(encrypted) if isinstance(encrypted, Mapping) else set()
        if isinstance(default_key_id, str):
            key_ids.add(default_key_id)
        descriptions = {
            key_id: await server.account_data(user_id, f"m.secret_storage.key.{key_id}")
            for key_id in sorted(key_ids)
        }
        secret = read_secret_from_storage(
            storage_key,
            name=SELF_SIGNING_SECRET,
            secret_content=secret_content,
            default_key_id=default_key_id if isinstance(default_key_id, str) else None,
            key_descriptions=descriptions,
        )
        what = "The self-signing key from secret storage"
        seed = secret_to_seed(secret, what=what)
    if public_key(seed) != identity.self_signing:
        raise SecretStorageError(
            f"{what} is not the account's current self-signing key (the identity was replaced "
            f"after it was stored?); run `{RESET_COMMAND}` to make a new one"
        )
    if identity.master is None or not verify_json(
        identity.self_signing_object or {},
        user_id=user_id,
        key_id=_key_id(identity.master),
        public_key_b64=identity.master,
    ):
        raise CrossSigningError(
            "The account's self-signing key is not signed by its master key on the homeserver"
        )
    return CrossSigningKeys(user_id=user_id, self_signing=seed)


def _foreign_identity_message(user_id: str, master: str) -> str:
    return (
        f"{user_id} already has a cross-signing identity (master key {fingerprint(master)}) "
        "whose keys this bot does not hold, so its device stays unverified and Element may "
        f"withhold room keys from it: set {RECOVERY_KEY_ENV} to the account's recovery key from "
        f"Element, or run `{RESET_COMMAND}` to replace the identity (people who verified the bot "
        "will have to verify it again)."
    )


async def _create_identity(
    server: _Homeserver,
    *,
    user_id: str,
    data_dir: Path,
    password: str | None,
    keys: CrossSigningKeys | None,
    previous: CrossSigningKeys | None,
) -> CrossSigningKeys:
    """Save (if new) then upload an identity; on a refused upload, restore the old key file."""
    if keys is None:
        keys = CrossSigningKeys.generate(user_id)
        await asyncio.to_thread(save_key_file, data_dir, keys)
    try:
        await _upload_identity(server, keys, password=password)
    except CrossSigningError:
        if previous is not None and previous is not keys:
            await asyncio.to_thread(save_key_file, data_dir, previous)
        raise
    return keys


async def ensure_cross_signing(
    *,
    homeserver: str,
    access_token: str,
    user_id: str,
    device_id: str,
    password: str | None,
    data_dir: Path,
    recovery_key: str | None = None,
    reset: bool = False,
    device_ed25519_key: str | None = None,
) -> CrossSigningStatus:
    """Make sure `device_id` is cross-signed by the bot's own identity (see the module doc).

    `password` is used only when the server asks for it (replacing an identity). Pass nio's
    `client.olm.account.identity_keys["ed25519"]` as `device_ed25519_key` to refuse signing
    device keys the homeserver might have swapped.

    Raises CrossSigningError (RecoveryKeyError for a malformed recovery key, SecretStorageError
    when secret storage does not yield the account's self-signing key) with a loggable message.
    A failed replacement (wrong password, say) puts the previous key file back.
    """
    if reset and password is None:
        raise CrossSigningError(
            "Replacing the cross-signing identity needs the account password (MATRIX_PASSWORD)"
        )
    stored = await asyncio.to_thread(load_key_file, data_dir)
    if stored is not None and stored.user_id != user_id:
        raise CrossSigningError(
            f"{key_file_path(data_dir)} belongs to {stored.user_id}, not {user_id}; "
            "use the data dir of this account"
        )
    async with aiohttp.ClientSession(timeout=_HTTP_TIMEOUT) as session:
        server = _Homeserver(session, homeserver, access_token)
        identity = await _query_own_keys(server, user_id=user_id, device_id=device_id)
        _check_device_keys(
            identity, user_id=user_id, device_id=device_id, device_ed25519_key=device_ed25519_key
        )

        if reset or identity.master is None:
            reuse = stored if (not reset and stored is not None and stored.is_full_set) else None
            keys = await _create_identity(
                server,
                user_id=user_id,
                data_dir=data_dir,
                password=password,
                keys=reuse,
                previous=stored,
            )
            await _sign_device(server, identity, keys, device_id=device_id)
            master = keys.master_public
            assert master is not None
            verb = "Replaced" if reset else "Created"
            log.info("cross-signing identity %s for %s", verb.lower(), user_id)
            return CrossSigningStatus(
                "created",
                master,
                f"{verb} the cross-signing identity of {user_id} (master key "
                f"{fingerprint(master)}) and signed device {device_id} with it.",
            )

        master = identity.master
        if stored is not None and _keys_match_server(stored, identity):
            keys = stored
        elif recovery_key is not None:
            keys = await _adopt_with_recovery_key(
                server, identity, user_id=user_id, recovery_key=recovery_key
            )
            await asyncio.to_thread(save_key_file, data_dir, keys)
            log.info("adopted the existing cross-signing identity of %s", user_id)
        else:
            return CrossSigningStatus(
                "foreign-identity", master, _foreign_identity_message(user_id, master)
            )

        if _device_signed_by(identity, user_id=user_id, ssk_public=keys.self_signing_public):
            return CrossSigningStatus(
                "already-signed",
                master,
                f"Device {device_id} is already cross-signed by {user_id} (master key "
                f"{fingerprint(master)}).",
            )
        await _sign_device(server, identity, keys, device_id=device_id)
        return CrossSigningStatus(
            "signed",
            master,
            f"Signed device {device_id} with the cross-signing identity of {user_id} (master key "
            f"{fingerprint(master)}).",
        )
