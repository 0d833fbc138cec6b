//! Bellwether's simulator: a synthetic, deterministic SaaS customer book for demos, tests and benchmarks.
//!
//! [`simulate`] writes a folder of import files in the exact formats of docs/formats.md — for the B2B profile
//! accounts, account changes, contacts, product events (or daily metrics), subscriptions, tickets, billing
//! events, interactions and outcomes — and, apart from them, the hidden ground truth in
//! `truth/ground_truth.csv`: each account's archetype (the driver behind its story), the day that driver began,
//! and what came of it. The self-serve profile ([`Profile::SelfServe`]) writes a young book of monthly
//! subscriptions: accounts as signed up, usage, subscriptions and the ground truth.
//!
//! Outcomes are caused, not painted on: a churn archetype changes usage, people, tickets, billing and
//! touchpoints for months before the renewal where the account leaves, with the magnitudes listed in
//! docs/simulator.md; a self-serve account leaves with a probability set by its engagement. The same configuration and seed give byte-identical files on every platform and thread
//! count: every account draws from its own random streams ([`rng`]), written in account order.
#![deny(missing_docs)]

mod account;
mod billing;
mod book;
mod calendar;
mod config;
mod names;
mod out;
mod people;
pub mod rng;
mod self_serve;
mod support;
mod text;
mod touch;
mod usage;

pub use book::{Archetype, Segment};
pub use calendar::is_holiday;
pub use config::{ArchetypeMix, Difficulty, Profile, SegmentRates, SelfServe, SimConfig};
pub use usage::FEATURES;

use account::{AccountStat, Bufs, Ctx};
use bellwether_core::time::Day;
use calendar::Calendar;
use out::File;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How far a run has come; reported after each batch of accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Accounts written so far.
    pub accounts_done: usize,
    /// Accounts in the book.
    pub accounts_total: usize,
    /// Event lines (or daily-metric lines) written so far.
    pub events_written: u64,
}

/// Figures for one segment of a simulated book.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentSummary {
    /// The segment.
    pub segment: Segment,
    /// Accounts in the segment.
    pub accounts: usize,
    /// Accounts that churned inside the window.
    pub churned: usize,
    /// Accounts that renewed for less inside the window.
    pub contracted: usize,
    /// Accounts that expanded inside the window.
    pub expanded: usize,
    /// Customer-years inside the window (the exposure churn is measured against).
    pub customer_years: f64,
    /// Churned accounts per customer-year: the annual gross logo churn.
    pub annual_logo_churn: f64,
}

/// What a run wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimSummary {
    /// The kind of book.
    pub profile: Profile,
    /// The version of the settings that shaped it ([`SimConfig::book_version`]).
    pub version: u32,
    /// Accounts in the book.
    pub accounts: usize,
    /// Lines of `events.csv` (0 with daily metrics).
    pub events: u64,
    /// Lines of `daily_metrics.csv` (0 with raw events).
    pub daily_metric_rows: u64,
    /// Lines of `tickets.csv`.
    pub tickets: u64,
    /// Lines of `billing_events.csv`.
    pub billing_events: u64,
    /// Lines of `interactions.csv`.
    pub interactions: u64,
    /// Lines of `contacts.csv`.
    pub contacts: u64,
    /// Lines of `subscriptions.csv`.
    pub subscriptions: u64,
    /// Lines of `account_changes.csv`.
    pub account_changes: u64,
    /// Lines of `outcomes.csv`.
    pub outcomes: u64,
    /// Every file written, the ground truth last.
    pub files: Vec<PathBuf>,
    /// Bytes written, all files together.
    pub bytes: u64,
    /// Accounts that churned on or before the last day of data.
    pub churned: usize,
    /// Customer-months inside the window (the exposure churn is measured against).
    pub customer_months: f64,
    /// Churned accounts per customer-month: the monthly gross logo churn.
    pub monthly_logo_churn: f64,
    /// Accounts that renewed for less on or before the last day.
    pub contracted: usize,
    /// Accounts that expanded on or before the last day.
    pub expanded: usize,
    /// Accounts with at least one unchanged renewal.
    pub renewed: usize,
    /// Accounts per archetype, in [`Archetype::ALL`] order.
    pub archetypes: Vec<(Archetype, usize)>,
    /// Figures per segment.
    pub segments: Vec<SegmentSummary>,
    /// First day of data.
    pub start: Day,
    /// Last day of data.
    pub end: Day,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A setting is out of range; the message names it.
    #[error("invalid simulator setting: {0}")]
    InvalidConfig(String),
    /// Creating or writing a file failed.
    #[error("could not write {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Accounts generated per batch handed between threads.
