-- A room the bot serves was upgraded (`m.room.tombstone`, sent by someone with the power to):
-- the bot follows it to its replacement. `state`: waiting (to get into the new room), moved
-- (its records are there; the old room is left once its open polls are settled), done, or
-- abandoned (never let in within a week, or the new room does not name the old one).
CREATE TABLE room_upgrades (
    old_room_id TEXT PRIMARY KEY,
    new_room_id TEXT NOT NULL,
    tombstone_event_id TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'moved', 'done', 'abandoned')),
    changed_at INTEGER NOT NULL
);
