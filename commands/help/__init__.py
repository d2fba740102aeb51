"""Help and the bot itself: `!help` (`commands`), `!ping`, `!whoami`, `!about` (`about`)."""

from bot.contract import Registry
from commands.help import about, commands


def register(registry: Registry) -> None:
    commands.register(registry)
    about.register(registry)
