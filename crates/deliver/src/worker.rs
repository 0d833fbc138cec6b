//! The outbox worker: claims due entries under a lease, hands each to its channel, and records how it went,
//! so that every entry is delivered at least once, across restarts and replicas. An entry whose worker stopped
//! mid-delivery (killed after the peer accepted it, before the outcome was recorded) is claimed again once its
//! lease runs out and sent again with the same idempotency key, which the peer uses to drop the repeat.
//!
//! Fatigue control is decided here, at the moment of sending: an alert routed to a person (an entry with a
//! recipient) that falls inside their quiet hours, or beyond their daily cap of alerts (in their time zone),
//! is folded instead: finished unsent, to be listed in their next digest. A clearing whose opening was folded
//! folds too; one whose opening was sent follows it up at any hour (the Slack app rewrites that message).
//! The cap is exact across processes: an alert is counted against it in the store ([`Store::count_alert`],
//! under the write lock on SQLite, a per-person advisory lock on PostgreSQL) before it is sent, so of workers
//! on several replicas deciding for one person at the same moment, only those within the cap send. An alert
//! counted and then refused by its channel (parked) still spends the cap.

use crate::alerts::{self, opening_of};
use crate::channels::Channels;
use crate::people::People;
use bellwether_core::Timestamp;
use bellwether_store::{CapCheck, Delivery, OutboxEntry, OutboxFilter, OutboxState, Store};
use jiff::tz::TimeZone;
use std::sync::Arc;
use std::time::Duration;

/// Delivers the outbox of one store.
pub struct Worker<S> {
    store: Arc<S>,
    channels: Channels,
    holder: String,
    people: People,
    zone: TimeZone,
    /// How long a claim holds: longer than one delivery's timeout.
    pub lease: Duration,
    /// Entries claimed at once.
    pub batch: usize,
    /// How long the worker waits when nothing is due (unless woken: [`Worker::waker`]).
    pub idle: Duration,
    wake: Arc<tokio::sync::Notify>,
}

impl<S: Store> Worker<S> {
    /// A worker of `store`'s outbox for the process `holder` (unique among the processes on the store).
    pub fn new(store: Arc<S>, channels: Channels, holder: String) -> Worker<S> {
        Worker {
            store,
            channels,
            holder,
            people: People::default(),
            zone: TimeZone::UTC,
            lease: Duration::from_secs(60),
            batch: 50,
            idle: Duration::from_millis(200),
            wake: Arc::default(),
        }
    }

