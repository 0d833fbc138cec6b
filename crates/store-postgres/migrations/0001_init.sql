-- Bellwether's PostgreSQL schema, version 1: the same records as the embedded store. Times are BIGINT
-- milliseconds since the Unix epoch (UTC); days are INTEGER days since 1970-01-01; money is BIGINT minor units.
--
-- Ready to distribute by account: every table of account data carries `account_id`, and every primary key of
-- such a table leads with it, so each could be distributed by that column (with Citus:
-- `SELECT create_distributed_table('tickets', 'account_id')`) without a schema change. Records that move
-- between accounts (a ticket re-sent under another account) are deleted from the old account and inserted
-- under the new one, never updated in place. The other tables are book-wide (reference tables): see
-- docs/storage.md.

-- Accounts and their facts (distributed by account_id).
CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    first_seen BIGINT NOT NULL
);

CREATE TABLE account_attrs (
    account_id TEXT NOT NULL,
    attr TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    value TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, attr, valid_from)
);

CREATE TABLE contacts (
    account_id TEXT NOT NULL,
    id TEXT NOT NULL,
    email TEXT,
    name TEXT,
    first_seen BIGINT,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX contacts_id ON contacts (id);
CREATE INDEX contacts_first_seen ON contacts (first_seen);

-- A contact's attribute changes, under the contact's account ('' until the contact itself arrives; they move
-- with the contact).
CREATE TABLE contact_attrs (
    account_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    attr TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    value TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, contact_id, attr, valid_from)
);
CREATE INDEX contact_attrs_contact ON contact_attrs (contact_id);

