-- Every per-person table keeps person_id in its key, so that the tables can be distributed
-- by person later (README, "Capacity") without a redesign: history rows are named by
-- (person_id, row_id), as every statement that touches them now names both.
ALTER TABLE history DROP CONSTRAINT history_pkey;
ALTER TABLE history ADD PRIMARY KEY (person_id, row_id);
