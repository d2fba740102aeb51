-- The record in the open. Whether an alliance publishes its platform (`!alliance set public
-- yes`, commons moderators; default no) and whether a movement keeps its statement off it
-- (`!rules set public no`; NULL: it follows the alliance). `record_polls`: the polls behind an
-- imported record (`multilogue import`), which this bot never ran: their room, start event,
-- rule, close and tally, keyed by the poll key the stances and statement versions name.
CREATE TABLE record_settings (
    alliance_id INTEGER PRIMARY KEY REFERENCES alliances(id),
    public INTEGER NOT NULL DEFAULT 0,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
CREATE TABLE record_rooms (
    room_id TEXT PRIMARY KEY,
    public INTEGER,
    block_reasons INTEGER NOT NULL DEFAULT 0,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
CREATE TABLE record_polls (
    poll_key TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    event_id TEXT,
    rule TEXT,
    closed_at INTEGER,
    tally TEXT
);
