-- Rate limits that hold across server processes and instances: a token bucket per limit
-- and key (a venue's scans, its id-card scans). The scan statement takes its tokens in the
-- same round trip that records the scans, so a shared limit costs a door no extra trip.
-- UNLOGGED: the hot path writes no WAL for it; after a crash or a failover the buckets
-- start full again, which forgives at most one burst.
CREATE UNLOGGED TABLE rate_buckets (
    bucket  text NOT NULL,
    key     text NOT NULL,
    tokens  double precision NOT NULL,
    -- How many tokens the last take was granted (read back by that same statement).
    granted double precision NOT NULL,
    at      timestamptz NOT NULL,
    PRIMARY KEY (bucket, key)
);
