//! The one storage trait the rest of Bellwether uses.
//!
//! [`Store`] is implemented by each backend in its own crate (`bellwether-store-sqlite` is the embedded default,
//! `bellwether-store-postgres` sits beside it the same way). Callers are generic over the trait and never see
//! SQL. How stored values are laid out ([`codec`]) is decided here once, for every backend.
//! This crate also holds the models the trait moves ([`WriteBatch`], [`Book`], [`AccountFacts`]), the error
//! enum that keeps "not found" apart from everything else, and the result alias.
//!
//! Writes are batched: an import or an API batch becomes one [`WriteBatch`], written in one transaction
//! together with the fingerprints of the chunks it came from, so a chunk is either wholly stored and marked
//! seen, or not at all, and a resend is skipped.
#![deny(missing_docs)]

mod book;
pub mod codec;
mod live;
mod outbox;

pub use book::{AccountFacts, Book, ContactFacts};
pub use live::{
    ApiKey, AppliedGroups, CrmUser, DistinctUsers, InboxEntry, InboxMessage, JobRun, JobState,
    KeyScope, LiveBatch, LiveStore, PendingMessage,
};
pub use outbox::{
    CapCheck, Delivery, OutboxCounts, OutboxEntry, OutboxFilter, OutboxItem, OutboxState,
};

use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    Assessment, BillingEvent, CommonFeatures, Contact, Interaction, Outcome, PeerStats, Prediction,
    Signal, SignalStatus, Subscription, Ticket,
};
use bellwether_core::people::Person;
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Code, Day, Timestamp};
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

/// A fingerprint of an imported chunk (xxHash3-128 of its bytes), the unit of idempotency for files.
pub type Fingerprint = u128;

/// Points to merge into one account's series: metric → sorted `(day, value)` points.
pub type SeriesDelta = BTreeMap<String, Vec<(Day, f64)>>;

/// Everything one import (or one API batch) writes, in one transaction.
#[derive(Debug, Default)]
pub struct WriteBatch {
    /// Where it came from (a file path, an endpoint), for the import log.
    pub source: String,
    /// The import kind.
    pub kind: String,
    /// When it was received.
    pub received_at: Option<Timestamp>,
    /// Fingerprints of the chunks this batch holds; the write fails with [`StoreError::Conflict`] if any is
    /// already stored.
    pub chunks: Vec<Fingerprint>,
    /// Records read (including rejected ones), for the import log.
    pub records: u64,
    /// Records rejected, for the import log.
    pub rejected: u64,
    /// Account attribute changes.
    pub account_attrs: Vec<AttrFact>,
    /// Contacts (upserted by id).
    pub contacts: Vec<Contact>,
    /// Contact attribute changes (role, status, title).
    pub contact_attrs: Vec<AttrFact>,
    /// Tickets (upserted by id: a later export carries the newer state).
    pub tickets: Vec<Ticket>,
    /// Billing events (kept once by id).
    pub billing: Vec<BillingEvent>,
    /// Subscriptions (upserted by id).
    pub subscriptions: Vec<Subscription>,
    /// Interactions (upserted by id).
    pub interactions: Vec<Interaction>,
    /// Outcomes (upserted by account, day and kind).
    pub outcomes: Vec<Outcome>,
    /// People of the directory (upserted by email, any case).
    pub people: Vec<Person>,
    /// Series points to merge, by account.
    pub series: BTreeMap<AccountId, SeriesDelta>,
}

impl WriteBatch {
    /// Whether the batch writes no data at all.
    pub fn is_empty(&self) -> bool {
        self.account_attrs.is_empty()
            && self.contacts.is_empty()
            && self.contact_attrs.is_empty()
            && self.tickets.is_empty()
            && self.billing.is_empty()
            && self.subscriptions.is_empty()
            && self.interactions.is_empty()
            && self.outcomes.is_empty()
            && self.people.is_empty()
            && self.series.is_empty()
    }

    /// The accounts this batch touches, for re-assessment: those of its facts and of its series.
    pub fn accounts(&self) -> Vec<AccountId> {
        let mut ids = self.fact_accounts();
        ids.extend(self.series.keys().map(|a| a.as_str()));
        let mut out: Vec<AccountId> = ids.into_iter().map(AccountId::from).collect();
        out.sort();
        out
    }

