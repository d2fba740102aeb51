"""Room upgrades: the bot follows a room that was replaced (`follow`; SQL in `store`)."""

from commands.upgrades.follow import register

__all__ = ["register"]
