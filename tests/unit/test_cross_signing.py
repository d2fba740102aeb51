"""Pure parts of cross-signing: canonical JSON, signatures, recovery keys, secret storage, key file.

Where it matters, the expected values come from the Matrix spec (appendices: canonical JSON
examples and the JSON-signing test vectors) or from an independent implementation written here
(base58 encoder, RFC 5869 HKDF with `hmac`, AES-CTR and Ed25519 from pycryptodome).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from Crypto.Cipher import AES
from Crypto.Signature import eddsa

from bot import cross_signing as cs

# -- independent reference implementations used by the tests -------------------------------------

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = BASE58[digit] + out
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + out


def encode_recovery_key(key: bytes, *, prefix: bytes = b"\x8b\x01", fix_parity: bool = True) -> str:
    """The spec's cryptographic key representation, as Element shows it (groups of 4)."""
    raw = prefix + key
    parity = 0
    for byte in raw:
        parity ^= byte
    text = base58_encode(raw + bytes([parity if fix_parity else parity ^ 0x01]))
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def hkdf_sha256(key: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869, written out with `hmac` so the module's HKDF is checked against it."""
    prk = hmac.new(salt, key, hashlib.sha256).digest()
    block, out, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def b64(data: bytes, *, padded: bool = False) -> str:
    import base64

    text = base64.b64encode(data).decode()
    return text if padded else text.rstrip("=")


def ssss_encrypt(
    storage_key: bytes,
    name: str,
    plaintext: str,
    *,
    salt: bytes = bytes(32),
    padded: bool = False,
) -> dict[str, str]:
    """Encrypt like the spec's m.secret_storage.v1.aes-hmac-sha2 (pycryptodome AES-CTR)."""
    material = hkdf_sha256(storage_key, salt=salt, info=name.encode(), length=64)
    aes_key, mac_key = material[:32], material[32:]
    iv = bytearray(os.urandom(16))
    iv[8] &= 0x7F  # clear bit 63, as the spec asks
    cipher = AES.new(aes_key, AES.MODE_CTR, nonce=b"", initial_value=bytes(iv))
    ciphertext = cipher.encrypt(plaintext.encode())
    mac = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    return {
        "iv": b64(bytes(iv), padded=padded),
        "ciphertext": b64(ciphertext, padded=padded),
        "mac": b64(mac, padded=padded),
    }


def ssss_key_description(storage_key: bytes) -> dict[str, str]:
    """The `m.secret_storage.key.*` content: iv plus the MAC of 32 encrypted zero bytes."""
    check = ssss_encrypt(storage_key, "", "\x00" * 32)
    return {
        "algorithm": "m.secret_storage.v1.aes-hmac-sha2",
        "iv": check["iv"],
        "mac": check["mac"],
    }


# -- unpadded base64 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [(b"", ""), (b"f", "Zg"), (b"fo", "Zm8"), (b"foo", "Zm9v"), (b"foobar", "Zm9vYmFy")],
)
def test_unpadded_base64_matches_the_spec_examples(raw: bytes, encoded: str) -> None:
    assert cs.encode_base64(raw) == encoded
    assert cs.decode_base64(encoded) == raw


def test_base64_decoding_accepts_padding_and_rejects_garbage() -> None:
    assert cs.decode_base64("Zg==") == b"f"
    with pytest.raises(ValueError, match="base64"):
        cs.decode_base64("Z")
    with pytest.raises(ValueError, match="base64"):
        cs.decode_base64("Zm9v!")


# -- canonical JSON -------------------------------------------------------------------------------


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert cs.canonical_json({}) == b"{}"
    assert cs.canonical_json({"two": "Two", "one": 1}) == b'{"one":1,"two":"Two"}'
    assert cs.canonical_json({"b": "2", "a": "1"}) == b'{"a":"1","b":"2"}'
    assert cs.canonical_json({"a": None, "b": [1, True, False]}) == (
        b'{"a":null,"b":[1,true,false]}'
    )


def test_canonical_json_nested_example_from_the_spec() -> None:
    value = {
        "auth": {
            "success": True,
            "mxid": "@john.doe:example.com",
            "profile": {
                "display_name": "John Doe",
                "three_pids": [
                    {"medium": "email", "address": "john.doe@example.org"},
                    {"medium": "msisdn", "address": "123456789"},
                ],
            },
        }
    }
    expected = (
        '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",'
        '"three_pids":[{"address":"john.doe@example.org","medium":"email"},'
        '{"address":"123456789","medium":"msisdn"}]},"success":true}}'
    )
    assert cs.canonical_json(value) == expected.encode()


