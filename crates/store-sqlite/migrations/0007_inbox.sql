-- The tracking inbox: messages the server has acknowledged and not yet applied to the accounts' facts and
-- series. One row per committed group of requests; `body` holds its messages, each as a one-byte type code, a
-- four-byte little-endian length and the message's JSON. A row is deleted in the transaction that applies it,
-- so whatever is here after a crash is applied at the next start. AUTOINCREMENT keeps sequence numbers from
-- being reused after the newest row is deleted.
CREATE TABLE inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    body BLOB NOT NULL
);

-- The kind of a pending message (the same code as in the inbox; 0 when the payload names its own type).
ALTER TABLE pending_messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
