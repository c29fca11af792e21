-- The console: override proposals another member may reject, and colour counts per
-- district at past instants, which never change once past (history as shown).

ALTER TABLE overrides DROP CONSTRAINT overrides_status_check;
ALTER TABLE overrides ADD CONSTRAINT overrides_status_check
    CHECK (status IN ('proposed', 'approved', 'rejected'));
ALTER TABLE overrides
    ADD COLUMN rejected_by text CHECK (rejected_by <> proposed_by),
    ADD COLUMN rejected_at timestamptz,
    ADD COLUMN rejection_reason text,
    ADD CONSTRAINT overrides_rejected CHECK ((status = 'rejected') = (rejected_by IS NOT NULL));

CREATE TABLE color_counts (
    at       timestamptz NOT NULL,
    district text NOT NULL CHECK (district ~ '^[0-9]{6}$'),
    green    bigint NOT NULL,
    yellow   bigint NOT NULL,
    red      bigint NOT NULL,
    PRIMARY KEY (at, district)
);
-- The instants counted (a district with nobody at an instant has no row above).
CREATE TABLE color_count_steps (
    at timestamptz PRIMARY KEY
);
