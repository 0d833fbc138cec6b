//! The applier: the inbox read in order and handed over, each group's messages attributed to accounts
//! (links, pending messages), rolled up into series and exact distinct users, and stored with the group
//! recorded as applied in the same transaction.

use super::*;

/// One acknowledged group of messages, parsed, as the applier takes it.
pub(crate) struct Group {
    pub(crate) seq: i64,
    pub(crate) received_at: Timestamp,
    pub(crate) messages: Vec<Message>,
}

/// Groups the writer acknowledged, handed to the applier in memory so that it neither reads nor parses them
/// again. The inbox file stays the record: after a restart, or when more than [`MAX_HELD_MESSAGES`] wait, the
/// applier reads from it instead.
pub(crate) struct Handoff {
    groups: std::collections::VecDeque<Group>,
    held: usize,
    /// [`MAX_HELD_MESSAGES`], but for tests.
    max_held: usize,
    /// A group was not kept because too many were held; the applier goes back to the inbox file.
    lost: bool,
}

impl Handoff {
    pub(crate) fn new(max_held: usize) -> Handoff {
        Handoff {
            groups: Default::default(),
            held: 0,
            max_held,
            lost: false,
        }
    }

    /// Forgets every held group (another process applies them).
    pub(crate) fn clear(&mut self) {
        self.groups.clear();
        self.held = 0;
        self.lost = false;
    }

    pub(crate) fn push(&mut self, g: Group) {
        if self.lost || self.held + g.messages.len() > self.max_held {
            self.lost = true;
            self.groups.clear();
            self.held = 0;
        } else {
            self.held += g.messages.len();
            self.groups.push_back(g);
        }
    }

    /// Up to [`MAX_APPLY_MESSAGES`] messages' worth of the groups after `last` (at least one group), when
    /// they follow it without a gap; `None` when the applier must read the inbox file. `synced` says the
    /// file held nothing unapplied when the applier last looked, so every later group was pushed here.
    fn take(&mut self, last: Option<i64>, synced: &mut bool) -> Option<Vec<Group>> {
        if self.lost {
            self.lost = false;
            *synced = false;
            return None;
        }
        while let (Some(g), Some(l)) = (self.groups.front(), last) {
            if g.seq > l {
                break;
            }
            self.held -= g.messages.len();
            self.groups.pop_front();
        }
        if !*synced {
            return None;
        }
        let front = self.groups.front()?.seq;
        if last.is_some_and(|l| front != l + 1) {
            *synced = false;
            return None;
        }
        let mut out: Vec<Group> = Vec::new();
        let mut n = 0;
        while let Some(g) = self.groups.front() {
            if !out.is_empty() && n + g.messages.len() > MAX_APPLY_MESSAGES {
                break;
            }
            // Another process's group (or a number a rolled-back acknowledgement used) lies between: only
            // the inbox has it.
            if out.last().is_some_and(|p| g.seq != p.seq + 1) {
                break;
            }
            n += g.messages.len();
            self.held -= g.messages.len();
            out.extend(self.groups.pop_front());
        }
        Some(out)
    }
}

/// The lease that makes one process the applier of the tracking inbox, among every process on the store.
pub const APPLIER_JOB: &str = "apply_tracking";

/// How a process takes part in applying the shared inbox.
#[derive(Clone, Debug)]
pub struct ApplierLease {
    /// The process's name among those on the store (unique: host, process id and a counter).
    pub holder: String,
    /// How long the lease lasts unrenewed: a process that stops (killed, cut off) is replaced by another
    /// within this time. It is renewed every third of it.
    pub lease: std::time::Duration,
    /// How often the applier looks at the store for groups other processes acknowledged, and a process that
    /// does not hold the lease tries to take it.
    pub poll: std::time::Duration,
}

