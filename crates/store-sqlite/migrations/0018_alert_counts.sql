-- Each person's alerts counted against their daily cap: one row per alert, whatever the channels it goes by,
-- written by the worker that decided to send it inside the write transaction, so that workers in several
-- processes never send a person more than their cap. Alerts delivered before this table existed are counted.
CREATE TABLE alert_counts (
    recipient TEXT NOT NULL,
    alert TEXT NOT NULL,
    counted_at INTEGER NOT NULL,
    PRIMARY KEY (recipient, alert)
) WITHOUT ROWID;
CREATE INDEX alert_counts_day ON alert_counts (recipient, counted_at);
INSERT OR IGNORE INTO alert_counts (recipient, alert, counted_at)
SELECT recipient, substr(id, 1, length(id) - length(channel) - length(destination) - 2), delivered_at
FROM outbox
WHERE state = 'delivered' AND kind = 'alert_opened' AND recipient IS NOT NULL AND delivered_at IS NOT NULL;