def test_canonical_json_writes_unicode_as_utf8_and_sorts_by_code_point() -> None:
    assert cs.canonical_json({"a": "日本語"}) == '{"a":"日本語"}'.encode()
    assert cs.canonical_json({"本": 2, "日": 1}) == '{"日":1,"本":2}'.encode()
    assert cs.canonical_json(json.loads('{"a": "\\u65E5"}')) == '{"a":"日"}'.encode()
    # Only the escapes the grammar allows: control characters as \u00xx in lower case.
    assert cs.canonical_json({"a": "\x1f\n"}) == b'{"a":"\\u001f\\n"}'


@pytest.mark.parametrize("value", [1.5, {"a": 1.0}, {"a": [{"b": 0.1}]}, {"a": float("nan")}])
def test_canonical_json_refuses_floats(value: Any) -> None:
    with pytest.raises(ValueError, match="float"):
        cs.canonical_json(value)


def test_canonical_json_refuses_unsafe_integers_and_odd_types() -> None:
    assert cs.canonical_json({"a": 2**53 - 1}) == b'{"a":9007199254740991}'
    with pytest.raises(ValueError, match="range"):
        cs.canonical_json({"a": 2**53})
    with pytest.raises(TypeError):
        cs.canonical_json({1: "a"})
    with pytest.raises(TypeError):
        cs.canonical_json({"a": b"bytes"})


# -- signing --------------------------------------------------------------------------------------

SPEC_SEED = cs.decode_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")


def test_sign_json_reproduces_the_spec_test_vectors() -> None:
    empty = cs.sign_json({}, user_id="domain", key_id="ed25519:1", private_key=SPEC_SEED)
    assert empty == {
        "signatures": {
            "domain": {
                "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/"
                "7Xg4ahLwYGYZzuHGZKM5ZAQ"
            }
        }
    }
    data = cs.sign_json(
        {"one": 1, "two": "Two"}, user_id="domain", key_id="ed25519:1", private_key=SPEC_SEED
    )
    assert data["signatures"]["domain"]["ed25519:1"] == (
        "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
    )


def test_sign_json_leaves_out_signatures_and_unsigned_and_keeps_them() -> None:
    seed = cs.generate_seed()
    public = cs.public_key(seed)
    original: dict[str, Any] = {
        "user_id": "@bot:example.org",
        "keys": {"ed25519:DEV": "abc"},
        "signatures": {"@bot:example.org": {"ed25519:DEV": "devsig"}},
        "unsigned": {"device_display_name": "bot"},
    }
    signed = cs.sign_json(
        original, user_id="@bot:example.org", key_id=f"ed25519:{public}", private_key=seed
    )
    assert signed["unsigned"] == original["unsigned"]
    assert signed["signatures"]["@bot:example.org"]["ed25519:DEV"] == "devsig"
    assert "ed25519:" + public not in original["signatures"]["@bot:example.org"]  # not mutated
    # The signature covers exactly the object without signatures/unsigned: check it with
    # pycryptodome's Ed25519, independently of the module.
    payload = cs.canonical_json(
        {k: v for k, v in original.items() if k not in ("signatures", "unsigned")}
    )
    verifier = eddsa.new(eddsa.import_public_key(cs.decode_base64(public)), "rfc8032")
    verifier.verify(
        payload, cs.decode_base64(signed["signatures"]["@bot:example.org"][f"ed25519:{public}"])
    )


def test_verify_json_round_trip_and_tamper_detection() -> None:
    seed = cs.generate_seed()
    public = cs.public_key(seed)
    key_id = f"ed25519:{public}"
    obj = {"user_id": "@a:b", "usage": ["self_signing"], "keys": {key_id: public}}
    signed = cs.sign_json(obj, user_id="@a:b", key_id=key_id, private_key=seed)
    assert cs.verify_json(signed, user_id="@a:b", key_id=key_id, public_key_b64=public)

    # unsigned data and other signatures may change without breaking the signature
    extra = {**signed, "unsigned": {"x": 1}}
    extra["signatures"] = {**signed["signatures"], "@c:d": {"ed25519:X": "sig"}}
    assert cs.verify_json(extra, user_id="@a:b", key_id=key_id, public_key_b64=public)

    tampered = {**signed, "usage": ["master"]}
    assert not cs.verify_json(tampered, user_id="@a:b", key_id=key_id, public_key_b64=public)
    added = {**signed, "device_id": "EVIL"}
    assert not cs.verify_json(added, user_id="@a:b", key_id=key_id, public_key_b64=public)
    other = cs.public_key(cs.generate_seed())
    assert not cs.verify_json(signed, user_id="@a:b", key_id=key_id, public_key_b64=other)
    assert not cs.verify_json(signed, user_id="@x:b", key_id=key_id, public_key_b64=public)
    assert not cs.verify_json(signed, user_id="@a:b", key_id="ed25519:nope", public_key_b64=public)
    broken = json.loads(json.dumps(signed))
    sig = broken["signatures"]["@a:b"][key_id]
    broken["signatures"]["@a:b"][key_id] = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert not cs.verify_json(broken, user_id="@a:b", key_id=key_id, public_key_b64=public)
    assert not cs.verify_json({"a": 1}, user_id="@a:b", key_id=key_id, public_key_b64=public)


