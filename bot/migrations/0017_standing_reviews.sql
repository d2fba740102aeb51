-- Standing review periods (`!rules set review 1y`, a movement's moderators): after that long,
-- the room is asked again about each item of its statement and each of its endorsements.
-- `review_days` 0: off. An endorsement is asked again with a new endorsement poll (a stance
-- row of 0003); an item of the statement with a poll recorded here: `subject` names the item
-- and the moment it was last agreed, so each is asked once; `outcome` once decided.
CREATE TABLE room_reviews (
    room_id TEXT PRIMARY KEY,
    review_days INTEGER NOT NULL,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
CREATE TABLE statement_reviews (
    subject TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    item_id INTEGER NOT NULL REFERENCES statement_items(id),
    version INTEGER NOT NULL,
    poll_id INTEGER,
    opened_at INTEGER NOT NULL,
    outcome TEXT CHECK (outcome IN ('passed', 'not_passed', 'withdrawn')),
    decided_at INTEGER,
    announced INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX statement_reviews_item ON statement_reviews (item_id, version);
