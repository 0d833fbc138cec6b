//! The scheduler: two processes on one store look at the same schedule and the daily pass runs once per slot;
//! a run whose holder died (claimed, never renewed) is taken over once its lease runs out and counted as a
//! second attempt; on the embedded store and on PostgreSQL.

mod common;

use bellwether_core::Timestamp;
use bellwether_engine::Engine;
use bellwether_server::schedule::{ScheduleConfig, Scheduler};
use bellwether_store::{JobState, LiveStore, Store};
use std::sync::Arc;

/// Milliseconds of 2026-12-01T00:00:00Z.
const DEC_1: i64 = 1_796_083_200_000;
const HOUR: i64 = 3_600_000;

async fn runs_once_and_is_taken_over<S: LiveStore>(store: S) {
    store
        .write(bellwether_store_conformance::every_kind())
        .await
        .unwrap();
    let store = Arc::new(store);
    let engine = Arc::new(Engine::default());
    let config = ScheduleConfig {
        daily_pass: "0 6 * * *".into(),
        lease_seconds: 60,
        ..ScheduleConfig::default()
    };
    let mut a = Scheduler::new(store.clone(), engine.clone(), &config, "a".into()).unwrap();
    let mut b = Scheduler::new(store.clone(), engine.clone(), &config, "b".into()).unwrap();
    // Both start at 05:00: nothing is due yet.
    let t = |h: i64, ms: i64| Timestamp(DEC_1 + h * HOUR + ms);
    assert!(a.tick(t(5, 0)).await.unwrap().is_empty());
    assert!(b.tick(t(5, 0)).await.unwrap().is_empty());
    assert_eq!(a.next_runs(t(5, 0)), vec![("daily_pass", Some(t(6, 0)))]);
    // 06:00 comes: whichever looks first runs it, the other finds it done.
    let ran = a.tick(t(6, 10_000)).await.unwrap();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].state, JobState::Succeeded, "{}", ran[0].outcome);
    assert!(
        ran[0].outcome.starts_with("assessed "),
        "{}",
        ran[0].outcome
    );
    assert!(b.tick(t(6, 20_000)).await.unwrap().is_empty());
    assert!(a.tick(t(7, 0)).await.unwrap().is_empty());
    assert!(!store.assessments(None).await.unwrap().is_empty());
    let runs = store.job_runs(Some("daily_pass"), 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].slot, runs[0].holder.as_str(), runs[0].attempts),
        (t(6, 0), "a", 1)
    );

    // The next day a third process claims the slot and dies without renewing.
    let (slot, now) = (t(30, 0), t(30, 1_000));
    assert!(store
        .claim_job("daily_pass", slot, "c", now, Timestamp(now.0 + 60_000))
        .await
        .unwrap()
        .is_some());
    // Within its lease nobody else runs it.
    assert!(b.tick(t(30, 30_000)).await.unwrap().is_empty());
    assert!(a.tick(t(30, 40_000)).await.unwrap().is_empty());
    // Once the lease has run out, the next to look takes it over, once.
    let taken = b.tick(t(30, 62_000)).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].state, JobState::Succeeded);
    assert!(a.tick(t(30, 70_000)).await.unwrap().is_empty());
    let runs = store.job_runs(Some("daily_pass"), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (
            runs[0].slot,
            runs[0].holder.as_str(),
            runs[0].attempts,
            runs[0].state
        ),
        (slot, "b", 2, JobState::Succeeded)
    );
    // What /metrics shows of them.
    let m = bellwether_server::schedule::render_metrics(&runs);
    let slot_line = format!(
        "bellwether_job_last_slot_seconds{{job=\"daily_pass\"}} {}",
        slot.0 / 1000
    );
    assert!(m.contains(&slot_line), "{m}");
    assert!(
        m.contains("bellwether_job_last_run_state{job=\"daily_pass\",state=\"succeeded\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("bellwether_job_last_run_attempts{job=\"daily_pass\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("bellwether_job_runs{job=\"daily_pass\",state=\"succeeded\"} 2"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_pass_runs_once_per_slot_and_is_taken_over_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = bellwether_store_sqlite::SqliteStore::open(&dir.path().join("b.db"))
        .await
        .unwrap();
    runs_once_and_is_taken_over(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_pass_runs_once_per_slot_and_is_taken_over_on_postgres() {
    let db = bellwether_store_postgres::testing::fresh().await;
    runs_once_and_is_taken_over(db.store().await).await;
}

#[test]
fn bad_schedules_are_refused_naming_the_setting() {
    let bad = ScheduleConfig {
        daily_pass: "0 25 * * *".into(),
        ..ScheduleConfig::default()
    };
    let e = bad.check().unwrap_err();
    assert!(
        e.starts_with("[schedule] daily_pass") && e.contains("hour '25'"),
        "{e}"
    );
    let tz = ScheduleConfig {
        time_zone: "Europe/Nowhere".into(),
        ..ScheduleConfig::default()
    };
    assert!(tz.check().unwrap_err().starts_with("[schedule] time_zone"));
}

/// Two processes' schedulers on one PostgreSQL database look at the schedule at the same moments: the daily
/// pass and a retraining each run once per slot (one job record each, one new model version).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_run_the_daily_pass_and_a_retraining_once_each() {
    use bellwether_engine::ModelPolicy;
    use bellwether_predict::{score, Target};
    let db = bellwether_store_postgres::testing::fresh().await;
    let store = Arc::new(db.store().await);
    let _book = common::import_simulated(400, 5, &[&*store]).await;
    common::activate_model(
        &*store,
        vec![Target::ChurnRenewal, Target::Expansion180],
        &[],
    )
    .await;
    assert_eq!(store.models().await.unwrap().len(), 1);
    // Retraining only on its schedule: the pass never retrains by itself here.
    let engine = Arc::new(Engine {
        models: Some(score::models(ModelPolicy {
            score: true,
            retrain_days: 0,
        })),
        ..Engine::default()
    });
    let config = ScheduleConfig {
        daily_pass: "0 6 * * *".into(),
        retrain: "0 5 * * 0".into(),
        ..ScheduleConfig::default()
    };
    let mut a = Scheduler::new(store.clone(), engine.clone(), &config, "a".into()).unwrap();
    let mut b = Scheduler::new(store.clone(), engine.clone(), &config, "b".into()).unwrap();
    // 2026-12-06 is a Sunday: both look before the slots, then at the same moments after them.
    let t = |h: i64, ms: i64| Timestamp(DEC_1 + 5 * 24 * HOUR + h * HOUR + ms);
    let (x, y) = tokio::join!(a.tick(t(4, 0)), b.tick(t(4, 0)));
    assert!(x.unwrap().is_empty() && y.unwrap().is_empty());
    let mut ran = Vec::new();
    for at in [t(6, 5_000), t(6, 20_000), t(7, 0)] {
        let (x, y) = tokio::join!(a.tick(at), b.tick(at));
        ran.extend(x.unwrap());
        ran.extend(y.unwrap());
    }
    let mut names: Vec<&str> = ran.iter().map(|r| r.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["daily_pass", "retrain"], "{ran:?}");
    for r in &ran {
        assert_eq!(r.state, JobState::Succeeded, "{}: {}", r.name, r.outcome);
    }
    let retrain = ran.iter().find(|r| r.name == "retrain").unwrap();
    assert!(
        retrain.outcome.starts_with("trained model version 2"),
        "{}",
        retrain.outcome
    );
    // The job records: one run of each, claimed once.
    let runs = store.job_runs(None, 10).await.unwrap();
    let scheduled: Vec<(&str, Timestamp, i64)> = runs
        .iter()
        .filter(|r| r.name != "apply_tracking")
        .map(|r| (r.name.as_str(), r.slot, r.attempts))
        .collect();
    assert_eq!(
        scheduled,
        [("daily_pass", t(6, 0), 1), ("retrain", t(5, 0), 1)],
        "{runs:?}"
    );
    // Their effects: one new model version, and every account assessed by the pass.
    assert_eq!(store.models().await.unwrap().len(), 2);
    assert!(!store.assessments(None).await.unwrap().is_empty());
}

/// The same book on two databases: one process runs the whole daily pass on the first; on the second, two
/// processes split it into buckets. The assessments, signals and segment medians are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_split_into_buckets_across_replicas_equals_the_one_process_pass() {
    let (one, split) = (
        bellwether_store_postgres::testing::fresh().await,
        bellwether_store_postgres::testing::fresh().await,
    );
    let (one, split) = (Arc::new(one.store().await), Arc::new(split.store().await));
    let _book = common::import_simulated(600, 9, &[&*one, &*split]).await;
    // The same model on both, scoring every pass: the buckets score as the whole pass does.
    use bellwether_predict::{score, Target};
    common::activate_model(
        &*one,
        vec![Target::ChurnRenewal, Target::Expansion180],
        &[&*split],
    )
    .await;
    let engine = Arc::new(Engine {
        models: Some(score::models(bellwether_engine::ModelPolicy {
            score: true,
            retrain_days: 0,
        })),
        ..Engine::default()
    });
    let at = |h: i64| Timestamp(DEC_1 + h * HOUR);
    let whole = ScheduleConfig {
        daily_pass: "0 6 * * *".into(),
        ..ScheduleConfig::default()
    };
    let buckets = ScheduleConfig {
        pass_buckets: 4,
        tick_seconds: 1,
        ..whole.clone()
    };
    let mut o = Scheduler::new(one.clone(), engine.clone(), &whole, "o".into()).unwrap();
    o.tick(at(5)).await.unwrap();
    let ran = o.tick(at(7)).await.unwrap();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].state, JobState::Succeeded, "{}", ran[0].outcome);

    let mut a = Scheduler::new(split.clone(), engine.clone(), &buckets, "a".into()).unwrap();
    let mut b = Scheduler::new(split.clone(), engine.clone(), &buckets, "b".into()).unwrap();
    a.tick(at(5)).await.unwrap();
    b.tick(at(5)).await.unwrap();
    // Both look at the schedule, as replicas do on their tick, until the pass has ended: whichever claims the
    // pass runs the book-wide step, and both take buckets.
    let (ran_a, ran_b) = tokio::join!(
        a.tick_until_ended(at(7), "daily_pass", at(6)),
        b.tick_until_ended(at(7), "daily_pass", at(6))
    );
    let (ran_a, ran_b) = (ran_a.unwrap(), ran_b.unwrap());
    let pass = ran_a
        .iter()
        .chain(&ran_b)
        .find(|r| r.name == "daily_pass")
        .expect("the pass ran");
    assert_eq!(pass.state, JobState::Succeeded, "{}", pass.outcome);
    assert!(
        pass.outcome.starts_with("assessed ") && pass.outcome.contains("in 4 buckets"),
        "{}",
        pass.outcome
    );
    let runs = split.job_runs(None, 20).await.unwrap();
    let mut names: Vec<(&str, i64)> = runs
        .iter()
        .filter(|r| r.slot == at(6))
        .map(|r| (r.name.as_str(), r.attempts))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("daily_pass", 1),
            ("daily_pass:book_wide", 1),
            ("daily_pass:bucket:1/4", 1),
            ("daily_pass:bucket:2/4", 1),
            ("daily_pass:bucket:3/4", 1),
            ("daily_pass:bucket:4/4", 1)
        ],
        "each step ran once"
    );
    let total: usize = runs
        .iter()
        .filter(|r| r.name.starts_with("daily_pass:bucket:"))
        .map(|r| {
            r.outcome
                .strip_prefix("assessed ")
                .and_then(|o| o.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap()
        })
        .sum();

    let holders: Vec<(&str, &str)> = runs
        .iter()
        .filter(|r| r.name.starts_with("daily_pass:bucket:"))
        .map(|r| (r.name.as_str(), r.holder.as_str()))
        .collect();
    eprintln!("buckets by holder: {holders:?}; {}", pass.outcome);

    // The same results.
    let (x, y) = (
        one.assessments(None).await.unwrap(),
        split.assessments(None).await.unwrap(),
    );
    assert_eq!(x.len(), total, "every account was in one bucket");
    assert_eq!(x.len(), y.len());
    for (p, q) in x.iter().zip(&y) {
        assert_eq!(p, q, "the assessment of {}", p.account_id);
    }
    let signals = |s: Vec<bellwether_core::model::Signal>| {
        let mut s = s;
        s.sort_by(|a, b| a.id.cmp(&b.id));
        s
    };
    let (sx, sy) = (
        signals(one.signals(Default::default()).await.unwrap()),
        signals(split.signals(Default::default()).await.unwrap()),
    );
    assert!(!sx.is_empty());
    assert_eq!(sx, sy, "the signals");
    assert!(
        x.iter().filter(|a| a.churn_probability.is_some()).count() > 100,
        "the model scored the accounts"
    );
    let day = x[0].as_of;
    assert_eq!(
        one.peer_stats(day).await.unwrap(),
        split.peer_stats(day).await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_digest_is_queued_once_when_the_week_starts() {
    let dir = tempfile::tempdir().unwrap();
    let store = bellwether_store_sqlite::SqliteStore::open(&dir.path().join("b.db"))
        .await
        .unwrap();
    store
        .write(bellwether_store_conformance::every_kind())
        .await
        .unwrap();
    let store = Arc::new(store);
    let engine = Arc::new(Engine::default());
    let config = ScheduleConfig {
        daily_pass: "0 6 * * *".into(),
        digest: "0 * * * *".into(),
        lease_seconds: 60,
        ..ScheduleConfig::default()
    };
    let delivery = bellwether_deliver::DeliveryConfig {
        // Nothing listens: the digests wait in the outbox, which is what is looked at.
        smtp_url: Some("smtp://127.0.0.1:9".into()),
        ..Default::default()
    };
    let people = bellwether_deliver::people::People::default();
    let mut a = Scheduler::new(store.clone(), engine.clone(), &config, "a".into())
        .unwrap()
        .with_digests(delivery.clone(), people.clone());
    let mut b = Scheduler::new(store.clone(), engine.clone(), &config, "b".into())
        .unwrap()
        .with_digests(delivery, people);
    // Monday 2026-12-07: the pass at 06:00, nothing due at 07:00, the digests at 08:00, once.
    let monday = |h: i64| Timestamp(DEC_1 + 6 * 24 * HOUR + h * HOUR + 1_000);
    // Both start before the day's first slot.
    let start = Timestamp(monday(5).0 - 30 * 60_000);
    assert!(a.tick(start).await.unwrap().is_empty());
    assert!(b.tick(start).await.unwrap().is_empty());
    let ran = a.tick(monday(6)).await.unwrap();
    assert!(ran.iter().any(|r| r.name == "daily_pass"), "{ran:?}");
    let owners: std::collections::BTreeSet<String> = store
        .assessments(None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|a| a.owner)
        .collect();
    assert!(!owners.is_empty());
    let ran = b.tick(monday(7)).await.unwrap();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].outcome, "no digest due");
    let ran = a.tick(monday(8)).await.unwrap();
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert!(
        ran[0]
            .outcome
            .starts_with(&format!("{} digests for 2026-W50", owners.len())),
        "{}",
        ran[0].outcome
    );
    assert!(
        b.tick(monday(8)).await.unwrap().is_empty(),
        "one process runs the slot"
    );
    // The next hour's run decides the same digests again; the outbox keeps one of each.
    let ran = b.tick(monday(9)).await.unwrap();
    assert_eq!(ran.len(), 1);
    let digests: Vec<String> = store
        .outbox(&bellwether_store::OutboxFilter::default(), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.item.kind == "digest")
        .map(|e| e.item.id)
        .collect();
    let expected: Vec<String> = owners
        .iter()
        .map(|o| format!("digest:{o}:2026-W50:email"))
        .collect();
    let mut got = digests.clone();
    got.sort();
    assert_eq!(got, expected);
}
