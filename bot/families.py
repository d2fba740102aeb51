"""The command families multilogue ships: the one place that knows them all.

Part of the composition root (`bot.app` builds the bot with this registry). Each family is
a package in `commands/` whose `register` adds its commands, listeners and timers.
"""

from __future__ import annotations

from bot.contract import Registry
from commands import about, alliance, objectives, upgrades
from commands import help as help_family
from commands import polls as polls_family
from commands import relay as relay_family


def build_registry() -> Registry:
    """The registry with every command family multilogue ships."""
    registry = Registry()
    help_family.register(registry)
    polls_family.register(registry)
    alliance.register(registry)
    objectives.register(registry)
    relay_family.register(registry)
    about.register(registry)
    upgrades.register(registry)
    return registry
