//! The worklist's priority puts the money first: on a simulated book, a model trained before a cut-off and
//! the real pass run forward from it, at three later cut-offs the global top tenth of accounts by priority
//! holds at least half of the ARR that churns in the next 90 days (the book's own churn outcomes), more than
//! the same ranking with the rules score's risk instead of the model; and the reason of the top accounts
//! whose simulated story is under way names that story's cause.

use bellwether_core::model::{Assessment, OutcomeKind, SignalStatus};
use bellwether_core::AccountId;
use bellwether_engine::worklist::{priority, Attention};
use bellwether_engine::{reassess, BookDay, Engine, ModelPolicy};
use bellwether_ingest::{import_dir, ImportOptions};
use bellwether_predict::dataset;
use bellwether_predict::score::{self, Activation};
use bellwether_predict::{train, TrainConfig};
use bellwether_sim::{plan_summary, simulate, Archetype, SimConfig};
use bellwether_store::{SignalFilter, Store};
use bellwether_store_sqlite::SqliteStore;
use std::collections::HashMap;

/// Words a reason names each story's cause with.
fn cause_words(a: Archetype) -> Option<&'static [&'static str]> {
    Some(match a {
        Archetype::SlowDisengagement => &[
            "usage",
            "active users",
            "events",
            "logins",
            "engagement",
            "feature",
        ],
        Archetype::ChampionLoss => &["champion", "sponsor", "key contact"],
        Archetype::SupportFrustration => {
            &["ticket", "support", "sla", "csat", "sentiment", "escalat"]
        }
        Archetype::BudgetTrouble => &[
            "payment",
            "seat",
            "downgrade",
            "invoice",
            "qbr",
            "contraction",
        ],
        Archetype::FailedOnboarding => &["onboarding", "adoption", "usage", "active", "feature"],
        Archetype::SeatSaturation => &["seat", "utilisation", "users"],
        Archetype::NewTeamAdoption => &["team", "users", "adoption", "feature", "invit"],
        // No cause to name: healthy accounts, and churn that comes without warning.
        _ => return None,
    })
}