/// Applies acknowledged groups in order, a bounded number of messages per transaction, while this process
/// holds the applier lease ([`APPLIER_JOB`]): from memory when its own writer handed them over, else from
/// the inbox. Every process acknowledges into the one inbox; one applies it. A process that does not hold the
/// lease tries to take it every `poll` and meanwhile follows the store's progress (for `settle` and the
/// backlog bound). After a failure the applier waits a second and reads the inbox again, so nothing
/// acknowledged is skipped, and a group another applier stored first is refused by the store, never stored
/// twice.
pub(crate) async fn apply_loop<S: LiveStore>(
    mut state: Applier<S>,
    mut wakes: mpsc::Receiver<()>,
    accepted: Arc<watch::Sender<i64>>,
    applied: watch::Sender<i64>,
    times: AcceptTimes,
    handoff: Arc<std::sync::Mutex<Handoff>>,
    lease: ApplierLease,
) {
    let slot = Timestamp(0);
    let mut leading = false;
    let mut renewed = Instant::now();
    let mut last: Option<i64> = None;
    let mut synced = false;
    let mut stopping = false;
    loop {
        // The lease runs from before it is asked for, however long the answer takes.
        let asked = Instant::now();
        let now = Timestamp::now();
        let until = Timestamp(now.0 + lease.lease.as_millis() as i64);
        if !leading {
            // Still this process's when it stepped down only for want of the database (nobody took it
            // since); else claimed when free or run out.
            let held = match state
                .store
                .renew_job(APPLIER_JOB, slot, &lease.holder, until)
                .await
            {
                Ok(true) => Ok(true),
                _ => state
                    .store
                    .claim_job(APPLIER_JOB, slot, &lease.holder, now, until)
                    .await
                    .map(|r| r.is_some()),
            };
            match held {
                Ok(true) => {
                    // Another process may have applied since this one last did: start from the store.
                    match state.reload().await {
                        Ok(()) => {
                            tracing::info!(holder = %lease.holder, "applying the tracking inbox");
                            leading = true;
                            renewed = asked;
                            last = None;
                            synced = false;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read the links to apply the inbox; retrying");
                            release(&*state.store, &lease).await;
                        }
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot reach the applier lease; retrying"),
            }
        } else if renewed.elapsed() >= lease.lease / 3 {
            match state
                .store
                .renew_job(APPLIER_JOB, slot, &lease.holder, until)
                .await
            {
                Ok(true) => renewed = asked,
                Ok(false) => {
                    tracing::warn!(holder = %lease.holder, "another process took over applying the inbox");
                    leading = false;
                }
                Err(e) => {
                    // Not renewed: stop before the lease can have run out and another taken it.
                    tracing::warn!(error = %e, "cannot renew the applier lease");
                    if renewed.elapsed() >= lease.lease * 2 / 3 {
                        leading = false;
                    }
                }
            }
        }
        state
            .metrics
            .applying
            .store(leading, std::sync::atomic::Ordering::Relaxed);
        if !leading {
            follow(&state, &accepted, &applied, &times, &handoff).await;
            if stopping {
                break;
            }
        } else {
            while renewed.elapsed() < lease.lease * 2 / 3 {
                let taken = handoff.lock().expect("handoff").take(last, &mut synced);
                let groups = match taken {
                    Some(g) => g,
                    None if synced => break,
                    None => match state.store.inbox(SOURCE, MAX_APPLY_MESSAGES).await {
                        Ok(e) if e.is_empty() => {
                            synced = true;
                            continue;
                        }
                        Ok(e) => e.iter().map(parse_entry).collect(),
                        Err(e) => {
                            tracing::error!(error = %e, "reading the tracking inbox failed; retrying in 1 s");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            break;
                        }
                    },
                };
                let (Some(first), Some(seq)) =
                    (groups.first().map(|g| g.seq), groups.last().map(|g| g.seq))
                else {
                    break;
                };
                let first_at = {
                    let mut t = times.lock().expect("accept times");
                    let mut at = None;
                    while t.front().is_some_and(|(s, _)| *s <= seq) {
                        let (_, a) = t.pop_front().expect("front");
                        at.get_or_insert(a);
                    }
                    at.unwrap_or_else(Instant::now)
                };
                if let Err(e) = state
                    .apply(&groups, first, first_at, Some(&lease.holder))
                    .await
                {
                    // The groups are read again from the inbox (another applier may have stored them, or this
                    // batch may have committed without its reply), and the links with them.
                    tracing::error!(error = %e, seq, "applying tracking messages failed; retrying in 1 s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    synced = false;
                    last = None;
                    if state.reload().await.is_err() {
                        leading = false;
                    }
                    break;
                }
                last = Some(seq);
                let n: usize = groups.iter().map(|g| g.messages.len()).sum();
                // Wrapping: the writer may count a group in just after the applier has taken it out.
                state
                    .metrics
                    .inbox_depth
                    .fetch_sub(n as u64, std::sync::atomic::Ordering::Relaxed);
                applied.send_replace(seq);
            }
            if stopping && (synced || *applied.borrow() >= *accepted.borrow()) {
                // The writer stopped and what it acknowledged is applied: let another process take over at once.
                state
                    .metrics
                    .applying
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                release(&*state.store, &lease).await;
                break;
            }
        }
        if stopping {
            // Finish the inbox before stopping (the loop above), or leave it to the process holding the lease.
            synced = false;
            continue;
        }
        match tokio::time::timeout(lease.poll, wakes.recv()).await {
            Ok(Some(())) => {}
            Ok(None) => {
                // The writer stopped; whatever it acknowledged last is applied by the pass above or the next one.
                stopping = true;
                synced = false;
            }
            // Nothing from this process's writer: other processes may have acknowledged groups, and the
            // backlog is the store's (this process counts only its own in).
            Err(_) => {
                synced = false;
                if leading {
                    if let Ok(n) = state.store.inbox_count().await {
                        state
                            .metrics
                            .inbox_depth
                            .store(n, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// Hands the applier lease back, so that another process takes it over without waiting for it to run out.
async fn release<S: LiveStore>(store: &S, lease: &ApplierLease) {
    let past = Timestamp(Timestamp::now().0 - 1);
    if let Err(e) = store
        .renew_job(APPLIER_JOB, Timestamp(0), &lease.holder, past)
        .await
    {
        tracing::warn!(error = %e, "cannot hand the applier lease back; it runs out by itself");
    }
}

/// While another process applies the inbox: this process's acknowledged groups are applied when the store
/// says so, and the backlog is the store's.
async fn follow<S: LiveStore>(
    state: &Applier<S>,
    accepted: &watch::Sender<i64>,
    applied: &watch::Sender<i64>,
    times: &AcceptTimes,
    handoff: &std::sync::Mutex<Handoff>,
) {
    handoff.lock().expect("handoff").clear();
    let upto = *accepted.borrow();
    let done = match state.store.inbox(SOURCE, 1).await {
        Ok(e) => match e.first() {
            Some(g) => g.seq - 1,
            None => upto,
        },
        Err(_) => return,
    };
    times
        .lock()
        .expect("accept times")
        .retain(|(s, _)| *s > done);
    if let Ok(n) = state.store.inbox_count().await {
        state
            .metrics
            .inbox_depth
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }
    if done > *applied.borrow() {
        applied.send_replace(done);
    }
}

/// Parses a group read back from the inbox file; a message this version can no longer read is logged and
/// skipped (it was checked before it was acknowledged).
pub(crate) fn parse_entry(e: &InboxEntry) -> Group {
    let mut messages = Vec::with_capacity(e.messages.len());
    for (i, (code, raw)) in e.messages.iter().enumerate() {
        match parse_message(
            i,
            raw,
            kind_type(*code),
            None,
            e.received_at,
            None,
            &EventTimeWindow::ANY,
        ) {
            Ok(m) => messages.push(m),
            Err(r) => tracing::error!(
                seq = e.seq,
                index = i,
                message = %r.message,
                "an acknowledged message could not be read again and is skipped"
            ),
        }
    }
    Group {
        seq: e.seq,
        received_at: e.received_at,
        messages,
    }
}

pub(crate) struct Applier<S> {
    pub(crate) store: Arc<S>,
    pub(crate) links: FxHashMap<String, AccountId>,
    /// Accounts named by a group call so far.
    pub(crate) accounts: FxHashSet<AccountId>,
    /// Hashes of distinct-user facts already stored, so a user's later events that day skip the store's
    /// insert; cleared when it grows past [`MAX_SEEN_DISTINCT`].
    pub(crate) seen_distinct: FxHashSet<u64>,
    pub(crate) queue: Queue,
    pub(crate) metrics: Arc<Metrics>,
}

/// The distinct-user series of every event, by code: codes beyond any index into `Build::series`.
pub(crate) const PERIOD_SERIES: [(u32, &str); 3] = [
    (u32::MAX - 2, ACTIVE_USERS),
    (u32::MAX - 1, WEEKLY_ACTIVE_USERS),
    (u32::MAX, MONTHLY_ACTIVE_USERS),
];

/// The position of an account's distinct-user series (by code) in `b.distinct.series`, added when new.
pub(crate) fn distinct_series_index(b: &mut Build, account: &AccountId, code: u32) -> u32 {
    if let Some(i) = b.distinct_series.get(account).and_then(|m| m.get(&code)) {
        return *i;
    }
    let name = b.series_name(code).to_string();
    let i = b.distinct.series.len() as u32;
    b.distinct.series.push((account.clone(), name));
    b.distinct_series
        .entry(account.clone())
        .or_default()
        .insert(code, i);
    i
}

#[derive(Default)]
pub(crate) struct Build {
    /// Event counts: account → (series, day) → count.
    counts: FxHashMap<AccountId, FxHashMap<(u32, Day), f64>>,
    /// Series names of `counts`, and each event name's `(event:…, users:…)` series as indices into it.
    series: Vec<String>,
    event_series: FxHashMap<String, (u32, u32)>,
    /// Distinct-user facts not known to be stored, and their hashes.
    distinct: DistinctUsers,
    distinct_seen: FxHashSet<u64>,
    /// Each account's distinct-user series in `distinct.series`: series code (an index into `series`, or one
    /// of [`PERIOD_SERIES`]) → position.
    distinct_series: FxHashMap<AccountId, FxHashMap<u32, u32>>,
    accounts: Vec<Vec<(String, String)>>,
    contacts: Vec<Vec<(String, String)>>,
    links: FxHashMap<String, AccountId>,
    pending_add: Vec<PendingMessage>,
    pending_remove: Vec<(String, String, String)>,
    new_accounts: FxHashSet<AccountId>,
}

impl Build {
    /// The name of a series by code: an index into `series`, or one of [`PERIOD_SERIES`].
    fn series_name(&self, code: u32) -> &str {
        match PERIOD_SERIES.iter().find(|p| p.0 == code) {
            Some(p) => p.1,
            None => &self.series[code as usize],
        }
    }
}

impl<S: LiveStore> Applier<S> {
    fn link(&self, b: &Build, user: &str) -> Option<AccountId> {
        self.link_ref(b, user).cloned()
    }

    fn link_ref<'b>(&'b self, b: &'b Build, user: &str) -> Option<&'b AccountId> {
        b.links.get(user).or_else(|| self.links.get(user))
    }

    /// Applies a group or alias; returns the users it newly linked.
    fn bind(&self, b: &mut Build, m: &Message) -> Vec<String> {
        let mut newly = Vec::new();
        let (account, users): (Option<AccountId>, Vec<String>) = match m.ty {
            MsgType::Group => (m.group.clone(), m.users().cloned().collect()),
            MsgType::Alias => {
                let prev = m.previous_id.clone().unwrap_or_default();
                let user = m.user_id.clone().unwrap_or_default();
                match (self.link(b, &prev), self.link(b, &user)) {
                    (Some(a), _) => (Some(a), vec![user]),
                    (None, Some(a)) => (Some(a), vec![prev]),
                    (None, None) => (None, Vec::new()),
                }
            }
            _ => (None, Vec::new()),
        };
        if let Some(a) = account {
            for u in users {
                if self.link(b, &u).as_ref() != Some(&a) {
                    b.links.insert(u.clone(), a.clone());
                    newly.push(u);
                }
            }
        }
        if let (MsgType::Group, Some(a)) = (m.ty, &m.group) {
            // A group without traits only makes the account exist; for a known account it says nothing new.
            let bare = m.record.len() <= 2;
            if !bare || (!self.accounts.contains(a) && !b.new_accounts.contains(a)) {
                b.accounts.push(m.record.clone());
            }
            b.new_accounts.insert(a.clone());
        }
        newly
    }

    /// Attributes a track, page, screen or identify; false when its user has no account yet.
    fn attribute(&self, b: &mut Build, m: &Message) -> bool {
        let account = match &m.group {
            Some(g) => g.clone(),
            None => match m.users().find_map(|u| self.link_ref(b, u)) {
                Some(a) => a.clone(),
                None => return false,
            },
        };
        match m.ty {
            MsgType::Identify => {
                let mut rec = m.record.clone();
                rec.push(("account_id".into(), account.0.clone()));
                b.contacts.push(rec);
            }
            _ => {
                let event = m.event.as_deref().unwrap_or_default();
                let (event_idx, users_idx) = match b.event_series.get(event) {
                    Some(i) => *i,
                    None => {
                        let i = b.series.len() as u32;
                        b.series.push(format!("{EVENT_PREFIX}{event}"));
                        b.series.push(format!("{USERS_PREFIX}{event}"));
                        b.event_series.insert(event.to_string(), (i, i + 1));
                        (i, i + 1)
                    }
                };
                let day = m.at.day();
                let user = m.users().next().map_or("", String::as_str);
                let user_hash = (xxhash_rust::xxh3::xxh3_64(user.as_bytes()) | 1) as i64;
                let [week, month] = bellwether_core::series::period_ends(day);
                for (code, d) in [
                    (users_idx, day),
                    (PERIOD_SERIES[0].0, day),
                    (PERIOD_SERIES[1].0, week),
                    (PERIOD_SERIES[2].0, month),
                ] {
                    let h = distinct_hash(account.as_str(), b.series_name(code), d, user_hash);
                    if !self.seen_distinct.contains(&h) && b.distinct_seen.insert(h) {
                        let i = distinct_series_index(b, &account, code);
                        b.distinct.facts.push((i, d, user_hash));
                    }
                }
                *b.counts
                    .entry(account)
                    .or_default()
                    .entry((event_idx, day))
                    .or_default() += 1.0;
            }
        }
        true
    }

    /// Applies inbox groups in one transaction that also removes them from the inbox: links, account and
    /// contact records, event counts and exact distinct users; messages whose user has no account yet are
    /// kept as pending. `first_at` is when the oldest of them was acknowledged.
    /// Reads the links and accounts again from the store (on taking the applier lease over).
    pub(crate) async fn reload(&mut self) -> bellwether_store::Result<()> {
        self.links = self.store.links(SOURCE).await?;
        self.accounts = self.links.values().cloned().collect();
        self.seen_distinct.clear();
        let n = self.store.inbox_count().await?;
        self.metrics
            .inbox_depth
            .store(n, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Applies `groups` (the first numbered `first`) for the process `holder` of the applier lease (none in
    /// the applier's own tests).
    async fn apply(
        &mut self,
        groups: &[Group],
        first: i64,
        first_at: Instant,
        holder: Option<&str>,
    ) -> bellwether_store::Result<()> {
        let t0 = Instant::now();
        let kept: Vec<(Timestamp, &Message)> = groups
            .iter()
            .flat_map(|g| g.messages.iter().map(|m| (g.received_at, m)))
            .collect();
        let mut b = Build::default();
        // Links first, so events sent before their user's group in the same request are attributed.
        let mut newly: Vec<String> = Vec::new();
        for (_, m) in &kept {
            newly.extend(self.bind(&mut b, m));
        }
        // Messages kept earlier for users linked now, in rounds (a replayed alias may link further users).
        let mut replay: Vec<Message> = Vec::new();
        let mut asked: FxHashSet<String> = FxHashSet::default();
        let mut replayed: FxHashSet<String> = FxHashSet::default();
        for _ in 0..4 {
            newly.retain(|u| asked.insert(u.clone()));
            if newly.is_empty() {
                break;
            }
            let waiting = self.store.pending(SOURCE, &newly).await?;
            newly.clear();
            for p in waiting {
                if !replayed.insert(p.id.clone()) {
                    b.pending_remove
                        .push((p.source.clone(), p.user_key.clone(), p.id.clone()));
                    continue;
                }
                let Ok(m) = parse_message(
                    0,
                    &p.payload,
                    kind_type(p.kind),
                    None,
                    p.received_at,
                    None,
                    &EventTimeWindow::ANY,
                ) else {
                    continue;
                };
                if matches!(m.ty, MsgType::Alias | MsgType::Group) {
                    newly.extend(self.bind(&mut b, &m));
                    b.pending_remove
                        .push((p.source.clone(), p.user_key.clone(), p.id.clone()));
                } else if m.group.is_some() || m.users().any(|u| self.link(&b, u).is_some()) {
                    b.pending_remove
                        .push((p.source.clone(), p.user_key.clone(), p.id.clone()));
                    replay.push(m);
                }
            }
        }
        let mut pending = 0u64;
        for (now, m) in &kept {
            let now = *now;
            let attributed = match m.ty {
                MsgType::Group => true,
                MsgType::Alias => {
                    let linked = self
                        .link(&b, m.previous_id.as_deref().unwrap_or(""))
                        .is_some();
                    if !linked {
                        for u in [m.previous_id.clone(), m.user_id.clone()]
                            .into_iter()
                            .flatten()
                        {
                            b.pending_add.push(PendingMessage {
                                source: SOURCE.into(),
                                user_key: u,
                                id: m.id.clone(),
                                received_at: now,
                                payload: m.raw.clone(),
                                kind: kind_code(m.ty),
                            });
                        }
                    }
                    true
                }
                _ => self.attribute(&mut b, m),
            };
            if !attributed {
                let user = m
                    .user_id
                    .clone()
                    .or_else(|| m.anonymous_id.clone())
                    .unwrap_or_default();
                b.pending_add.push(PendingMessage {
                    source: SOURCE.into(),
                    user_key: user.clone(),
                    id: m.id.clone(),
                    received_at: now,
                    payload: m.raw.clone(),
                    kind: kind_code(m.ty),
                });
                // An anonymous message waits under both ids, so either's link releases it.
                if let (Some(_), Some(anon)) = (&m.user_id, &m.anonymous_id) {
                    b.pending_add.push(PendingMessage {
                        source: SOURCE.into(),
                        user_key: anon.clone(),
                        id: m.id.clone(),
                        received_at: now,
                        payload: m.raw.clone(),
                        kind: kind_code(m.ty),
                    });
                }
                pending += 1;
            }
        }
        for m in &replay {
            self.attribute(&mut b, m);
        }
        // A message pending under two ids and released by one is released under both.
        let released: FxHashSet<String> = b.pending_remove.iter().map(|r| r.2.clone()).collect();
        let mut also: Vec<(String, String, String)> = Vec::new();
        for m in &replay {
            for u in m.users() {
                also.push((SOURCE.into(), u.clone(), m.id.clone()));
            }
        }
        b.pending_remove
            .extend(also.into_iter().filter(|r| released.contains(&r.2)));
        b.pending_remove.sort();
        b.pending_remove.dedup();

        let now = groups.last().map_or_else(Timestamp::now, |g| g.received_at);
        // Acknowledged records were checked on arrival.
        let any = &EventTimeWindow::ANY;
        let utc = &TimeReading::DEFAULT;
        let (mut batch, _) = records_batch(Kind::Accounts, &b.accounts, now, any, utc);
        let (contacts, _) = records_batch(Kind::Contacts, &b.contacts, now, any, utc);
        batch.contacts = contacts.contacts;
        batch.contact_attrs = contacts.contact_attrs;
        for (account, points) in std::mem::take(&mut b.counts) {
            let mut delta = SeriesDelta::new();
            for ((metric, day), n) in points {
                delta
                    .entry(b.series[metric as usize].clone())
                    .or_default()
                    .push((day, n));
            }
            for pts in delta.values_mut() {
                pts.sort_unstable_by_key(|p| p.0);
            }
            batch.series.insert(account, delta);
        }
        batch.source = "/v1/batch".into();
        batch.kind = SOURCE.into();
        batch.received_at = Some(now);
        batch.records = kept.len() as u64;
        let live = LiveBatch {
            batch,
            messages: Vec::new(),
            links: b
                .links
                .iter()
                .map(|(u, a)| (SOURCE.to_string(), u.clone(), a.clone()))
                .collect(),
            pending_add: std::mem::take(&mut b.pending_add),
            pending_remove: std::mem::take(&mut b.pending_remove),
            distinct: std::mem::take(&mut b.distinct),
            crm_seen: None,
            applied: groups.last().map(|g| bellwether_store::AppliedGroups {
                source: SOURCE.to_string(),
                first,
                last: g.seq,
                groups: groups.len(),
                lease: holder.map(|h| (APPLIER_JOB.to_string(), h.to_string())),
            }),
        };
        let touched = live.touched();
        let t1 = Instant::now();
        self.store.write_live(live).await?;
        tracing::debug!(
            messages = kept.len(),
            build_ms = (t1 - t0).as_secs_f64() * 1e3,
            write_ms = t1.elapsed().as_secs_f64() * 1e3,
            "applied tracking messages"
        );
        if self.seen_distinct.len() + b.distinct_seen.len() > MAX_SEEN_DISTINCT {
            self.seen_distinct.clear();
        }
        self.seen_distinct.extend(b.distinct_seen.drain());
        self.links.extend(b.links);
        self.accounts.extend(b.new_accounts);
        self.queue.push(touched, first_at);
        self.metrics.messages(SOURCE, "pending", pending);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::tests::parse;

    fn group(seq: i64, n: usize) -> Group {
        let m = parse(r#"{"type":"track","userId":"u","event":"e","messageId":"m"}"#).unwrap();
        Group {
            seq,
            received_at: Timestamp(0),
            messages: vec![m; n],
        }
    }

    fn seqs(g: Option<Vec<Group>>) -> Option<Vec<i64>> {
        g.map(|g| g.iter().map(|g| g.seq).collect())
    }

    #[test]
    fn handoff_gives_groups_in_order_and_sends_the_applier_back_to_the_file_when_unsure() {
        let mut h = Handoff::new(10);
        let mut synced = false;
        h.push(group(1, 2));
        // Not synced with the file yet: read it first.
        assert!(h.take(None, &mut synced).is_none());
        synced = true;
        h.push(group(2, 3));
        // Group 1 was applied from the file; 2 follows it.
        assert_eq!(seqs(h.take(Some(1), &mut synced)), Some(vec![2]));
        assert_eq!(h.held, 0);
        // A gap (group 4 after 2) sends the applier back to the file.
        h.push(group(4, 1));
        assert!(h.take(Some(2), &mut synced).is_none());
        assert!(!synced);
        // Too many held: the handoff drops what it holds and says so once.
        let mut h = Handoff::new(10);
        let mut synced = true;
        h.push(group(1, 6));
        h.push(group(2, 6));
        assert!(h.take(Some(0), &mut synced).is_none());
        assert!(!synced && h.groups.is_empty() && h.held == 0);
        synced = true;
        h.push(group(3, 1));
        assert_eq!(seqs(h.take(Some(2), &mut synced)), Some(vec![3]));
        // Another process acknowledged group 5 between this one's 4 and 6: only 4 is taken from memory,
        // and the applier then reads the file, which holds 5.
        h.push(group(4, 1));
        h.push(group(6, 1));
        assert_eq!(seqs(h.take(Some(3), &mut synced)), Some(vec![4]));
        assert!(h.take(Some(4), &mut synced).is_none());
        assert!(!synced);
    }

    #[test]
    fn handoff_takes_at_most_a_pass_of_messages_but_always_one_group() {
        let mut h = Handoff::new(10 * MAX_APPLY_MESSAGES);
        let mut synced = true;
        h.push(group(1, MAX_APPLY_MESSAGES + 5));
        h.push(group(2, 1));
        assert_eq!(seqs(h.take(None, &mut synced)), Some(vec![1]));
        assert_eq!(seqs(h.take(Some(1), &mut synced)), Some(vec![2]));
        assert_eq!(seqs(h.take(Some(2), &mut synced)), None);
        assert!(synced);
    }
}
