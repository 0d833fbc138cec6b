-- Why a snoozed signal was snoozed, in the words of who snoozed it.
ALTER TABLE signals ADD COLUMN snooze_reason TEXT;
