-- Appeals and their trail, four-eyes overrides, the hash-chained audit log and the
-- citizens' notifications.

CREATE TABLE appeals (
    appeal_id         text PRIMARY KEY,
    person_id         bigint NOT NULL REFERENCES persons,
    -- The office that works it: the district that reported the disputed event, else the
    -- person's own.
    district          text NOT NULL CHECK (district ~ '^[0-9]{6}$'),
    category          text NOT NULL CHECK (category IN
                          ('wrong_travel_record', 'missing_test_result', 'wrong_test_result',
                           'other')),
    description       text NOT NULL,
    evidence          jsonb NOT NULL DEFAULT '{}',
    disputed_event_id uuid REFERENCES events,
    status            text NOT NULL CHECK (status IN
                          ('submitted', 'in_review', 'corrected', 'upheld', 'escalated',
                           'withdrawn')),
    claimed_by        text,
    filed_at          timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    decided_at        timestamptz,
    -- What the citizen is told about the decision.
    outcome_note      text,
    version           bigint NOT NULL DEFAULT 1
);
CREATE INDEX appeals_queue ON appeals (district, due_at)
    WHERE status IN ('submitted', 'in_review', 'escalated');
CREATE INDEX appeals_district ON appeals (district, status, due_at);
CREATE INDEX appeals_person ON appeals (person_id, filed_at);
-- A citizen has at most one open appeal per disputed event.
CREATE UNIQUE INDEX appeals_one_open_per_event ON appeals (person_id, disputed_event_id)
    WHERE status IN ('submitted', 'in_review', 'escalated') AND disputed_event_id IS NOT NULL;

-- Every state change, with who, when and why (the filing is the first, from NULL).
CREATE TABLE appeal_transitions (
    transition_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appeal_id     text NOT NULL REFERENCES appeals,
    at            timestamptz NOT NULL,
    actor_role    text NOT NULL,
    actor_sub     text NOT NULL,
    from_status   text,
    to_status     text NOT NULL,
    why           text
);
CREATE INDEX appeal_transitions_appeal ON appeal_transitions (appeal_id, transition_id);

CREATE TABLE appeal_notes (
    note_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appeal_id   text NOT NULL REFERENCES appeals,
    author_role text NOT NULL,
    author_sub  text NOT NULL,
    visibility  text NOT NULL CHECK (visibility IN ('internal', 'citizen')),
    text        text NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX appeal_notes_appeal ON appeal_notes (appeal_id, note_id);

-- A manual colour: proposed by one commission member, in force only once another approves.
CREATE TABLE overrides (
    override_id text PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES persons,
    color       text NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
    reason      text NOT NULL,
    until       timestamptz,
    status      text NOT NULL CHECK (status IN ('proposed', 'approved')),
    proposed_by text NOT NULL,
    proposed_at timestamptz NOT NULL,
    -- The four-eyes rule, kept by the database too.
    approved_by text CHECK (approved_by <> proposed_by),
    approved_at timestamptz,
    event_id    uuid REFERENCES events,
    CHECK ((status = 'approved') = (approved_by IS NOT NULL))
);
CREATE INDEX overrides_proposer ON overrides (proposed_by, proposed_at);
CREATE INDEX overrides_person ON overrides (person_id, proposed_at);

-- Append-only and hash-chained: each entry's hash covers the previous entry's hash and
-- the entry (codesvc/audit.py), so an edited or removed entry is found by `codesvc verify`.
CREATE TABLE audit_log (
    seq        bigint PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor_role text NOT NULL,
    actor_sub  text NOT NULL,
    action     text NOT NULL,
    person_ref text,
    subject    text,
    detail     jsonb NOT NULL DEFAULT '{}',
    prev_hash  text NOT NULL,
    hash       text NOT NULL
);
CREATE INDEX audit_log_person ON audit_log (person_ref, seq) WHERE person_ref IS NOT NULL;

-- The chain's last entry. Appenders lock this row, so the chain stays a single line, and
-- verification compares with it, so entries cut off the end are noticed too.
CREATE TABLE audit_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq      bigint NOT NULL,
    hash     text NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, repeat('0', 64));

-- Refuse edits outright; whoever can switch this off is still caught by the chain.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only; % is not allowed', TG_OP;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- What a citizen is told: their colour changed, their appeal moved. Written in the same
-- transaction as the change. No foreign key: it is written on the hot path of every
-- status refresh (a campaign can move millions), and persons are never deleted.
CREATE TABLE notifications (
    notification_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id       bigint NOT NULL,
    at              timestamptz NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('color_changed', 'appeal_changed')),
    detail          jsonb NOT NULL,
    read_at         timestamptz
);
CREATE INDEX notifications_person ON notifications (person_id, notification_id);
