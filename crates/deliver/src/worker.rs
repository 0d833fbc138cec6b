//! The outbox worker: claims due entries under a lease, hands each to its channel, and records how it went,
//! so that every entry is delivered at least once, across restarts and replicas. An entry whose worker stopped
//! mid-delivery (killed after the peer accepted it, before the outcome was recorded) is claimed again once its
//! lease runs out and sent again with the same idempotency key, which the peer uses to drop the repeat.

use crate::channels::Channels;
use bellwether_core::Timestamp;
use bellwether_store::{Delivery, Store};
use std::sync::Arc;
use std::time::Duration;

/// Delivers the outbox of one store.
pub struct Worker<S> {
    store: Arc<S>,
    channels: Channels,
    holder: String,
    /// How long a claim holds: longer than one delivery's timeout.
    pub lease: Duration,
    /// Entries claimed at once.
    pub batch: usize,
    /// How long the worker waits when nothing is due.
    pub idle: Duration,
}

impl<S: Store> Worker<S> {
    /// A worker of `store`'s outbox for the process `holder` (unique among the processes on the store).
    pub fn new(store: Arc<S>, channels: Channels, holder: String) -> Worker<S> {
        Worker {
            store,
            channels,
            holder,
            lease: Duration::from_secs(60),
            batch: 50,
            idle: Duration::from_millis(200),
        }
    }

    /// Claims what is due now and delivers it; the number of entries handled.
    pub async fn run_once(&self) -> bellwether_store::Result<usize> {
        let now = Timestamp::now();
        let until = Timestamp(now.0 + self.lease.as_millis() as i64);
        let due = self
            .store
            .claim_outbox(&self.holder, now, until, self.batch)
            .await?;
        for e in &due {
            let delivery = match self.channels.get(&e.item.channel) {
                Some(c) => c.deliver(e).await,
                None => Delivery::Parked {
                    error: format!(
                        "no {} channel is configured ([delivery] in bellwether.toml)",
                        e.item.channel
                    ),
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

    /// Runs until the process stops: delivers what is due, waits [`Worker::idle`] when nothing is.
    pub fn spawn(self) -> tokio::task::JoinHandle<()>
    where
        S: 'static,
    {
        tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(0) => tokio::time::sleep(self.idle).await,
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
