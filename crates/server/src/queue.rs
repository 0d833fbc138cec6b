//! Continuous re-assessment: accepted data hands the ids of the accounts it touched to a queue; one task
//! drains it in batches (whatever arrived within a short window, or as soon as enough ids are waiting) into
//! [`bellwether_engine::assess::reassess`], the one entry point for "these accounts changed". Work is per
//! batch of accounts, never per request, and an account touched many times in a window is assessed once.
//!
//! The store marks every account a live write touches as due in the same transaction, and a pass removes
//! the marks of what it assessed. Marks older than [`GRACE`] belong to a server that stopped before its pass
//! (killed, cut off): every [`SWEEP`] the queue of the process that holds the applier lease takes them up,
//! so a touched account is re-assessed even when the server that stored its data died first.

use crate::metrics::Metrics;
use bellwether_core::{AccountId, Timestamp};
use bellwether_engine::Engine;
use bellwether_store::LiveStore;
use rustc_hash::FxHashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How often the queue looks for marks left by a server that stopped.
pub const SWEEP: Duration = Duration::from_secs(15);
/// How old a mark is before the queue takes it as left behind (well past a pass's window and time).
pub const GRACE: Duration = Duration::from_secs(30);
/// Accounts taken up by one sweep at most (the rest by the next).
const SWEEP_MAX: usize = 20_000;

struct Touch {
    accounts: Vec<AccountId>,
    at: Instant,
    seq: u64,
}

/// The sending side of the queue.
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::UnboundedSender<Touch>,
    submitted: Arc<AtomicU64>,
    done: watch::Receiver<u64>,
    metrics: Arc<Metrics>,
}

impl Queue {
    /// Hands over the accounts touched by data accepted at `at`.
    pub fn push(&self, accounts: Vec<AccountId>, at: Instant) {
        if accounts.is_empty() {
            return;
        }
        let seq = self.submitted.fetch_add(1, Ordering::SeqCst) + 1;
        self.metrics
            .queue_depth
            .fetch_add(accounts.len() as u64, Ordering::Relaxed);
        let n = accounts.len() as u64;
        if self.tx.send(Touch { accounts, at, seq }).is_err() {
            self.metrics.queue_depth.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Waits until everything handed over before this call has been re-assessed (or the queue stopped).
    pub async fn settle(&self) {
        let target = self.submitted.load(Ordering::SeqCst);
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d >= target).await;
    }
}

/// Starts the queue's task, as background work (see [`crate::background`]). It ends when every [`Queue`] handle is dropped, after draining what is queued.
pub fn spawn<S: LiveStore>(
    store: Arc<S>,
    engine: Arc<Engine>,
    metrics: Arc<Metrics>,
    window: Duration,
    max_ids: usize,
) -> (Queue, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Touch>();
    let (done_tx, done_rx) = watch::channel(0u64);
    let queue = Queue {
        tx,
        submitted: Arc::new(AtomicU64::new(0)),
        done: done_rx,
        metrics: metrics.clone(),
    };
    let task = crate::background::spawn("bellwether-reassess", async move {
        // The first re-assessment should cost what the others do: open the model and read the book's
        // currencies before any data arrives.
        if let Err(e) = engine.warm(&*store).await {
            tracing::warn!(error = %e, "could not prepare the re-assessments");
        }
        // The first sweep takes every mark made before this server started.
        let mut sweep_at = tokio::time::Instant::now();
        let mut before = Timestamp::now();
        loop {
            // The process applying the inbox sweeps for all (there is one while any process runs).
            let sweeping = metrics.applying.load(Ordering::Relaxed);
            let first = if sweeping && tokio::time::Instant::now() >= sweep_at {
                sweep_at = tokio::time::Instant::now() + SWEEP;
                let left = store.due_accounts(before, SWEEP_MAX).await;
                before = Timestamp(Timestamp::now().0 - GRACE.as_millis() as i64);
                match left {
                    Ok(ids) if !ids.is_empty() => {
                        tracing::info!(
                            accounts = ids.len(),
                            "re-assessing accounts whose data changed without a pass"
                        );
                        metrics
                            .queue_depth
                            .fetch_add(ids.len() as u64, Ordering::Relaxed);
                        Touch {
                            accounts: ids,
                            at: Instant::now(),
                            seq: 0,
                        }
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the accounts due for re-assessment");
                        continue;
                    }
                }
            } else {
                // A process that does not sweep looks again within a second whether it has become the one.
                let until = sweep_at.max(tokio::time::Instant::now() + Duration::from_secs(1));
                match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(t)) => t,
                    Ok(None) => break,
                    Err(_) => continue,
                }
            };
            let deadline = tokio::time::Instant::now() + window;
            let mut ids: FxHashSet<AccountId> = FxHashSet::default();
            let mut times = vec![first.at];
            let mut last_seq = first.seq;
            let mut taken = first.accounts.len() as u64;
            ids.extend(first.accounts);
            while ids.len() < max_ids {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(t)) => {
                        times.push(t.at);
                        last_seq = last_seq.max(t.seq);
                        taken += t.accounts.len() as u64;
                        ids.extend(t.accounts);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            let mut ids: Vec<AccountId> = ids.into_iter().collect();
            ids.sort();
            // A running server's day is today by the clock (or a later day its data reaches).
            let pass = async {
                // The marks as they stand before the data is read: a write after this renews its mark.
                let marks = store.due_marks(&ids).await?;
                let day =
                    bellwether_engine::book_day(&*store, bellwether_engine::Clock::Live, None)
                        .await?
                        .ok_or_else(|| {
                            bellwether_store::StoreError::NotFound("any data to assess".into())
                        })?;
                bellwether_engine::reassess(&*store, &engine, Some(&ids), day).await?;
                store.clear_due(&marks).await
            };
            match pass.await {
                Ok(_) => {
                    metrics.reassess_passes.fetch_add(1, Ordering::Relaxed);
                    metrics
                        .reassessed_accounts
                        .fetch_add(ids.len() as u64, Ordering::Relaxed);
                    for t in &times {
                        metrics.lag(t.elapsed().as_secs_f64());
                    }
                }
                Err(e) => {
                    // The data is stored; the accounts are assessed again by their next data or the next full pass.
                    metrics.reassess_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, accounts = ids.len(), "re-assessment failed");
                }
            }
            metrics.queue_depth.fetch_sub(taken, Ordering::Relaxed);
            // Swept accounts carry no number: what is done never goes back.
            done_tx.send_modify(|d| *d = (*d).max(last_seq));
        }
        let _ = done_tx.send(u64::MAX);
    });
    (queue, task)
}
