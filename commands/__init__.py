"""Command families: each registers its commands, listeners and timers (see `bot.families`)."""
