-- The door device: scans it decided offline and uploaded later, and enrolment codes.

-- When an offline scan reached the service; NULL for a scan answered online. For an
-- offline scan, scanned_at is when it happened at the door (the door's clock).
ALTER TABLE scans ADD COLUMN uploaded_at timestamptz;

-- One-time codes that enrol a venue's device (codesvc.service.enrolments). Only the hash of
-- a code is kept.
CREATE TABLE venue_enrolments (
    code_hash   bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    venue       text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL CHECK (expires_at > created_at),
    redeemed_at timestamptz
);
CREATE INDEX venue_enrolments_venue ON venue_enrolments (venue);
