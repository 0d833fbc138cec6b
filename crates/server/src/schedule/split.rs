//! The daily pass split into buckets of accounts that every process on the store takes a share of
//! (`[schedule] pass_buckets`).
//!
//! The process that claims the pass's slot first runs the book-wide step once (every account's features, from
//! which the segment medians and common features are measured and stored, as a full pass stores them); its
//! run records the day it decided. Then every process, at its next look at the schedule, claims buckets one
//! at a time and runs each as a pass over its accounts, which compares with the stored medians: together the
//! buckets equal the one-process pass. Buckets are runs like any job's: claimed once, renewed while they work,
//! taken over when their holder stops. The pass's run ends when every bucket has, with their totals.

use super::*;
use bellwether_core::{AccountId, Day};
use bellwether_engine::{BookDay, Clock};
use bellwether_store::{JobState, StoreError};

/// The book-wide step's job, once per slot of the pass.
pub(crate) const BOOK_WIDE_JOB: &str = "daily_pass:book_wide";
/// How often the process holding a split pass looks whether the others' buckets have ended.
pub(crate) const BUCKET_POLL: std::time::Duration = std::time::Duration::from_millis(100);
/// The prefix of the buckets' jobs (`daily_pass:bucket:3/8`).
const BUCKET_PREFIX: &str = "daily_pass:bucket:";

fn bucket_job(k: usize, n: usize) -> String {
    format!("{BUCKET_PREFIX}{}/{n}", k + 1)
}

/// The bucket (0-based, of `n`) an account falls in: FNV-1a of its id, the same in every process and
/// version, so that processes agree whenever each reads the ids.
pub fn bucket_of(id: &AccountId, n: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_str().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % n.max(1) as u64) as usize
}

/// The book-wide step's outcome, which carries the day every bucket assesses ([`book_wide_day`]), and the
/// retraining it ran, if it did.
fn book_wide_outcome(n: usize, retrained: Option<&(i64, Option<String>)>, day: BookDay) -> String {
    let model = match retrained {
        Some((v, None)) => format!("; retrained: model version {v} is active"),
        Some((v, Some(why))) => format!("; retrained: model version {v} held back ({why})"),
        None => String::new(),
    };
    format!(
        "measured {n} accounts across the book{model} as of {}{}",
        day.day,
        if day.current { " (current)" } else { "" }
    )
}

/// The day a [`book_wide_outcome`] names (its last part).
fn book_wide_day(outcome: &str) -> Option<BookDay> {
    let rest = outcome.rsplit_once(" as of ")?.1.trim();
    let (day, current) = match rest.strip_suffix(" (current)") {
        Some(d) => (d, true),
        None => (rest, false),
    };
    Some(BookDay {
        day: Day::parse(day).ok()?,
        current,
    })
}

impl<S: LiveStore> Scheduler<S> {
    /// The run of `name` for `slot`, if there is one.
    async fn run_of(
        &self,
        name: &str,
        slot: Timestamp,
    ) -> bellwether_store::Result<Option<JobRun>> {
        Ok(self
            .store
            .job_runs(Some(name), 8)
            .await?
            .into_iter()
            .find(|r| r.slot == slot))
    }

    /// Claims a run that nobody holds, or whose holder let its lease run out.
    async fn claim(&self, name: &str, slot: Timestamp) -> bellwether_store::Result<Option<JobRun>> {
        let now = Timestamp::now();
        let until = Timestamp(now.0 + self.lease.as_millis() as i64);
        self.store
            .claim_job(name, slot, &self.holder, now, until)
            .await
    }

    /// The runs of the buckets of `slot`, by bucket (`None`: not claimed yet).
    async fn bucket_runs(&self, slot: Timestamp) -> bellwether_store::Result<Vec<Option<JobRun>>> {
        let n = self.buckets;
        let mut out = vec![None; n];
        // Newest slot first, then by name: the slot's runs are among the latest.
        for r in self.store.job_runs(None, 4 * n + 64).await? {
            if r.slot != slot {
                continue;
            }
            if let Some(k) = (0..n).find(|k| r.name == bucket_job(*k, n)) {
                out[k] = Some(r);
            }
        }
        Ok(out)
    }

