-- The ingestion server: API keys, de-duplication of received messages, links from outside identities (a
-- Segment user, a Stripe customer) to accounts, messages kept until their user is linked, exact distinct users
-- per account, day and series, and contact lists seen per CRM import.

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;

CREATE TABLE received_messages (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, id)
) WITHOUT ROWID;

CREATE TABLE identity_links (
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source, external_id)
) WITHOUT ROWID;

CREATE TABLE pending_messages (
    source TEXT NOT NULL,
    user_key TEXT NOT NULL,
    id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (source, user_key, id)
) WITHOUT ROWID;

-- One row per user seen in one distinct-user series of an account on one day; `series_key` is a 64-bit hash of
-- the account id and the series name (integer keys keep the hot insert cheap).
CREATE TABLE distinct_users (
    series_key INTEGER NOT NULL,
    day INTEGER NOT NULL,
    user_hash INTEGER NOT NULL,
    PRIMARY KEY (series_key, day, user_hash)
) WITHOUT ROWID;

CREATE TABLE crm_contacts_seen (
    source TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (source, contact_id)
) WITHOUT ROWID;
