-- Accounts whose data a live write changed and that wait to be re-assessed: written in the transaction that
-- changes the data, removed once a pass has assessed them; a server that stopped before re-assessing finds
-- them when it starts again.
CREATE TABLE reassess_due (
    account_id TEXT PRIMARY KEY,
    marked_at INTEGER NOT NULL,
    -- Counts the writes that marked it: a pass removes the mark only if no write marked it again since the
    -- pass read it.
    mark INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
