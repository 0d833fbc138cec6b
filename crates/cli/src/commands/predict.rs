//! `bellwether train`, `score`, `models` and `backtest`: churn and expansion models learned from the book's
//! own outcomes, their registry, daily scoring with drivers, and the rolling-origin backtest against the
//! rules health score.

use super::open_store;
use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::model::Prediction;
use bellwether_core::{Code, Day};
use bellwether_predict::backtest::{self, BacktestConfig, BacktestReport, MethodReport};
use bellwether_predict::dataset::{self, Sampling, TrainingSet};
use bellwether_predict::score;
use bellwether_predict::{train, PredictError, Target, TrainConfig};
use bellwether_store::Store;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

impl From<PredictError> for CliError {
    fn from(e: PredictError) -> Self {
        CliError::new(e.code(), e.to_string())
    }
}

fn parse_day(s: &str) -> Result<Day, String> {
    Day::parse(s).map_err(|e| e.to_string())
}

/// Arguments of `train`.
#[derive(Args)]
pub struct TrainArgs {
    /// Learning engine: gbdt (gradient-boosted trees) or logistic (the baseline).
    #[arg(long, default_value = "gbdt", value_parser = ["gbdt", "logistic"])]
    pub engine: String,
    /// Days between training snapshots (default: 14 on a year of history or more, 7 on a younger book).
    #[arg(long)]
    pub step: Option<i32>,
    /// Store the new version without making it active.
    #[arg(long)]
    pub no_activate: bool,
    /// Activate the new version even when it does not beat the rules score.
    #[arg(long, conflicts_with = "no_activate")]
    pub force: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the default target's training matrix, split as training splits it, to DIR/{train,valid,test}.csv
    /// and stop (for comparing engines on the same data; see benches/train.sh).
    #[arg(long, value_name = "DIR")]
    pub export_matrix: Option<PathBuf>,
}

/// Arguments of `score`.
#[derive(Args)]
pub struct ScoreArgs {
    /// The day to score (default: the day after the last data).
    #[arg(long, value_parser = parse_day)]
    pub as_of: Option<Day>,
    /// Accounts to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print JSON (every prediction).
    #[arg(long)]
    pub json: bool,
}

/// `models` subcommands.
#[derive(Subcommand)]
pub enum ModelsAction {
    /// List every version, newest first.
    List,
    /// Make a version the active one (roll back or forward), then re-score.
    Activate {
        /// The version.
        version: i64,
    },
    /// Write a version (default: the active one) to a file, with its columns, default target and metrics, to
    /// import into another data directory.
    Export {
        /// The file to write.
        file: PathBuf,
        /// The version (default: the active one).
        #[arg(long)]
        version: Option<i64>,
    },
    /// Store a model file written by `models export` as a new version, make it active and score with it.
    Import {
        /// The file to read.
        file: PathBuf,
        /// Store it without making it active.
        #[arg(long)]
        no_activate: bool,
    },
}

