-- Signed checkpoints of the audit chain's head (SPEC §9). The same lines go to a file
-- outside the database; these rows let the commission list them over HTTP. Someone who
-- can rewrite audit_log can rewrite this table too, but not forge its signatures.
CREATE TABLE audit_checkpoints (
    seq  bigint PRIMARY KEY CHECK (seq > 0),
    hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    at   timestamptz NOT NULL,
    sig  text NOT NULL
);
