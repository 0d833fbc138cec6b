//! What the ingestion server needs from a store beyond [`Store`]: API keys, de-duplication of received
//! messages, links from outside identities to accounts, messages waiting for their link, and exact distinct
//! user counts for data that arrives a few events at a time.
//!
//! Tracking messages take two steps. [`LiveStore::accept`] marks their ids received and appends the new ones to
//! a durable inbox in one transaction; that is when the server acknowledges them. The server's applier then
//! reads the inbox in order ([`LiveStore::inbox`]) and writes the messages' effects with
//! [`LiveStore::write_live`], whose [`LiveBatch`] also names the last inbox group it applies, recorded in the
//! transaction that stores their effects: each group is applied exactly once, even across a crash.
//! Low-volume sources (webhooks) skip the inbox and mark their message ids in the `write_live` transaction.

use crate::{Result, Store, WriteBatch, WriteSummary};
use bellwether_core::{AccountId, Day, Timestamp};
use rustc_hash::{FxHashMap, FxHashSet};

/// What an API key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// Only send data.
    Ingest,
    /// Only read.
    Read,
    /// Everything.
    Admin,
}

impl KeyScope {
    /// The scope's name.
    pub fn name(self) -> &'static str {
        match self {
            KeyScope::Ingest => "ingest",
            KeyScope::Read => "read",
            KeyScope::Admin => "admin",
        }
    }

    /// Reads a scope's name.
    pub fn parse(s: &str) -> Option<KeyScope> {
        match s {
            "ingest" => Some(KeyScope::Ingest),
            "read" => Some(KeyScope::Read),
            "admin" => Some(KeyScope::Admin),
            _ => None,
        }
    }
}

/// A stored API key: never the key itself, only its hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    /// A short public id (to list and revoke by).
    pub id: String,
    /// SHA-256 of the key, lowercase hex.
    #[serde(skip)]
    pub hash: String,
    /// What it may do.
    pub scope: KeyScope,
    /// A label given at creation.
    pub name: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// A message kept until its user is linked to an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMessage {
    /// Where it came from (`segment`).
    pub source: String,
    /// The user it waits for.
    pub user_key: String,
    /// Its message id.
    pub id: String,
    /// When it was received.
    pub received_at: Timestamp,
    /// The message as received (JSON).
    pub payload: String,
    /// The caller's code for the message's kind (as in [`InboxMessage::kind`]); 0 when the payload says it.
    pub kind: u8,
}

/// Users seen in distinct-user series of accounts on days; the store counts them into the series exactly.
/// Each series is named once and the facts point at it, since a batch holds hundreds of thousands of facts
/// over a few thousand series.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DistinctUsers {
    /// `(account, series)` of the facts: `users:<event>`, `active_users`, `weekly_active_users`, ….
    pub series: Vec<(AccountId, String)>,
    /// `(index into series, day the point is dated by, 64-bit hash of the user id)`.
    pub facts: Vec<(u32, Day, i64)>,
}

impl DistinctUsers {
    /// True when there is no fact.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }
}

/// A message handed to [`LiveStore::accept`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxMessage {
    /// Its id, unique within the source (a resend carries the same id).
    pub id: String,
    /// A code the caller reads back (the server's message type); the store does not interpret it.
    pub kind: u8,
    /// The message as received.
    pub payload: String,
}

/// One acknowledged group of messages waiting in the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxEntry {
    /// Its sequence number: groups are applied in this order.
    pub seq: i64,
    /// When it was acknowledged.
    pub received_at: Timestamp,
    /// `(kind, payload)` of each message, in the order received.
    pub messages: Vec<(u8, String)>,
}

/// A CRM user (a record owner) from a users export, for resolving the owner column of other exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmUser {
    /// The CRM's user id (Salesforce `OwnerId` values), when the export has one.
    pub id: Option<String>,
    /// The user's name (HubSpot's owner columns hold it), when the export has one.
    pub name: Option<String>,
    /// The user's email, which Bellwether keeps as the owner.
    pub email: String,
}

