-- Whether an alert was queued when a signal opened (or grew to the alerting severity), so its clearing is
-- sent whatever its severity when it closes. Signals alerted before are found by their opening alerts
-- (`alert:<signal>:opened:<channel>:<destination>`).
ALTER TABLE signals ADD COLUMN alerted integer NOT NULL DEFAULT 0;
UPDATE signals SET alerted = 1 WHERE id IN (
    SELECT substr(id, 7, strpos(id, ':opened:') - 7) FROM outbox
    WHERE kind = 'alert_opened' AND id LIKE 'alert:%:opened:%'
);
