"""The relay family: threads a movement shares with its alliance, carried between rooms.

`commands` (`!share`, `!follow`, ... and the departures timer; its docstring tells how a shared
thread lives), `copies` (the listener and the making of each copy, once and in order), SQL in
`store`, the pure making of a copy's content in `content`.
"""

from commands.relay.commands import register

__all__ = ["register"]
