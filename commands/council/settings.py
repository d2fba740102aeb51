"""The council's settings of `!alliance set`: how the alliance decides proposals (`rule`) and
who may open one (`proposers`). Offered to the alliance family as `alliance.SETTINGS`."""

from __future__ import annotations

from typing import Final

from bot.contract import CommandError, Context, Reply, Services, Words
from bot.permissions import Power
from commands.alliance.store import Alliance
from commands.council import store
from commands.council.proposals import rule_of
from commands.council.rules import (
    CouncilRuleError,
    alliance_rule_words,
    format_alliance_rule,
    parse_alliance_rule,
)

PROPOSER_WORDS: Final = {
    "moderators": "moderators",
    "mods": "moderators",
    "members": "members",
    "everyone": "members",
    "anyone": "members",
}


class RuleSetting:
    """`!alliance set rule consensus-minus-one quorum 2/3`."""

    name: Final = "rule"

    async def change(self, ctx: Context, alliance: Alliance, value: str) -> Reply:
        if ctx.power < Power.MODERATOR:
            raise CommandError("council.moderators_set")
        try:
            rule = parse_alliance_rule(value)
        except CouncilRuleError as exc:
            raise CommandError(exc.words.key, **exc.words.data) from None
        await store.set_rule(ctx.store, alliance.id, format_alliance_rule(rule))
        return Reply(
            "council_rule_set", {"alliance": alliance.name, "rule": alliance_rule_words(rule)}
        )

    async def shown(self, services: Services, alliance: Alliance) -> Words:
        settings = await store.settings(services.store, alliance.id)
        return Words("council.rule_now", {"rule": alliance_rule_words(rule_of(settings.rule))})


class ProposersSetting:
    """`!alliance set proposers members` (or `moderators`, the default)."""

    name: Final = "proposers"

    async def change(self, ctx: Context, alliance: Alliance, value: str) -> Reply:
        if ctx.power < Power.MODERATOR:
            raise CommandError("council.moderators_set")
        proposers = PROPOSER_WORDS.get(" ".join(value.lower().split()))
        if proposers is None:
            raise CommandError("council.proposers_are")
        await store.set_proposers(
            ctx.store, alliance.id, "members" if proposers == "members" else "moderators"
        )
        return Reply(
            "council_proposers_set",
            {"alliance": alliance.name, "members": proposers == "members"},
        )

    async def shown(self, services: Services, alliance: Alliance) -> Words:
        settings = await store.settings(services.store, alliance.id)
        return Words("council.proposers_now", {"members": settings.proposers == "members"})
