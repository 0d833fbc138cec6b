//! The scheduler inside `serve`: jobs on cron schedules (`[schedule]` in `bellwether.toml`, read in a
//! configured time zone), each slot run exactly once across every process on the store.
//!
//! Every process looks at the schedule on a short tick. A slot that has come is claimed through the store
//! ([`LiveStore::claim_job`]): one process wins and runs it, renewing its lease while it works; the others see
//! it held. A run whose holder stopped renewing (the process died) is taken over by the next process to look
//! once the lease has run out, so the work is done, once, within a lease and a tick. A process that starts
//! after a slot it missed (everyone was down) runs the latest one missed within the last day; on a store
//! where a job never ran, its schedule starts from now.
//!
//! Jobs: `daily_pass`, the full pass over every account (health, signals, every model, and retraining when
//! `[models] retrain_days` says it is due, on the book the pass has loaded); `retrain`, the models retrained
//! on the whole book on a schedule of their own (a new version, active where it beats the rules score);
//! `digest`, which looks every hour for the CSMs whose week has started in their time zone and queues their
//! weekly digest (once per owner and week: see `bellwether_deliver::digest`).

pub mod cron;
mod split;

use bellwether_core::Timestamp;
use bellwether_engine::Engine;
use bellwether_store::{JobRun, LiveStore};
use cron::Cron;
use jiff::tz::TimeZone;
use std::sync::Arc;
use std::time::Duration;

/// `[schedule]`: when jobs run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// The IANA time zone the schedules are read in (default `UTC`).
    pub time_zone: String,
    /// When the full daily pass runs (cron; default `0 6 * * *`, 06:00 every day); empty: never.
    pub daily_pass: String,
    /// When the models are retrained on the whole book (cron; default empty: only when the daily pass finds
    /// `[models] retrain_days` due). Set it with `retrain_days = 0` to retrain on this schedule alone.
    pub retrain: String,
    /// When the scheduler looks for weekly digests that are due (cron; default `0 * * * *`, every hour: each
    /// person's arrives at `[delivery.digest]` weekday and hour in their own time zone); empty: never.
    pub digest: String,
    /// Buckets the daily pass is split into, which every process on the store takes a share of (default 1:
    /// one process runs the whole pass). Every process should have the same number.
    pub pass_buckets: usize,
    /// How long a claim holds without being renewed (default 120 s): the longest a dead process delays a
    /// run it held.
    pub lease_seconds: u64,
    /// How often each process looks at the schedule (default 15 s).
    pub tick_seconds: u64,
}

impl ScheduleConfig {
    /// Checks the settings (the time zone exists, every schedule reads); the error names the setting.
    pub fn check(&self) -> Result<(), String> {
        self.read().map(drop)
    }

    /// Each scheduled job and when it next runs after `now` (`None`: never again); the error names the
    /// setting that is wrong.
    pub fn next_runs(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(&'static str, Option<Timestamp>)>, String> {
        let (tz, jobs) = self.read()?;
        Ok(jobs
            .iter()
            .map(|j| (j.kind.name(), j.cron.next_after(now, &tz)))
            .collect())
    }

    /// The time zone schedules and people without one of their own read the day in (UTC when the setting
    /// is not one; [`ScheduleConfig::check`] says so first).
    pub fn zone(&self) -> TimeZone {
        cron::time_zone(&self.time_zone).unwrap_or(TimeZone::UTC)
    }

    /// The time zone and the jobs with their schedules, read once; the error names the setting.
    fn read(&self) -> Result<(TimeZone, Vec<Job>), String> {
        let tz =
            cron::time_zone(&self.time_zone).map_err(|e| format!("[schedule] time_zone: {e}"))?;
        let mut jobs = Vec::new();
        if !self.daily_pass.trim().is_empty() {
            let cron =
                Cron::parse(&self.daily_pass).map_err(|e| format!("[schedule] daily_pass: {e}"))?;
            jobs.push(Job {
                kind: JobKind::DailyPass,
                cron,
            });
        }
        if !self.retrain.trim().is_empty() {
            let cron =
                Cron::parse(&self.retrain).map_err(|e| format!("[schedule] retrain: {e}"))?;
            jobs.push(Job {
                kind: JobKind::Retrain,
                cron,
            });
        }
        if !self.digest.trim().is_empty() {
            let cron = Cron::parse(&self.digest).map_err(|e| format!("[schedule] digest: {e}"))?;
            jobs.push(Job {
                kind: JobKind::Digest,
                cron,
            });
        }
        if !(1..=1024).contains(&self.pass_buckets) {
            return Err(format!(
                "[schedule] pass_buckets = {} is not between 1 (one process runs the pass) and 1024",
                self.pass_buckets
            ));
        }
        if self.lease_seconds < 10 {
            return Err(format!(
                "[schedule] lease_seconds = {} is too short to renew; use 10 or more (default 120)",
                self.lease_seconds
            ));
        }
        Ok((tz, jobs))
    }
}

impl Default for ScheduleConfig {
    fn default() -> ScheduleConfig {
        ScheduleConfig {
            time_zone: "UTC".into(),
            daily_pass: "0 6 * * *".into(),
            retrain: String::new(),
            digest: "0 * * * *".into(),
            pass_buckets: 1,
            lease_seconds: 120,
            tick_seconds: 15,
        }
    }
}

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// The full pass over every account.
    DailyPass,
    /// The models retrained on the whole book.
    Retrain,
    /// The weekly digests that are due, queued.
    Digest,
}