/// The share of `churning` ARR (account → ARR at the day) the top tenth of `ranked` holds.
fn capture(ranked: &[(f64, &Assessment)], churning: &HashMap<&AccountId, f64>) -> f64 {
    let total: f64 = churning.values().sum();
    let k = ranked.len() / 10;
    let held: f64 = ranked[..k]
        .iter()
        .filter_map(|(_, a)| churning.get(&a.account_id))
        .sum();
    held / total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_top_tenth_by_priority_holds_half_the_arr_that_churns_within_90_days() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    let cfg = SimConfig {
        accounts: 1500,
        seed: 21,
        ..SimConfig::default()
    };
    simulate(&cfg, &book, &mut |_| {}).unwrap();
    let plans = plan_summary(&cfg).unwrap();
    let store = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
    import_dir(&store, &book, &ImportOptions::default())
        .await
        .unwrap();
    let summary = store.book_summary().await.unwrap();
    let (_, end) = dataset::data_span(&summary).unwrap();
    // Three cut-offs a month apart whose 90 days have happened, and a training cut-off a month before.
    let cutoffs = [end.plus(-151), end.plus(-121), end.plus(-91)];
    let trained_to = cutoffs[0].plus(-30);

    let set = dataset::from_store(&store, &Default::default(), None, None, &Default::default())
        .await
        .unwrap()
        .unwrap();
    let tc = TrainConfig::default();
    let bundle = train(&set, Some(trained_to), &tc).unwrap();
    score::register(&store, &bundle, &tc, Activation::Force)
        .await
        .unwrap();
    let engine = Engine {
        models: Some(score::models(ModelPolicy {
            score: true,
            retrain_days: 0,
        })),
        ..Engine::default()
    };

    let facts = store.load_book(None).await.unwrap();
    let story: HashMap<&str, _> = plans.iter().map(|p| (p.account_id.as_str(), p)).collect();
    // Weekly passes from the training cut-off, so signals open and age as they would have.
    let mut day = trained_to;
    let mut checked = 0;
    let mut failures = Vec::new();
    while day <= cutoffs[2] {
        let out = reassess(
            &store,
            &engine,
            None,
            BookDay {
                day,
                current: false,
            },
        )
        .await
        .unwrap();
        if cutoffs.contains(&day) {
            assert_eq!(out.model.version, Some(1), "{:?}", out.model);
            let churning: HashMap<&AccountId, f64> = out
                .assessments
                .iter()
                .filter(|a| {
                    facts.accounts.get(&a.account_id).is_some_and(|f| {
                        f.outcomes.iter().any(|o| {
                            o.kind == OutcomeKind::Churned && o.date > day && o.date.0 <= day.0 + 90
                        })
                    })
                })
                .map(|a| (&a.account_id, a.impact.as_ref().map_or(0.0, |i| i.arr)))
                .collect();
            let signals = store
                .signals(SignalFilter {
                    statuses: SignalStatus::ACTIVE.to_vec(),
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut by: HashMap<&AccountId, Vec<_>> = HashMap::new();
            for s in signals.iter().filter(|s| s.detected_at <= day) {
                by.entry(&s.account_id).or_default().push(s);
            }
            let rank = |rules: bool| {
                let mut v: Vec<(f64, &Assessment)> = out
                    .assessments
                    .iter()
                    .map(|a| {
                        let mut i = a.impact.clone().unwrap();
                        if rules {
                            i.churn = a.risk_proxy;
                            i.churn_target = None;
                            i.expansion = None;
                        }
                        let at = Attention::of(
                            by.get(&a.account_id).into_iter().flatten().copied(),
                            day,
                        );
                        (priority(&i, &at), a)
                    })
                    .collect();
                v.sort_by(|x, y| {
                    y.0.total_cmp(&x.0)
                        .then(x.1.account_id.cmp(&y.1.account_id))
                });
                v
            };
            let (model, rules) = (rank(false), rank(true));
            // The stored priority is the one the ranking reproduces.
            for (p, a) in model.iter().take(20) {
                assert!(
                    (p - a.priority).abs() < 1e-6 * a.priority.max(1.0),
                    "{}",
                    a.account_id
                );
            }
            let (by_model, by_rules) = (capture(&model, &churning), capture(&rules, &churning));
            // The top entries whose story (risk or growth) is under way on the day: the reason names its cause.
            let mut named = 0;
            let mut with_story = 0;
            for (_, a) in &model[..model.len() / 10] {
                let Some(p) = story.get(a.account_id.as_str()) else {
                    continue;
                };
                let Some(words) = cause_words(p.archetype) else {
                    continue;
                };
                if !(p.trouble_start.is_some_and(|t| t <= day)
                    && p.outcome_date.is_none_or(|o| o > day))
                {
                    continue;
                }
                with_story += 1;
                let reason = a.reason.to_lowercase();
                if words.iter().any(|w| reason.contains(w)) {
                    named += 1;
                } else {
                    eprintln!("{:?} {}: {}", p.archetype, a.account_id, a.reason);
                }
            }
            let named_share = named as f64 / with_story.max(1) as f64;
            eprintln!(
                "{day}: {} accounts, {} churn within 90 days ({:.0} ARR); top 10% by priority holds {:.1}% of it, by the rules ranking {:.1}%; reasons name the story's cause for {named} of {with_story} ({:.0}%)",
                out.assessments.len(),
                churning.len(),
                churning.values().sum::<f64>(),
                by_model * 100.0,
                by_rules * 100.0,
                named_share * 100.0
            );
            if churning.len() < 10 {
                failures.push(format!("{day}: {} churners", churning.len()));
            }
            if by_model < 0.5 {
                failures.push(format!("{day}: the top tenth holds {by_model:.3}"));
            }
            if with_story < 10 || named_share < 0.7 {
                failures.push(format!(
                    "{day}: reasons name the cause for {named} of {with_story}"
                ));
            }
            checked += 1;
        }
        day = if day < cutoffs[0] {
            cutoffs[0].min(day.plus(7))
        } else {
            day.plus(30)
        };
    }
    assert_eq!(checked, 3);
    assert!(failures.is_empty(), "{failures:#?}");
}