/// Everything one group of received messages writes, in one transaction.
#[derive(Debug, Default)]
pub struct LiveBatch {
    /// The canonical records and series deltas.
    pub batch: WriteBatch,
    /// `(source, message id)` of every message handled, marked received (a second one with the same id is a
    /// resend and is skipped by the caller).
    pub messages: Vec<(String, String)>,
    /// `(source, external id, account)` links to add or change.
    pub links: Vec<(String, String, AccountId)>,
    /// Messages to keep until their user is linked.
    pub pending_add: Vec<PendingMessage>,
    /// `(source, user key, message id)` of pending messages now handled.
    pub pending_remove: Vec<(String, String, String)>,
    /// Users to count into distinct-user series; the store adds the exact counts of the touched days to
    /// `batch.series` (merged by keeping the larger value, which the exact count always is).
    pub distinct: DistinctUsers,
    /// `(source, contact id, account)` of contacts listed by a CRM import, replacing that source's list.
    pub crm_seen: Option<(String, Vec<(String, AccountId)>)>,
    /// The inbox groups whose effects this batch completes: they are recorded as applied in the same
    /// transaction, so they are never applied again. The write is refused with [`crate::StoreError::Conflict`]
    /// unless they are the next groups waiting (another applier got there first), so two appliers can never
    /// both store a group.
    pub applied: Option<AppliedGroups>,
}

impl LiveBatch {
    /// The accounts whose data this batch changes: marked for re-assessment in the transaction that writes
    /// it, and handed to the re-assessment queue once it is written.
    pub fn touched(&self) -> Vec<AccountId> {
        let mut ids = self.batch.accounts();
        ids.extend(self.distinct.series.iter().map(|(a, _)| a.clone()));
        ids.sort();
        ids.dedup();
        ids
    }
}

/// A run of inbox groups applied by one [`LiveBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedGroups {
    /// Where they came from (`segment`).
    pub source: String,
    /// The first group's sequence number: the oldest group not yet applied.
    pub first: i64,
    /// The last group's: it and the groups before it are applied.
    pub last: i64,
    /// How many groups the batch applies: every group waiting from `first` to `last`, so that none between
    /// (another process's) is recorded as applied without its effects.
    pub groups: usize,
    /// The process that applies them, which must hold the applier lease (the job run `name` of slot 0)
    /// when the batch commits: a process that lost the lease writes nothing, and the process that took it
    /// over reads what the first one wrote before it starts.
    pub lease: Option<(String, String)>,
}