    /// What wakes the worker from its idle wait at once: a pass of this process that queued alerts
    /// ([`crate::Alerts::waking`]). A wake-up while it delivers is kept, so it looks again right after.
    pub fn waker(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// Applies the quiet hours and daily caps of `people` (the configured directory, over which the store's
    /// people are read at each batch), reading a person's day in `zone` when they give none.
    pub fn with_people(mut self, people: People, zone: TimeZone) -> Worker<S> {
        self.people = people;
        self.zone = zone;
        self
    }

    /// Claims what is due now and delivers it; the number of entries handled.
    pub async fn run_once(&self) -> bellwether_store::Result<usize> {
        let now = Timestamp::now();
        let until = Timestamp(now.0 + self.lease.as_millis() as i64);
        let due = self
            .store
            .claim_outbox(&self.holder, now, until, self.batch)
            .await?;
        let mut people = None;
        for e in &due {
            let prior = match opening_of(&e.item) {
                Some(id) => self
                    .store
                    .outbox(
                        &OutboxFilter {
                            id: Some(id),
                            ..Default::default()
                        },
                        1,
                    )
                    .await?
                    .pop(),
                None => None,
            };
            let held = match &e.item.recipient {
                Some(r) if [alerts::OPENED, alerts::CLOSED].contains(&e.item.kind.as_str()) => {
                    if people.is_none() {
                        people = Some(People::read(&*self.store, &self.people).await?);
                    }
                    let dir = people.as_ref().expect("read above");
                    self.hold_back(e, r, dir, prior.as_ref(), Timestamp::now())
                        .await?
                }
                _ => Hold::Send,
            };
            let delivery = match held {
                Hold::Fold(reason) => Delivery::Folded { reason },
                Hold::Wait(at) => Delivery::Retry {
                    at,
                    error: "waiting for the alert it clears to be delivered first".into(),
                },
                Hold::Send => match self.channels.get(&e.item.channel) {
                    Some(c) => c.deliver(e, prior.as_ref()).await,
                    None => Delivery::Parked {
                        error: format!(
                            "no {} channel is configured ([delivery] in bellwether.toml)",
                            e.item.channel
                        ),
                    },
                },
            };
            match &delivery {
                Delivery::Delivered { .. } => {
                    tracing::debug!(id = %e.item.id, attempt = e.attempts, "delivered")
                }
                Delivery::Retry { error, .. } => {
                    tracing::warn!(id = %e.item.id, attempt = e.attempts, "delivery will be retried: {error}")
                }
                Delivery::Parked { error } => {
                    tracing::warn!(id = %e.item.id, attempt = e.attempts, "delivery parked: {error}")
                }
                Delivery::Folded { reason } => {
                    tracing::debug!(id = %e.item.id, "folded into the next digest: {reason}")
                }
            }
            if !self
                .store
                .finish_outbox(&e.item.id, &self.holder, Timestamp::now(), &delivery)
                .await?
            {
                tracing::warn!(id = %e.item.id, "another worker took the entry over; its outcome is recorded there");
            }
        }
        Ok(due.len())
    }

    /// Whether an alert to `recipient` goes now, folds into their digest, or waits. A clearing follows its
    /// opening: it folds when the opening did, waits while the opening is undelivered, and is sent (an edit in
    /// place on the Slack app) once it was, whatever the hour. An opening folds inside the person's quiet
    /// hours, or once they have had their daily cap of alerts today (another channel's copy of an alert they
    /// already had is not a new one); never when nothing would show it later: a person without a weekly
    /// digest, or an escalation to a leader (whose digest lists only the accounts they own).
    async fn hold_back(
        &self,
        e: &OutboxEntry,
        recipient: &str,
        people: &People,
        prior: Option<&OutboxEntry>,
        now: Timestamp,
    ) -> bellwether_store::Result<Hold> {
        if e.item.kind == alerts::CLOSED {
            return Ok(match prior.map(|p| p.state) {
                Some(OutboxState::Folded) => {
                    Hold::Fold("its opening alert was folded into the digest".to_string())
                }
                Some(OutboxState::Pending) => Hold::Wait(Timestamp(now.0 + 30_000)),
                _ => Hold::Send,
            });
        }
        let Some(person) = people.get(recipient) else {
            return Ok(Hold::Send);
        };
        if person.digest == Some(false) || alerts::escalated(&e.item) {
            return Ok(Hold::Send);
        }
        let zone = person.zone(&self.zone);
        let Ok(local) = jiff::Timestamp::from_millisecond(now.0).map(|t| t.to_zoned(zone.clone()))
        else {
            return Ok(Hold::Send);
        };
        if let Some(q) = person.quiet() {
            let minute = local.hour() as u16 * 60 + local.minute() as u16;
            if q.contains(minute) {
                return Ok(Hold::Fold(format!(
                    "inside {}'s quiet hours {q} ({})",
                    person.email,
                    zone.iana_name().unwrap_or("their time zone")
                )));
            }
        }
        let Some(cap) = person.daily_cap else {
            return Ok(Hold::Send);
        };
        let midnight = local
            .start_of_day()
            .map(|d| Timestamp(d.timestamp().as_millisecond()))
            .unwrap_or(now);
        let Some(alert) = alert_key(e) else {
            return Ok(Hold::Send);
        };
        Ok(
            match self
                .store
                .count_alert(recipient, alert, midnight, cap, now)
                .await?
            {
                CapCheck::AlreadyCounted | CapCheck::Counted(_) => Hold::Send,
                CapCheck::Full(n) => Hold::Fold(format!(
                    "beyond {}'s daily cap of {cap} alerts ({n} sent since midnight)",
                    person.email
                )),
            },
        )
    }

    /// Runs until the process stops: delivers what is due, waits [`Worker::idle`] (or until woken) when nothing
    /// is.
    pub fn spawn(self) -> tokio::task::JoinHandle<()>
    where
        S: 'static,
    {
        tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(0) => {
                        let _ = tokio::time::timeout(self.idle, self.wake.notified()).await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("the outbox could not be read: {e}; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })
    }
}

/// What the worker does with an alert to a person.
enum Hold {
    /// Deliver it now.
    Send,
    /// Fold it into the person's next digest, for this reason.
    Fold(String),
    /// Try again at this time.
    Wait(Timestamp),
}

/// The alert an entry carries, whatever its channel: its id without the `:<channel>:<destination>` end.
fn alert_key(e: &OutboxEntry) -> Option<&str> {
    e.item
        .id
        .strip_suffix(&format!(":{}:{}", e.item.channel, e.item.destination))
}
