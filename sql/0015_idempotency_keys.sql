-- Idempotency keys (codesvc.service.idempotency): a creating request that carries an
-- Idempotency-Key claims (caller, key) in the transaction that makes its change, and stores
-- its answer there before that transaction commits. A retry of the same request (the same
-- fingerprint: method, path and body) is given the stored answer again; a different request
-- under the same key is refused. Not a per-person table: it is keyed by the caller, and is
-- kept on the coordinator should the per-person tables ever be distributed.
CREATE TABLE idempotency_keys (
    -- "role:sub" of the verified caller: another caller's same key is another key.
    caller      text NOT NULL,
    key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the method, the path and the body read as JSON.
    fingerprint bytea NOT NULL CHECK (length(fingerprint) = 32),
    created_at  timestamptz NOT NULL,
    -- The first answer; NULL only inside the claiming transaction, never once committed.
    status      smallint CHECK (status BETWEEN 200 AND 299),
    body        bytea,
    CHECK ((status IS NULL) = (body IS NULL)),
    PRIMARY KEY (caller, key)
);

-- The worker forgets keys past their retention, oldest first.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
