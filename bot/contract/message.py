"""A message as the bot sends it: its plain text and its HTML."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    body: str
    html: str

    @property
    def size(self) -> int:
        """Bytes its text and HTML take in an event's JSON."""
        return len(json.dumps(self.body)) + len(json.dumps(self.html))
