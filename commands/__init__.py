"""Command families. Each module registers its commands, as data, into one registry."""

from commands import about, alliance, objectives, upgrades
from commands import help as help_family
from commands import polls as polls_family
from commands import relay as relay_family
from commands.registry import Registry


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
