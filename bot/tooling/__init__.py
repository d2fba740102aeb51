"""Tooling around the bot, not part of it: the throwaway homeserver and the demo."""
