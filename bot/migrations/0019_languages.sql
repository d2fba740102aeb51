-- The language the bot speaks in a room (bot/room_languages.py): chosen by the room itself
-- (`!language`, own = 1) or given by the default of an alliance it belongs to (own = 0), which
-- never replaces a room's own choice. Rooms without a row hear MULTILOGUE_LANGUAGE.
CREATE TABLE room_languages (
    room_id TEXT PRIMARY KEY,
    language TEXT NOT NULL,
    own INTEGER NOT NULL CHECK (own IN (0, 1)),
    changed_at INTEGER NOT NULL
);

-- An alliance's default language for its movement rooms (`!alliance set language`, in the
-- commons; commands/language/).
CREATE TABLE alliance_languages (
    alliance_id INTEGER PRIMARY KEY REFERENCES alliances(id),
    language TEXT NOT NULL
);
