-- The people directory of the `people` import kind (JSON, keyed by the lower-case email), and the person each
-- outbox entry is routed to, so one person's alerts of the day (their cap), and the alerts folded into the
-- week's digests, are read without scanning the outbox.
CREATE TABLE people (
    email TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE outbox ADD COLUMN recipient TEXT;
CREATE INDEX outbox_recipient ON outbox (recipient, delivered_at) WHERE recipient IS NOT NULL;
CREATE INDEX outbox_folded ON outbox (delivered_at) WHERE state = 'folded';
-- The segment's median expansion (a share of ARR), for the worklist's expansion potential.
ALTER TABLE peer_stats ADD COLUMN expansion_share REAL;
