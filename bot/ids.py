"""Typed Matrix identifiers, so a room id is never passed where an event id belongs."""

from typing import NewType

RoomID = NewType("RoomID", str)
EventID = NewType("EventID", str)
UserID = NewType("UserID", str)
