//! Alerts routed to the people who own the accounts, through a real SMTP server (aiosmtpd) and a Slack Web
//! API played on loopback (`chat.postMessage`, `chat.update` with their documented fields and bearer
//! token): each owner in the imported directory gets their own alerts by email and as a Slack direct message;
//! alerts inside an owner's quiet hours, or beyond their daily cap, are folded into their digest instead;
//! critical alerts also reach the owner's leader, saying why; a clearing rewrites the Slack message its
//! opening posted.

mod common;

use axum::http::HeaderMap;
use bellwether_core::people::Person;
use bellwether_deliver::channels::slack::SlackAppConfig;
use bellwether_deliver::people::People;
use bellwether_deliver::{Alerts, DeliveryConfig};
use bellwether_engine::Alerting;
use bellwether_store::{OutboxEntry, OutboxFilter, OutboxState, SignalFilter, Store, WriteBatch};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "xoxb-test-token";
const LEADER: &str = "lead@example.com";

/// The Slack Web API on loopback: records every call (method, bearer token, body) and answers as Slack does,
/// a `ts` per posted message and the direct-message channel `D…` of a user id.
async fn slack_web_api() -> (String, Arc<Mutex<Vec<(String, String, serde_json::Value)>>>) {
    let calls: Arc<Mutex<Vec<(String, String, serde_json::Value)>>> = Arc::default();
    let handler = |method: &'static str, calls: Arc<Mutex<Vec<_>>>| {
        move |headers: HeaderMap, body: String| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let mut c = calls.lock().unwrap();
            c.push((method.to_string(), auth.clone(), v.clone()));
            if auth != format!("Bearer {TOKEN}") {
                return answer(serde_json::json!({"ok": false, "error": "invalid_auth"}));
            }
            let channel = v["channel"].as_str().unwrap_or("");
            if channel.is_empty() || v["text"].as_str().is_none_or(str::is_empty) {
                return answer(serde_json::json!({"ok": false, "error": "invalid_arguments"}));
            }
            let channel = channel.replacen('U', "D", 1);
            let ts = match method {
                "chat.update" => v["ts"].as_str().unwrap_or("").to_string(),
                _ => format!("1700000000.{:06}", c.len()),
            };
            answer(serde_json::json!({"ok": true, "channel": channel, "ts": ts}))
        }
    };
    let app = axum::Router::new()
        .route(
            "/api/chat.postMessage",
            axum::routing::post(handler("chat.postMessage", calls.clone())),
        )
        .route(
            "/api/chat.update",
            axum::routing::post(handler("chat.update", calls.clone())),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (base, calls)
}

/// A Web API answer: JSON, as Slack sends it.
fn answer(v: serde_json::Value) -> ([(&'static str, &'static str); 1], String) {
    ([("content-type", "application/json")], v.to_string())
}