CREATE TABLE tickets (
    account_id TEXT NOT NULL,
    id TEXT NOT NULL,
    contact_id TEXT,
    opened_at BIGINT NOT NULL,
    closed_at BIGINT,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    escalated BOOLEAN NOT NULL,
    first_response_minutes DOUBLE PRECISION,
    resolution_minutes DOUBLE PRECISION,
    sla_breached BOOLEAN NOT NULL,
    csat DOUBLE PRECISION,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    sentiment DOUBLE PRECISION,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX tickets_id ON tickets (id);
CREATE INDEX tickets_opened ON tickets (opened_at);

CREATE TABLE billing_events (
    account_id TEXT NOT NULL,
    id TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    amount BIGINT,
    currency TEXT,
    mrr_delta BIGINT,
    seats_delta BIGINT,
    plan TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX billing_id ON billing_events (id);
CREATE INDEX billing_at ON billing_events (at);

CREATE TABLE subscriptions (
    account_id TEXT NOT NULL,
    id TEXT NOT NULL,
    plan TEXT NOT NULL,
    start_day INTEGER NOT NULL,
    end_day INTEGER,
    mrr BIGINT NOT NULL,
    currency TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    term_days INTEGER,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX subscriptions_id ON subscriptions (id);
CREATE INDEX subscriptions_start ON subscriptions (start_day);

CREATE TABLE interactions (
    account_id TEXT NOT NULL,
    id TEXT NOT NULL,
    contact_id TEXT,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    response TEXT,
    score DOUBLE PRECISION,
    note TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX interactions_id ON interactions (id);
CREATE INDEX interactions_at ON interactions (at);

CREATE TABLE outcomes (
    account_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    arr_delta BIGINT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, day, kind)
);

-- All daily series of one account, packed (see bellwether_core::series).
CREATE TABLE series (
    account_id TEXT PRIMARY KEY,
    packed BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Each account's facts packed into one value (bellwether_store::codec::facts), so a full pass reads the book
-- in one scan; the fact tables stay the record. facts_dirty lists the accounts whose pack is out of date.
CREATE TABLE facts_packed (
    account_id TEXT PRIMARY KEY,
    packed BYTEA NOT NULL
);
CREATE TABLE facts_dirty (
    account_id TEXT PRIMARY KEY
);

-- One assessment per account and day; current_assessments points at each account's current one.
CREATE TABLE assessments (
    account_id TEXT NOT NULL,
    as_of INTEGER NOT NULL,
    health DOUBLE PRECISION NOT NULL,
    risk_proxy DOUBLE PRECISION NOT NULL,
    churn_probability DOUBLE PRECISION,
    priority DOUBLE PRECISION NOT NULL,
    owner TEXT,
    arr BIGINT,
    reason TEXT NOT NULL,
    components BYTEA NOT NULL,
    PRIMARY KEY (account_id, as_of)
);
CREATE INDEX assessments_day ON assessments (as_of);

CREATE TABLE current_assessments (
    account_id TEXT PRIMARY KEY,
    as_of INTEGER NOT NULL,
    ended BOOLEAN NOT NULL
);

CREATE TABLE signals (
    account_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    direction TEXT NOT NULL,
    severity TEXT NOT NULL,
    detected_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    evidence TEXT NOT NULL,
    explanation TEXT NOT NULL,
    suggested_action TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    resolved_at INTEGER,
    snoozed_until INTEGER,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX signals_id ON signals (id);
CREATE INDEX signals_status ON signals (status, severity);

-- A day's predictions of one account: one document holding every target (bellwether_store::codec::docs).
CREATE TABLE account_predictions (
    account_id TEXT NOT NULL,
    as_of INTEGER NOT NULL,
    predictions BYTEA NOT NULL,
    PRIMARY KEY (account_id, as_of)
);
CREATE INDEX account_predictions_day ON account_predictions (as_of);

-- Exact distinct users: one row per user seen in one distinct-user series of an account on one day
-- (series_key hashes the account and the series name; bellwether_store::codec::distinct).
CREATE TABLE distinct_users (
    account_id TEXT NOT NULL,
    series_key BIGINT NOT NULL,
    day INTEGER NOT NULL,
    user_hash BIGINT NOT NULL,
    PRIMARY KEY (account_id, series_key, day, user_hash)
);

-- The contacts each CRM source listed last time.
CREATE TABLE crm_contacts_seen (
    account_id TEXT NOT NULL,
    source TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, source, contact_id)
);
CREATE INDEX crm_contacts_seen_source ON crm_contacts_seen (source);

-- Book-wide tables (reference tables when distributed).
CREATE TABLE imports (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    records BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    chunks BIGINT NOT NULL
);

-- Chunk fingerprints (xxHash3-128, hex): a chunk stored once is never stored again.
CREATE TABLE chunks (
    fingerprint TEXT PRIMARY KEY,
    import_id BIGINT NOT NULL REFERENCES imports (id)
);

-- Every metric with its first and last day of data: the book's feature catalogue.
CREATE TABLE catalog (
    metric TEXT PRIMARY KEY,
    first_day INTEGER NOT NULL,
    last_day INTEGER
);

CREATE TABLE peer_stats (
    as_of INTEGER NOT NULL,
    segment TEXT NOT NULL,
    accounts BIGINT NOT NULL,
    utilisation DOUBLE PRECISION,
    events_per_seat DOUBLE PRECISION,
    PRIMARY KEY (as_of, segment)
);

CREATE TABLE common_features (
    as_of INTEGER NOT NULL,
    scope TEXT NOT NULL,
    grp TEXT NOT NULL,
    source TEXT NOT NULL,
    accounts BIGINT NOT NULL,
    features TEXT NOT NULL,
    PRIMARY KEY (as_of, scope, grp, source)
);

CREATE TABLE models (
    version BIGSERIAL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    trained_from INTEGER NOT NULL,
    trained_to INTEGER NOT NULL,
    engine TEXT NOT NULL,
    features TEXT NOT NULL,
    params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT false,
    bundle BYTEA NOT NULL
);
CREATE UNIQUE INDEX models_one_active ON models (active) WHERE active;

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Message ids marked received by the webhook path (the inbox keeps its own, below).
CREATE TABLE received_messages (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (source, id)
);

-- Outside identities (a Segment user, a Stripe customer) to accounts: looked up by the outside id.
CREATE TABLE identity_links (
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source, external_id)
);

-- Messages kept until their user is linked to an account (no account yet).
CREATE TABLE pending_messages (
    source TEXT NOT NULL,
    user_key TEXT NOT NULL,
    id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    payload TEXT NOT NULL,
    kind SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, user_key, id)
);

CREATE TABLE crm_users (
    source TEXT NOT NULL,
    seq BIGINT NOT NULL,
    user_id TEXT,
    name TEXT,
    email TEXT NOT NULL,
    PRIMARY KEY (source, seq)
);

-- The tracking inbox: ids of every message acknowledged, and the acknowledged groups waiting to be applied
-- (bodies as bellwether_store::codec::inbox lays them out). inbox_applied holds, per source, the last group
-- whose effects are stored, written in the transaction that stores them.
CREATE TABLE inbox_received (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE TABLE inbox (
    seq BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    messages BIGINT NOT NULL,
    body BYTEA NOT NULL
);
CREATE INDEX inbox_source ON inbox (source, seq);
CREATE TABLE inbox_applied (
    source TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
