-- Weekly digests. Per alliance: whether its commons gets one (`!alliance set digest weekly|off`),
-- the local weekday (0 Monday) and hour it is posted at, and after how many days without a
-- decision a movement is shown as quiet (NULL: the default). Per movement room: whether it wants
-- the digests of its alliances too (`!rules set digest weekly|off`).
CREATE TABLE alliance_digests (
    alliance_id INTEGER PRIMARY KEY REFERENCES alliances(id),
    weekly INTEGER NOT NULL DEFAULT 0,
    weekday INTEGER NOT NULL DEFAULT 0,
    hour INTEGER NOT NULL DEFAULT 9,
    quiet_days INTEGER,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
CREATE TABLE room_digests (
    room_id TEXT PRIMARY KEY,
    weekly INTEGER NOT NULL,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
-- Each digest posted: the week's slot it stands for (its scheduled time, UTC ms) and the span it
-- covers. A slot is posted once; after downtime only the latest missed slot is posted, covering
-- everything since the digest before it.
CREATE TABLE digests_sent (
    alliance_id INTEGER NOT NULL REFERENCES alliances(id),
    room_id TEXT NOT NULL,
    slot_at INTEGER NOT NULL,
    covered_from INTEGER NOT NULL,
    covered_to INTEGER NOT NULL,
    event_id TEXT,
    PRIMARY KEY (alliance_id, room_id, slot_at)
);
