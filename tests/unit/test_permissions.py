"""Who may run which command: power levels read from room state, room v12 creators included."""

from __future__ import annotations

from typing import Any

import pytest

from bot.contract import Words
from bot.events import Event
from bot.ids import EventID, RoomID, UserID
from bot.permissions import UNLIMITED, Power, creators_have_unlimited_power, power_of, who_may
from bot.render import Renderer
from bot.rooms import RoomState

ROOM = RoomID("!room:hs")
CREATOR = "@creator:hs"
CO_CREATOR = "@co:hs"
ALICE = "@alice:hs"


def state(
    event_type: str, content: dict[str, Any], *, sender: str = CREATOR, key: str = ""
) -> Event:
    return Event(
        event_id=EventID(f"${event_type}-{len(content)}"),
        room_id=ROOM,
        sender=UserID(sender),
        type=event_type,
        ts=0,
        content=content,
        state_key=key,
    )


def room(version: str, *, power_levels: dict[str, Any] | None = None, **create: Any) -> RoomState:
    """A room created by CREATOR in `version`, with these power levels (if any)."""
    result = RoomState(ROOM)
    result.apply(state("m.room.create", {"room_version": version, **create}))
    if power_levels is not None:
        result.apply(state("m.room.power_levels", power_levels))
    return result


# --- room version 12: creators ----------------------------------------------------------------


def test_v12_creator_is_admin_even_when_power_levels_say_zero() -> None:
    r = room("12", power_levels={"users": {CREATOR: 0}, "users_default": 0})
    assert r.level(CREATOR) == UNLIMITED
    assert r.power(CREATOR) == Power.ADMIN


def test_v12_additional_creators_are_admins_too() -> None:
    r = room(
        "12",
        additional_creators=[CO_CREATOR],
        power_levels={"users": {CO_CREATOR: 0}},
    )
    assert r.power(CO_CREATOR) == Power.ADMIN
    assert r.power(ALICE) == Power.MEMBER


def test_additional_creators_ignores_entries_that_are_not_user_ids() -> None:
    r = room("12", additional_creators=[CO_CREATOR, 42, None], power_levels={})
    assert r.power(CO_CREATOR) == Power.ADMIN


@pytest.mark.parametrize(
    ("version", "unlimited"),
    [
        ("12", True),
        ("13", True),
        ("org.matrix.hydra.11", True),
        ("11", False),
        ("10", False),
        ("1", False),
        ("org.example.custom", False),
    ],
)
def test_which_room_versions_give_creators_unlimited_power(version: str, unlimited: bool) -> None:
    assert creators_have_unlimited_power(version) is unlimited
    r = room(version, power_levels={"users": {CREATOR: 0}})
    assert (r.power(CREATOR) == Power.ADMIN) is unlimited


# --- older rooms: power_levels decide ---------------------------------------------------------


def test_v11_creator_has_only_what_power_levels_give() -> None:
    r = room("11", power_levels={"users": {CREATOR: 100}})
    assert r.level(CREATOR) == 100
    assert r.power(CREATOR) == Power.MODERATOR


def test_v11_creator_demoted_to_zero_is_a_member() -> None:
    r = room("11", power_levels={"users": {ALICE: 100}})
    assert r.power(CREATOR) == Power.MEMBER


def test_v11_additional_creators_mean_nothing() -> None:
    r = room("11", additional_creators=[CO_CREATOR], power_levels={})
    assert r.power(CO_CREATOR) == Power.MEMBER


def test_no_room_version_means_version_1() -> None:
    r = RoomState(ROOM)
    r.apply(state("m.room.create", {}))
    r.apply(state("m.room.power_levels", {"users": {CREATOR: 10}}))
    assert r.level(CREATOR) == 10


def test_without_power_levels_the_creator_has_100_and_others_0() -> None:
    r = room("11")
    assert r.level(CREATOR) == 100
    assert r.level(ALICE) == 0
    assert r.power(CREATOR) == Power.MODERATOR


