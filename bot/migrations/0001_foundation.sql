-- The bot's own login, kept so every restart reuses the same device.
CREATE TABLE session (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    homeserver TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    access_token TEXT NOT NULL
);

-- The sync position, written only after the events of a sync are safely in the inbox.
CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_batch TEXT NOT NULL
);

-- Every event the bot has taken in, by id: the dedupe record and the work queue.
-- `source` holds the event JSON only while it waits to be handled.
CREATE TABLE inbox (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    source TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'skipped', 'failed'))
);
CREATE INDEX inbox_pending ON inbox (received_at) WHERE state = 'pending';

-- Encrypted events whose keys have not arrived yet; retried when keys come.
CREATE TABLE undecrypted (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX undecrypted_session ON undecrypted (session_id);
