-- Alliance-wide straw polls (`!poll --alliance` in a commons room, commands/polls.py): the same
-- native poll in the commons and in every active movement room, one `polls` row per room (0002),
-- tallied together. Times are milliseconds since the epoch, like Matrix's origin_server_ts.

-- One row per alliance-wide poll. `command_event_id` is the `!poll --alliance` command: handled
-- again after a crash, it finds this row (and each room's poll, keyed by the command and the room)
-- instead of adding a second one. The close is the group's: it closes every room's poll.
CREATE TABLE alliance_polls (
    id INTEGER PRIMARY KEY,
    alliance_id INTEGER NOT NULL REFERENCES alliances (id),
    commons_room_id TEXT NOT NULL,
    creator TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    closes_at INTEGER,                  -- the deadline of every room's poll, if any
    hidden INTEGER NOT NULL DEFAULT 0,  -- 1: results everywhere only after the close
    command_event_id TEXT NOT NULL UNIQUE,
    closed_at INTEGER,                  -- NULL while open
    closed_by TEXT,                     -- who closed it; NULL when the deadline did
    closed_via TEXT CHECK (closed_via IN ('command', 'deadline', 'end_event', 'removed')),
    close_event_id TEXT,                -- the !poll close or poll end event that closed it
    result TEXT,                        -- JSON snapshot of the tally by person, at the close
    announced INTEGER NOT NULL DEFAULT 0 -- 1 once the close has been told to every room
);
CREATE INDEX alliance_polls_due ON alliance_polls (closes_at) WHERE closed_at IS NULL;
CREATE INDEX alliance_polls_unannounced ON alliance_polls (id)
    WHERE closed_at IS NOT NULL AND announced = 0;

-- The rooms an alliance-wide poll was posted in: each room's `polls` row. `movement_id` and
-- `movement_name` (the name when the poll opened) are NULL for the commons.
CREATE TABLE alliance_poll_rooms (
    group_id INTEGER NOT NULL REFERENCES alliance_polls (id),
    poll_id INTEGER NOT NULL UNIQUE REFERENCES polls (id),
    room_id TEXT NOT NULL,
    movement_id INTEGER REFERENCES movements (id),
    movement_name TEXT,
    PRIMARY KEY (group_id, room_id)
);
