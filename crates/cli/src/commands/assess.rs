//! `assess`, `worklist`, `account` and `stats`: reading and judging what was imported.

use super::open_store;
use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::model::{Assessment, SignalStatus};
use bellwether_core::{AccountId, Code, Day, Rates};
use bellwether_engine::{reassess, BookDay, WorklistItem};
use bellwether_store::Store;
use clap::Args;
use std::process::ExitCode;

fn parse_day(s: &str) -> Result<Day, String> {
    Day::parse(s).map_err(|e| e.to_string())
}

/// Arguments of `assess`.
#[derive(Args)]
pub struct AssessArgs {
    /// The day to assess as of (facts before it count); default: the day after the last data.
    #[arg(long, value_parser = parse_day)]
    pub as_of: Option<Day>,
    /// Also assess earlier days, from this one, to build the health history and the signals' lifecycle.
    #[arg(long, value_parser = parse_day)]
    pub from: Option<Day>,
    /// Days between the passes of `--from`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub step: i32,
}

/// Arguments of `worklist`.
#[derive(Args)]
pub struct WorklistArgs {
    /// The CSM whose list to show (as the accounts' `owner`); default: everyone.
    #[arg(long, alias = "owner")]
    pub csm: Option<String>,
    /// How many accounts.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `account`.
#[derive(Args)]
pub struct AccountArgs {
    /// The account id.
    pub id: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The book's reporting currency and rates under `[money]`; refuses a book in several currencies that the
/// settings give no way to add up.
pub async fn book_rates(store: &impl Store, settings: &Settings) -> Result<Rates, CliError> {
    bellwether_engine::money::book_rates(store, &settings.money, None)
        .await?
        .map_err(|why| CliError::new(Code::MixedCurrencies, why))
}

/// Prints a ranked worklist: each line's priority with its arithmetic (which multiplies out), why this
/// account and why now, and the play to run, for the book's current day `today` (lines from an older
/// assessment say how old they are).
pub fn print_worklist(items: &[WorklistItem], today: Day) {
    for it in items {
        let age = today.0 - it.as_of.0;
        println!(
            "{:>3}. {:<24} health {:>3.0}  {}{}",
            it.rank,
            it.account_id,
            it.health,
            it.arithmetic,
            match age {
                a if a <= 0 => String::new(),
                1 => format!(" (assessed {}, 1 day ago)", it.as_of),
                a => format!(" (assessed {}, {a} days ago)", it.as_of),
            }
        );
        println!("     why: {}", it.reason);
        if let Some(play) = &it.play {
            println!("     play: {play}");
        }
    }
}

/// Runs `assess`.
pub async fn assess(settings: &Settings, a: AssessArgs) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    let engine = settings.engine();
    let rates = book_rates(&store, settings).await?;
    if let Some(from) = a.from {
        if let Some(latest) = store.latest_assessment_day().await?.filter(|l| *l >= from) {
            return Err(CliError::new(
                Code::InvalidArgument,
                format!(
                    "the book is already assessed up to {latest}; --from builds history forward, so start after that day, \
                     or import into a fresh data directory with `import --no-assess` and run `assess --from {from}` first"
                ),
            ));
        }
        let to = super::book_day(&store, a.as_of).await?.day;
        let mut day = from;
        while day < to {
            let out = reassess(&store, &engine, None, BookDay::past(day)).await?;
            println!(
                "{}: {} accounts, {} signals opened, {} closed",
                out.as_of, out.assessed, out.signals_opened, out.signals_closed
            );
            day = day.plus(a.step);
        }
    }
    let day = super::book_day(&store, a.as_of).await?;
    let out = reassess(&store, &engine, None, day).await?;
    println!(
        "assessed {} accounts as of {} ({} had ended); {} signals opened, {} closed; load {:.2}s, features {:.2}s, models {:.2}s, health and signals {:.2}s, save {:.2}s",
        out.assessed,
        out.as_of,
        out.ended,
        out.signals_opened,
        out.signals_closed,
        out.load_seconds,
        out.feature_seconds,
        out.model_seconds,
        out.compute_seconds - out.feature_seconds - out.model_seconds,
        out.save_seconds
    );
    if let Some(line) = model_line(&out) {
        println!("{line}");
    }
    println!(
        "{}",
        bellwether_engine::portfolio_summary(&out.assessments, out.ended, rates.reporting())
    );
    Ok(ExitCode::SUCCESS)
}

/// What the pass's model step did, in one line: the version that scored, a retraining, or why none scored.
pub fn model_line(out: &bellwether_engine::AssessOutcome) -> Option<String> {
    let m = &out.model;
    let mut line = String::new();
    if let Some((version, held_back)) = &m.retrained {
        line.push_str(&match held_back {
            None => format!("retrained: model version {version} is now active; "),
            Some(h) => format!("retrained model version {version} kept inactive ({h}); "),
        });
    }
    match (m.version, &m.problem) {
        (Some(v), _) => line.push_str(&format!(
            "model version {v} scored {} accounts ({} predictions, {:.2} s of which the targets explained with drivers {:.2} s)",
            out.predictions
                .iter()
                .map(|p| &p.account_id)
                .collect::<std::collections::HashSet<_>>()
                .len(),
            out.predictions.len(),
            out.model_seconds,
            out.explain_seconds
        )),
        (None, Some(p)) => line.push_str(&format!("no model scored: {p}")),
        (None, None) if line.is_empty() => return None,
        (None, None) => {}
    }
    Some(line)
}

async fn latest(store: &impl Store) -> Result<Vec<Assessment>, CliError> {
    let rows = store.assessments(None).await?;
    if rows.is_empty() {
        return Err(CliError::new(
            Code::NoData,
            "no assessments yet; run `bellwether assess` after importing",
        ));
    }
    Ok(rows)
}

/// Runs `worklist`.
pub async fn worklist(settings: &Settings, a: WorklistArgs) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    // A book in several currencies without rates cannot be ranked in one; say so before reading.
    book_rates(&store, settings).await?;
    let items = bellwether_engine::worklist::read(&store, a.csm.as_deref(), a.limit).await?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if items.is_empty() {
        let rows = latest(&store).await?;
        let owners: std::collections::BTreeSet<_> = rows
            .iter()
            .filter_map(|r| r.owner.as_deref())
            .take(10)
            .collect();
        return Err(CliError::new(
            Code::AccountNotFound,
            format!(
                "no accounts owned by '{}'; owners include: {}",
                a.csm.unwrap_or_default(),
                owners.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let today = super::book_day(&store, None).await?.day;
    println!(
        "Worklist{} as of {today}:",
        a.csm
            .as_deref()
            .map(|c| format!(" for {c}"))
            .unwrap_or_default(),
    );
    let model = bellwether_predict::score::status(&store).await?;
    println!("  ranked by: {}", model.reason);
    print_worklist(&items, today);
    Ok(ExitCode::SUCCESS)
}

/// Runs `account`.
pub async fn account(settings: &Settings, a: AccountArgs) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    let id = AccountId(a.id.clone());
    let book = store.load_book(Some(std::slice::from_ref(&id))).await?;
    let Some(facts) = book.accounts.get(&id) else {
        return Err(CliError::new(
            Code::AccountNotFound,
            format!(
                "no account '{}'; `bellwether worklist` lists accounts",
                a.id
            ),
        ));
    };
    let history = store.assessment_history(&id).await?;
    let as_of = match history.last() {
        Some(h) => h.as_of,
        None => super::book_day(&store, None).await?.day,
    };
    // What is known now: undated values received after the last assessment show too.
    let view = facts.view_current(&id, as_of, Some(bellwether_core::Timestamp::now()));
    let filter = bellwether_store::SignalFilter {
        accounts: Some(vec![id.clone()]),
        statuses: SignalStatus::ACTIVE.to_vec(),
        ..Default::default()
    };
    let signals = store.signals(filter).await?;
    // Every target with its drivers: those the pass stores without are computed for the stored day.
    let stored = store.predictions(Some(&id), None).await?;
    let predictions = bellwether_engine::models::with_drivers(
        &store,
        &settings.engine(),
        &id,
        stored,
        bellwether_engine::Clock::Files,
    )
    .await?;
    let model = bellwether_predict::score::status(&store).await?;
    if a.json {
        let v = serde_json::json!({"account": view, "assessment": history.last(), "signals": signals, "predictions": predictions, "model": model, "health_history": history.iter().map(|h| (h.as_of.to_string(), h.health)).collect::<Vec<_>>()});
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} ({})", view.name.as_deref().unwrap_or(&a.id), a.id);
    println!(
        "  owner {} · segment {} · plan {} · ARR {} · seats {} · renews {}",
        view.owner.as_deref().unwrap_or("-"),
        view.segment.as_deref().unwrap_or("-"),
        view.plan.as_deref().unwrap_or("-"),
        view.arr
            .map(|m| m.to_string())
            .unwrap_or_else(|| "-".into()),
        view.seats
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into()),
        view.renewal_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "-".into())
    );
    match history.last() {
        None => println!("  not assessed yet: run `bellwether assess`"),
        Some(h) => {
            println!(
                "  health {:.0} as of {} (risk proxy {:.2}, not a probability)",
                h.health, h.as_of, h.risk_proxy
            );
            for c in &h.components {
                println!(
                    "    {:<13} {:>3.0}  (weight {:>4.0}%)  {}",
                    c.name,
                    c.score,
                    c.weight * 100.0,
                    c.reason
                );
            }
            println!("  why it ranks: {}", h.reason);
        }
    }
    println!("  ranked by: {}", model.reason);
    for p in &predictions {
        if p.drivers.is_empty() {
            continue;
        }
        println!(
            "  probability of {} {:.0}% as of {} (base {:.0}%, model v{}):",
            bellwether_predict::Target::parse(&p.target)
                .map_or_else(|| p.target.clone(), |t| t.describe()),
            p.probability * 100.0,
            p.as_of,
            p.base_probability * 100.0,
            p.model_version
        );
        for d in p.drivers.iter().filter(|d| d.points.abs() >= 0.5).take(4) {
            println!("    {}", d.text);
        }
    }
    if signals.is_empty() {
        println!("  no open signals");
    } else {
        println!("  open signals:");
        super::signals::print_signals(&signals);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `stats`.
pub async fn stats(settings: &Settings) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    let s = store.stats().await?;
    println!("store {}", store.location());
    println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}
