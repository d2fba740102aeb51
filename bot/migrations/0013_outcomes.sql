-- What a closed consensus poll decided, in the words of whoever opened it (`!outcome`), and
-- when the room asks itself again whether it still agrees (`--review`): on `review_at` the bot
-- opens a new decision poll (`reviewed_poll_id`) that links back to this one.
CREATE TABLE poll_outcomes (
    poll_id INTEGER PRIMARY KEY REFERENCES polls(id),
    text TEXT NOT NULL,
    written_by TEXT NOT NULL,
    written_at INTEGER NOT NULL,
    review_at INTEGER,
    reviewed_poll_id INTEGER
);
CREATE INDEX poll_outcomes_review ON poll_outcomes (review_at) WHERE reviewed_poll_id IS NULL;
