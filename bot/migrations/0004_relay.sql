-- Shared threads relayed between movement rooms and the alliance's commons
-- (commands/relay.py, queries in commands/relay_store.py). Times are milliseconds since the epoch,
-- from the triggering event's origin_server_ts (`last_activity`: the bot's clock).

-- A thread of a movement room shared with an alliance (`!share`), numbered per alliance
-- ("shared thread #2", the number `!follow` takes). A thread shared again after `!unshare` gets
-- a new row. `command_event_id`: the `!share`, so handling it again after a crash finds this row.
-- `allow_unencrypted`: a moderator of the origin shared with `--allow-unencrypted` after the
-- warning, so content of the thread's encrypted rooms may reach its unencrypted ones.
CREATE TABLE shared_threads (
    id INTEGER PRIMARY KEY,
    alliance_id INTEGER NOT NULL REFERENCES alliances (id),
    number INTEGER NOT NULL,
    origin_room_id TEXT NOT NULL,
    origin_root_event_id TEXT NOT NULL,
    title TEXT NOT NULL,                    -- the first words of the root, for `!shared`
    root_sender TEXT NOT NULL,              -- the thread's author
    shared_by TEXT NOT NULL,
    shared_at INTEGER NOT NULL,
    command_event_id TEXT NOT NULL UNIQUE,
    allow_unencrypted INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('active', 'unshared')),
    stopped_by TEXT,
    stopped_at INTEGER,
    stopped_event_id TEXT,
    last_activity INTEGER NOT NULL,
    UNIQUE (alliance_id, number)
);
CREATE UNIQUE INDEX shared_threads_origin
    ON shared_threads (alliance_id, origin_room_id, origin_root_event_id) WHERE status = 'active';

-- Every room a shared thread lives in: the origin (its root is the original), the commons and
-- each following movement room (their root is the bot's copy, NULL until it is posted).
-- `membership_key`: the movement's approval event when the link was made; a movement that
-- leaves and joins again does not silently resume old links. Following again after
-- `!unfollow` reuses the row (and the copy of the root already posted in that room).
CREATE TABLE thread_links (
    id INTEGER PRIMARY KEY,
    shared_id INTEGER NOT NULL REFERENCES shared_threads (id),
    room_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('origin', 'commons', 'follower')),
    movement_id INTEGER REFERENCES movements (id),  -- NULL for the commons
    membership_key TEXT,
    root_event_id TEXT,
    allow_unencrypted INTEGER NOT NULL DEFAULT 0,   -- followers: their moderator's consent
    status TEXT NOT NULL CHECK (status IN ('active', 'stopped')),
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    command_event_id TEXT NOT NULL,
    stopped_by TEXT,
    stopped_at INTEGER,
    stopped_event_id TEXT,
    UNIQUE (shared_id, room_id)
);
CREATE INDEX thread_links_root ON thread_links (room_id, root_event_id);

-- Every copy the bot made: one row per original event and target room, ever. Written (as
-- 'sending') before the send, whose transaction id is derived from the same pair: a crash in the
-- middle re-sends with that id and the homeserver answers with the first copy, never a second.
-- Edits and redactions find the copies of their original here, also after a restart.
CREATE TABLE relay_copies (
    source_event_id TEXT NOT NULL,
    target_room_id TEXT NOT NULL,
    shared_id INTEGER NOT NULL REFERENCES shared_threads (id),
    source_room_id TEXT NOT NULL,
    source_sender TEXT NOT NULL,            -- only they may edit it; redactions are checked too
    kind TEXT NOT NULL CHECK (kind IN ('root', 'message', 'edit', 'redaction')),
    copy_event_id TEXT,                     -- NULL until sent
    state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (source_event_id, target_room_id)
);
CREATE INDEX relay_copies_copy ON relay_copies (copy_event_id);

-- Warnings given before content of an encrypted room may reach an unencrypted one: the
-- `--allow-unencrypted` flag counts only after the bot's warning about that very thread.
-- `subject`: the origin thread's root (`!share`) or 'shared:<id>' (`!follow`).
CREATE TABLE relay_warnings (
    room_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    warned_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, subject)
);
