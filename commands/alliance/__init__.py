"""The alliance family: alliances, their movements, statements, common objectives and how they
compare.

`movements` (alliances, joining, leaving, the commons), `statements` (each movement's core
statement), `objectives` (common objectives, endorsements, `!compare`, `!bridging`),
`decisions` (settling what a movement's polls decided); SQL in `store`, pure logic in
`compare` (names, thresholds, bridging); `shared` holds what the handlers share.
"""

from bot.contract import Registry
from commands.alliance import movements, objectives


def register(registry: Registry) -> None:
    """Alliances and movements (with statements and decisions), then objectives."""
    movements.register(registry)
    objectives.register(registry)
