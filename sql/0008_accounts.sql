-- Staff and commission accounts, their server-side sessions and failed sign-ins.

CREATE TABLE accounts (
    sub           text PRIMARY KEY CHECK (sub ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role          text NOT NULL CHECK (role IN ('staff', 'commission')),
    -- Staff work one district; the commission the whole city.
    district      text CHECK (district ~ '^[0-9]{6}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- argon2id, in the PHC string format argon2-cffi writes.
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- The TOTP secret sealed with AES-GCM under a key kept outside the database.
    totp_sealed   bytea,
    -- The last TOTP time step accepted: a code is good once.
    totp_step     bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    disabled_at   timestamptz,
    CHECK ((role = 'staff') = (district IS NOT NULL)),
    CHECK (role <> 'commission' OR totp_sealed IS NOT NULL)
);

-- Keyed by a hash of the cookie's random id: the table alone cannot be used to sign in.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    sub          text NOT NULL REFERENCES accounts,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    ended_why    text CHECK (ended_why IN ('signed_out', 'disabled', 'reset'))
);
CREATE INDEX sessions_account ON sessions (sub) WHERE ended_at IS NULL;

-- Failed sign-ins, counted per account name (known or not) for the lockout; shared by
-- every server process because it is here.
CREATE TABLE sign_in_failures (
    sub text NOT NULL,
    at  timestamptz NOT NULL
);
CREATE INDEX sign_in_failures_sub ON sign_in_failures (sub, at);
