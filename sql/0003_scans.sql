-- Venue scanning: the keys that sign citizens' codes, the scan records contact tracers
-- read, and the venues whose tokens are refused.

CREATE TABLE code_keys (
    kid         text PRIMARY KEY,
    -- The P-256 private key (PKCS#8 PEM) sealed with AES-GCM under a key derived from the
    -- code secret, which lives outside the database: a dump or replica alone cannot sign
    -- codes. Set to NULL when the key is retired: nothing signs with it again.
    private_pem bytea,
    public_jwk  jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz
);

-- Append-only. No foreign key to persons: rows are written only by a statement that has
-- just joined persons, persons are never deleted, and a per-row key check would be paid
-- on the busiest insert of the service.
CREATE TABLE scans (
    -- Time-ordered (UUID version 7 layout), so new rows land at the end of the index.
    scan_id    uuid PRIMARY KEY,
    venue      text NOT NULL,
    person_id  bigint NOT NULL,
    scanned_at timestamptz NOT NULL,
    -- The colour the door was shown.
    color      text NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
    method     text NOT NULL CHECK (method IN ('code', 'id_number'))
);
-- Contact tracing: where was this person, and who was at this venue, when.
CREATE INDEX scans_person ON scans (person_id, scanned_at);
CREATE INDEX scans_venue ON scans (venue, scanned_at);

CREATE TABLE venue_revocations (
    venue      text PRIMARY KEY,
    revoked_at timestamptz NOT NULL,
    revoked_by text NOT NULL,
    reason     text NOT NULL
);
