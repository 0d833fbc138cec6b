-- Accounts whose data a live write changed and that wait to be re-assessed: written in the transaction that
-- changes the data, removed once a pass has assessed them. A server that stops before re-assessing leaves
-- its marks here for any other server on the store to pick up. Distributed by account.
CREATE TABLE reassess_due (
    account_id TEXT PRIMARY KEY,
    marked_at BIGINT NOT NULL,
    -- Counts the writes that marked it: a pass removes the mark only if no write marked it again since the
    -- pass read it.
    mark BIGINT NOT NULL DEFAULT 1
);