/// Arguments of `backtest`.
#[derive(Args)]
pub struct BacktestArgs {
    /// What to predict: churn_renewal, churn_30d, churn_60d, churn_90d, churn_180d, contraction_180d or
    /// expansion_180d (default: the book's default churn target, as `train` chooses it).
    #[arg(long)]
    pub target: Option<String>,
    /// Number of cut-offs (default: as many as the history fits, at most 3).
    #[arg(long)]
    pub cutoffs: Option<usize>,
    /// Days between cut-offs (default: fitted to the history, 14 to 60).
    #[arg(long)]
    pub spacing: Option<i32>,
    /// Days between snapshots (default: 14 on a year of history or more, 7 on a younger book).
    #[arg(long)]
    pub step: Option<i32>,
    /// Precision the alert thresholds must reach on training rows.
    #[arg(long, default_value_t = 0.5)]
    pub alert_precision: f64,
    /// How sure that precision must be, in standard errors of its Wilson lower bound (0: as observed).
    #[arg(long, default_value_t = bellwether_predict::bundle::DEFAULT_ALERT_Z)]
    pub alert_z: f64,
    /// Alert hysteresis: an account stays in alert while its score is at least this share of the threshold
    /// (1: no hysteresis).
    #[arg(long, default_value_t = bellwether_predict::bundle::ALERT_EXIT_RATIO)]
    pub exit_ratio: f64,
    /// Learning engine.
    #[arg(long, default_value = "gbdt", value_parser = ["gbdt", "logistic"])]
    pub engine: String,
    /// Write every evaluated snapshot (account, as-of, target, cut-off, probability, label) to this CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The training set of the whole history, sampled to fit it (see [`Sampling::for_book`]).
pub(crate) async fn training_set(
    store: &impl Store,
    settings: &Settings,
    step: Option<i32>,
) -> Result<TrainingSet, CliError> {
    let rates = super::assess::book_rates(store, settings).await?;
    dataset::from_store(store, &settings.health, step, Some(rates), &settings.adoption)
        .await?
        .ok_or_else(|| {
        CliError::new(
            Code::NoData,
            "the data directory holds no data to learn from; import a book first (`bellwether import DIR`)",
        )
    })
}

/// Scores every account with the active version as of the book's current day.
async fn score_today(
    store: &impl Store,
    settings: &Settings,
) -> Result<score::ScoreOutcome, CliError> {
    let day = super::book_day(store, None).await?;
    Ok(score::score(store, None, day, &settings.engine()).await?)
}

/// Trains a version on the whole history, stores it, and (when activated) scores the latest day.
pub async fn train_cmd(settings: &Settings, a: TrainArgs) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    let t0 = Instant::now();
    let set = training_set(&store, settings, a.step).await?;
    let build_seconds = t0.elapsed().as_secs_f64();
    if let Some(dir) = &a.export_matrix {
        let target = bellwether_predict::bundle::choose_default(
            &set,
            &bellwether_predict::bundle::trainable(&set),
        )
        .unwrap_or(score::DEFAULT_TARGET);
        let [tr, va, te] = bellwether_predict::bundle::export_split(&set, target, dir)
            .map_err(|e| CliError::new(Code::IoError, format!("{}: {e}", dir.display())))?;
        println!(
            "wrote {} columns: {tr} training, {va} validation and {te} test rows of {} to {} (built in {build_seconds:.1} s)",
            set.columns.len(),
            target.as_str(),
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let cfg = TrainConfig {
        engine: a.engine.clone(),
        ..Default::default()
    };
    let t1 = Instant::now();
    let bundle = train(&set, None, &cfg)?;
    let train_seconds = t1.elapsed().as_secs_f64();
    let infos = bundle.infos();
    let size = bundle.to_bytes().len();
    let activation = if a.no_activate {
        score::Activation::Never
    } else if a.force {
        score::Activation::Force
    } else {
        score::Activation::WhenBetter
    };
    let score::Registered {
        version,
        active: activate,
        held_back,
    } = score::register(&store, &bundle, &cfg, activation).await?;
    let scored = if !activate {
        None
    } else {
        Some(score_today(&store, settings).await?)
    };
    if a.json {
        let v = serde_json::json!({
            "version": version, "active": activate, "snapshots": set.rows.len(),
            "default_target": bundle.default_target, "horizon_days": bundle.default_target.and_then(Target::horizon),
            "held_back": held_back, "skipped": bundle.skipped,
            "warmup_days": set.sampling.warmup_days, "step_days": set.sampling.step_days,
            "columns": bundle.columns.len(), "trained_from": bundle.trained_from, "trained_to": bundle.trained_to,
            "bundle_bytes": size, "build_seconds": build_seconds, "train_seconds": train_seconds, "targets": infos,
            "scored_accounts": scored.as_ref().map(|s| s.accounts),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "model version {version}{}: {} snapshots × {} columns from {} to {} (built in {build_seconds:.1} s, trained in {train_seconds:.1} s, {} KiB)",
        if activate { " (active)" } else { " (not active)" },
        set.rows.len(),
        bundle.columns.len(),
        bundle.trained_from,
        bundle.trained_to,
        size / 1024
    );
    println!(
        "  {:<17} {:>7} {:>6} {:>6} {:>9} {:>6} {:>6} {:>9}  model",
        "target", "rows", "pos", "AUC", "logistic", "ECE", "Brier", "alert ≥"
    );
    for i in &infos {
        println!(
            "  {:<17} {:>7} {:>6} {:>6.3} {:>9.3} {:>6.3} {:>6.3} {:>8.0}%  {}",
            i.target.as_str(),
            i.rows,
            i.positives,
            i.held_out.auc,
            i.baseline.auc,
            i.held_out.ece,
            i.held_out.brier,
            i.alert_threshold * 100.0,
            i.model
        );
    }
    for s in &bundle.skipped {
        println!("  {:<17} skipped: {}", s.target.as_str(), s.reason);
    }
    match bundle.default_model() {
        Some(m) => {
            println!(
                "default churn target: {} ({}){}",
                m.info.target.as_str(),
                m.info.target.describe(),
                m.info
                    .versus_rules
                    .as_ref()
                    .map(|v| format!(
                        "; against the rules score {}: {}",
                        v.sentence(),
                        if v.beats {
                            "the model beats it"
                        } else {
                            "the model does not beat it"
                        }
                    ))
                    .unwrap_or_default()
            );
        }
        None => println!("default churn target: none trained"),
    }
    if let Some(h) = &held_back {
        if activate {
            println!("activated with --force although {h}");
        } else if !a.no_activate {
            println!("not activated: {h} (activate it anyway with `bellwether models activate {version}`)");
        }
    }
    if let Some(s) = scored {
        println!(
            "scored {} accounts as of {} ({:.1} s features, {:.1} s models and explanations)",
            s.accounts, s.as_of, s.feature_seconds, s.explain_seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_predictions(preds: &[Prediction], top: usize, target: Option<Target>) {
    let Some(target) = target else {
        println!("the active model has no churn target");
        return;
    };
    let mut churn: Vec<&Prediction> = preds
        .iter()
        .filter(|p| p.target == target.as_str())
        .collect();
    churn.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    println!("highest risk of {}:", target.describe());
    for p in churn.iter().take(top) {
        println!(
            "  {:<14} {:>4.0}%  (base {:.0}%)",
            p.account_id.as_str(),
            p.probability * 100.0,
            p.base_probability * 100.0
        );
        for d in p
            .drivers
            .iter()
            .filter(|d| d.points.abs() >= bellwether_predict::explain::MIN_POINTS)
            .take(3)
        {
            println!("      {}", d.text);
        }
    }
}

/// Scores every account with the active model.
pub async fn score_cmd(settings: &Settings, a: ScoreArgs) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    let s = score::score(
        &store,
        None,
        super::book_day(&store, a.as_of).await?,
        &settings.engine(),
    )
    .await?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&s.predictions).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "model version {} scored {} accounts as of {} (load {:.1} s, features {:.1} s, models and explanations {:.1} s)",
        s.version, s.accounts, s.as_of, s.load_seconds, s.feature_seconds, s.explain_seconds
    );
    print_predictions(&s.predictions, a.top, score::status(&store).await?.target);
    Ok(ExitCode::SUCCESS)
}

/// Lists or activates model versions.
pub async fn models_cmd(settings: &Settings, action: ModelsAction) -> Result<ExitCode, CliError> {
    let store = open_store(settings).await?;
    match action {
        ModelsAction::List => {
            let models = store.models().await?;
            if models.is_empty() {
                println!("no models yet: run `bellwether train`");
            }
            for m in models {
                let metrics = bellwether_predict::bundle::RecordMetrics::parse(&m.metrics);
                let aucs: Vec<String> = metrics
                    .targets
                    .iter()
                    .map(|i| format!("{} AUC {:.3}", i.target.as_str(), i.held_out.auc))
                    .collect();
                println!(
                    "{} v{:<3} {} trained {} on {} to {} · default {} · {}",
                    if m.active { "*" } else { " " },
                    m.version,
                    m.engine,
                    m.created_at,
                    m.trained_from,
                    m.trained_to,
                    metrics.default_target.map_or("none", Target::as_str),
                    aucs.join(", ")
                );
                if let Some(h) = &metrics.held_back {
                    println!("        not activated by training: {h}");
                }
            }
            println!("{}", score::status(&store).await?.reason);
        }
        ModelsAction::Export { file, version } => {
            let rec = store.model(version).await?.ok_or_else(|| {
                CliError::new(
                    Code::NoModel,
                    match version {
                        Some(v) => format!("no model version {v}; `bellwether models` lists them"),
                        None => "no model is active; train one (`bellwether train`) or name a version with --version".into(),
                    },
                )
            })?;
            let bytes = bellwether_predict::bundle::to_file(&rec);
            std::fs::write(&file, &bytes)
                .map_err(|e| CliError::new(Code::IoError, format!("{}: {e}", file.display())))?;
            let m = bellwether_predict::bundle::RecordMetrics::parse(&rec.metrics);
            println!(
                "wrote model version {} ({} targets, default {}, {} columns, {} KiB) to {}",
                rec.version,
                m.targets.len(),
                m.default_target.map_or("none", Target::as_str),
                rec.features.len(),
                bytes.len() / 1024,
                file.display()
            );
        }
        ModelsAction::Import { file, no_activate } => {
            let bytes = std::fs::read(&file).map_err(|e| {
                CliError::new(Code::FileNotFound, format!("{}: {e}", file.display()))
            })?;
            let (record, bundle) = bellwether_predict::bundle::from_file(&bytes)
                .map_err(|e| CliError::new(e.code(), format!("{}: {e}", file.display())))?;
            let version = store.save_model(record, !no_activate).await?;
            println!(
                "imported {} as model version {version}{} ({} targets, default {}, trained {} to {})",
                file.display(),
                if no_activate { "" } else { " (active)" },
                bundle.targets.len(),
                bundle.default_target.map_or("none", Target::as_str),
                bundle.trained_from,
                bundle.trained_to
            );
            if !no_activate {
                let s = score_today(&store, settings).await?;
                println!("scored {} accounts as of {}", s.accounts, s.as_of);
            }
        }
        ModelsAction::Activate { version } => {
            store.activate_model(version).await.map_err(|e| match e {
                bellwether_store::StoreError::NotFound(m) => CliError::new(Code::NoModel, m),
                other => other.into(),
            })?;
            let s = score_today(&store, settings).await?;
            println!(
                "model version {version} is active; re-scored {} accounts as of {}",
                s.accounts, s.as_of
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The backtest in one line: how early the model would have warned, against the rules score.
pub fn headline(r: &BacktestReport) -> String {
    let (m, h) = (&r.model.warning, &r.rules.warning);
    format!(
        "would have warned a median of {:.0} days before churn for {} of {} churners, against {:.0} days for the \
         rules score ({}, {} cut-offs; AUC {:.3} against {:.3})",
        m.median_days,
        (m.share_warned * m.churners as f64).round() as usize,
        m.churners,
        h.median_days,
        r.target,
        r.cutoffs.len(),
        r.model.auc,
        r.rules.auc
    )
}

fn method_line(m: &MethodReport) -> Vec<String> {
    vec![
        format!("{:.3}", m.auc),
        format!("{:.3}", m.pr_auc),
        format!("{:.4}", m.brier),
        format!("{:.3}", m.ece),
        format!("{:.2}×", m.top_decile_lift),
        format!("{:.2}", m.precision_at_k),
        format!("{:.2}", m.precision_at_threshold),
        format!("{:.0}%", m.flagged_share * 100.0),
        format!("{:.0}%", m.arr_weighted_recall * 100.0),
        format!("{:.0} d", m.warning.median_days),
        format!("{:.0}%", m.warning.share_90_days * 100.0),
        format!("{:.0}%", m.warning.share_warned * 100.0),
    ]
}

fn print_backtest(r: &BacktestReport) {
    println!(
        "backtest of {} over {} cut-offs ({} evaluated snapshots, {} positive)",
        r.target,
        r.cutoffs.len(),
        r.model.rows,
        r.model.positives
    );
    for c in &r.cutoffs {
        println!(
            "  cut-off {}: trained on {} snapshots, evaluated {}: AUC model {:.3} vs rules {:.3}; alert at model ≥ {:.0}%, rules risk ≥ {:.2}",
            c.cutoff, c.train_rows, c.eval_rows, c.model_auc, c.rules_auc, c.model_threshold * 100.0, c.rules_threshold
        );
    }
    let labels = [
        "ROC-AUC",
        "PR-AUC",
        "Brier",
        "ECE",
        "top-decile lift",
        &format!("precision@{}", r.model.k),
        &format!("precision at alert (target {:.2})", r.alert_precision),
        "flagged",
        "ARR-weighted recall",
        "median warning",
        "warned ≥ 90 days",
        "warned at all",
    ];
    let (m, h) = (method_line(&r.model), method_line(&r.rules));
    println!("\n  {:<34} {:>10} {:>12}", "", "model", "rules score");
    for (i, l) in labels.iter().enumerate() {
        println!("  {:<34} {:>10} {:>12}", l, m[i], h[i]);
    }
    println!(
        "  (warning time over {} churners that churned ≥ {} days after the first cut-off; at most {} days possible)",
        r.model.warning.churners, r.model.warning.min_lead_days, r.model.warning.max_possible_days
    );
    println!("\n  reliability of the model (predicted → observed):");
    for b in &r.model.reliability {
        println!(
            "    {:>3.0}–{:<3.0}% {:>7} snapshots: predicted {:>5.1}%, observed {:>5.1}%",
            b.from * 100.0,
            b.to * 100.0,
            b.count,
            b.mean_predicted * 100.0,
            b.observed * 100.0
        );
    }
}

/// What a backtest is asked for; `None` fields are fitted to the book.
pub struct BacktestPlan {
    /// The target (default: the book's default churn target).
    pub target: Option<Target>,
    /// Number of cut-offs.
    pub cutoffs: Option<usize>,
    /// Days between cut-offs.
    pub spacing: Option<i32>,
    /// Days between snapshots.
    pub step: Option<i32>,
    /// Training settings.
    pub train: TrainConfig,
    /// Alert hysteresis (see [`BacktestConfig::exit_ratio`]).
    pub exit_ratio: f64,
}

/// The rolling-origin backtest `plan` asks for: its target (default: the book's default churn target) with cut-offs fitted to
/// the history unless given: builds the snapshots with columns chosen before the first cut-off, then trains
/// and evaluates at each.
pub async fn run_backtest(
    store: &impl Store,
    settings: &Settings,
    plan: BacktestPlan,
) -> Result<BacktestReport, CliError> {
    let BacktestPlan {
        target: named,
        cutoffs,
        spacing,
        step,
        train,
        exit_ratio,
    } = plan;
    let (book, series, summary) = dataset::load(store, None).await?;
    let Some((first, end)) = dataset::data_span(&summary) else {
        return Err(CliError::new(
            Code::NoData,
            "the data directory holds no data to backtest; import a book first",
        ));
    };
    let mut sampling = Sampling::for_book(&summary, step);
    sampling.adoption = settings.adoption.clone();
    // Columns are chosen before the first cut-off, so no later data picks them: the cut-offs of the longest
    // window the target may have (its horizon and the longest grace period) lie no later than the fitted ones.
    let widest = |t: Target| t.horizon().unwrap_or(210) + bellwether_predict::labels::GRACE_DAYS;
    let provisional = backtest::fit_cutoffs(
        first,
        end,
        sampling.warmup_days,
        named.map_or(widest(Target::Churn180), widest),
        cutoffs,
        spacing,
    );
    sampling.spec_as_of = provisional.first().copied();
    sampling.rates = Some(super::assess::book_rates(store, settings).await?);
    let set = dataset::build(&book, &series, &summary, &settings.health, &sampling)
        .ok_or_else(|| CliError::new(Code::NoData, "no snapshots could be taken"))?;
    drop((book, series));
    let target = match named {
        Some(t) => t,
        // Chosen as `train` chooses it, among the targets whose window leaves room for training labels
        // before a cut-off and evaluation labels after it.
        None => {
            let span = end.0 - first.0 + 1;
            let fits: Vec<Target> = bellwether_predict::bundle::trainable(&set)
                .into_iter()
                .filter(|&t| {
                    span - set.sampling.warmup_days
                        - 2 * bellwether_predict::bundle::label_days(&set, t)
                        >= 14
                })
                .collect();
            bellwether_predict::bundle::choose_default(&set, &fits).ok_or_else(|| {
                CliError::new(
                    Code::NotEnoughHistory,
                    format!(
                        "no churn target has enough outcomes and a window short enough to backtest on {span} days of \
                         history (a warm-up, a window of training labels before a cut-off and one of evaluation \
                         labels after it); `bellwether train` says why for each target"
                    ),
                )
            })?
        }
    };
    let fitted = backtest::fit_cutoffs(
        first,
        end,
        sampling.warmup_days,
        bellwether_predict::bundle::label_days(&set, target),
        cutoffs,
        spacing,
    );
    // The fitted cut-offs, unless the columns would then have been chosen after the first of them.
    let chosen = if fitted.first() >= provisional.first() {
        fitted
    } else {
        provisional
    };
    let cfg = BacktestConfig {
        target,
        cutoffs: chosen,
        train,
        exit_ratio,
    };
    Ok(backtest::run(&set, &cfg)?)
}

/// Runs the rolling-origin backtest.
pub async fn backtest_cmd(settings: &Settings, a: BacktestArgs) -> Result<ExitCode, CliError> {
    let named = match &a.target {
        Some(t) => Some(Target::parse(t).ok_or_else(|| {
            CliError::new(
                Code::InvalidArgument,
                format!("--target '{t}' is not one of {}", Target::names()),
            )
        })?),
        None => None,
    };
    let store = open_store(settings).await?;
    let report = run_backtest(
        &store,
        settings,
        BacktestPlan {
            target: named,
            cutoffs: a.cutoffs,
            spacing: a.spacing,
            step: a.step,
            train: TrainConfig {
                engine: a.engine.clone(),
                alert_precision: a.alert_precision,
                alert_z: a.alert_z,
                ..Default::default()
            },
            exit_ratio: a.exit_ratio,
        },
    )
    .await?;

    if let Some(path) = &a.csv {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::new(Code::IoError, format!("{}: {e}", path.display())))?,
        );
        writeln!(
            w,
            "account_id,as_of,target,cutoff,probability,rules_risk,label"
        )?;
        for p in &report.predictions {
            writeln!(
                w,
                "{},{},{},{},{:.6},{:.6},{}",
                p.account_id.as_str(),
                p.as_of,
                p.target,
                p.cutoff,
                p.probability,
                p.rules_risk,
                p.label
            )?;
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        if named.is_none() {
            println!(
                "{} is the book's default churn target among those whose window fits a backtest of this history, chosen as `train` chooses it (--target names another: {})",
                report.target,
                Target::names()
            );
        }
        print_backtest(&report);
    }
    Ok(ExitCode::SUCCESS)
}
