-- Each person's alerts counted against their daily cap: one row per alert, whatever the channels it goes by,
-- written by the worker that decided to send it under a per-person advisory lock, so that workers on several
-- replicas never send a person more than their cap. Alerts delivered before this table existed are counted.
CREATE TABLE alert_counts (
    recipient text NOT NULL,
    alert text NOT NULL,
    counted_at bigint NOT NULL,
    PRIMARY KEY (recipient, alert)
);
CREATE INDEX alert_counts_day ON alert_counts (recipient, counted_at);
INSERT INTO alert_counts (recipient, alert, counted_at)
SELECT recipient, substr(id, 1, length(id) - length(channel) - length(destination) - 2), delivered_at
FROM outbox
WHERE state = 'delivered' AND kind = 'alert_opened' AND recipient IS NOT NULL AND delivered_at IS NOT NULL
ON CONFLICT DO NOTHING;