impl JobKind {
    /// The job's name in the store and in `bellwether jobs`.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::DailyPass => "daily_pass",
            JobKind::Retrain => "retrain",
            JobKind::Digest => "digest",
        }
    }
}

/// A job and its schedule.
#[derive(Clone, Debug)]
pub struct Job {
    /// What it does.
    pub kind: JobKind,
    /// When.
    pub cron: Cron,
}

/// One process's view of the schedule.
pub struct Scheduler<S: LiveStore> {
    store: Arc<S>,
    engine: Arc<Engine>,
    jobs: Vec<Job>,
    tz: TimeZone,
    holder: String,
    lease: Duration,
    /// Buckets of the daily pass (`[schedule] pass_buckets`).
    buckets: usize,
    /// Another process runs a split pass: the scheduler looks again soon, to take a share of its buckets.
    watching: bool,
    /// Where digests go and to whom (`[delivery]`, `[[people]]`).
    digests: Option<(
        bellwether_deliver::DeliveryConfig,
        bellwether_deliver::people::People,
    )>,
    /// The digest job, scheduled once digests have somewhere to go.
    digest_job: Option<Job>,
    /// How far each job's schedule has been looked at: its latest slot that came (claimed by this process or
    /// by another), or the last look when none had.
    seen: Vec<Option<Timestamp>>,
}

/// A day, in milliseconds: how far back a starting process looks for a missed slot.
const CATCH_UP_MS: i64 = 86_400_000;

impl<S: LiveStore> Scheduler<S> {
    /// A scheduler of `config`'s jobs for the process `holder` (a name unique among the processes on the
    /// store: host and process id). The error names the setting that is wrong.
    pub fn new(
        store: Arc<S>,
        engine: Arc<Engine>,
        config: &ScheduleConfig,
        holder: String,
    ) -> Result<Scheduler<S>, String> {
        let (tz, mut jobs) = config.read()?;
        // The digest job joins when digests have somewhere to go ([`Scheduler::with_digests`]).
        let digest = jobs
            .iter()
            .position(|j| j.kind == JobKind::Digest)
            .map(|i| jobs.remove(i));
        Ok(Scheduler {
            seen: vec![None; jobs.len()],
            digest_job: digest,
            store,
            engine,
            jobs,
            tz,
            holder,
            lease: Duration::from_secs(config.lease_seconds),
            buckets: config.pass_buckets,
            watching: false,
            digests: None,
        })
    }

    /// The delivery settings and people the digest job queues weekly digests for.
    pub fn with_digests(
        mut self,
        delivery: bellwether_deliver::DeliveryConfig,
        people: bellwether_deliver::people::People,
    ) -> Self {
        self.digests = Some((delivery, people));
        if let Some(j) = self.digest_job.take() {
            self.jobs.push(j);
            self.seen.push(None);
        }
        self
    }

    /// The jobs and when each next runs after `now`.
    pub fn next_runs(&self, now: Timestamp) -> Vec<(&'static str, Option<Timestamp>)> {
        self.jobs
            .iter()
            .map(|j| (j.kind.name(), j.cron.next_after(now, &self.tz)))
            .collect()
    }

