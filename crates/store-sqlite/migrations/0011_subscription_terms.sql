-- The billing term of a subscription, in days (30 monthly, 91 quarterly, 365 annual), when the source says it:
-- labels follow each account's cadence (a monthly contract's grace period is days, not a month).
ALTER TABLE subscriptions ADD COLUMN term_days INTEGER;