const BATCH: usize = 32;

/// Writes the simulated book into `out` (created if missing), calling `progress` after each batch of accounts.
///
/// Existing files of the same names are replaced, and the files this book does not write (the usage file of the
/// other mode, and in a self-serve book the B2B-only files) are removed, so the folder holds one book. Uses up
/// to eight threads; the files do not depend on the number of threads.
pub fn simulate(
    cfg: &SimConfig,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<SimSummary, SimError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    simulate_threads(cfg, out, threads, progress)
}

fn validate(cfg: &SimConfig) -> Result<(), SimError> {
    let bad = |m: String| Err(SimError::InvalidConfig(m));
    let d = &cfg.difficulty;
    let m = &d.archetype_mix;
    if !(1..=36_500).contains(&cfg.history_days) {
        return bad(format!(
            "history_days must be between 1 and 36500, not {}",
            cfg.history_days
        ));
    }
    let ss = &cfg.self_serve;
    if cfg.profile == Profile::SelfServe {
        let ranges = [
            ("self_serve.signup_share", ss.signup_share, 0.0, 1.0),
            (
                "self_serve.prior_tenure_days",
                ss.prior_tenure_days,
                0.0,
                3650.0,
            ),
            ("self_serve.engagement_sigma", ss.engagement_sigma, 0.0, 3.0),
            ("self_serve.low_engagement", ss.low_engagement, 0.0, 10.0),
            (
                "self_serve.failed_onboarding",
                ss.failed_onboarding,
                0.0,
                1.0,
            ),
            ("self_serve.monthly_decline", ss.monthly_decline, 0.0, 1.0),
            (
                "self_serve.monthly_expansion",
                ss.monthly_expansion,
                0.0,
                1.0,
            ),
            ("self_serve.level_weight", ss.level_weight, 0.0, 100.0),
            ("self_serve.fall_weight", ss.fall_weight, 0.0, 100.0),
            (
                "self_serve.max_monthly_churn",
                ss.max_monthly_churn,
                0.0,
                1.0,
            ),
            (
                "self_serve.reference_monthly_churn",
                ss.reference_monthly_churn,
                0.0,
                1.0,
            ),
        ];
        for (name, v, lo, hi) in ranges {
            if !v.is_finite() || !(lo..=hi).contains(&v) {
                return bad(format!("{name} must be between {lo} and {hi}, not {v}"));
            }
        }
    }
    let shares = [
        ("unwarned_churn_share", d.unwarned_churn_share),
        ("false_alarm_share", d.false_alarm_share),
        ("failed_onboarding", m.failed_onboarding),
        ("contraction_share", m.contraction_share),
    ];
    for (name, v) in shares {
        if !(0.0..=1.0).contains(&v) {
            return bad(format!("{name} must be between 0 and 1, not {v}"));
        }
    }
    for (name, r) in [
        ("annual_churn", m.annual_churn),
        ("annual_expansion", m.annual_expansion),
    ] {
        for v in [r.smb, r.mid_market, r.enterprise] {
            if !(0.0..1.0).contains(&v) {
                return bad(format!(
                    "{name} rates must be at least 0 and below 1, not {v}"
                ));
            }
        }
    }
    for (name, v) in [("signal_strength", d.signal_strength), ("noise", d.noise)] {
        if !v.is_finite() || !(0.0..=10.0).contains(&v) {
            return bad(format!("{name} must be between 0 and 10, not {v}"));
        }
    }
    let churn_w = [
        m.slow_disengagement,
        m.champion_loss,
        m.support_frustration,
        m.budget_trouble,
    ];
    let exp_w = [m.seat_saturation, m.new_team_adoption];
    for (name, w) in [
        ("churn archetype weights", &churn_w[..]),
        ("expansion archetype weights", &exp_w[..]),
    ] {
        if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 {
            return bad(format!(
                "{name} must be non-negative with a positive sum, not {w:?}"
            ));
        }
    }
    Ok(())
}

