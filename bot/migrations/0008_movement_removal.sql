-- The commons may remove a movement (`!movement remove`, commons moderators): the movement's
-- row is marked as left like a departure, with the commons' reason; the record stays.
ALTER TABLE movements ADD COLUMN removed_reason TEXT;
