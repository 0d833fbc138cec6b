-- Bellwether's embedded schema, version 1. Times are INTEGER milliseconds since the Unix epoch (UTC); days are
-- INTEGER days since 1970-01-01; money is INTEGER minor units.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL
) WITHOUT ROWID;

-- Attribute history: one row per change, read "as of" by valid_from (event time); received_at replays late data.
CREATE TABLE account_attrs (
    account_id TEXT NOT NULL,
    attr TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    value TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, attr, valid_from)
) WITHOUT ROWID;

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    email TEXT,
    name TEXT,
    first_seen INTEGER
) WITHOUT ROWID;
CREATE INDEX contacts_account ON contacts (account_id);

CREATE TABLE contact_attrs (
    contact_id TEXT NOT NULL,
    attr TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    value TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (contact_id, attr, valid_from)
) WITHOUT ROWID;

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    contact_id TEXT,
    opened_at INTEGER NOT NULL,
    closed_at INTEGER,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    escalated INTEGER NOT NULL,
    first_response_minutes REAL,
    resolution_minutes REAL,
    sla_breached INTEGER NOT NULL,
    csat REAL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tickets_account ON tickets (account_id, opened_at);

CREATE TABLE billing_events (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    amount INTEGER,
    currency TEXT,
    mrr_delta INTEGER,
    seats_delta INTEGER,
    plan TEXT,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX billing_account ON billing_events (account_id, at);

CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    start_day INTEGER NOT NULL,
    end_day INTEGER,
    mrr INTEGER NOT NULL,
    currency TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX subscriptions_account ON subscriptions (account_id, start_day);

CREATE TABLE interactions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    contact_id TEXT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    response TEXT,
    score REAL,
    note TEXT NOT NULL,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX interactions_account ON interactions (account_id, at);

CREATE TABLE outcomes (
    account_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    arr_delta INTEGER,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, day, kind)
) WITHOUT ROWID;

-- All daily series of one account, packed (see bellwether_core::series).
CREATE TABLE series (
    account_id TEXT PRIMARY KEY,
    packed BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    records INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    chunks INTEGER NOT NULL
);

-- Chunk fingerprints (xxHash3-128, hex): a chunk stored once is never stored again.
CREATE TABLE chunks (
    fingerprint TEXT PRIMARY KEY,
    import_id INTEGER NOT NULL REFERENCES imports (id)
) WITHOUT ROWID;

-- Daily health history: one assessment per account and day.
CREATE TABLE assessments (
    account_id TEXT NOT NULL,
    as_of INTEGER NOT NULL,
    health REAL NOT NULL,
    risk_proxy REAL NOT NULL,
    churn_probability REAL,
    priority REAL NOT NULL,
    owner TEXT,
    arr INTEGER,
    reason TEXT NOT NULL,
    components TEXT NOT NULL,
    PRIMARY KEY (account_id, as_of)
) WITHOUT ROWID;
CREATE INDEX assessments_day ON assessments (as_of);

CREATE TABLE signals (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    detected_at INTEGER NOT NULL,
    evidence TEXT NOT NULL,
    explanation TEXT NOT NULL,
    suggested_action TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX signals_account ON signals (account_id, kind);

CREATE TABLE plays (
    id TEXT PRIMARY KEY,
    playbook TEXT NOT NULL,
    account_id TEXT NOT NULL,
    assignee TEXT,
    due INTEGER,
    status TEXT NOT NULL,
    result TEXT
) WITHOUT ROWID;