    /// The accounts whose facts (not series) this batch writes: those whose packed facts a backend rebuilds.
    /// Contact attribute changes name a contact, not an account; a backend adds the accounts of those contacts
    /// from what it stores.
    pub fn fact_accounts(&self) -> FxHashSet<&str> {
        let mut ids: FxHashSet<&str> = self
            .account_attrs
            .iter()
            .map(|f| f.subject.as_str())
            .collect();
        ids.extend(self.contacts.iter().map(|c| c.account_id.as_str()));
        ids.extend(self.tickets.iter().map(|t| t.account_id.as_str()));
        ids.extend(self.billing.iter().map(|t| t.account_id.as_str()));
        ids.extend(self.subscriptions.iter().map(|t| t.account_id.as_str()));
        ids.extend(self.interactions.iter().map(|t| t.account_id.as_str()));
        ids.extend(self.outcomes.iter().map(|t| t.account_id.as_str()));
        ids
    }

    /// The first and last day of each metric this batch's series write, by metric: the catalogue's update.
    pub fn metric_spans(&self) -> BTreeMap<&str, (Day, Day)> {
        let mut span: BTreeMap<&str, (Day, Day)> = BTreeMap::new();
        for delta in self.series.values() {
            for (m, points) in delta {
                if let (Some(first), Some(last)) = (points.first(), points.last()) {
                    let e = span.entry(m.as_str()).or_insert((first.0, last.0));
                    *e = (e.0.min(first.0), e.1.max(last.0));
                }
            }
        }
        span
    }
}

/// What a write stored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    /// The import log id.
    pub import_id: i64,
    /// Accounts whose series changed.
    pub series_accounts: usize,
    /// Entity rows written (new or changed).
    pub rows: u64,
}

/// Counts of what the store holds.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    /// Accounts.
    pub accounts: u64,
    /// Accounts with series.
    pub series_accounts: u64,
    /// Bytes of packed series.
    pub series_bytes: u64,
    /// Contacts.
    pub contacts: u64,
    /// Tickets.
    pub tickets: u64,
    /// Billing events.
    pub billing_events: u64,
    /// Subscriptions.
    pub subscriptions: u64,
    /// Interactions.
    pub interactions: u64,
    /// Outcomes.
    pub outcomes: u64,
    /// Imports logged.
    pub imports: u64,
    /// Chunk fingerprints recorded.
    pub chunks: u64,
    /// Stored assessments (health history rows).
    pub assessments: u64,
}

/// Which signals to read.
#[derive(Clone, Debug, Default)]
pub struct SignalFilter {
    /// Only these accounts.
    pub accounts: Option<Vec<AccountId>>,
    /// Only these statuses (all when empty).
    pub statuses: Vec<SignalStatus>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this id.
    pub id: Option<String>,
}

/// What the whole book holds, in a few numbers: enough to build the book-wide feature context as of any day
/// without loading every account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BookSummary {
    /// Every metric name with the first day it has data.
    pub metrics: Vec<(String, Day)>,
    /// When the first ticket was opened.
    pub first_ticket: Option<Timestamp>,
    /// When the first contact was seen.
    pub first_contact: Option<Timestamp>,
    /// When the first interaction happened.
    pub first_interaction: Option<Timestamp>,
    /// When the first billing event happened.
    pub first_billing: Option<Timestamp>,
    /// The last day any dated fact was recorded on: a daily series point, a ticket opened, a billing event, an
    /// interaction or a subscription's start not after today (weekly and monthly series are dated by their
    /// period's last day, which may lie after the data, so they do not count). `None` when nothing dated is
    /// stored.
    pub last_day: Option<Day>,
    /// Whether the book holds any account at all (an import of undated CRM records has accounts but no
    /// `last_day`).
    pub has_accounts: bool,
}

