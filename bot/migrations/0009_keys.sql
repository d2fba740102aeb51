-- Secret keys the bot keeps for itself (`Store.open` creates each once, from the operating
-- system's random source). `relayed ids`: keys the ids that stand in for a user in relayed
-- messages, so that they cannot be matched against a guessed user id.
CREATE TABLE bot_keys (
    name TEXT PRIMARY KEY,
    key BLOB NOT NULL
);
