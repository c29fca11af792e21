-- Tables that stay small: scans, notifications and the audit log are partitioned by time
-- (PostgreSQL's declarative partitioning). The worker creates partitions ahead of time
-- (scans by the day, the others by the month, on the city's midnight) and drops scan
-- partitions past their retention; the audit log is never dropped. A DEFAULT partition
-- catches a row whose period has no partition yet (a clock far off, an offline scan from
-- before the first partition), so no write ever fails for want of one.
--
-- Each key starts with the partition key or the person: every per-person table keeps
-- person_id in its key, so it can be distributed by person later (README, capacity).

ALTER TABLE scans RENAME TO scans_unpartitioned;
ALTER INDEX scans_person RENAME TO scans_unpartitioned_person;
ALTER INDEX scans_venue RENAME TO scans_unpartitioned_venue;
ALTER TABLE scans_unpartitioned RENAME CONSTRAINT scans_pkey TO scans_unpartitioned_pkey;
CREATE TABLE scans (
    -- Time-ordered (UUID version 7 layout).
    scan_id    uuid NOT NULL,
    venue      text NOT NULL,
    person_id  bigint NOT NULL,
    scanned_at timestamptz NOT NULL,
    -- The colour the door was shown.
    color      text NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
    method     text NOT NULL CHECK (method IN ('code', 'id_number')),
    -- Contact tracing: where was this person, when (the key serves it).
    PRIMARY KEY (person_id, scanned_at, scan_id)
) PARTITION BY RANGE (scanned_at);
-- Who was at this venue, when.
CREATE INDEX scans_venue ON scans (venue, scanned_at);
CREATE TABLE scans_default PARTITION OF scans DEFAULT;
INSERT INTO scans SELECT * FROM scans_unpartitioned;
DROP TABLE scans_unpartitioned;

ALTER TABLE notifications RENAME TO notifications_unpartitioned;
ALTER INDEX notifications_person RENAME TO notifications_unpartitioned_person;
ALTER TABLE notifications_unpartitioned
    RENAME CONSTRAINT notifications_pkey TO notifications_unpartitioned_pkey;
CREATE TABLE notifications (
    notification_id bigint GENERATED ALWAYS AS IDENTITY,
    person_id       bigint NOT NULL,
    at              timestamptz NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('color_changed', 'appeal_changed')),
    detail          jsonb NOT NULL,
    read_at         timestamptz,
    PRIMARY KEY (person_id, notification_id, at)
) PARTITION BY RANGE (at);
CREATE TABLE notifications_default PARTITION OF notifications DEFAULT;
INSERT INTO notifications OVERRIDING SYSTEM VALUE SELECT * FROM notifications_unpartitioned;
SELECT setval(pg_get_serial_sequence('notifications', 'notification_id'),
              coalesce((SELECT max(notification_id) FROM notifications_unpartitioned), 0) + 1,
              false);
DROP TABLE notifications_unpartitioned;

-- The audit log keeps its chain: entries are copied as they are, hashes and all.
ALTER TABLE audit_log RENAME TO audit_log_unpartitioned;
ALTER INDEX audit_log_person RENAME TO audit_log_unpartitioned_person;
ALTER TABLE audit_log_unpartitioned RENAME CONSTRAINT audit_log_pkey TO audit_log_unpartitioned_pkey;
CREATE TABLE audit_log (
    seq        bigint NOT NULL,
    at         timestamptz NOT NULL,
    actor_role text NOT NULL,
    actor_sub  text NOT NULL,
    action     text NOT NULL,
    person_ref text,
    subject    text,
    detail     jsonb NOT NULL DEFAULT '{}',
    prev_hash  text NOT NULL,
    hash       text NOT NULL,
    PRIMARY KEY (seq, at)
) PARTITION BY RANGE (at);
CREATE INDEX audit_log_person ON audit_log (person_ref, seq) WHERE person_ref IS NOT NULL;
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;
INSERT INTO audit_log SELECT * FROM audit_log_unpartitioned;
DROP TABLE audit_log_unpartitioned;  -- its statement trigger goes with it

-- Append-only, partitions included: a row trigger on the parent is cloned onto every
-- partition (present and future), so UPDATE and DELETE are refused whether they name the
-- parent or a partition; TRUNCATE is refused on the parent here and on each partition as
-- the worker creates it. Whoever can switch these off is still caught by the chain.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log_default
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
