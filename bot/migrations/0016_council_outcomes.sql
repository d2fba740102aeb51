-- What an alliance proposal decided, in the words of whoever opened it (`!outcome` in its
-- commons thread), and when the alliance asks itself again whether it still agrees
-- (`--review`): on `review_at` the bot opens a new proposal (`reviewed_proposal_id`) that asks
-- the movements again about this one.
CREATE TABLE council_outcomes (
    proposal_id INTEGER PRIMARY KEY REFERENCES council_proposals(id),
    text TEXT NOT NULL,
    written_by TEXT NOT NULL,
    written_at INTEGER NOT NULL,
    review_at INTEGER,
    reviewed_proposal_id INTEGER
);
CREATE INDEX council_outcomes_review ON council_outcomes (review_at)
    WHERE reviewed_proposal_id IS NULL;
