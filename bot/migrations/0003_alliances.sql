-- Alliances, movements, common objectives, stances and core statements
-- (commands/alliance.py, commands/objectives.py, queries in commands/alliance_store.py).
-- Times are milliseconds since the epoch, taken from the triggering event's origin_server_ts.
-- A `*_event_id` column naming a command makes that command, handled again after a crash,
-- find its row instead of adding a second one.
-- A "poll key" names the consensus poll that decided something: 'poll:<polls.id>' for the
-- bot's own polls (0002), or 'event:<poll start event id>'. It makes recording an outcome twice
-- harmless.

-- An alliance: its commons room and the Matrix space holding its rooms.
-- `space_key` is written into the space as a state event when the bot creates it, so a
-- creation interrupted by a crash finds that space again instead of making a second one.
CREATE TABLE alliances (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,          -- the name, case and spacing aside
    slug TEXT NOT NULL UNIQUE,
    commons_room_id TEXT NOT NULL UNIQUE,
    space_key TEXT NOT NULL UNIQUE,
    space_id TEXT UNIQUE,                   -- NULL until the space exists
    threshold TEXT NOT NULL DEFAULT 'more than half',  -- when an objective counts as common
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    command_event_id TEXT NOT NULL UNIQUE
);

-- A movement room's membership of an alliance: one row per alliance and room, kept when the
-- movement leaves or is refused (a new request reuses it). Names and slugs are unique in the
-- alliance among requests that were not refused.
CREATE TABLE movements (
    id INTEGER PRIMARY KEY,
    alliance_id INTEGER NOT NULL REFERENCES alliances (id),
    room_id TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    slug TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'rejected', 'left')),
    requested_by TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    request_event_id TEXT NOT NULL UNIQUE,
    decided_by TEXT,                        -- the commons moderator who approved or refused
    decided_at INTEGER,
    decided_event_id TEXT,
    left_by TEXT,
    left_at INTEGER,
    left_event_id TEXT,
    UNIQUE (alliance_id, room_id)
);
CREATE UNIQUE INDEX movements_name ON movements (alliance_id, name_key) WHERE status != 'rejected';
CREATE UNIQUE INDEX movements_slug ON movements (alliance_id, slug) WHERE status != 'rejected';
CREATE INDEX movements_room ON movements (room_id);

-- Common objectives, numbered per alliance ("objective #3").
CREATE TABLE objectives (
    id INTEGER PRIMARY KEY,
    alliance_id INTEGER NOT NULL REFERENCES alliances (id),
    number INTEGER NOT NULL,
    text TEXT NOT NULL,
    text_key TEXT NOT NULL,                 -- for refusing duplicates
    proposed_by TEXT NOT NULL,
    proposed_at INTEGER NOT NULL,
    command_event_id TEXT NOT NULL,         -- !objective propose, or the !objective import
    UNIQUE (alliance_id, number),
    UNIQUE (alliance_id, text_key)
);
CREATE INDEX objectives_command ON objectives (command_event_id);

-- A movement's stance on an objective: one row per endorsement poll, the latest row first in
-- line. `pending` while the poll is open; then endorsed or not, with the poll's votes (which
-- the bridging score uses) and the reasons of its blocks.
CREATE TABLE stances (
    id INTEGER PRIMARY KEY,
    movement_id INTEGER NOT NULL REFERENCES movements (id),
    objective_id INTEGER NOT NULL REFERENCES objectives (id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'endorsed', 'not_endorsed')),
    poll_key TEXT NOT NULL UNIQUE,
    poll_id INTEGER,                        -- polls.id, when it is one of the bot's polls
    poll_room_id TEXT NOT NULL,
    poll_event_id TEXT,                     -- the native poll, for a link
    opened_at INTEGER NOT NULL,
    decided_at INTEGER,
    agree INTEGER,
    reservations INTEGER,
    stand_aside INTEGER,
    block INTEGER,
    reason TEXT,                            -- the outcome in one plain sentence
    block_reasons TEXT,                     -- JSON list of strings
    command_event_id TEXT,                  -- the !endorse that opened the poll
    to_announce INTEGER NOT NULL DEFAULT 0  -- 1: tell the room the stance once decided
);
CREATE INDEX stances_latest ON stances (movement_id, objective_id, id);
CREATE INDEX stances_open ON stances (id) WHERE state = 'pending' OR to_announce = 1;

-- A room's core statement: its items, in the order they were added. An item keeps its
-- identity when amended; `dropped_version` is set when a poll drops it.
CREATE TABLE statement_items (
    id INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    text TEXT NOT NULL,
    added_version INTEGER NOT NULL,
    changed_version INTEGER NOT NULL,       -- the version that gave it its current wording
    dropped_version INTEGER
);
CREATE INDEX statement_items_room ON statement_items (room_id, id);

-- Every version of a room's statement: what one passed poll changed.
CREATE TABLE statement_versions (
    id INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('add', 'amend', 'drop')),
    item_id INTEGER NOT NULL REFERENCES statement_items (id),
    item_number INTEGER NOT NULL,           -- the item's number when it changed
    text TEXT,                              -- the new wording (add, amend)
    previous_text TEXT,                     -- the wording before (amend, drop)
    poll_key TEXT NOT NULL UNIQUE,
    poll_id INTEGER,
    poll_room_id TEXT NOT NULL,
    poll_event_id TEXT,
    decided_at INTEGER NOT NULL,
    UNIQUE (room_id, version)
);

-- Changes to a statement put to a consensus poll (!statement propose, amend, drop), kept so
-- the poll's close can apply the change it was about. `withdrawn`: the poll was removed.
CREATE TABLE statement_proposals (
    id INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('add', 'amend', 'drop')),
    item_id INTEGER REFERENCES statement_items (id),
    text TEXT,
    proposed_by TEXT NOT NULL,
    proposed_at INTEGER NOT NULL,
    command_event_id TEXT NOT NULL UNIQUE,
    poll_key TEXT NOT NULL UNIQUE,
    poll_id INTEGER,
    poll_event_id TEXT,
    outcome TEXT CHECK (outcome IN ('passed', 'not_passed', 'conflict', 'withdrawn')),
    decided_at INTEGER,
    announced INTEGER NOT NULL DEFAULT 0    -- 1 once the room was told the outcome
);

-- An item of a movement's statement is its own wording of a common objective. One item per
-- room and objective; an item may word several objectives.
CREATE TABLE statement_links (
    item_id INTEGER NOT NULL REFERENCES statement_items (id),
    objective_id INTEGER NOT NULL REFERENCES objectives (id),
    room_id TEXT NOT NULL,
    linked_by TEXT NOT NULL,
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (item_id, objective_id),
    UNIQUE (room_id, objective_id)
);
