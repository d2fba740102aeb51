"""Settings of `!alliance set`, and forms of `!compare`, that other families keep.

The alliance family owns the command and the threshold of common objectives; a family that
builds on it (the council keeps how the alliance decides proposals) offers its own settings
under :data:`SETTINGS` (`Registry.offer`), a sequence of :class:`Setting`. `!alliance set
<name> <value>` then hands the value to the setting, and `!alliance` shows each one. In the
same way a family offers a form of `!compare` (:data:`COMPARE_FORMS`, a sequence of
:class:`CompareForm`): `!compare agreements` compares the movements on the alliance's
agreements as `!compare` does on its objectives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Protocol, cast

from bot.contract import Context, Registry, Reply, Services, Words
from commands.alliance.store import Alliance

SETTINGS: Final = "alliance.settings"  # the name it is offered under


class Setting(Protocol):
    """One setting: the word typed after `!alliance set`, how to change it, how it reads."""

    @property
    def name(self) -> str: ...

    async def change(self, ctx: Context, alliance: Alliance, value: str) -> Reply:
        """Change it from the commons (its moderators); refuse bad values with `CommandError`."""
        ...

    async def shown(self, services: Services, alliance: Alliance) -> Words:
        """What it is now, for `!alliance`."""
        ...


def settings(registry: Registry) -> Sequence[Setting]:
    """The settings other families offer (none when no family does)."""
    return cast("Sequence[Setting]", registry.offered(SETTINGS))


COMPARE_FORMS: Final = "alliance.compare_forms"  # the name it is offered under


class CompareForm(Protocol):
    """`!compare <name>`: another family's way of comparing the alliance's movements."""

    @property
    def name(self) -> str: ...

    async def compare(self, ctx: Context, alliance: Alliance, *, page: int) -> Reply: ...


def compare_forms(registry: Registry) -> Sequence[CompareForm]:
    """The forms other families offer (none when no family does)."""
    return cast("Sequence[CompareForm]", registry.offered(COMPARE_FORMS))


MEMBERS_HOOKS: Final = "alliance.members_hooks"  # the name it is offered under
MembersHook = Callable[[Services], Awaitable[object]]
"""What another family does as soon as a movement joins or leaves an alliance (the language
family gives the room its alliance's default language before the bot next speaks there)."""


async def members_changed(services: Services) -> None:
    for hook in cast("Sequence[MembersHook]", services.registry.offered(MEMBERS_HOOKS)):
        await hook(services)
