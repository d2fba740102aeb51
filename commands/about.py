"""The bot family: is the bot there, what may I do here, and asking it to leave."""

from __future__ import annotations

from bot.permissions import Power
from commands.registry import Args, Command, Context, Registry, Reply

ROLE_WORDS = {
    Power.MEMBER: "a member",
    Power.MODERATOR: "a moderator",
    Power.ADMIN: "an admin (you may use every command)",
}


async def ping(ctx: Context, args: Args) -> Reply:
    return Reply("pong", {})


async def whoami(ctx: Context, args: Args) -> Reply:
    return Reply("whoami", {"role": ROLE_WORDS[ctx.power], "power": int(ctx.power)})


async def leave(ctx: Context, args: Args) -> Reply:
    room_id = ctx.event.room_id
    services = ctx.services

    async def go() -> None:
        await services.leave(room_id)

    return Reply("leaving", {}, then=go)


def register(registry: Registry) -> None:
    registry.family("bot", "The bot", order=90)
    registry.add(
        Command(
            name="ping",
            family="bot",
            summary="Check that the bot is listening",
            handler=ping,
            help="The bot answers “pong” straight away. If it does not, it is offline.",
            examples=("{prefix}ping",),
        )
    )
    registry.add(
        Command(
            name="whoami",
            family="bot",
            summary="Say what you may do with the bot in this room",
            handler=whoami,
            help=(
                "Tells you whether the bot sees you as a member, a moderator (power level 50 "
                "or more in this room) or an admin of the bot, which decides the commands "
                "you may use here."
            ),
            examples=("{prefix}whoami",),
        )
    )
    registry.add(
        Command(
            name="leave",
            family="bot",
            summary="Ask the bot to leave this room",
            handler=leave,
            power=Power.MODERATOR,
            help=(
                "The bot says goodbye and leaves. Everything it recorded for this room is "
                "kept; invite it again to bring it back."
            ),
            examples=("{prefix}leave",),
        )
    )
