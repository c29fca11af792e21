-- City-wide changes as jobs: a risk-area listing or a test campaign re-evaluates its
-- people in chunks, each chunk committing its own progress, so a killed worker resumes
-- where it stopped. Workers claim a job's row with FOR UPDATE SKIP LOCKED per chunk.

CREATE TABLE jobs (
    job_id      text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('listing', 'campaign')),
    -- A listing job re-evaluates the people with an arrival from area_code in
    -- [window_from, window_to); a campaign job the people its campaign can hold.
    area_code   text,
    window_from timestamptz,
    window_to   timestamptz,
    campaign_id text REFERENCES campaigns,
    -- What history and notifications name as the cause: "listing:440306", "campaign:c_…".
    cause       text NOT NULL,
    state       text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    -- Transactions in flight when the change committed; the job lists its people only
    -- after they have ended, so an event committed alongside the change is not missed.
    settle_xids bigint[],
    total       bigint,
    done        bigint NOT NULL DEFAULT 0,
    -- People are taken in person_id order; every id up to here has been re-evaluated.
    cursor      bigint NOT NULL DEFAULT 0,
    attempts    integer NOT NULL DEFAULT 0,
    error       text,
    created_by  text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    CHECK ((kind = 'listing') = (area_code IS NOT NULL)),
    CHECK ((kind = 'campaign') = (campaign_id IS NOT NULL))
);
CREATE INDEX jobs_running ON jobs (started_at) WHERE state = 'running';

-- A listing job walks the area's arrivals in person order, chunk by chunk.
CREATE INDEX events_arrival_area_person ON events ((data ->> 'area_code'), person_id, occurred_at)
    WHERE kind = 'travel.arrival';
DROP INDEX events_arrival_area;

-- Whether a running job has yet to re-evaluate this person: their stored colour may
-- predate the change, so the door evaluates them afresh. One probe of an empty partial
-- index when no job runs.
CREATE FUNCTION awaits_job(p_person_id bigint, p_district text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM jobs j
        WHERE j.state = 'running' AND j.cursor < p_person_id
          AND CASE j.kind
              WHEN 'listing' THEN EXISTS (
                  SELECT 1 FROM events e
                  WHERE e.person_id = p_person_id AND e.kind = 'travel.arrival'
                    AND e.data ->> 'area_code' = j.area_code)
              ELSE EXISTS (
                  SELECT 1 FROM campaigns c
                  WHERE c.campaign_id = j.campaign_id AND p_district = ANY (c.districts))
              END)
$$;
