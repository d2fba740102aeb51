-- Straw polls and consensus polls (commands/polls.py), sent as native Matrix polls (MSC3381).
-- Times are milliseconds since the epoch (UTC), like Matrix's origin_server_ts.

-- One row per poll. `number` is what people see ("poll #3"), counted per room.
-- `command_event_id` is the event that asked for the poll: a re-run after a crash finds the
-- row instead of adding a second one. `closed_at` is the moment counting stopped: responses
-- sent after it are ignored (for a deadline it is the deadline itself).
CREATE TABLE polls (
    id INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('straw', 'consensus')),
    question TEXT NOT NULL,
    answers TEXT NOT NULL,              -- JSON: [{"id": "a1", "text": "Park"}, ...], in order
    max_selections INTEGER NOT NULL CHECK (max_selections >= 1),
    hidden INTEGER NOT NULL DEFAULT 0,  -- 1: results only after the close (undisclosed kind)
    creator TEXT NOT NULL,              -- who asked for the poll
    created_at INTEGER NOT NULL,
    closes_at INTEGER,                  -- the deadline, if any
    closed_at INTEGER,                  -- NULL while open
    closed_by TEXT,                     -- who closed it; NULL when the deadline did
    closed_via TEXT CHECK (closed_via IN ('command', 'deadline', 'end_event', 'removed')),
    close_event_id TEXT,                -- the !poll close command or poll end event that closed it
    rule TEXT,                          -- consensus: the decision rule in force when it opened
    command_event_id TEXT NOT NULL UNIQUE,
    start_event_id TEXT UNIQUE,         -- the native poll; NULL only until it is sent
    end_event_id TEXT,                  -- the native end event, once sent
    result TEXT,                        -- JSON snapshot of the tally, written at the close
    announced INTEGER NOT NULL DEFAULT 0, -- 1 once the close has been told to the room
    removed INTEGER NOT NULL DEFAULT 0, -- 1 when the poll itself was redacted
    UNIQUE (room_id, number)
);
CREATE INDEX polls_due ON polls (closes_at) WHERE closed_at IS NULL;
CREATE INDEX polls_unannounced ON polls (id) WHERE closed_at IS NOT NULL AND announced = 0;

-- Every response, from the poll buttons (`via` = 'poll') or from !vote (`via` = 'text').
-- `answers` is a JSON list of answer ids, or NULL when the response could not be read (spoiled).
CREATE TABLE poll_responses (
    event_id TEXT PRIMARY KEY,
    poll_id INTEGER NOT NULL REFERENCES polls (id),
    sender TEXT NOT NULL,
    answers TEXT,
    ts INTEGER NOT NULL,
    via TEXT NOT NULL CHECK (via IN ('poll', 'text')),
    redacted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX poll_responses_poll ON poll_responses (poll_id, ts);

-- Reasons given with !reason for a consensus vote; each person's latest one counts.
CREATE TABLE poll_reasons (
    event_id TEXT PRIMARY KEY,
    poll_id INTEGER NOT NULL REFERENCES polls (id),
    sender TEXT NOT NULL,
    reason TEXT NOT NULL,
    ts INTEGER NOT NULL,
    redacted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX poll_reasons_poll ON poll_reasons (poll_id, ts);

-- Who has been asked for a reason already (asked once per poll and person).
CREATE TABLE poll_reason_requests (
    poll_id INTEGER NOT NULL REFERENCES polls (id),
    sender TEXT NOT NULL,
    PRIMARY KEY (poll_id, sender)
);

-- Each room's decision rule for consensus polls (rooms without a row use plain consensus).
CREATE TABLE room_rules (
    room_id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
