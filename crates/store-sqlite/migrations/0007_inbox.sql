-- The tracking inbox lives in a file of its own beside the database (`<name>.inbox.db`, see `inbox.rs`), so
-- acknowledging messages never waits for the transactions that apply them. Here, in the same transaction as
-- the effects of each applied inbox group, is the sequence number of the last group applied per source: a
-- group at or below it is never applied again, even if the server stopped before removing it from the inbox.
CREATE TABLE inbox_applied (
    source TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;

-- The kind of a pending message (the same code as in the inbox; 0 when the payload names its own type).
ALTER TABLE pending_messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
