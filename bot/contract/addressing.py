"""Whether a message speaks to the bot, and what it says to it.

A message speaks to the bot when it starts with the command prefix (`!ping`), or with the
bot's name or pill (`multilogue: ping`); what follows is the command text. The edge uses
this to route commands, and the relay family to leave commands out of shared threads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.events import Event, strip_reply_fallback

PILL_RE = re.compile(r'^\s*<a\s+href="https://matrix\.to/#/([^"?]+)[^"]*"\s*>(.*?)</a>\s*[:,]?\s*')
SEPARATORS = ":,"


def _after_name(body: str, names: Sequence[str]) -> str | None:
    lowered = body.lower()
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        if not lowered.startswith(name.lower()):
            continue
        rest = body[len(name) :]
        if rest[:1] in SEPARATORS and rest[:1] != "":
            return rest[1:].lstrip()
        if rest[:1].isspace():
            return rest.lstrip()
    return None


def addressed_text(
    event: Event, *, prefix: str, user_id: str, display_name: str | None
) -> str | None:
    """The command text if the message is addressed to the bot, else None."""
    content = event.content
    if content.get("msgtype") != "m.text" or not isinstance(content.get("body"), str):
        return None
    body = strip_reply_fallback(content["body"]).strip()
    formatted = content.get("formatted_body")
    text: str | None = None
    if body.startswith(prefix):
        text = body[len(prefix) :]
        if not text or text[0].isspace():
            return None
        return text
    if isinstance(formatted, str):
        match = PILL_RE.match(formatted)
        if match and match.group(1) == user_id:
            # The pill's text is shown in the body too (the display name); skip past it.
            text = _after_name(body, [re.sub(r"<[^>]+>", "", match.group(2)), user_id])
    if text is None:
        localpart = user_id[1:].partition(":")[0]
        text = _after_name(body, [user_id, display_name or "", localpart, "@" + localpart])
    if text is None:
        return None
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return text.strip() or "help"
