-- The users (record owners) of each CRM source's last users export, for resolving owner ids and names in its
-- other exports to the owners' emails.
CREATE TABLE crm_users (
    source TEXT NOT NULL,
    seq INTEGER NOT NULL,
    user_id TEXT,
    name TEXT,
    email TEXT NOT NULL,
    PRIMARY KEY (source, seq)
) WITHOUT ROWID;
