"""Which events of a room the bot joined in this sync are for it to answer."""

from __future__ import annotations

from typing import Any

import pytest

from bot.events import LATEST_TS, Event, RoomUpdate, timestamp


def update(*, invited_at: int | None, joined_at: int | None, limited: bool) -> RoomUpdate:
    return RoomUpdate(invited_at=invited_at, joined_at=joined_at, limited=limited)


@pytest.mark.parametrize(
    ("invited_at", "joined_at", "limited", "first"),
    [
        (None, None, False, 0),  # an ordinary sync: everything is new
        (3, 7, False, 4),  # typed after the invite, before the join: answered
        (None, 5, False, 6),  # no invite seen and the whole history is here: after the join
        (None, 5, True, 0),  # the invite is older than the window: all of it came later
        (8, 2, False, 3),  # an invite after the join (left and re-invited): after the join
    ],
)
def test_first_new_event(
    invited_at: int | None, joined_at: int | None, limited: bool, first: int
) -> None:
    assert (
        update(invited_at=invited_at, joined_at=joined_at, limited=limited).first_new_event()
        == first
    )


def test_events_round_trip_through_json_for_the_inbox() -> None:
    source = {
        "event_id": "$e",
        "sender": "@a:x",
        "type": "m.room.redaction",
        "origin_server_ts": 5,
        "content": {"redacts": "$old"},
    }
    event = Event.from_source("!r:x", source, encrypted=True)

    again = Event.from_json(event.to_json())

    assert again == event
    assert again.redacts == "$old"
    assert again.encrypted is True


def test_a_fallback_reply_inside_a_thread_is_not_a_reply() -> None:
    content = {
        "body": "x",
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": "$root",
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": "$latest"},
        },
    }
    event = Event.from_source("!r", {"event_id": "$e", "content": content}, encrypted=False)

    assert event.thread_root == "$root"
    assert event.reply_to is None


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (1_764_000_000_000, 1_764_000_000_000),
        (1.764e12, 1_764_000_000_000),
        ("1764000000000", 0),
        ("yesterday", 0),
        ([1], 0),
        (None, 0),
        (True, 0),
        (float("nan"), 0),
        (-5, 0),
        (2**53 - 1, LATEST_TS),
    ],
)
def test_a_timestamp_from_a_server_is_a_usable_number_whatever_was_sent(
    sent: object, kept: int
) -> None:
    event = Event.from_source(
        "!r:hs", {"event_id": "$e", "origin_server_ts": sent}, encrypted=False
    )
    assert event.ts == kept
    assert timestamp(sent) == kept


# -- decrypted payloads ------------------------------------------------------------------------


def decrypted(**fields: Any) -> dict[str, Any]:
    """A payload as nio hands it back decrypted: the sender's JSON plus what nio sets."""
    return {
        "event_id": "$e",
        "sender": "@mallory:hs",
        "origin_server_ts": 1,
        "room_id": "!room",
        "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": "hi"},
        **fields,
    }


@pytest.mark.parametrize(
    "forged",
    [
        {"type": "m.room.power_levels", "state_key": "", "content": {"users": {"@m:hs": 100}}},
        {"type": "m.room.create", "content": {"room_version": "12"}},
        {"type": "m.room.member", "state_key": "@bob:hs", "content": {"membership": "leave"}},
        {"type": "m.room.member", "content": {"membership": "join", "displayname": "Admin"}},
        {"type": "org.example.custom_state", "state_key": "x", "content": {}},
        {"type": "m.room.redaction", "redacts": "$vote", "content": {"redacts": "$vote"}},
        {"room_id": "!another-room"},
    ],
    ids=[
        "power levels",
        "create",
        "member leave",
        "member no key",
        "custom state",
        "redaction",
        "other room",
    ],
)
def test_a_decrypted_payload_that_claims_what_only_the_server_can_is_dropped(
    forged: dict[str, Any],
) -> None:
    assert Event.from_decrypted("!room", decrypted(**forged)) is None


def test_a_decrypted_message_is_kept_but_carries_no_state_key_or_redaction() -> None:
    event = Event.from_decrypted(
        "!room", decrypted(content={"msgtype": "m.text", "body": "hi", "redacts": "$vote"})
    )
    assert event is not None
    assert event.encrypted
    assert event.state_key is None
    assert event.redacts is None
    assert event.room_id == "!room"
