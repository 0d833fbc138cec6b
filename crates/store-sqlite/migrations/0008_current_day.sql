-- The last day each metric has data, so the book's data end is read without loading every series (filled from
-- the stored series when this migration runs).
ALTER TABLE catalog ADD COLUMN last_day INTEGER;

-- The last subscription start, read by the book summary without a scan.
CREATE INDEX subscriptions_start ON subscriptions (start_day);

-- Each account's current assessment: the latest day it was assessed on, and whether it had ended by that day
-- (an ended account leaves the current list at once).
CREATE TABLE current_assessments (
    account_id TEXT PRIMARY KEY,
    as_of INTEGER NOT NULL,
    ended INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO current_assessments (account_id, as_of, ended)
    SELECT account_id, max(as_of), 0 FROM assessments GROUP BY account_id;