def test_fingerprint_groups_of_four() -> None:
    assert cs.fingerprint("abcdefghij") == "abcd efgh ij"
    assert len(cs.fingerprint(cs.public_key(SPEC_SEED)).split()) == 11


# -- recovery keys --------------------------------------------------------------------------------


def test_recovery_key_round_trip() -> None:
    for _ in range(20):
        key = os.urandom(32)
        text = encode_recovery_key(key)
        assert len(text.replace(" ", "")) == 48
        assert cs.decode_recovery_key(text) == key
        assert cs.decode_recovery_key(text.replace(" ", "")) == key
        assert cs.decode_recovery_key(f"  {text[:20]}\n{text[20:]}  ") == key
    assert cs.decode_recovery_key(encode_recovery_key(bytes(32))) == bytes(32)


def test_recovery_key_parity_errors_are_detected() -> None:
    key = os.urandom(32)
    with pytest.raises(cs.RecoveryKeyError, match="parity"):
        cs.decode_recovery_key(encode_recovery_key(key, fix_parity=False))
    # A typo in one character changes the bytes; the parity byte catches single-byte changes.
    text = encode_recovery_key(key).replace(" ", "")
    caught = 0
    for position in range(4, len(text)):
        replacement = "2" if text[position] != "2" else "3"
        typo = text[:position] + replacement + text[position + 1 :]
        try:
            decoded = cs.decode_recovery_key(typo)
        except cs.RecoveryKeyError:
            caught += 1
        else:
            assert decoded != key
    assert caught >= len(text) - 4 - 2  # almost every typo is refused outright


def test_recovery_key_rejects_wrong_prefix_length_and_alphabet() -> None:
    with pytest.raises(cs.RecoveryKeyError, match="prefix"):
        cs.decode_recovery_key(encode_recovery_key(os.urandom(32), prefix=b"\x8b\x02"))
    with pytest.raises(cs.RecoveryKeyError, match="length"):
        cs.decode_recovery_key(encode_recovery_key(os.urandom(31)))
    with pytest.raises(cs.RecoveryKeyError, match="character"):
        cs.decode_recovery_key("EsT0 " + encode_recovery_key(os.urandom(32))[5:])
    assert isinstance(cs.RecoveryKeyError("x"), ValueError)


# -- secret storage -------------------------------------------------------------------------------


def test_decrypt_secret_round_trip() -> None:
    storage_key = os.urandom(32)
    seed_b64 = b64(os.urandom(32), padded=True)
    encrypted = ssss_encrypt(storage_key, "m.cross_signing.self_signing", seed_b64)
    plain = cs.decrypt_secret(storage_key, name="m.cross_signing.self_signing", encrypted=encrypted)
    assert plain == seed_b64
    assert len(cs.secret_to_seed(plain, what="the secret")) == 32


def test_decrypt_secret_accepts_padded_base64_and_element_s_8_byte_zero_salt() -> None:
    storage_key = os.urandom(32)
    padded = ssss_encrypt(storage_key, "name", "hello", padded=True)
    assert cs.decrypt_secret(storage_key, name="name", encrypted=padded) == "hello"
    # matrix-js-sdk passes 8 zero bytes as salt; HMAC pads keys with zeros, so it is the same.
    short_salt = ssss_encrypt(storage_key, "name", "hello", salt=bytes(8))
    assert cs.decrypt_secret(storage_key, name="name", encrypted=short_salt) == "hello"


def test_decrypt_secret_refuses_wrong_key_wrong_name_and_tampering() -> None:
    storage_key = os.urandom(32)
    encrypted = ssss_encrypt(storage_key, "name", "secret text")
    with pytest.raises(cs.SecretStorageError, match="integrity"):
        cs.decrypt_secret(os.urandom(32), name="name", encrypted=encrypted)
    with pytest.raises(cs.SecretStorageError, match="integrity"):
        cs.decrypt_secret(storage_key, name="other", encrypted=encrypted)
    ciphertext = bytearray(cs.decode_base64(encrypted["ciphertext"]))
    ciphertext[0] ^= 1
    tampered = {**encrypted, "ciphertext": b64(bytes(ciphertext))}
    with pytest.raises(cs.SecretStorageError, match="integrity"):
        cs.decrypt_secret(storage_key, name="name", encrypted=tampered)
    with pytest.raises(cs.SecretStorageError, match="mac"):
        cs.decrypt_secret(storage_key, name="name", encrypted={**encrypted, "mac": None})


