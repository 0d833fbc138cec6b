-- Scheduled job runs (the daily pass, retraining, digests): one row per job and scheduled slot, claimed by one
-- process at a time under a lease its holder renews; a run still running whose lease ran out is taken over.
CREATE TABLE job_runs (
    name TEXT NOT NULL,
    slot INTEGER NOT NULL,
    holder TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    finished_at INTEGER,
    attempts INTEGER NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (name, slot)
) WITHOUT ROWID;
