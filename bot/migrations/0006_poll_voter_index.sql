-- Each voter's latest response to a poll, found through an index rather than by sorting all
-- of the poll's responses (`commands/poll_store.latest_ballots`, what `!poll results` reads).
CREATE INDEX poll_responses_voter ON poll_responses (poll_id, sender, ts);