def test_secret_storage_key_check() -> None:
    storage_key = os.urandom(32)
    description = ssss_key_description(storage_key)
    cs.check_secret_storage_key(storage_key, description)
    with pytest.raises(cs.SecretStorageError, match="wrong recovery key"):
        cs.check_secret_storage_key(os.urandom(32), description)
    # Without iv/mac the key cannot be checked and must be assumed valid (spec).
    cs.check_secret_storage_key(os.urandom(32), {"algorithm": cs.SECRET_STORAGE_ALGORITHM})
    with pytest.raises(cs.SecretStorageError, match="algorithm"):
        cs.check_secret_storage_key(storage_key, {**description, "algorithm": "m.other"})


def test_read_secret_prefers_the_default_key_and_falls_back_to_others() -> None:
    storage_key, other_key = os.urandom(32), os.urandom(32)
    name = cs.SELF_SIGNING_SECRET
    content = {
        "encrypted": {
            "other": ssss_encrypt(other_key, name, "from other"),
            "default": ssss_encrypt(storage_key, name, "from default"),
        }
    }
    descriptions = {
        "default": ssss_key_description(storage_key),
        "other": ssss_key_description(other_key),
    }
    read = cs.read_secret_from_storage
    assert (
        read(
            storage_key,
            name=name,
            secret_content=content,
            default_key_id="default",
            key_descriptions=descriptions,
        )
        == "from default"
    )
    assert (
        read(
            other_key,
            name=name,
            secret_content=content,
            default_key_id="default",
            key_descriptions=descriptions,
        )
        == "from other"
    )
    with pytest.raises(cs.SecretStorageError, match="wrong recovery key"):
        read(
            os.urandom(32),
            name=name,
            secret_content=content,
            default_key_id="default",
            key_descriptions=descriptions,
        )
    with pytest.raises(cs.SecretStorageError, match="holds no"):
        read(
            storage_key,
            name=name,
            secret_content=None,
            default_key_id="default",
            key_descriptions=descriptions,
        )


def test_secret_to_seed_refuses_wrong_sizes() -> None:
    with pytest.raises(cs.SecretStorageError, match="32-byte"):
        cs.secret_to_seed(b64(os.urandom(16)), what="the secret")
    with pytest.raises(cs.SecretStorageError, match="base64"):
        cs.secret_to_seed("not base64!", what="the secret")


# -- key file -------------------------------------------------------------------------------------


def test_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    keys = cs.CrossSigningKeys.generate("@bot:example.org")
    data_dir = tmp_path / "data"
    path = cs.save_key_file(data_dir, keys)
    assert path == data_dir / "cross_signing.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == ["cross_signing.json"]  # no temp file left
    assert cs.load_key_file(data_dir) == keys
    content = json.loads(path.read_text())
    assert set(content) == {"version", "user_id", "master", "self_signing", "user_signing"}
    assert "=" not in content["master"]
    # overwrite keeps the mode
    cs.save_key_file(data_dir, cs.CrossSigningKeys.generate("@bot:example.org"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_file_with_only_the_self_signing_key(tmp_path: Path) -> None:
    keys = cs.CrossSigningKeys("@bot:example.org", self_signing=cs.generate_seed())
    cs.save_key_file(tmp_path, keys)
    loaded = cs.load_key_file(tmp_path)
    assert loaded == keys
    assert loaded is not None
    assert loaded.master is None
    assert not loaded.is_full_set
    assert loaded.master_public is None


def test_key_file_missing_damaged_and_too_open(tmp_path: Path) -> None:
    assert cs.load_key_file(tmp_path) is None
    path = tmp_path / "cross_signing.json"
    path.write_text("{not json")
    with pytest.raises(cs.CrossSigningError, match="not valid JSON"):
        cs.load_key_file(tmp_path)
    path.write_text(json.dumps({"version": 1, "user_id": "@a:b", "self_signing": "AAAA"}))
    with pytest.raises(cs.CrossSigningError, match="32-byte"):
        cs.load_key_file(tmp_path)
    seed = cs.generate_seed()
    path.write_text(json.dumps({"version": 1, "user_id": "@a:b", "self_signing": b64(seed)}))
    path.chmod(0o644)
    assert cs.load_key_file(tmp_path) == cs.CrossSigningKeys("@a:b", self_signing=seed)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keys_never_show_in_repr() -> None:
    keys = cs.CrossSigningKeys.generate("@bot:example.org")
    text = repr(keys)
    assert keys.master is not None
    for seed in (keys.master, keys.self_signing):
        assert cs.encode_base64(seed) not in text
        assert repr(seed) not in text