/// Quiet hours from an hour before now to an hour after, in UTC: the test's alerts fall inside them.
fn quiet_now() -> String {
    let minute = (bellwether_core::Timestamp::now().0 / 60_000).rem_euclid(24 * 60);
    let at = |m: i64| {
        let m = m.rem_euclid(24 * 60);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    format!("{}-{}", at(minute - 60), at(minute + 60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_get_their_alerts_within_their_quiet_hours_and_caps_and_leaders_the_critical_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (_sink, port) = common::smtp_sink(&dir.path().join("mail.jsonl"), false);
    let (api, calls) = slack_web_api().await;
    let config = DeliveryConfig {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        min_severity: Some("medium".into()),
        slack_app: Some(SlackAppConfig {
            bot_token: TOKEN.into(),
            api_url: api,
        }),
        ..Default::default()
    };
    config.check().unwrap();

    // The book, and a directory imported for every owner: even ones quiet now, odd ones capped at one alert
    // a day; all led by one leader, who is in the directory by email only.
    let (_keep, store) = common::embedded().await;
    let store = common::imported_book(store).await;
    let mut owners: Vec<String> = store
        .account_attr("owner")
        .await
        .unwrap()
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    owners.sort();
    owners.dedup();
    assert!(owners.len() >= 4, "{owners:?}");
    let quiet: HashSet<String> = owners.iter().step_by(2).cloned().collect();
    let mut people: Vec<Person> = owners
        .iter()
        .enumerate()
        .map(|(i, o)| Person {
            email: o.clone(),
            slack_user_id: Some(format!("U{i:03}")),
            leader: Some(LEADER.into()),
            quiet_hours: quiet.contains(o).then(quiet_now),
            daily_cap: (!quiet.contains(o)).then_some(1),
            ..Default::default()
        })
        .collect();
    people.push(Person {
        email: LEADER.into(),
        channels: Some(vec!["email".into()]),
        ..Default::default()
    });
    store
        .write(WriteBatch {
            source: "people.csv".into(),
            kind: "people".into(),
            people,
            ..Default::default()
        })
        .await
        .unwrap();

    // The pass routes its alerts; the worker sends or folds them.
    common::pass(&*store, &config).await;
    let day = bellwether_engine::book_day(&*store, bellwether_engine::Clock::Live, None)
        .await
        .unwrap()
        .unwrap();
    common::deliver_all(&store, &config).await;

    let all = store
        .outbox(&OutboxFilter::default(), usize::MAX)
        .await
        .unwrap();
    assert!(
        all.iter().all(|e| e.item.recipient.is_some()),
        "no team destination is configured: every alert goes to a person"
    );
    let signals: HashMap<String, bellwether_core::model::Signal> = store
        .signals(SignalFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let signal_of = |e: &OutboxEntry| {
        let v: serde_json::Value = serde_json::from_str(&e.item.payload).unwrap();
        signals[v["signal"]["id"].as_str().unwrap()].clone()
    };
    // Per owner: the alerts sent and folded (distinct signals).
    let mut sent: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    let mut folded: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    let mut to_leader = 0;
    for e in &all {
        let r = e.item.recipient.clone().unwrap();
        let s = signal_of(e);
        if r == LEADER {
            to_leader += 1;
            assert_eq!(e.state, OutboxState::Delivered, "the leader has no cap");
            assert_eq!(
                s.severity.as_str(),
                "critical",
                "only critical alerts escalate"
            );
            assert_eq!(e.item.channel, "email", "the leader takes email only");
            assert!(e
                .item
                .payload
                .contains("\"escalation\":\"critical severity\""));
            continue;
        }
        assert_eq!(
            s.owner.as_deref().map(str::to_lowercase).as_deref(),
            Some(r.as_str()),
            "an owner gets their own accounts' alerts"
        );
        match e.state {
            OutboxState::Delivered => sent.entry(r).or_default().insert(s.id),
            OutboxState::Folded => {
                let quiet_one = quiet.iter().any(|q| q.eq_ignore_ascii_case(&r));
                assert!(
                    if quiet_one {
                        e.last_error.contains("quiet hours")
                    } else {
                        e.last_error.contains("daily cap of 1")
                    },
                    "{r}: {}",
                    e.last_error
                );
                folded.entry(r).or_default().insert(s.id)
            }
            other => panic!("{} is {other:?}: {}", e.item.id, e.last_error),
        };
    }
    let owners_alerted: HashSet<&String> = sent.keys().chain(folded.keys()).collect();
    assert!(owners_alerted.len() >= 3, "{sent:?} {folded:?}");
    for o in owners_alerted {
        let (n_sent, n_folded) = (
            sent.get(o).map_or(0, HashSet::len),
            folded.get(o).map_or(0, HashSet::len),
        );
        if quiet.iter().any(|q| q.eq_ignore_ascii_case(o)) {
            assert_eq!(n_sent, 0, "{o} is inside their quiet hours");
        } else {
            assert_eq!(n_sent, 1, "{o} is capped at one alert a day");
            assert_eq!(
                sent[o]
                    .intersection(folded.get(o).unwrap_or(&HashSet::new()))
                    .count(),
                0,
                "an alert sent on one channel is sent on the other too"
            );
        }
        assert!(n_sent + n_folded >= 1);
    }
    assert!(
        folded.values().map(HashSet::len).sum::<usize>() >= 2,
        "the set-up folds something: {folded:?}"
    );
    eprintln!(
        "owners {}, alerts sent {:?}, folded {:?}, to the leader {to_leader}",
        owners.len(),
        sent.values().map(HashSet::len).collect::<Vec<_>>(),
        folded.values().map(HashSet::len).collect::<Vec<_>>()
    );
    let critical: HashSet<&String> = sent
        .values()
        .chain(folded.values())
        .flatten()
        .filter(|id| signals[*id].severity.as_str() == "critical")
        .collect();
    assert!(!critical.is_empty());
    assert_eq!(
        to_leader,
        critical.len(),
        "each critical alert reaches the leader once, by email, whatever the owner's quiet hours or cap"
    );
    // Mail: one message per email entry sent, to its recipient; Slack: one DM per Slack entry sent, to the
    // recipient's user id, with the bot token and the entry's id in the metadata.
    let mails: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("mail.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let email_sent = all
        .iter()
        .filter(|e| e.state == OutboxState::Delivered && e.item.channel == "email")
        .count();
    assert_eq!(mails.len(), email_sent);
    let posts: Vec<(String, String, serde_json::Value)> = calls.lock().unwrap().clone();
    let slack_sent: Vec<&OutboxEntry> = all
        .iter()
        .filter(|e| e.state == OutboxState::Delivered && e.item.channel == "slack")
        .collect();
    assert_eq!(posts.len(), slack_sent.len());
    assert!(!posts.is_empty());
    for (method, auth, body) in &posts {
        assert_eq!(method, "chat.postMessage");
        assert_eq!(auth, &format!("Bearer {TOKEN}"));
        let id = body["metadata"]["event_payload"]["id"].as_str().unwrap();
        let e = slack_sent.iter().find(|e| e.item.id == id).unwrap();
        assert_eq!(
            format!("user:{}", body["channel"].as_str().unwrap()),
            e.item.destination
        );
        assert!(e.reference.as_deref().unwrap().starts_with('D'));
    }
    common::check_with_slack_sdk(
        dir.path(),
        &posts.iter().map(|p| p.2.clone()).collect::<Vec<_>>(),
    );

    // A quiet owner's digest lists what was held back, and why.
    let q = folded
        .keys()
        .find(|o| quiet.iter().any(|x| x.eq_ignore_ascii_case(o)))
        .expect("a quiet owner had alerts")
        .clone();
    let owner = quiet
        .iter()
        .find(|x| x.eq_ignore_ascii_case(&q))
        .unwrap()
        .clone();
    let directory = People(store.people().await.unwrap());
    let digest_at = |now: bellwether_core::Timestamp| {
        let (store, owner, directory) = (store.clone(), owner.clone(), directory.clone());
        async move {
            let when = bellwether_deliver::digest::When {
                now,
                people: &directory,
                fallback: &jiff::tz::TimeZone::UTC,
            };
            bellwether_deliver::digest::build(
                &*store,
                Some(std::slice::from_ref(&owner)),
                &Default::default(),
                when,
            )
            .await
            .unwrap()
            .pop()
            .unwrap()
        }
    };
    let now = bellwether_core::Timestamp::now();
    let d = digest_at(now).await;
    assert_eq!(d.folded.len(), folded[&q].len());
    assert!(d.folded.iter().all(|f| f.reason.contains("quiet hours")));
    assert!(bellwether_deliver::digest::text(&d, None).contains("held back for this list"));
    // Each folded alert shows in one weekly digest: next week's lists those folded after this week's went
    // out, the week after's none of them.
    let week = 7 * 86_400_000;
    let next = bellwether_core::Timestamp(now.0 + week);
    let start = bellwether_deliver::digest::folded_since(
        &Default::default(),
        next,
        &jiff::tz::TimeZone::UTC,
    )
    .unwrap();
    let after_this_weeks = all
        .iter()
        .filter(|e| {
            e.state == OutboxState::Folded && e.item.recipient.as_deref() == Some(q.as_str())
        })
        .filter(|e| e.delivered_at.is_some_and(|t| t >= start))
        .map(|e| signal_of(e).id)
        .collect::<HashSet<_>>()
        .len();
    assert_eq!(digest_at(next).await.folded.len(), after_this_weeks);
    let d = digest_at(bellwether_core::Timestamp(now.0 + 2 * week)).await;
    assert!(d.folded.is_empty(), "{:?}", d.folded);

    // A capped owner's sent alert clears: its Slack message is rewritten in place; the email says so anew.
    let (capped, ids) = sent
        .iter()
        .find(|(o, _)| !quiet.iter().any(|x| x.eq_ignore_ascii_case(o)))
        .unwrap();
    let mut s = signals[ids.iter().next().unwrap()].clone();
    s.status = bellwether_core::model::SignalStatus::Resolved;
    s.resolved_at = Some(day.day);
    let closed = [s.clone()];
    let changes = bellwether_engine::SignalChanges {
        closed: closed.iter().collect(),
        ..Default::default()
    };
    let closing = Alerts::new(config.clone(), People::default())
        .alerts(&changes, &[], &store.people().await.unwrap(), day.day)
        .items;
    assert!(s.alerted, "the pass marked the signal it alerted on");
    assert!(closing.iter().any(|i| i.channel == "slack"), "{closing:?}");
    store.save_signals(&[s.clone()], &closing).await.unwrap();
    common::deliver_all(&store, &config).await;
    let opened_ref = slack_sent
        .iter()
        .find(|e| {
            e.item
                .id
                .starts_with(&format!("alert:{}:opened:slack:", s.id))
        })
        .and_then(|e| e.reference.clone())
        .unwrap();
    let posts = calls.lock().unwrap().clone();
    let update = posts
        .iter()
        .find(|(m, _, _)| m == "chat.update")
        .expect("the clearing updates the message");
    assert_eq!(
        format!(
            "{}/{}",
            update.2["channel"].as_str().unwrap(),
            update.2["ts"].as_str().unwrap()
        ),
        opened_ref
    );
    assert!(update.2["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Cleared:"));
    let closed_sent = store
        .outbox(
            &OutboxFilter {
                recipient: Some(capped.clone()),
                kind: Some("alert_closed".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert!(
        closed_sent
            .iter()
            .all(|e| e.state == OutboxState::Delivered),
        "a clearing of an alert sent is sent, whatever the cap: {closed_sent:?}"
    );

    // Once this week's digest is queued, next week's lists only what folds after it was built: nothing yet.
    let (built, queued) = bellwether_deliver::digest::queue(
        &*store,
        Some(std::slice::from_ref(&owner)),
        &config,
        &directory,
        now,
        &jiff::tz::TimeZone::UTC,
    )
    .await
    .unwrap();
    assert_eq!((built[0].folded.len(), queued), (folded[&q].len(), 2));
    assert!(digest_at(next).await.folded.is_empty());
}