    /// Runs the daily pass of `slot` split into buckets, for the process that holds the pass's run: the
    /// book-wide step once, then buckets until every one has ended (others' included). The totals in words.
    pub(crate) async fn split_pass(&self, slot: Timestamp) -> Result<String, String> {
        let err = |e: StoreError| e.to_string();
        let day = loop {
            match self.run_of(BOOK_WIDE_JOB, slot).await.map_err(err)? {
                Some(r) if r.state == JobState::Succeeded => {
                    break book_wide_day(&r.outcome).ok_or_else(|| {
                        format!("the book-wide step's outcome names no day: {}", r.outcome)
                    })?;
                }
                Some(r) if r.state == JobState::Failed => {
                    return Err(format!("the book-wide step failed: {}", r.outcome));
                }
                _ => {}
            }
            // Not run yet, or its holder stopped: this process runs it.
            if let Some(run) = self.claim(BOOK_WIDE_JOB, slot).await.map_err(err)? {
                let work = async {
                    let day = bellwether_engine::book_day(&*self.store, Clock::Live, None)
                        .await
                        .map_err(err)?
                        .ok_or("no data to assess")?;
                    let (n, model) =
                        bellwether_engine::prepare_split_pass(&*self.store, &self.engine, day)
                            .await
                            .map_err(err)?;
                    Ok(book_wide_outcome(n, model.retrained.as_ref(), day))
                };
                self.leased(run, work).await.map_err(err)?;
                continue;
            }
            tokio::time::sleep(BUCKET_POLL).await;
        };
        let mut mine = self.work_buckets(slot, day).await.map_err(err)?.len();
        loop {
            let runs = self.bucket_runs(slot).await.map_err(err)?;
            if runs
                .iter()
                .all(|r| r.as_ref().is_some_and(|r| r.state != JobState::Running))
            {
                let failed: Vec<String> = runs
                    .iter()
                    .flatten()
                    .filter(|r| r.state == JobState::Failed)
                    .map(|r| format!("{}: {}", r.name, r.outcome))
                    .collect();
                if !failed.is_empty() {
                    return Err(format!("buckets failed: {}", failed.join("; ")));
                }
                let assessed: usize = runs
                    .iter()
                    .flatten()
                    .filter_map(|r| assessed_in(&r.outcome))
                    .sum();
                return Ok(format!(
                    "assessed {assessed} accounts as of {} in {} buckets, {mine} of them by this process",
                    day.day, self.buckets
                ));
            }
            // Buckets whose holder stopped are taken over here.
            mine += self.work_buckets(slot, day).await.map_err(err)?.len();
            tokio::time::sleep(BUCKET_POLL).await;
        }
    }

    /// Claims and runs buckets of `slot` one at a time until none is left to claim; the runs it finished.
    async fn work_buckets(
        &self,
        slot: Timestamp,
        day: BookDay,
    ) -> bellwether_store::Result<Vec<JobRun>> {
        let n = self.buckets;
        let mut done = Vec::new();
        let now = Timestamp::now();
        // Only buckets nobody has claimed, or whose holder let its lease run out, are asked for.
        let open: Vec<usize> = self
            .bucket_runs(slot)
            .await?
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.as_ref().is_none_or(|r| {
                    r.state == JobState::Running && r.lease_until < now && r.holder != self.holder
                })
            })
            .map(|(k, _)| k)
            .collect();
        if open.is_empty() {
            return Ok(done);
        }
        // Money is converted with the book's currencies as the book-wide step saw them, not a set this
        // process kept from earlier passes.
        bellwether_engine::refresh_currencies(&*self.store, &self.engine, day.day).await?;
        for k in open {
            let Some(run) = self.claim(&bucket_job(k, n), slot).await? else {
                continue;
            };
            let work = async {
                let err = |e: StoreError| e.to_string();
                let ids: Vec<AccountId> = self
                    .store
                    .account_ids()
                    .await
                    .map_err(err)?
                    .into_iter()
                    .filter(|id| bucket_of(id, n) == k)
                    .collect();
                let out = bellwether_engine::reassess(&*self.store, &self.engine, Some(&ids), day)
                    .await
                    .map_err(err)?;
                Ok(pass_outcome(&out, Some((k, n))))
            };
            done.push(self.leased(run, work).await?);
        }
        Ok(done)
    }

    /// At a look at the schedule: when another process holds a split pass whose book-wide step is done, take
    /// a share of its buckets. While another process runs one, [`Scheduler::watching`] says so, and the
    /// scheduler looks again within [`BUCKET_POLL`] rather than a tick. The runs this process finished.
    pub(crate) async fn join_split_pass(&mut self) -> bellwether_store::Result<Vec<JobRun>> {
        let Some(pass) = self
            .store
            .job_runs(Some(JobKind::DailyPass.name()), 1)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(Vec::new());
        };
        self.watching = pass.state == JobState::Running && pass.holder != self.holder;
        if !self.watching {
            return Ok(Vec::new());
        }
        let Some(day) = self
            .run_of(BOOK_WIDE_JOB, pass.slot)
            .await?
            .filter(|r| r.state == JobState::Succeeded)
            .and_then(|r| book_wide_day(&r.outcome))
        else {
            return Ok(Vec::new());
        };
        self.work_buckets(pass.slot, day).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_accounts_evenly_and_the_day_reads_back() {
        let n = 4;
        let mut counts = vec![0; n];
        for i in 0..4_000 {
            counts[bucket_of(&AccountId(format!("acct-{i}")), n)] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
        assert_eq!(bucket_of(&AccountId("a".into()), 1), 0);
        let day = BookDay {
            day: Day::ymd(2026, 12, 1),
            current: true,
        };
        assert_eq!(book_wide_day(&book_wide_outcome(10, None, day)), Some(day));
        let past = BookDay {
            current: false,
            ..day
        };
        let held = (
            3,
            Some("worse than the rules score as of last month".to_string()),
        );
        assert_eq!(
            book_wide_day(&book_wide_outcome(10, Some(&held), past)),
            Some(past)
        );
    }
}
