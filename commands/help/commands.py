"""The help family: `help` lists every command; `help <command>` explains one."""

from __future__ import annotations

from typing import Any

from bot.contract import N_, Args, Command, Context, Param, Registry, Reply, Words
from bot.permissions import who_may


def _entry(command: Command, prefix: str) -> dict[str, Any]:
    return {"usage": command.usage(prefix), "summary": command.summary}


async def show_help(ctx: Context, args: Args) -> Reply:
    registry = ctx.registry
    prefix = ctx.prefix
    wanted = " ".join(args.text("command").lower().removeprefix(prefix.lower()).split())
    if not wanted:
        groups = [
            {"title": family.title, "commands": [_entry(c, prefix) for c in commands]}
            for family, commands in registry.grouped()
        ]
        return Reply("help_list", {"groups": groups})
    command = registry.lookup(wanted)
    related = [c for c in registry.in_family_of(wanted) if c is not command]
    if command is None and not related:
        return Reply("unknown_command", {"word": wanted, "suggestions": registry.closest(wanted)})
    data: dict[str, Any] = {
        "name": wanted,
        "related": [_entry(c, prefix) for c in related],
        "command": None,
    }
    if command is not None:
        data["command"] = {
            "usage": command.usage(prefix),
            "summary": command.summary,
            # As written, with the {prefix} mark: the template translates, then puts the prefix in.
            "help": command.help,
            "examples": list(command.examples),
            "aliases": [prefix + alias for alias in command.aliases],
            "who": Words(who_may(command.power, room_version=ctx.room.version)),
            "flags": [
                {"usage": f"--{f.name}{' ' + f.value if f.value else ''}", "help": f.help}
                for f in command.flags
            ],
        }
    return Reply("help_command", data)


def register(registry: Registry) -> None:
    registry.family("help", N_("Help"), order=0)
    registry.add(
        Command(
            name="help",
            family="help",
            summary=N_("List the commands, or explain one"),
            handler=show_help,
            params=(Param("command", kind="text", optional=True),),
            aliases=("commands",),
            help=N_(
                "Without a word, lists every command with one line about each. "
                "With a command's name, explains it, with examples."
            ),
            examples=("{prefix}help", "{prefix}help help"),
        )
    )
