-- Reminders before a poll closes. Per room: how long before its close (NULL: the default, 24
-- hours; 0: no reminders) and whether the reminder mentions the members who have not voted
-- (never those who have). A poll's `reminded_at`: its one reminder was posted.
CREATE TABLE room_reminders (
    room_id TEXT PRIMARY KEY,
    before_s INTEGER,
    mention INTEGER NOT NULL DEFAULT 0,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
ALTER TABLE polls ADD COLUMN reminded_at INTEGER;
