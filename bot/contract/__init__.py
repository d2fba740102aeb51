"""The contract between the Matrix edge and the command families.

Both sides import this package, and it imports neither: the families (`commands/`) declare
what they do with it, the edge (`bot.app`, `bot.router`, `bot.matrix`, ...) runs them.

- `registry`: what a command, listener and timer are (`Command`, `Listener`, `Timer`), what
  a handler receives (`Context`) and returns (`Reply`, or raises `CommandError`), what it may
  ask of the bot (`Services`), and the `Registry` that holds them;
- `args`: how the words after a command are read into `Args`;
- `addressing`: whether a message speaks to the bot;
- `errors`: how a request to the homeserver failed (the `Services` failure contract).
"""

from bot.contract.addressing import addressed_text
from bot.contract.args import (
    FLAG_STARTS,
    NUMBER_DIGITS,
    QUOTES,
    UsageError,
    parse_args,
    read_number,
    read_token,
    short,
    split_items,
    tokenize,
)
from bot.contract.errors import LoginFailed, MatrixError, MatrixUnavailable, RateLimited
from bot.contract.registry import (
    JOINED_A_ROOM,
    N_,
    PREFIX_MARK,
    Args,
    Command,
    CommandError,
    Context,
    Family,
    Flag,
    Handler,
    Joined,
    Listener,
    ListenerHandler,
    Param,
    Refusal,
    Registry,
    Reply,
    Services,
    Timer,
    TimerHandler,
    Words,
)

__all__ = [
    "FLAG_STARTS",
    "JOINED_A_ROOM",
    "NUMBER_DIGITS",
    "N_",
    "PREFIX_MARK",
    "QUOTES",
    "Args",
    "Command",
    "CommandError",
    "Context",
    "Family",
    "Flag",
    "Handler",
    "Joined",
    "Listener",
    "ListenerHandler",
    "LoginFailed",
    "MatrixError",
    "MatrixUnavailable",
    "Param",
    "RateLimited",
    "Refusal",
    "Registry",
    "Reply",
    "Services",
    "Timer",
    "TimerHandler",
    "UsageError",
    "Words",
    "addressed_text",
    "parse_args",
    "read_number",
    "read_token",
    "short",
    "split_items",
    "tokenize",
]
