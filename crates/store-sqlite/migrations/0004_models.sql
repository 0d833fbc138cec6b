-- The model registry: one row per trained version, at most one active.
CREATE TABLE models (
    version INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    trained_from INTEGER NOT NULL,
    trained_to INTEGER NOT NULL,
    engine TEXT NOT NULL,
    features TEXT NOT NULL,
    params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    bundle BLOB NOT NULL
);

-- Each day's predictions per account and target, with their drivers (JSON).
CREATE TABLE predictions (
    account_id TEXT NOT NULL,
    as_of INTEGER NOT NULL,
    target TEXT NOT NULL,
    probability REAL NOT NULL,
    base_probability REAL NOT NULL,
    model_version INTEGER NOT NULL,
    drivers TEXT NOT NULL,
    PRIMARY KEY (account_id, as_of, target)
) WITHOUT ROWID;
CREATE INDEX predictions_day ON predictions (as_of);
