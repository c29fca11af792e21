-- A person's facts are their rows in events; the stored status keeps only what the door
-- and the sweeper read, so writing it costs the same few bytes however long the person's
-- history (it used to carry every event, rewritten whole on each write).
ALTER TABLE statuses DROP COLUMN state, DROP COLUMN due_cause;
