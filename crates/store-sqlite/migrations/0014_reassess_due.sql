-- Accounts whose data a live write changed and that wait to be re-assessed: written in the transaction that
-- changes the data, removed once a pass has assessed them; a server that stopped before re-assessing finds
-- them when it starts again.
CREATE TABLE reassess_due (
    account_id TEXT PRIMARY KEY,
    marked_at INTEGER NOT NULL
) WITHOUT ROWID;