    /// The latest slot of `job` at or before `now`, after `after`.
    fn due(&self, job: &Job, after: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let mut due = None;
        let mut at = after;
        while let Some(next) = job.cron.next_after(at, &self.tz) {
            if next > now {
                break;
            }
            due = Some(next);
            at = next;
        }
        due
    }

    /// One look at the schedule at `now`: runs whose holder let the lease run out are taken over, and the
    /// latest slot that has come of each job is claimed; what this process claimed it runs to the end.
    /// Returns the runs it finished.
    pub async fn tick(&mut self, now: Timestamp) -> bellwether_store::Result<Vec<JobRun>> {
        let mut done = Vec::new();
        for i in 0..self.jobs.len() {
            let job = self.jobs[i].clone();
            let name = job.kind.name();
            let recent = self.store.job_runs(Some(name), 5).await?;
            let mut claims = Vec::new();
            // Taken over: still running, lease run out.
            for r in recent.iter().filter(|r| {
                r.state == bellwether_store::JobState::Running
                    && r.lease_until < now
                    && r.holder != self.holder
            }) {
                claims.push(r.slot);
            }
            // From the latest slot seen, or the latest run stored; a store where the job never ran starts now.
            let after = self.seen[i]
                .or(recent.first().map(|r| r.slot))
                .unwrap_or(now)
                .max(Timestamp(now.0 - CATCH_UP_MS));
            let due = self.due(&job, after, now);
            // Slots up to here are looked at: the latest one that came, or now when none did.
            self.seen[i] = Some(due.unwrap_or(now));
            if let Some(slot) = due {
                if !recent.iter().any(|r| r.slot == slot) {
                    claims.push(slot);
                }
            }
            for slot in claims {
                let until = Timestamp(now.0 + self.lease.as_millis() as i64);
                if let Some(run) = self
                    .store
                    .claim_job(name, slot, &self.holder, now, until)
                    .await?
                {
                    tracing::info!(job = name, slot = %slot, attempt = run.attempts, "running a scheduled job");
                    done.push(self.run(job.kind, run).await?);
                }
            }
        }
        // A pass split into buckets that another process runs: take a share of its buckets.
        if self.buckets > 1 {
            done.extend(self.join_split_pass().await?);
        }
        Ok(done)
    }

