"""Message templates: a `.txt` and an `.html` jinja2 file per message (found via importlib)."""
