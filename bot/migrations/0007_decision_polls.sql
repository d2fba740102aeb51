-- Decision polls: the consensus polls that decide for a movement (its stance on an objective,
-- a change to its statement). One member cannot decide for a movement: a decision poll closes
-- at its deadline, only the room's moderators close it earlier, and whoever opened it may
-- withdraw it (commands/poll_commands.py).
ALTER TABLE polls ADD COLUMN decision INTEGER NOT NULL DEFAULT 0;
UPDATE polls SET decision = 1 WHERE id IN (
    SELECT poll_id FROM stances WHERE poll_id IS NOT NULL
    UNION SELECT poll_id FROM statement_proposals WHERE poll_id IS NOT NULL
);

-- How long a room's decision polls stay open (`!rules set deadline 3d`); rooms without a row
-- use the default (24 hours).
CREATE TABLE room_deadlines (
    room_id TEXT PRIMARY KEY,
    seconds INTEGER NOT NULL CHECK (seconds > 0),
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
