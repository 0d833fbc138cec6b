-- Scheduled job runs (the daily pass, retraining, digests): one row per job and scheduled slot, claimed by one
-- replica at a time under a lease its holder renews; a run still running whose lease ran out is taken over.
-- A book-wide (reference) table.
CREATE TABLE job_runs (
    name TEXT NOT NULL,
    slot BIGINT NOT NULL,
    holder TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    finished_at BIGINT,
    attempts BIGINT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (name, slot)
);
