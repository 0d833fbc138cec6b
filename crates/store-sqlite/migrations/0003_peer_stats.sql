-- Segment medians of each full pass, for comparing accounts with their peers in passes over a few accounts.
CREATE TABLE peer_stats (
    as_of INTEGER NOT NULL,
    segment TEXT NOT NULL,
    accounts INTEGER NOT NULL,
    utilisation REAL,
    events_per_seat REAL,
    PRIMARY KEY (as_of, segment)
) WITHOUT ROWID;
