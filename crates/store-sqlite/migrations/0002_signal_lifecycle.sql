-- Signal lifecycle: one signal per condition while it lasts, with its direction, the last pass that saw it,
-- when it was resolved and until when it is snoozed.
ALTER TABLE signals ADD COLUMN direction TEXT NOT NULL DEFAULT 'risk';
ALTER TABLE signals ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE signals ADD COLUMN resolved_at INTEGER;
ALTER TABLE signals ADD COLUMN snoozed_until INTEGER;
CREATE INDEX signals_status ON signals (status, severity);

-- Every metric name with the first day it has data: the book's feature catalogue, read as of a day without
-- loading every account's series.
CREATE TABLE catalog (
    metric TEXT PRIMARY KEY,
    first_day INTEGER NOT NULL
) WITHOUT ROWID;

-- The first fact of each source, read by the book summary, without a scan.
CREATE INDEX tickets_opened ON tickets (opened_at);
CREATE INDEX interactions_at ON interactions (at);
CREATE INDEX billing_at ON billing_events (at);
CREATE INDEX contacts_first_seen ON contacts (first_seen);
ALTER TABLE tickets ADD COLUMN sentiment REAL;