/// An account's figures as the worklist ranks them, written back to a stored assessment when a model scores
/// its day (see `bellwether_engine::priority`).
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    /// The account.
    pub account_id: AccountId,
    /// The assessment's day.
    pub as_of: Day,
    /// The default target's churn probability.
    pub churn_probability: f64,
    /// The priority computed from it.
    pub priority: f64,
    /// What the priority was computed from.
    pub impact: bellwether_core::model::Impact,
    /// Why it ranks there (the impact's `why`).
    pub reason: String,
}

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// Another writer got there first (a chunk was stored concurrently); nothing was written.
    #[error("a concurrent write stored some of the same data first; nothing was written, retrying is safe ({0})")]
    Conflict(String),
    /// The store could not be opened, read or written.
    #[error("the data store failed: {0}")]
    Unavailable(String),
    /// Stored data could not be read back.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The product error code for this error.
    pub fn code(&self) -> Code {
        match self {
            StoreError::NotFound(_) => Code::AccountNotFound,
            StoreError::Conflict(_) => Code::StoreConflict,
            StoreError::Unavailable(_) => Code::StoreUnavailable,
            StoreError::Corrupt(_) => Code::Internal,
        }
    }
}

/// The result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The storage behind Bellwether. Implemented once per backend; everything else is generic over it.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Every chunk fingerprint stored so far (read once at the start of an import).
    async fn known_chunks(&self) -> Result<FxHashSet<Fingerprint>>;

    /// Writes a batch in one transaction, merging its series into the stored ones.
    async fn write(&self, batch: WriteBatch) -> Result<WriteSummary>;

    /// The series of the given accounts, or of every account with `None`, in one bulk read.
    async fn load_series(
        &self,
        accounts: Option<&[AccountId]>,
    ) -> Result<Vec<(AccountId, AccountSeries)>>;

    /// Every fact of every account (or of the given ones) except series, grouped by account.
    async fn load_book(&self, accounts: Option<&[AccountId]>) -> Result<Book>;

    /// Ids of every account, sorted.
    async fn account_ids(&self) -> Result<Vec<AccountId>>;

    /// The latest value of one attribute (`name`, `owner` …) of every account that has one, by account id.
    async fn account_attr(&self, attr: &str) -> Result<Vec<(AccountId, String)>>;

    /// Stores the assessments of a pass over `as_of` (one per account and day; a second one for the same day
    /// replaces the first) and marks `ended` as accounts that had ended by that day. A pass over the book's
    /// current day (`current`) makes these its accounts' current assessments; a pass over a past day only
    /// fills in accounts that have none yet.
    async fn save_assessments(
        &self,
        as_of: Day,
        current: bool,
        rows: &[Assessment],
        ended: &[AccountId],
    ) -> Result<()>;

    /// The assessments of one day, or with `None` the current list: every account's latest assessment, for
    /// accounts that had not ended by then, highest priority first.
    async fn assessments(&self, as_of: Option<Day>) -> Result<Vec<Assessment>>;

    /// The current assessments of the accounts `owner` owns (as their current assessment says), for accounts
    /// that had not ended by then, highest priority first: one CSM's list without reading the book.
    async fn owner_assessments(&self, owner: &str) -> Result<Vec<Assessment>>;

    /// Stores the segment medians of a full pass.
    async fn save_peer_stats(&self, as_of: Day, rows: &[(String, PeerStats)]) -> Result<()>;

    /// The segment medians of the latest full pass on or before `as_of`.
    async fn peer_stats(&self, as_of: Day) -> Result<Vec<(String, PeerStats)>>;

    /// Stores the common features of each plan, segment and the book found by a full pass (replacing that
    /// day's).
    async fn save_common_features(&self, as_of: Day, rows: &[CommonFeatures]) -> Result<()>;

    /// The common features of the latest full pass on or before `as_of`.
    async fn common_features(&self, as_of: Day) -> Result<Vec<CommonFeatures>>;

    /// The latest day assessed, if any.
    async fn latest_assessment_day(&self) -> Result<Option<Day>>;

    /// An account's assessment history, oldest first.
    async fn assessment_history(&self, account: &AccountId) -> Result<Vec<Assessment>>;

    /// Counts of what is stored.
    async fn stats(&self) -> Result<StoreStats>;

    /// The book-wide summary (metric catalogue and first facts of each source).
    async fn book_summary(&self) -> Result<BookSummary>;

    /// Signals matching a filter, newest first.
    async fn signals(&self, filter: SignalFilter) -> Result<Vec<Signal>>;

    /// The signal of this id, if the store holds one.
    async fn signal(&self, id: &str) -> Result<Option<Signal>> {
        let filter = SignalFilter {
            id: Some(id.to_string()),
            ..Default::default()
        };
        Ok(self.signals(filter).await?.pop())
    }

    /// Inserts or updates signals by id, and queues in the same transaction the messages these changes decided
    /// (alerts): an entry whose id is already queued is not queued again.
    async fn save_signals(&self, rows: &[Signal], outbox: &[OutboxItem]) -> Result<()>;

    /// Claims up to `limit` pending outbox entries due by `now`, oldest first, for `holder` until
    /// `lease_until`: entries nobody holds, or whose holder let its lease run out. Each claim counts an attempt.
    async fn claim_outbox(
        &self,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>>;

    /// Records how `holder`'s attempt at entry `id` went; false when it no longer held the entry (another
    /// worker claimed it after its lease ran out, and records its own attempt).
    async fn finish_outbox(
        &self,
        id: &str,
        holder: &str,
        now: Timestamp,
        delivery: &Delivery,
    ) -> Result<bool>;

    /// Outbox entries matching `filter`, newest first, at most `limit`.
    async fn outbox(&self, filter: &OutboxFilter, limit: usize) -> Result<Vec<OutboxEntry>>;

    /// Counts `alert` (an alert's id, whatever the channel) against `recipient`'s daily cap of `cap` alerts,
    /// those counted since `since` (the start of their day), atomically across processes: of any number of
    /// workers counting alerts for one person at once, at most `cap` are told [`CapCheck::Counted`] in a day.
    /// An alert counted once is [`CapCheck::AlreadyCounted`] after, for a week: counts older than a week before
    /// `since` are dropped.
    async fn count_alert(
        &self,
        recipient: &str,
        alert: &str,
        since: Timestamp,
        cap: u32,
        now: Timestamp,
    ) -> Result<CapCheck>;

    /// The people the `people` import kind wrote, by email.
    async fn people(&self) -> Result<Vec<Person>>;

    /// How many entries the outbox holds in each state.
    async fn outbox_counts(&self) -> Result<OutboxCounts>;

    /// Stores a trained model as the next version (active if `activate`, the others then inactive) and returns
    /// its version.
    async fn save_model(&self, model: ModelRecord, activate: bool) -> Result<i64>;

    /// Every model version, newest first, without their bundles.
    async fn models(&self) -> Result<Vec<ModelRecord>>;

    /// One model version with its bundle (`None`: the active one); `Ok(None)` when there is none.
    async fn model(&self, version: Option<i64>) -> Result<Option<ModelRecord>>;

    /// Makes a version the active one (a rollback when it is older). `NotFound` for an unknown version.
    async fn activate_model(&self, version: i64) -> Result<()>;

    /// Stores predictions (replacing those of the same account, day and target) and writes the rankings they
    /// produced into the matching assessments (their churn probability and priority), in one transaction.
    async fn save_predictions(&self, rows: &[Prediction], rankings: &[Ranking]) -> Result<()>;

    /// Predictions of one account (or all) on one day (default: the latest day scored).
    async fn predictions(
        &self,
        account: Option<&AccountId>,
        as_of: Option<Day>,
    ) -> Result<Vec<Prediction>>;

    /// Brings what a backend derives from the stored records up to date after a run of writes (both backends
    /// pack each written account's facts for the bulk read). Reads do it themselves when it was not done, so
    /// calling it only moves the work: imports call it once at their end.
    async fn settle(&self) -> Result<()> {
        Ok(())
    }
}

/// A model version in the registry.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRecord {
    /// Version number, assigned when stored.
    pub version: i64,
    /// When it was trained.
    pub created_at: Timestamp,
    /// First snapshot day of its training data.
    pub trained_from: Day,
    /// Its cut-off: only outcomes knowable by this day were used.
    pub trained_to: Day,
    /// The learning engine.
    pub engine: String,
    /// Its input columns.
    pub features: Vec<String>,
    /// Hyperparameters, JSON.
    pub params: String,
    /// Held-out metrics per target, JSON.
    pub metrics: String,
    /// Whether scoring uses it.
    pub active: bool,
    /// The serialised models (empty in listings).
    pub bundle: Vec<u8>,
}
