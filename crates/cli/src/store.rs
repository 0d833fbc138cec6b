//! The store a command works on, chosen by the database URL in one place ([`open`]): no URL means the
//! embedded store in the data directory; a `postgres://` (or `postgresql://`) URL means PostgreSQL.
//! [`AnyStore`] is either, behind the same traits, so every command and the server run on both.

use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::model::{Assessment, CommonFeatures, PeerStats, Prediction, Signal};
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Code, Day, Timestamp};
use bellwether_store::{
    ApiKey, Book, BookSummary, CapCheck, CrmUser, Delivery, Fingerprint, InboxEntry, InboxMessage,
    JobRun, LiveBatch, LiveStore, ModelRecord, OutboxCounts, OutboxEntry, OutboxFilter, OutboxItem,
    PendingMessage, Ranking, Result, SignalFilter, Store, StoreStats, WriteBatch, WriteSummary,
};
use bellwether_store_postgres::{PgSettings, PgStore};
use bellwether_store_sqlite::SqliteStore;
use rustc_hash::{FxHashMap, FxHashSet};

/// Which backend a URL names.
pub enum Backend {
    /// The embedded store (no URL).
    Embedded,
    /// PostgreSQL at this URL.
    Postgres(String),
}

/// Reads a database URL: empty or absent is the embedded store.
pub fn backend(url: Option<&str>) -> std::result::Result<Backend, CliError> {
    match url.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(Backend::Embedded),
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Backend::Postgres(u.to_string()))
        }
        Some(u) => Err(CliError::new(
            Code::InvalidConfig,
            format!(
                "the database URL '{}' is not one Bellwether can use: give a postgres:// URL \
                 (for example postgres://bellwether@db.internal:5432/bellwether), or none for the embedded store",
                bellwether_store_postgres::redacted(u)
            ),
        )),
    }
}

/// The PostgreSQL settings of `url` with the `[store]` settings.
pub fn pg_settings(settings: &Settings, url: &str) -> PgSettings {
    PgSettings {
        url: url.to_string(),
        pool_size: settings.store.pool_size,
        statement_timeout: std::time::Duration::from_secs(settings.store.statement_timeout_seconds),
    }
}

/// Opens the store the settings name (applying pending migrations). The backend is chosen here and nowhere
/// else.
pub async fn open(settings: &Settings) -> std::result::Result<AnyStore, CliError> {
    Ok(match backend(settings.store.url.as_deref())? {
        Backend::Embedded => {
            AnyStore::Sqlite(SqliteStore::open(&settings.data_dir.join("bellwether.db")).await?)
        }
        Backend::Postgres(url) => {
            AnyStore::Postgres(PgStore::open(&pg_settings(settings, &url)).await?)
        }
    })
}

/// The embedded store or PostgreSQL.
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// The embedded SQLite store.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

impl AnyStore {
    /// Where the store is, for messages: the file, or the URL with its password hidden.
    pub fn location(&self) -> String {
        match self {
            AnyStore::Sqlite(s) => s.path().display().to_string(),
            AnyStore::Postgres(s) => s.url(),
        }
    }
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
        }
    };
}

