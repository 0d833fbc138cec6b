//! `signals report` on a simulated book: the signals a weekly pass over its history stores, judged against the
//! outcomes the book imported (the simulator's `outcomes.csv`, not its hidden stories). A detector known to
//! carry information beats chance, and the figures add up.

use bellwether_core::model::Severity;
use bellwether_engine::evaluate::replay;
use bellwether_engine::{day, Clock, Engine};
use bellwether_ingest::{import_dir, ImportOptions};
use bellwether_predict::signal_report::{report, ReportConfig, Verdict, MIN_JUDGED};
use bellwether_sim::{simulate, SimConfig};
use bellwether_store::{SignalFilter, Store};
use bellwether_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_simulated_books_own_outcomes_informative_detectors_beat_chance_and_the_figures_add_up(
) {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("book");
    simulate(
        &SimConfig {
            accounts: 1200,
            seed: 7,
            ..Default::default()
        },
        &files,
        &mut |_| {},
    )
    .unwrap();
    let store = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
    import_dir(&store, &files, &ImportOptions::default())
        .await
        .unwrap();
    let (book, series, summary) = (
        store.load_book(None).await.unwrap(),
        store.load_series(None).await.unwrap(),
        store.book_summary().await.unwrap(),
    );
    let outcomes: usize = book.accounts.values().map(|f| f.outcomes.len()).sum();
    assert!(
        outcomes > 100,
        "the simulator's outcomes were imported: {outcomes}"
    );
    let end = day::decide(&summary, Clock::Files, None).unwrap().day;
    let first = summary.metrics.iter().map(|m| m.1).min().unwrap();

    // The history a weekly `assess --from` would store, stored and read back as the command reads it.
    let signals: Vec<_> = replay(
        &book,
        &series,
        &summary,
        &Engine::default(),
        first.plus(120),
        end,
        7,
    )
    .into_iter()
    .flat_map(|r| r.signals)
    .collect();
    store.save_signals(&signals, &[]).await.unwrap();
    let stored = store.signals(SignalFilter::default()).await.unwrap();
    assert_eq!(stored.len(), signals.len());

    let cfg = ReportConfig::default();
    let r = report(&stored, &book, end, &cfg);
    eprintln!("{}", r.to_markdown());

    // The figures add up.
    assert_eq!(r.signals, stored.len());
    assert_eq!(r.judged + r.unjudged, r.signals);
    assert!(
        r.judged > 1000 && r.unjudged > 0,
        "{} / {}",
        r.judged,
        r.unjudged
    );
    assert_eq!(r.kinds.iter().map(|k| k.signals).sum::<usize>(), r.signals);
    assert_eq!(r.kinds.iter().map(|k| k.judged).sum::<usize>(), r.judged);
    assert!(r.csms >= 5, "{} CSMs", r.csms);
    let risk_base = r.risk_base_rate.unwrap();
    assert!(
        (0.01..0.5).contains(&risk_base),
        "churn or contraction within 90 days: {risk_base}"
    );
    for k in r.kinds.iter().chain(&r.rules) {
        let what = format!("{} {:?}", k.kind, k.severity);
        assert!(k.hits <= k.judged && k.judged <= k.signals, "{what}");
        assert_eq!(k.judged + k.unjudged, k.signals, "{what}");
        assert!(k.accounts <= k.signals && k.accounts > 0, "{what}");
        if let (Some(p), Some(b), Some(l)) = (k.precision, k.base_rate, k.lift) {
            assert!((0.0..=1.0).contains(&p) && b > 0.0 && b < 1.0, "{what}");
            assert!((l - p / b).abs() < 1e-9, "{what}");
        }
        assert_eq!(k.median_warning_days.is_some(), k.hits > 0, "{what}");
        if let Some(w) = k.median_warning_days {
            assert!((0.0..90.0).contains(&w), "{what}: {w}");
        }
        let expected = k.signals as f64 / (r.csms as f64 * r.weeks);
        assert!((k.per_csm_week - expected).abs() < 1e-9, "{what}");
    }
    // Alert rules split their kind's signals at high and above.
    for k in &r.kinds {
        let alerting: usize = r
            .rules
            .iter()
            .filter(|x| x.kind == k.kind)
            .map(|x| x.signals)
            .sum();
        let high = stored
            .iter()
            .filter(|s| s.kind == k.kind && s.severity >= Severity::High)
            .count();
        assert_eq!(alerting, high, "{}", k.kind);
    }
    let b = &r.budget;
    assert_eq!(b.alerts, r.rules.iter().map(|x| x.signals).sum::<usize>());
    assert!((b.rules.iter().map(|x| x.share).sum::<f64>() - 1.0).abs() < 1e-9);
    let worst = b.worst.as_ref().unwrap();
    assert!(worst.per_week >= b.average_per_csm_week);
    assert!((worst.rules.iter().map(|x| x.share).sum::<f64>() - 1.0).abs() < 1e-9);
    // The rules that fit the budget keep every CSM within it.
    let fits: Vec<(&str, Severity)> = b
        .rules
        .iter()
        .filter(|x| x.fits_budget == Some(true))
        .map(|x| (x.kind.as_str(), x.severity))
        .collect();
    assert!(!fits.is_empty());
    let mut kept: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in &stored {
        if let Some(o) = s.owner.as_deref() {
            if fits.contains(&(s.kind.as_str(), s.severity)) {
                *kept.entry(o).or_default() += 1;
            }
        }
    }
    assert!(kept
        .values()
        .all(|n| *n as f64 / r.weeks <= b.budget + 1e-9));
    // A tighter budget than the loudest CSM's keeps fewer rules.
    let tight = report(
        &stored,
        &book,
        end,
        &ReportConfig {
            budget: 1.0,
            ..cfg.clone()
        },
    );
    let fitting = |r: &bellwether_predict::signal_report::SignalReport| {
        r.budget
            .rules
            .iter()
            .filter(|x| x.fits_budget == Some(true))
            .count()
    };
    assert!(tight.budget.worst.as_ref().unwrap().over_budget);
    assert!(fitting(&tight) < fitting(&r));

    // Detectors known to carry information beat chance on the book's own outcomes.
    // (On a 90-day horizon champion_left is not one: the simulator's champion-loss churns come about half a
    // year after the champion leaves.)
    for kind in [
        "payment_failure",
        "login_silence",
        "seat_utilisation_fall",
        "new_team_adoption",
    ] {
        let k = r.kinds.iter().find(|k| k.kind == kind).unwrap();
        assert!(k.judged >= MIN_JUDGED, "{kind}: {} judged", k.judged);
        assert!(k.lift.unwrap() > 2.0, "{kind}: lift {:?}", k.lift);
        assert_eq!(k.verdict, Verdict::Keep, "{kind}: {}", k.reason);
    }
}