struct Batch {
    bufs: Bufs,
    stats: Vec<AccountStat>,
}

/// [`simulate`] with a given number of worker threads (at least one).
pub fn simulate_threads(
    cfg: &SimConfig,
    out: &Path,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<SimSummary, SimError> {
    validate(cfg)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SimError::Io { path, source }
    };
    std::fs::create_dir_all(out.join("truth")).map_err(io(&out.join("truth")))?;
    let start = cfg.start();
    let end = cfg.end;
    let book = book::plan_book(cfg);
    let cal = Calendar::new(start, end);
    let ctx = Ctx {
        cfg,
        cal: &cal,
        csms: &book.csms,
        start,
        end,
    };

    let (files, others): (Vec<File>, Vec<File>) = File::ALL
        .into_iter()
        .partition(|f| f.written(cfg.profile, cfg.daily_metrics));
    // The folder holds one book: drop the files of another mode or profile left by an earlier run.
    for f in others {
        let other = out.join(f.path());
        if other.exists() {
            std::fs::remove_file(&other).map_err(io(&other))?;
        }
    }
    let mut writers: Vec<Option<(PathBuf, std::io::BufWriter<std::fs::File>)>> =
        (0..out::FILES).map(|_| None).collect();
    for &f in &files {
        let path = out.join(f.path());
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        w.write_all(f.header_for(cfg.profile).as_bytes())
            .and_then(|_| w.write_all(b"\n"))
            .map_err(io(&path))?;
        writers[f.index()] = Some((path, w));
    }

    let n = cfg.accounts;
    let batches = n.div_ceil(BATCH);
    let next = AtomicUsize::new(0);
    let threads = threads.max(1).min(batches.max(1));
    let mut lines = [0u64; out::FILES];
    let mut stats: Vec<AccountStat> = Vec::with_capacity(n);
    let work = |b: usize| {
        let mut bufs = Bufs::default();
        let mut scratch = usage::Scratch::default();
        let lo = b * BATCH;
        let hi = (lo + BATCH).min(n);
        let stats = (lo..hi)
            .map(|i| account::generate(&ctx, &book.plans[i], &mut bufs, &mut scratch))
            .collect();
        Batch { bufs, stats }
    };
    std::thread::scope(|scope| -> Result<(), SimError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Batch)>(threads * 2);
        for _ in 0..threads {
            let tx = tx.clone();
            let next = &next;
            let work = &work;
            scope.spawn(move || loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches || tx.send((b, work(b))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, Batch> = BTreeMap::new();
        let mut want = 0;
        for (b, batch) in rx {
            pending.insert(b, batch);
            while let Some(batch) = pending.remove(&want) {
                for (i, w) in writers.iter_mut().enumerate() {
                    if let Some((path, w)) = w {
                        w.write_all(&batch.bufs.files[i]).map_err(io(path))?;
                    }
                    lines[i] += batch.bufs.lines[i];
                }
                stats.extend(batch.stats);
                want += 1;
                progress(Progress {
                    accounts_done: stats.len(),
                    accounts_total: n,
                    events_written: lines[File::Events.index()] + lines[File::DailyMetrics.index()],
                });
            }
        }
        Ok(())
    })?;

    let mut paths = Vec::new();
    let mut bytes = 0;
    for w in writers.into_iter().flatten() {
        let (path, w) = w;
        let file = w.into_inner().map_err(|e| SimError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().ok();
        bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
        paths.push(path);
    }
    Ok(summarise(cfg, &stats, &lines, paths, bytes))
}

fn summarise(
    cfg: &SimConfig,
    stats: &[AccountStat],
    lines: &[u64; out::FILES],
    files: Vec<PathBuf>,
    bytes: u64,
) -> SimSummary {
    let count = |f: File| lines[f.index()];
    let archetypes = Archetype::ALL
        .iter()
        .map(|a| (*a, stats.iter().filter(|s| s.archetype == *a).count()))
        .collect();
    let segments = Segment::ALL
        .iter()
        .map(|&seg| {
            let of: Vec<&AccountStat> = stats.iter().filter(|s| s.segment == seg).collect();
            let churned = of.iter().filter(|s| s.churned).count();
            let customer_years = of.iter().map(|s| s.exposure_days as f64).sum::<f64>() / 365.0;
            SegmentSummary {
                segment: seg,
                accounts: of.len(),
                churned,
                contracted: of.iter().filter(|s| s.contracted).count(),
                expanded: of.iter().filter(|s| s.expanded).count(),
                customer_years,
                annual_logo_churn: if customer_years > 0.0 {
                    churned as f64 / customer_years
                } else {
                    0.0
                },
            }
        })
        .collect();
    let churned = stats.iter().filter(|s| s.churned).count();
    let customer_months = stats.iter().map(|s| s.exposure_days as f64).sum::<f64>() * 12.0 / 365.0;
    SimSummary {
        profile: cfg.profile,
        version: cfg.book_version(),
        accounts: stats.len(),
        events: count(File::Events),
        daily_metric_rows: count(File::DailyMetrics),
        tickets: count(File::Tickets),
        billing_events: count(File::BillingEvents),
        interactions: count(File::Interactions),
        contacts: count(File::Contacts),
        subscriptions: count(File::Subscriptions),
        account_changes: count(File::AccountChanges),
        outcomes: count(File::Outcomes),
        files,
        bytes,
        churned,
        customer_months,
        monthly_logo_churn: if customer_months > 0.0 {
            churned as f64 / customer_months
        } else {
            0.0
        },
        contracted: stats.iter().filter(|s| s.contracted).count(),
        expanded: stats.iter().filter(|s| s.expanded).count(),
        renewed: stats.iter().filter(|s| s.renewed).count(),
        archetypes,
        segments,
        start: cfg.start(),
        end: cfg.end,
    }
}

/// The planned story of every account, without writing anything: `(account_id, segment, archetype,
/// trouble_start, decisive renewal)`. Cheap even for large books; the files of [`simulate`] follow these plans.
pub fn plan_summary(cfg: &SimConfig) -> Result<Vec<PlannedAccount>, SimError> {
    validate(cfg)?;
    let book = book::plan_book(cfg);
    Ok(book
        .plans
        .iter()
        .map(|p| PlannedAccount {
            account_id: p.id.clone(),
            segment: p.segment,
            archetype: p.archetype,
            contract_start: p.contract_start,
            term_months: p.term_months,
            trouble_start: p.trouble_start,
            outcome_date: p.decisive,
        })
        .collect())
}

/// One account's planned story (see [`plan_summary`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedAccount {
    /// The account id.
    pub account_id: String,
    /// Its segment.
    pub segment: Segment,
    /// Its hidden driver.
    pub archetype: Archetype,
    /// When it became a customer.
    pub contract_start: Day,
    /// Contract term in months (1 = monthly).
    pub term_months: u32,
    /// When the driver began.
    pub trouble_start: Option<Day>,
    /// The renewal the driver leads to (possibly after the end of data).
    pub outcome_date: Option<Day>,
}