def test_users_default_applies_to_anyone_not_listed() -> None:
    r = room("11", power_levels={"users": {CREATOR: 100}, "users_default": 50})
    assert r.level(ALICE) == 50
    assert r.power(ALICE) == Power.MODERATOR


def test_string_levels_from_old_rooms_are_read_as_numbers() -> None:
    r = room("1", power_levels={"users": {ALICE: " 50 "}, "users_default": "10"})
    assert r.level(ALICE) == 50
    assert r.level("@bob:hs") == 10


def test_nonsense_levels_count_as_zero() -> None:
    r = room("11", power_levels={"users": {ALICE: "lots", "@bob:hs": True}})
    assert r.level(ALICE) == 0
    assert r.level("@bob:hs") == 0


def test_a_later_power_levels_event_replaces_the_earlier_one() -> None:
    r = room("11", power_levels={"users": {CREATOR: 100, ALICE: 50}, "users_default": 0})
    assert r.power(ALICE) == Power.MODERATOR
    r.apply(state("m.room.power_levels", {"users": {CREATOR: 100}, "users_default": 0}))
    assert r.level(ALICE) == 0
    assert r.power(ALICE) == Power.MEMBER


def test_power_levels_with_a_state_key_are_not_the_rooms() -> None:
    r = room("11", power_levels={"users": {ALICE: 50}})
    r.apply(state("m.room.power_levels", {"users": {}}, key="something"))
    assert r.level(ALICE) == 50


# --- levels to command power ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "power"),
    [
        (0, Power.MEMBER),
        (49, Power.MEMBER),
        (50, Power.MODERATOR),
        (100, Power.MODERATOR),
        (9000, Power.MODERATOR),
        (UNLIMITED, Power.ADMIN),
        (-10, Power.MEMBER),
    ],
)
def test_level_thresholds(level: float, power: Power) -> None:
    assert power_of(level) == power


def test_a_bot_admin_holds_only_the_power_the_room_gives() -> None:
    # MULTILOGUE_ADMINS administer the bot; they do not act for a movement whose room gave
    # them no power (power_of no longer even hears of them).
    r = room("11", power_levels={"users": {CREATOR: 100}})
    assert r.power(ALICE) == Power.MEMBER


# --- state events -----------------------------------------------------------------------------


def test_who_may_send_a_state_event_follows_its_entry_then_state_default() -> None:
    levels = {"users": {ALICE: 50}, "state_default": 50, "events": {"m.space.parent": 100}}
    v11 = room("11", power_levels=levels)
    assert not v11.may_send_state(ALICE, "m.space.parent")  # its own entry: 100
    assert v11.may_send_state(ALICE, "m.room.topic")  # state_default: 50
    assert not v11.may_send_state("@bob:hs", "m.room.topic")
    assert room("12", power_levels=levels).may_send_state(CREATOR, "m.space.parent")
    lenient = room("11", power_levels={"users": {}, "state_default": 0})
    assert lenient.may_send_state("@bob:hs", "m.space.parent")
    assert room("11").may_send_state("@bob:hs", "m.space.parent")  # no power levels at all


# --- who holds a power, in words (templates/refusals/power.txt) ---------------------------------


@pytest.mark.parametrize(
    ("power", "version", "words"),
    [
        (Power.MEMBER, "11", "anyone in the room"),
        (Power.MODERATOR, "11", "a moderator of this room (power level 50 or more)"),
        (Power.MODERATOR, "12", "a moderator of this room (power level 50 or more)"),
        (Power.ADMIN, "12", "a creator of this room"),
        (Power.ADMIN, "org.matrix.hydra.11", "a creator of this room"),
        (Power.ADMIN, "11", "a creator of this room (rooms of version 12 and later)"),
    ],
)
def test_who_may_names_who_holds_a_power(power: Power, version: str, words: str) -> None:
    assert Renderer().say(Words(who_may(power, room_version=version))) == words
