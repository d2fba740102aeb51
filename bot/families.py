"""The command families multilogue ships: the one place that knows them all.

Part of the composition root (`bot.app` builds the bot with this registry). Each family is
a package in `commands/` whose `register` adds its commands, listeners and timers.
"""

from __future__ import annotations

from bot.contract import Registry
from commands import alliance, council, digest, help, polls, relay, upgrades


def build_registry() -> Registry:
    """The registry with every command family multilogue ships."""
    registry = Registry()
    for family in (help, polls, alliance, council, relay, digest, upgrades):
        family.register(registry)
    return registry
