-- A stance asked about again (`!rules set review`, 0017): with a new endorsement poll (a stance
-- row of 0003, whose outcome is the movement's stance from then on), opened for the stance and
-- the moment its period counted from. Kept so that a review poll removed before it decided
-- anything is asked again a period later, not at once (commands/alliance/reviews_store.py).
CREATE TABLE stance_reviews (
    stance_id INTEGER NOT NULL REFERENCES stances(id),
    since INTEGER NOT NULL,
    poll_id INTEGER NOT NULL,
    opened_at INTEGER NOT NULL,
    PRIMARY KEY (stance_id, since)
);
