"""The bot family: is the bot there, what may I do here, and asking it to leave."""

from __future__ import annotations

from bot.contract import N_, Args, Command, Context, Registry, Reply
from bot.permissions import Power


async def ping(ctx: Context, args: Args) -> Reply:
    return Reply("pong", {})


async def whoami(ctx: Context, args: Args) -> Reply:
    """What the sender may do here: their power in this room, and whether they administer the
    bot (which gives no power in a room)."""
    return Reply(
        "whoami",
        {
            "power": {Power.MEMBER: "member", Power.MODERATOR: "moderator"}.get(
                ctx.power, "creator"
            ),
            "bot_admin": ctx.sender in ctx.config.admins,
        },
    )


async def leave(ctx: Context, args: Args) -> Reply:
    room_id = ctx.event.room_id
    services = ctx.services

    async def go() -> None:
        await services.leave(room_id)

    return Reply("leaving", {}, then=go)


def register(registry: Registry) -> None:
    registry.family("bot", N_("The bot"), order=90)
    registry.add(
        Command(
            name="ping",
            family="bot",
            summary=N_("Check that the bot is listening"),
            handler=ping,
            help=N_("The bot answers “pong” straight away. If it does not, it is offline."),
            examples=("{prefix}ping",),
        )
    )
    registry.add(
        Command(
            name="whoami",
            family="bot",
            summary=N_("Say what you may do with the bot in this room"),
            handler=whoami,
            help=N_(
                "Tells you whether the bot sees you as a member, a moderator (power level 50 "
                "or more in this room) or a creator of this room, which decides the commands "
                "you may use here, and whether you administer the bot. Administering the bot "
                "gives no power in a room: a movement's decisions stay with its own room."
            ),
            examples=("{prefix}whoami",),
        )
    )
    registry.add(
        Command(
            name="leave",
            family="bot",
            summary=N_("Ask the bot to leave this room"),
            handler=leave,
            power=Power.MODERATOR,
            help=N_(
                "The bot says goodbye and leaves. Everything it recorded for this room is "
                "kept; invite it again to bring it back."
            ),
            examples=("{prefix}leave",),
        )
    )
