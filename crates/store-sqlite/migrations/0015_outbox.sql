-- The durable outbox: alerts and digests written in the transaction that decided them, delivered at least once
-- by a worker that claims due entries under a lease (see crates/store/src/outbox.rs).
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    account_id TEXT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    holder TEXT,
    lease_until INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_at INTEGER,
    reference TEXT
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