    /// Looks at the schedule at `now`, as a replica does on its tick, until the run of `name` for `slot` has
    /// ended (here or in another process); the runs this process finished meanwhile. For tests and benchmarks
    /// that play several replicas at one moment.
    pub async fn tick_until_ended(
        &mut self,
        now: Timestamp,
        name: &str,
        slot: Timestamp,
    ) -> bellwether_store::Result<Vec<JobRun>> {
        let mut all = Vec::new();
        loop {
            all.extend(self.tick(now).await?);
            let runs = self.store.job_runs(Some(name), 8).await?;
            if runs
                .iter()
                .any(|r| r.slot == slot && r.state != bellwether_store::JobState::Running)
            {
                return Ok(all);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs a claimed job, renewing its lease while it works, and records how it ended.
    async fn run(&self, kind: JobKind, run: JobRun) -> bellwether_store::Result<JobRun> {
        let slot = run.slot;
        match kind {
            JobKind::DailyPass if self.buckets > 1 => self.leased(run, self.split_pass(slot)).await,
            JobKind::DailyPass => {
                self.leased(run, async {
                    self.daily_pass().await.map_err(|e| e.to_string())
                })
                .await
            }
            JobKind::Retrain => self.leased(run, self.retrain()).await,
            JobKind::Digest => self.leased(run, self.digest(slot)).await,
        }
    }

    /// Does `work` for a run this process claimed, renewing the run's lease until it ends, and records how
    /// it ended (its outcome in words, or why it failed).
    pub(crate) async fn leased(
        &self,
        run: JobRun,
        work: impl std::future::Future<Output = Result<String, String>>,
    ) -> bellwether_store::Result<JobRun> {
        let (store, name, slot, holder, lease) = (
            self.store.clone(),
            run.name.clone(),
            run.slot,
            self.holder.clone(),
            self.lease,
        );
        // Ends when the lease is lost: taken over, or not renewed for two thirds of it (another process may
        // take it over once it runs out), so that the work stops before two processes do it at once.
        let renew = async move {
            let mut renewed = std::time::Instant::now();
            loop {
                tokio::time::sleep(lease / 3).await;
                let asked = std::time::Instant::now();
                let until = Timestamp(Timestamp::now().0 + lease.as_millis() as i64);
                match store.renew_job(&name, slot, &holder, until).await {
                    Ok(true) => renewed = asked,
                    Ok(false) => {
                        return format!(
                            "the run was taken over by another process while {holder} ran it"
                        )
                    }
                    Err(e) => {
                        tracing::warn!(job = %name, "renewing a scheduled job's lease failed: {e}");
                        if renewed.elapsed() >= lease * 2 / 3 {
                            return format!(
                                "{holder} could not renew its lease ({e}) and stopped the run"
                            );
                        }
                    }
                }
            }
        };
        let started = std::time::Instant::now();
        let result = tokio::select! {
            r = work => r,
            lost = renew => {
                tracing::warn!(job = %run.name, "{lost}");
                Err(lost)
            }
        };
        let (ok, outcome) = match result {
            Ok(o) => (true, o),
            Err(e) => (false, e),
        };
        tracing::info!(job = %run.name, ok, seconds = started.elapsed().as_secs_f64(), "{outcome}");
        let recorded = self
            .store
            .finish_job(
                &run.name,
                run.slot,
                &self.holder,
                Timestamp::now(),
                ok,
                &outcome,
            )
            .await?;
        if !recorded {
            // Another process holds the run now and records its own ending.
            let mut taken = run;
            taken.outcome = format!("taken over by another process; this one's outcome: {outcome}");
            return Ok(taken);
        }
        let mut finished = run;
        finished.state = if ok {
            bellwether_store::JobState::Succeeded
        } else {
            bellwether_store::JobState::Failed
        };
        finished.outcome = outcome;
        Ok(finished)
    }

    async fn daily_pass(&self) -> bellwether_store::Result<String> {
        let day = bellwether_engine::book_day(&*self.store, bellwether_engine::Clock::Live, None)
            .await?
            .ok_or_else(|| bellwether_store::StoreError::NotFound("any data to assess".into()))?;
        let out = bellwether_engine::reassess(&*self.store, &self.engine, None, day).await?;
        Ok(pass_outcome(&out, None))
    }
}

impl<S: LiveStore> Scheduler<S> {
    /// Queues the weekly digest of every owner whose week has started at `slot` in their time zone; a digest
    /// already queued for its owner and week stays as it was.
    async fn digest(&self, slot: Timestamp) -> Result<String, String> {
        let Some((delivery, configured)) = &self.digests else {
            return Ok("no [delivery] configured: no digests to send".into());
        };
        let people = &bellwether_deliver::people::People::read(&*self.store, configured)
            .await
            .map_err(|e| e.to_string())?;
        let due = |owners: &[String]| {
            bellwether_deliver::digest::due_owners(owners, delivery, people, &self.tz, slot)
        };
        // Nobody's week has started (neither in the schedule's time zone nor in a person's own): nothing to
        // read.
        let listed: Vec<String> = people.0.iter().map(|p| p.email.clone()).collect();
        if due(&listed).is_empty() && due(&["".to_string()]).is_empty() {
            return Ok("no digest due".into());
        }
        let rows = self
            .store
            .assessments(None)
            .await
            .map_err(|e| e.to_string())?;
        let mut owners: Vec<String> = rows.iter().filter_map(|a| a.owner.clone()).collect();
        owners.sort_unstable();
        owners.dedup();
        let due = due(&owners);
        if due.is_empty() {
            return Ok("no digest due".into());
        }
        let (digests, queued) = bellwether_deliver::digest::queue(
            &*self.store,
            Some(&due),
            delivery,
            people,
            slot,
            &self.tz,
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut weeks: Vec<&str> = digests.iter().map(|d| d.week.as_str()).collect();
        weeks.sort_unstable();
        weeks.dedup();
        Ok(format!(
            "{} digests for {} decided, {queued} outbox entries (one already queued for its owner's week is not sent again)",
            digests.len(),
            weeks.join(", ")
        ))
    }

    async fn retrain(&self) -> Result<String, String> {
        let day = bellwether_engine::book_day(&*self.store, bellwether_engine::Clock::Live, None)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no data to train on")?;
        let as_of = day.day;
        Ok(
            match bellwether_engine::retrain(&*self.store, &self.engine, day).await? {
                Some((v, None)) => {
                    format!("trained model version {v} on the book as of {as_of}; it is active")
                }
                Some((v, Some(why))) => {
                    format!("trained model version {v} on the book as of {as_of}; held back: {why}")
                }
                None => "nothing to retrain: no model version is active (train the first with `bellwether train`)".into(),
            },
        )
    }
}

/// What a pass did, in words (a bucket's with its number): the outcome of its run. The split pass reads back
/// the number of accounts ([`assessed_in`]).
pub(crate) fn pass_outcome(
    out: &bellwether_engine::AssessOutcome,
    bucket: Option<(usize, usize)>,
) -> String {
    let of = bucket.map_or(String::new(), |(k, n)| format!(" in bucket {}/{n}", k + 1));
    format!(
        "assessed {} accounts{of} as of {} ({} had ended); {} signals opened, {} closed; {} predictions",
        out.assessed,
        out.as_of,
        out.ended,
        out.signals_opened,
        out.signals_closed,
        out.predictions.len()
    )
}

/// The number of accounts a [`pass_outcome`] says were assessed.
pub(crate) fn assessed_in(outcome: &str) -> Option<usize> {
    outcome
        .strip_prefix("assessed ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// The scheduled jobs' lines of `/metrics`, from the latest runs in the store: per job, the slot, state,
/// duration and attempts of its latest run, and how many of the runs listed ended each way.
pub fn render_metrics(runs: &[JobRun]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    out.push_str("# HELP bellwether_job_last_slot_seconds The scheduled time of each job's latest run (Unix seconds).\n# TYPE bellwether_job_last_slot_seconds gauge\n");
    let mut latest: Vec<&JobRun> = Vec::new();
    for r in runs {
        if !latest.iter().any(|l| l.name == r.name) {
            latest.push(r);
        }
    }
    for r in &latest {
        let _ = writeln!(
            out,
            "bellwether_job_last_slot_seconds{{job=\"{}\"}} {}",
            r.name,
            r.slot.0 / 1000
        );
    }
    out.push_str("# HELP bellwether_job_last_run_state The state of each job's latest run (1 for its state).\n# TYPE bellwether_job_last_run_state gauge\n");
    for r in &latest {
        let _ = writeln!(
            out,
            "bellwether_job_last_run_state{{job=\"{}\",state=\"{}\"}} 1",
            r.name,
            r.state.as_str()
        );
    }
    out.push_str("# HELP bellwether_job_last_run_seconds How long each job's latest finished run took.\n# TYPE bellwether_job_last_run_seconds gauge\n");
    for r in &latest {
        if let Some(f) = r.finished_at {
            let _ = writeln!(
                out,
                "bellwether_job_last_run_seconds{{job=\"{}\"}} {:.3}",
                r.name,
                (f.0 - r.started_at.0) as f64 / 1000.0
            );
        }
    }
    out.push_str("# HELP bellwether_job_last_run_attempts Claims of each job's latest run (above 1: taken over).\n# TYPE bellwether_job_last_run_attempts gauge\n");
    for r in &latest {
        let _ = writeln!(
            out,
            "bellwether_job_last_run_attempts{{job=\"{}\"}} {}",
            r.name, r.attempts
        );
    }
    out.push_str("# HELP bellwether_job_runs Recent runs by job and state.\n# TYPE bellwether_job_runs gauge\n");
    let mut counts: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
    for r in runs {
        *counts
            .entry((r.name.as_str(), r.state.as_str()))
            .or_default() += 1;
    }
    for ((job, state), n) in counts {
        let _ = writeln!(
            out,
            "bellwether_job_runs{{job=\"{job}\",state=\"{state}\"}} {n}"
        );
    }
    out
}

/// Runs the scheduler on its tick until the process stops.
pub fn spawn<S: LiveStore>(
    mut scheduler: Scheduler<S>,
    tick: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(tick);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if scheduler.watching {
                tokio::time::sleep(split::BUCKET_POLL).await;
            } else {
                every.tick().await;
            }
            if let Err(e) = scheduler.tick(Timestamp::now()).await {
                tracing::warn!("the scheduler could not look at its jobs: {e}");
            }
        }
    })
}