#[async_trait::async_trait]
impl Store for AnyStore {
    async fn known_chunks(&self) -> Result<FxHashSet<Fingerprint>> {
        each!(self, s => s.known_chunks().await)
    }
    async fn write(&self, batch: WriteBatch) -> Result<WriteSummary> {
        each!(self, s => s.write(batch).await)
    }
    async fn load_series(
        &self,
        accounts: Option<&[AccountId]>,
    ) -> Result<Vec<(AccountId, AccountSeries)>> {
        each!(self, s => s.load_series(accounts).await)
    }
    async fn load_book(&self, accounts: Option<&[AccountId]>) -> Result<Book> {
        each!(self, s => s.load_book(accounts).await)
    }
    async fn account_ids(&self) -> Result<Vec<AccountId>> {
        each!(self, s => s.account_ids().await)
    }
    async fn account_attr(&self, attr: &str) -> Result<Vec<(AccountId, String)>> {
        each!(self, s => s.account_attr(attr).await)
    }
    async fn save_assessments(
        &self,
        as_of: Day,
        current: bool,
        rows: &[Assessment],
        ended: &[AccountId],
    ) -> Result<()> {
        each!(self, s => s.save_assessments(as_of, current, rows, ended).await)
    }
    async fn assessments(&self, as_of: Option<Day>) -> Result<Vec<Assessment>> {
        each!(self, s => s.assessments(as_of).await)
    }
    async fn owner_assessments(&self, owner: &str) -> Result<Vec<Assessment>> {
        each!(self, s => s.owner_assessments(owner).await)
    }
    async fn save_peer_stats(&self, as_of: Day, rows: &[(String, PeerStats)]) -> Result<()> {
        each!(self, s => s.save_peer_stats(as_of, rows).await)
    }
    async fn peer_stats(&self, as_of: Day) -> Result<Vec<(String, PeerStats)>> {
        each!(self, s => s.peer_stats(as_of).await)
    }
    async fn save_common_features(&self, as_of: Day, rows: &[CommonFeatures]) -> Result<()> {
        each!(self, s => s.save_common_features(as_of, rows).await)
    }
    async fn common_features(&self, as_of: Day) -> Result<Vec<CommonFeatures>> {
        each!(self, s => s.common_features(as_of).await)
    }
    async fn latest_assessment_day(&self) -> Result<Option<Day>> {
        each!(self, s => s.latest_assessment_day().await)
    }
    async fn assessment_history(&self, account: &AccountId) -> Result<Vec<Assessment>> {
        each!(self, s => s.assessment_history(account).await)
    }
    async fn stats(&self) -> Result<StoreStats> {
        each!(self, s => s.stats().await)
    }
    async fn book_summary(&self) -> Result<BookSummary> {
        each!(self, s => s.book_summary().await)
    }
    async fn signals(&self, filter: SignalFilter) -> Result<Vec<Signal>> {
        each!(self, s => s.signals(filter).await)
    }
    async fn save_signals(&self, rows: &[Signal], outbox: &[OutboxItem]) -> Result<()> {
        each!(self, s => s.save_signals(rows, outbox).await)
    }

    async fn claim_outbox(
        &self,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        each!(self, s => s.claim_outbox(holder, now, lease_until, limit).await)
    }

    async fn finish_outbox(
        &self,
        id: &str,
        holder: &str,
        now: Timestamp,
        delivery: &Delivery,
    ) -> Result<bool> {
        each!(self, s => s.finish_outbox(id, holder, now, delivery).await)
    }

    async fn outbox(&self, filter: &OutboxFilter, limit: usize) -> Result<Vec<OutboxEntry>> {
        each!(self, s => s.outbox(filter, limit).await)
    }

    async fn count_alert(
        &self,
        recipient: &str,
        alert: &str,
        since: Timestamp,
        cap: u32,
        now: Timestamp,
    ) -> Result<CapCheck> {
        each!(self, s => s.count_alert(recipient, alert, since, cap, now).await)
    }

