-- The durable outbox: alerts and digests written in the transaction that decided them, delivered at least once
-- by a worker that claims due entries under a lease (see crates/store/src/outbox.rs). A book-wide table: an
-- entry may concern no account (a digest).
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    account_id TEXT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    holder TEXT,
    lease_until BIGINT,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_at BIGINT,
    reference TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
