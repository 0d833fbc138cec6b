//! The writer task: requests' messages acknowledged into the durable inbox by group commit (the requests
//! that arrive during a commit share the next one), resends skipped, and the applier started.

use super::*;

/// What became of one request's messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Messages acknowledged: durable in the inbox, to be attributed (or kept pending) by the applier.
    pub accepted: usize,
    /// Messages received before (skipped).
    pub duplicates: usize,
}

pub(crate) struct Job {
    messages: Vec<Message>,
    at: Instant,
    reply: oneshot::Sender<Result<Outcome, ApiError>>,
}

/// The handle requests use to reach the writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    accepted: Arc<watch::Sender<i64>>,
    applied: watch::Receiver<i64>,
}

impl Writer {
    /// Stores checked messages; returns once they are durable.
    pub async fn submit(&self, messages: Vec<Message>) -> Result<Outcome, ApiError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            messages,
            at: Instant::now(),
            reply,
        };
        let stopped = || {
            ApiError::new(
                Code::ServiceUnavailable,
                "the server is stopping; nothing was stored, retry later",
            )
        };
        self.tx.send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Waits until every message acknowledged before this call has been applied (or the applier stopped).
    pub async fn settle(&self) {
        let target = *self.accepted.borrow();
        let mut applied = self.applied.clone();
        let _ = applied.wait_for(|a| *a >= target).await;
    }
}

/// The code a message type is kept under in the inbox.
pub(crate) fn kind_code(ty: MsgType) -> u8 {
    match ty {
        MsgType::Track => 1,
        MsgType::Identify => 2,
        MsgType::Group => 3,
        MsgType::Page => 4,
        MsgType::Screen => 5,
        MsgType::Alias => 6,
    }
}

pub(crate) fn kind_type(code: u8) -> Option<MsgType> {
    Some(match code {
        1 => MsgType::Track,
        2 => MsgType::Identify,
        3 => MsgType::Group,
        4 => MsgType::Page,
        5 => MsgType::Screen,
        6 => MsgType::Alias,
        _ => return None,
    })
}

/// When each inbox group was acknowledged, for the lag metric.
pub(crate) type AcceptTimes = Arc<std::sync::Mutex<std::collections::VecDeque<(i64, Instant)>>>;

