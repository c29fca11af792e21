-- Rules the code always kept, now kept by the database too, so a hand-run statement or a
-- future bug cannot break them; and the appeals queue read from its index in order.
--
-- Each rule is checked against every existing row as it is added. The service has never
-- written a row that breaks one; should an old database hold one anyway, this migration
-- fails on the constraint that names the rule, applies nothing, and the service does not
-- start until the row is put right by hand.
--
-- About 0001_foundation.sql, which is `SELECT 1`: it stays. Every database already records
-- it as applied with its checksum, and an applied migration is never edited (the service
-- refuses to start when one is); the migrations table it stands for is made by the code.

-- Events: the kinds the code can rebuild (codesvc.state.events.EVENT_TYPES; the kinds
-- a sender may send, codesvc.schemas.events.KINDS, are these but for override). A test
-- compares this list with the code's.
ALTER TABLE events ADD CONSTRAINT events_kind_known CHECK (kind IN
    ('travel.arrival', 'test.result', 'contact.designated', 'case.discharged', 'correction',
     'override'));

-- Events are append-only. The one change the service makes is linking a lab result that
-- named no person to the appellant whose evidence matches it (codesvc.service.appeals.
-- filing): person_id from NULL to a person, nothing else. Everything else is refused; a
-- wrong event is voided by a correction event, never edited or removed. events is not
-- partitioned; were it to be, these row triggers on the parent would be cloned onto every
-- partition (PostgreSQL 13 and later), and TRUNCATE would need a trigger on each, as
-- audit_log's partitions have.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.kind = 'test.result' AND OLD.person_id IS NULL
       AND NEW.person_id IS NOT NULL
       AND to_jsonb(NEW) - 'person_id' = to_jsonb(OLD) - 'person_id' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP
        USING DETAIL = 'The one change allowed is linking a test.result that names no person '
                       'to one (person_id from NULL, every other column unchanged).',
              HINT = 'Void a wrong event with a correction event.';
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- History: an interval [valid_from, valid_to) is never empty, and a superseded row says
-- what superseded it (codesvc.state.history writes the two together).
ALTER TABLE history
    ADD CONSTRAINT history_interval_not_empty CHECK (valid_to > valid_from),
    ADD CONSTRAINT history_superseded_says_by CHECK
        ((superseded_at IS NULL) = (superseded_by IS NULL));

-- An appeal in review is someone's: claiming it is what puts it there.
ALTER TABLE appeals ADD CONSTRAINT appeals_in_review_claimed CHECK
    (status <> 'in_review' OR claimed_by IS NOT NULL);

-- statuses.version was incremented on every write and read by nothing: a job that reads
-- a chunk without locks tells who was written since by the row's xmin, which PostgreSQL
-- keeps anyway, and every other writer locks the row. Dropping it saves a column written
-- on every status write, city-wide jobs included.
ALTER TABLE statuses DROP COLUMN version;

-- The queue is ordered by due time, then filing time, then id: the indexes now hold all
-- three, so a page of the queue is read from the index in order with nothing left to
-- sort — a district's for staff, the city's for the commission (which had no index in
-- that order and sorted every open appeal of the city).
DROP INDEX appeals_queue;
CREATE INDEX appeals_queue ON appeals (district, due_at, filed_at, appeal_id)
    WHERE status IN ('submitted', 'in_review', 'escalated');
CREATE INDEX appeals_city_queue ON appeals (due_at, filed_at, appeal_id)
    WHERE status IN ('submitted', 'in_review', 'escalated');
