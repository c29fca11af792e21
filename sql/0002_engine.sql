-- The health-code engine: persons, their events, the stored status (a cache of the
-- replay), the bitemporal history, and the commission's risk areas and campaigns.

CREATE TABLE persons (
    person_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_ref    text NOT NULL UNIQUE,
    -- id numbers are kept only as a keyed hash (HMAC-SHA256 with the server's id secret).
    id_hash       bytea NOT NULL UNIQUE,
    name          text NOT NULL,
    phone         text,
    district      text NOT NULL CHECK (district ~ '^[0-9]{6}$'),
    registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX persons_district ON persons (district);

-- Append-only. person_id is NULL for a lab result the lab could not tie to a person.
CREATE TABLE events (
    event_id    uuid PRIMARY KEY,
    person_id   bigint REFERENCES persons,
    kind        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        jsonb NOT NULL,
    digest      bytea NOT NULL,
    sender      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_person ON events (person_id, occurred_at);
-- Finds exactly the people a risk-area listing can affect.
CREATE INDEX events_arrival_area ON events ((data ->> 'area_code'), occurred_at)
    WHERE kind = 'travel.arrival';
CREATE INDEX events_lab_sample ON events ((data ->> 'lab_id'), (data ->> 'sample_id'))
    WHERE kind = 'test.result';

-- The stored status: a cache of the replay of the person's events, proved by `codesvc verify`.
CREATE TABLE statuses (
    person_id      bigint PRIMARY KEY REFERENCES persons,
    color          text NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
    since          timestamptz NOT NULL,
    -- When the stored colour must next be recomputed: a deadline of a hold, or now() when
    -- a listing or campaign changed under the person (then due_cause says which).
    next_change_at timestamptz,
    due_cause      text,
    state          jsonb NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX statuses_due ON statuses (next_change_at) WHERE next_change_at IS NOT NULL;

-- Bitemporal: valid time [valid_from, valid_to), recorded at recorded_at, superseded
-- (never deleted) when a late event, a correction or a listing changes what is believed.
CREATE TABLE history (
    row_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id     bigint NOT NULL REFERENCES persons,
    valid_from    timestamptz NOT NULL,
    valid_to      timestamptz,
    color         text NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
    cause         text NOT NULL,
    recorded_at   timestamptz NOT NULL,
    superseded_at timestamptz,
    superseded_by text
);
CREATE INDEX history_current ON history (person_id, valid_from) WHERE superseded_at IS NULL;
CREATE INDEX history_person ON history (person_id, valid_from);

CREATE TABLE risk_listings (
    area_code  text NOT NULL CHECK (area_code ~ '^[0-9]{6}$'),
    valid_from timestamptz NOT NULL,
    level      text NOT NULL CHECK (level IN ('medium', 'high')),
    valid_to   timestamptz CHECK (valid_to IS NULL OR valid_to >= valid_from),
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (area_code, valid_from)
);

CREATE TABLE campaigns (
    campaign_id text PRIMARY KEY,
    districts   text[] NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at > starts_at),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_districts ON campaigns USING gin (districts);