/// Starts the writer task, which acknowledges messages into the inbox, and the applier task, which attributes
/// and stores them; both end when every [`Writer`] is dropped, the applier once the inbox is empty.
pub async fn spawn<S: LiveStore>(
    store: Arc<S>,
    queue: Queue,
    metrics: Arc<Metrics>,
    lease: ApplierLease,
) -> bellwether_store::Result<(Writer, tokio::task::JoinHandle<()>)> {
    let links = store.links(SOURCE).await?;
    metrics.inbox_depth.store(
        store.inbox_count().await?,
        std::sync::atomic::Ordering::Relaxed,
    );
    let (tx, mut rx) = mpsc::channel::<Job>(256);
    let (wake, wakes) = mpsc::channel::<()>(1);
    let (accepted, _) = watch::channel(0i64);
    let accepted = Arc::new(accepted);
    let (applied_tx, applied) = watch::channel(0i64);
    let times: AcceptTimes = Default::default();
    let accounts = links.values().cloned().collect();
    let state = Applier {
        store: store.clone(),
        links,
        accounts,
        seen_distinct: FxHashSet::default(),
        queue,
        metrics: metrics.clone(),
    };
    let handoff = Arc::new(std::sync::Mutex::new(Handoff::new(MAX_HELD_MESSAGES)));
    let hand = handoff.clone();
    let applier = crate::background::spawn(
        "bellwether-apply",
        apply_loop(
            state,
            wakes,
            accepted.clone(),
            applied_tx,
            times.clone(),
            handoff,
            lease,
        ),
    );
    let acc = accepted.clone();
    // The committer acknowledges one group at a time; the gatherer forms the next group while it works, so
    // requests that arrive during a commit share the next one (group commit without an idle writer).
    let (groups, mut to_commit) = mpsc::channel::<(Vec<Job>, OwnedSemaphorePermit)>(1);
    let committer = tokio::spawn(async move {
        while let Some((mut jobs, permit)) = to_commit.recv().await {
            match accept(&*store, &mut jobs, &metrics).await {
                Ok((outcomes, group)) => {
                    if let Some(group) = group {
                        let seq = group.seq;
                        let first = jobs.iter().map(|j| j.at).min().unwrap_or_else(Instant::now);
                        times.lock().expect("accept times").push_back((seq, first));
                        hand.lock().expect("handoff").push(group);
                        acc.send_replace(seq);
                        let _ = wake.try_send(());
                    }
                    for (j, o) in jobs.into_iter().zip(outcomes) {
                        let _ = j.reply.send(Ok(o));
                    }
                }
                Err(e) => {
                    let e: ApiError = e.into();
                    for j in jobs {
                        let _ = j.reply.send(Err(e.clone()));
                    }
                }
            }
            drop(permit);
        }
        // Dropping `wake` tells the applier to finish the inbox and stop.
    });
    let idle = Arc::new(Semaphore::new(1));
    let writer = tokio::spawn(async move {
        let mut open = true;
        while open {
            let Some(first) = rx.recv().await else { break };
            let mut n = first.messages.len();
            let mut jobs = vec![first];
            // Requests that arrive while the previous group is being committed share the next transaction and
            // its fsync (group commit); a request that finds the writer idle is committed at once.
            let permit = loop {
                tokio::select! {
                    biased;
                    j = rx.recv(), if open && n < MAX_GROUP_MESSAGES => match j {
                        Some(j) => {
                            n += j.messages.len();
                            jobs.push(j);
                        }
                        None => open = false,
                    },
                    p = idle.clone().acquire_owned() => break p.expect("the semaphore is never closed"),
                }
            };
            if groups.send((jobs, permit)).await.is_err() {
                break;
            }
        }
        drop(groups);
        let _ = committer.await;
    });
    let task = tokio::spawn(async move {
        let _ = writer.await;
        let _ = applier.await;
    });
    Ok((
        Writer {
            tx,
            accepted,
            applied,
        },
        task,
    ))
}

/// Acknowledges one group of requests: marks their message ids received and appends the new messages to the
/// inbox, in one durable transaction.
pub(crate) async fn accept<S: LiveStore>(
    store: &S,
    jobs: &mut [Job],
    metrics: &Metrics,
) -> bellwether_store::Result<(Vec<Outcome>, Option<Group>)> {
    let counts: Vec<usize> = jobs.iter().map(|j| j.messages.len()).collect();
    let parsed: Vec<Message> = jobs
        .iter_mut()
        .flat_map(|j| std::mem::take(&mut j.messages))
        .collect();
    let messages: Vec<InboxMessage> = parsed
        .iter()
        .map(|m| InboxMessage {
            id: m.id.clone(),
            kind: kind_code(m.ty),
            payload: m.raw.clone(),
        })
        .collect();
    let received_at = Timestamp::now();
    let (fresh, seq) = store.accept(SOURCE, received_at, messages).await?;
    let group = seq.map(|seq| Group {
        seq,
        received_at,
        messages: parsed
            .into_iter()
            .zip(&fresh)
            .filter(|(_, f)| **f)
            .map(|(m, _)| m)
            .collect(),
    });
    let mut fresh = fresh.into_iter();
    let outcomes: Vec<Outcome> = counts
        .iter()
        .map(|n| {
            let mut o = Outcome::default();
            for _ in 0..*n {
                if fresh.next().unwrap_or(false) {
                    o.accepted += 1;
                } else {
                    o.duplicates += 1;
                }
            }
            o
        })
        .collect();
    let total = |f: fn(&Outcome) -> usize| outcomes.iter().map(f).sum::<usize>() as u64;
    metrics.messages(SOURCE, "accepted", total(|o| o.accepted));
    metrics
        .inbox_depth
        .fetch_add(total(|o| o.accepted), std::sync::atomic::Ordering::Relaxed);
    metrics.messages(SOURCE, "duplicate", total(|o| o.duplicates));
    Ok((outcomes, group))
}
