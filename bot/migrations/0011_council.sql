-- The council family: an alliance decides proposals movement by movement (a spokescouncil).
-- `rule` is the canonical text of an alliance rule (commands.council.rules); `proposers` says
-- who in the commons may open a proposal.
CREATE TABLE council_settings (
    alliance_id INTEGER PRIMARY KEY REFERENCES alliances(id),
    rule TEXT,
    proposers TEXT CHECK (proposers IN ('moderators', 'members'))
);

-- An alliance proposal, numbered per alliance. Its thread in the commons starts at
-- `root_event_id` (set once posted); its texts are in its rounds.
CREATE TABLE council_proposals (
    id INTEGER PRIMARY KEY,
    alliance_id INTEGER NOT NULL REFERENCES alliances(id),
    number INTEGER NOT NULL,
    commons_room_id TEXT NOT NULL,
    proposer TEXT NOT NULL,
    command_event_id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    root_event_id TEXT,
    UNIQUE (alliance_id, number)
);
CREATE INDEX council_proposals_root ON council_proposals (commons_room_id, root_event_id);

-- One round of a proposal: its text, the alliance rule it is decided by, when it closes, and
-- once closed how (`deadline`, `everyone` answered, a `command`) and with what outcome.
CREATE TABLE council_rounds (
    id INTEGER PRIMARY KEY,
    proposal_id INTEGER NOT NULL REFERENCES council_proposals(id),
    round INTEGER NOT NULL,
    text TEXT NOT NULL,
    rule TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    command_event_id TEXT NOT NULL UNIQUE,
    opened_at INTEGER NOT NULL,
    closes_at INTEGER NOT NULL,
    opened_event_id TEXT,
    closed_at INTEGER,
    closed_via TEXT CHECK (closed_via IN ('deadline', 'everyone', 'command')),
    closed_by TEXT,
    outcome TEXT CHECK (outcome IN ('passed', 'not_passed')),
    announced_at INTEGER,
    UNIQUE (proposal_id, round)
);

-- Each movement asked in a round, fixed when the round opens. `poll_id` is its own consensus
-- poll once posted (`asked_at`: the movement was asked, by its poll or, when its spokes give
-- its position, by a notice); `position` what it settled on, with the reasons in its members' words
-- (JSON list of {"choice", "text"}), how many took part, and whether its poll or its spokes
-- gave it. `told_at`: the outcome was posted in its room; `reminded_at`: a movement whose
-- spokes give its position was reminded before the close.
CREATE TABLE council_seats (
    round_id INTEGER NOT NULL REFERENCES council_rounds(id),
    movement_id INTEGER NOT NULL,
    movement_name TEXT NOT NULL,
    room_id TEXT NOT NULL,
    poll_id INTEGER,
    asked_at INTEGER,
    tried_at INTEGER,
    position TEXT CHECK (position IN ('agree', 'reservations', 'stand_aside', 'block', 'none')),
    reasons TEXT NOT NULL DEFAULT '[]',
    voters INTEGER NOT NULL DEFAULT 0,
    given_by TEXT CHECK (given_by IN ('poll', 'spokes', 'closed')),
    given_by_user TEXT,
    decided_at INTEGER,
    told_at INTEGER,
    reminded_at INTEGER,
    PRIMARY KEY (round_id, movement_id)
);
CREATE INDEX council_seats_poll ON council_seats (poll_id);
CREATE INDEX council_seats_room ON council_seats (room_id);

-- A movement room's council settings: who gives its position on alliance proposals (its own
-- `poll`, the default, or its `spokes`), and how long a spoke's term runs.
CREATE TABLE council_rooms (
    room_id TEXT PRIMARY KEY,
    position_by TEXT CHECK (position_by IN ('poll', 'spokes')),
    spoke_term_s INTEGER
);

-- The spokes a movement room named: who, by whom (or by which poll), until when. `reminded_at`:
-- the room was asked to renew or rotate once the term ended.
CREATE TABLE council_spokes (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    term_ends_at INTEGER NOT NULL,
    reminded_at INTEGER,
    PRIMARY KEY (room_id, user_id)
);

-- `!spokes elect @person`: the decision poll that names a spoke, until it is settled.
CREATE TABLE council_elections (
    poll_id INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    asked_by TEXT NOT NULL,
    settled_at INTEGER,
    elected INTEGER
);