    async fn people(&self) -> Result<Vec<bellwether_core::people::Person>> {
        each!(self, s => s.people().await)
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts> {
        each!(self, s => s.outbox_counts().await)
    }
    async fn save_model(&self, model: ModelRecord, activate: bool) -> Result<i64> {
        each!(self, s => s.save_model(model, activate).await)
    }
    async fn models(&self) -> Result<Vec<ModelRecord>> {
        each!(self, s => s.models().await)
    }
    async fn model(&self, version: Option<i64>) -> Result<Option<ModelRecord>> {
        each!(self, s => s.model(version).await)
    }
    async fn activate_model(&self, version: i64) -> Result<()> {
        each!(self, s => s.activate_model(version).await)
    }
    async fn save_predictions(&self, rows: &[Prediction], rankings: &[Ranking]) -> Result<()> {
        each!(self, s => s.save_predictions(rows, rankings).await)
    }
    async fn predictions(
        &self,
        account: Option<&AccountId>,
        as_of: Option<Day>,
    ) -> Result<Vec<Prediction>> {
        each!(self, s => s.predictions(account, as_of).await)
    }
    async fn settle(&self) -> Result<()> {
        each!(self, s => s.settle().await)
    }
}

#[async_trait::async_trait]
impl LiveStore for AnyStore {
    async fn create_key(&self, key: &ApiKey) -> Result<()> {
        each!(self, s => s.create_key(key).await)
    }
    async fn keys(&self) -> Result<Vec<ApiKey>> {
        each!(self, s => s.keys().await)
    }
    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        each!(self, s => s.key_by_hash(hash).await)
    }
    async fn revoke_key(&self, id: &str, at: Timestamp) -> Result<bool> {
        each!(self, s => s.revoke_key(id, at).await)
    }
    async fn accept(
        &self,
        source: &str,
        received_at: Timestamp,
        messages: Vec<InboxMessage>,
    ) -> Result<(Vec<bool>, Option<i64>)> {
        each!(self, s => s.accept(source, received_at, messages).await)
    }
    async fn inbox(&self, source: &str, max_messages: usize) -> Result<Vec<InboxEntry>> {
        each!(self, s => s.inbox(source, max_messages).await)
    }
    async fn inbox_count(&self) -> Result<u64> {
        each!(self, s => s.inbox_count().await)
    }
    async fn known_messages(&self, source: &str, ids: &[String]) -> Result<FxHashSet<String>> {
        each!(self, s => s.known_messages(source, ids).await)
    }
    async fn links(&self, source: &str) -> Result<FxHashMap<String, AccountId>> {
        each!(self, s => s.links(source).await)
    }
    async fn pending(&self, source: &str, users: &[String]) -> Result<Vec<PendingMessage>> {
        each!(self, s => s.pending(source, users).await)
    }
    async fn pending_count(&self) -> Result<u64> {
        each!(self, s => s.pending_count().await)
    }
    async fn crm_seen(&self, source: &str) -> Result<FxHashMap<String, AccountId>> {
        each!(self, s => s.crm_seen(source).await)
    }
    async fn crm_users(&self, source: &str) -> Result<Vec<CrmUser>> {
        each!(self, s => s.crm_users(source).await)
    }
    async fn replace_crm_users(&self, source: &str, users: Vec<CrmUser>) -> Result<()> {
        each!(self, s => s.replace_crm_users(source, users).await)
    }
    async fn due_accounts(&self, before: Timestamp, limit: usize) -> Result<Vec<AccountId>> {
        each!(self, s => s.due_accounts(before, limit).await)
    }

    async fn due_marks(&self, accounts: &[AccountId]) -> Result<Vec<(AccountId, i64)>> {
        each!(self, s => s.due_marks(accounts).await)
    }

    async fn clear_due(&self, marks: &[(AccountId, i64)]) -> Result<()> {
        each!(self, s => s.clear_due(marks).await)
    }

    async fn write_live(&self, batch: LiveBatch) -> Result<WriteSummary> {
        each!(self, s => s.write_live(batch).await)
    }
    async fn claim_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<JobRun>> {
        each!(self, s => s.claim_job(name, slot, holder, now, lease_until).await)
    }
    async fn renew_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        lease_until: Timestamp,
    ) -> Result<bool> {
        each!(self, s => s.renew_job(name, slot, holder, lease_until).await)
    }
    async fn finish_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        now: Timestamp,
        succeeded: bool,
        outcome: &str,
    ) -> Result<bool> {
        each!(self, s => s.finish_job(name, slot, holder, now, succeeded, outcome).await)
    }
    async fn job_runs(&self, name: Option<&str>, limit: usize) -> Result<Vec<JobRun>> {
        each!(self, s => s.job_runs(name, limit).await)
    }
}