/// The server's part of the store. Implemented by each backend beside [`Store`].
#[async_trait::async_trait]
pub trait LiveStore: Store {
    /// Stores a new API key.
    async fn create_key(&self, key: &ApiKey) -> Result<()>;
    /// Every key, newest first.
    async fn keys(&self) -> Result<Vec<ApiKey>>;
    /// The key with this hash, revoked or not.
    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>>;
    /// Revokes a key by id; false when there is no such key.
    async fn revoke_key(&self, id: &str, at: Timestamp) -> Result<bool>;
    /// Marks the messages' ids received and appends the new messages to the inbox as one group, in one
    /// durable transaction. Returns, per message, whether it was new (a resend, or a second copy in the same
    /// call, is not), and the group's sequence number (none when nothing was new).
    async fn accept(
        &self,
        source: &str,
        received_at: Timestamp,
        messages: Vec<InboxMessage>,
    ) -> Result<(Vec<bool>, Option<i64>)>;
    /// The oldest inbox groups of a source, oldest first: whole groups, stopping once `max_messages` messages
    /// are reached (at least one group when any waits).
    async fn inbox(&self, source: &str, max_messages: usize) -> Result<Vec<InboxEntry>>;
    /// Messages waiting in the inbox, all sources.
    async fn inbox_count(&self) -> Result<u64>;
    /// Which of these message ids of a source a [`LiveStore::write_live`] batch marked received before (the
    /// webhook path; the inbox de-duplicates what [`LiveStore::accept`] takes by itself).
    async fn known_messages(&self, source: &str, ids: &[String]) -> Result<FxHashSet<String>>;
    /// Every link of a source: external id → account.
    async fn links(&self, source: &str) -> Result<FxHashMap<String, AccountId>>;
    /// Pending messages of a source for these users, oldest first.
    async fn pending(&self, source: &str, users: &[String]) -> Result<Vec<PendingMessage>>;
    /// Count of pending messages.
    async fn pending_count(&self) -> Result<u64>;
    /// The contacts a CRM source listed last time: contact id → account.
    async fn crm_seen(&self, source: &str) -> Result<FxHashMap<String, AccountId>>;
    /// The users a CRM source listed in its last users export.
    async fn crm_users(&self, source: &str) -> Result<Vec<CrmUser>>;
    /// Replaces a CRM source's users with those of a new users export.
    async fn replace_crm_users(&self, source: &str, users: Vec<CrmUser>) -> Result<()>;
    /// Writes a live batch in one transaction, marking the accounts it touches ([`LiveBatch::touched`]) as
    /// due for re-assessment.
    async fn write_live(&self, batch: LiveBatch) -> Result<WriteSummary>;
    /// Accounts marked due for re-assessment before `before` and not assessed since (their server stopped
    /// first), at most `limit`, in id order.
    async fn due_accounts(&self, before: Timestamp, limit: usize) -> Result<Vec<AccountId>>;
    /// The marks of these accounts as they stand (`(account, mark)`, for accounts that have one): read by a
    /// pass before it reads their data.
    async fn due_marks(&self, accounts: &[AccountId]) -> Result<Vec<(AccountId, i64)>>;
    /// Removes marks read by [`LiveStore::due_marks`] that no write has renewed since: a pass that read the
    /// accounts' data after reading the marks has assessed them. A mark renewed meanwhile (a write the pass
    /// may not have seen) stays for the next pass.
    async fn clear_due(&self, marks: &[(AccountId, i64)]) -> Result<()>;
    /// Claims the run of job `name` scheduled for `slot` for `holder`, leased until `lease_until`: a run
    /// nobody has claimed, or one still running whose holder let its lease run out before `now` (taken over,
    /// its attempt counted). `None` when another holder has it or it has finished: each slot runs once.
    async fn claim_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<JobRun>>;
    /// Extends the lease of a run this holder has; false when it no longer holds it (taken over).
    async fn renew_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        lease_until: Timestamp,
    ) -> Result<bool>;
    /// Records how a run this holder has ended; false when it no longer held it (its result is then not
    /// recorded: the holder that took it over records its own).
    async fn finish_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        now: Timestamp,
        succeeded: bool,
        outcome: &str,
    ) -> Result<bool>;
    /// The latest runs (of one job, or all), newest slot first, at most `limit`.
    async fn job_runs(&self, name: Option<&str>, limit: usize) -> Result<Vec<JobRun>>;
}

/// How a job run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Claimed and not finished (its holder renews the lease while it works).
    Running,
    /// Finished and succeeded.
    Succeeded,
    /// Finished and failed.
    Failed,
}

impl JobState {
    /// The state's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<JobState> {
        match s {
            "running" => Some(JobState::Running),
            "succeeded" => Some(JobState::Succeeded),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// One scheduled run of a job: claimed once per slot across every process on the store.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobRun {
    /// The job (`daily_pass`, `retrain`, …).
    pub name: String,
    /// The time it was scheduled for.
    pub slot: Timestamp,
    /// The process that holds (or last held) it.
    pub holder: String,
    /// How it stands.
    pub state: JobState,
    /// When its current holder claimed it.
    pub started_at: Timestamp,
    /// Until when its holder's lease runs.
    pub lease_until: Timestamp,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// Claims so far (more than one when a holder stopped and another took it over).
    pub attempts: i64,
    /// What it did or why it failed, in words.
    pub outcome: String,
}
