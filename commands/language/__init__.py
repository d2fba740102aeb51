"""Languages: `!language` in any room, `!alliance set language` in a commons, and the timer
that gives each movement room its alliance's default language (`commands.language.choosing`)."""

from bot.contract import Registry
from commands.language import choosing


def register(registry: Registry) -> None:
    choosing.register(registry)
