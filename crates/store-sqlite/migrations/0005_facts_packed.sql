-- Each account's facts (attribute history, contacts and their histories, tickets, billing events,
-- subscriptions, interactions, outcomes) packed into one blob, so a full pass reads the book in one sequential
-- scan. The fact tables stay the record; a pack is rebuilt from them when the account is in facts_dirty.
CREATE TABLE facts_packed (
    account_id TEXT PRIMARY KEY,
    packed BLOB NOT NULL
) WITHOUT ROWID;

-- Accounts whose pack is missing or out of date. Writes add the accounts of the rows they insert; these
-- triggers add new accounts and the old account of every fact row updated, moved or replaced (a REPLACE
-- deletes the old row, and delete triggers fire for it because the store enables recursive triggers). They
-- test for the row instead of using INSERT OR IGNORE, because an outer statement's conflict handling
-- overrides a trigger's.
CREATE TABLE facts_dirty (
    account_id TEXT PRIMARY KEY
) WITHOUT ROWID;

INSERT OR IGNORE INTO facts_dirty (account_id) SELECT id FROM accounts;

CREATE TRIGGER accounts_packed_new AFTER INSERT ON accounts
BEGIN INSERT INTO facts_dirty (account_id) SELECT NEW.id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = NEW.id); END;

CREATE TRIGGER account_attrs_packed_upd AFTER UPDATE ON account_attrs
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;
CREATE TRIGGER account_attrs_packed_del AFTER DELETE ON account_attrs
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;

CREATE TRIGGER contacts_packed_upd AFTER UPDATE ON contacts
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;
CREATE TRIGGER contacts_packed_del AFTER DELETE ON contacts
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;

CREATE TRIGGER contact_attrs_packed_upd AFTER UPDATE ON contact_attrs
BEGIN INSERT INTO facts_dirty (account_id) SELECT account_id FROM contacts WHERE id = OLD.contact_id AND account_id NOT IN (SELECT account_id FROM facts_dirty); END;
CREATE TRIGGER contact_attrs_packed_del AFTER DELETE ON contact_attrs
BEGIN INSERT INTO facts_dirty (account_id) SELECT account_id FROM contacts WHERE id = OLD.contact_id AND account_id NOT IN (SELECT account_id FROM facts_dirty); END;

CREATE TRIGGER tickets_packed_upd AFTER UPDATE ON tickets
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;
CREATE TRIGGER tickets_packed_del AFTER DELETE ON tickets
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;

CREATE TRIGGER billing_packed_upd AFTER UPDATE ON billing_events
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;
CREATE TRIGGER billing_packed_del AFTER DELETE ON billing_events
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;

CREATE TRIGGER subscriptions_packed_upd AFTER UPDATE ON subscriptions
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;
CREATE TRIGGER subscriptions_packed_del AFTER DELETE ON subscriptions
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;

CREATE TRIGGER interactions_packed_upd AFTER UPDATE ON interactions
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;
CREATE TRIGGER interactions_packed_del AFTER DELETE ON interactions
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;

CREATE TRIGGER outcomes_packed_upd AFTER UPDATE ON outcomes
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;
CREATE TRIGGER outcomes_packed_del AFTER DELETE ON outcomes
BEGIN INSERT INTO facts_dirty (account_id) SELECT OLD.account_id WHERE NOT EXISTS (SELECT 1 FROM facts_dirty WHERE account_id = OLD.account_id); END;
