-- The features common on each plan, segment and the whole book, per usage source, found by each full pass, for
-- measuring adoption in passes over a few accounts. `features` is a JSON array of feature names.
CREATE TABLE common_features (
    as_of INTEGER NOT NULL,
    scope TEXT NOT NULL,
    grp TEXT NOT NULL,
    source TEXT NOT NULL,
    accounts INTEGER NOT NULL,
    features TEXT NOT NULL,
    PRIMARY KEY (as_of, scope, grp, source)
) WITHOUT ROWID;
