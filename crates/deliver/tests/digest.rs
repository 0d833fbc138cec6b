//! The Monday list: each CSM's digest of a simulated book, sent through a real SMTP server on loopback
//! (aiosmtpd, which parses what it accepts) and a Slack incoming webhook whose messages the official
//! `slack_sdk` package reads; queuing the same week's digest again sends nothing more; and the digest is due
//! on the configured weekday and hour in each person's own time zone.

mod common;

use bellwether_core::Timestamp;
use bellwether_deliver::channels::email::message_id;
use bellwether_deliver::channels::slack::SlackConfig;
use bellwether_deliver::digest::{self, DigestConfig};
use bellwether_deliver::people::{People, Person};
use bellwether_deliver::DeliveryConfig;
use bellwether_store::{OutboxState, Store};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_csm_gets_a_ranked_digest_by_email_and_slack_once_a_week() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mail.jsonl");
    let (smtp, port) = common::smtp_sink(&out, false);
    let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let app = axum::Router::new().route(
        "/services/T0/B0/ana",
        axum::routing::post({
            let bodies = bodies.clone();
            move |body: String| async move {
                bodies
                    .lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    // Digests by email to every owner, and by Slack to the one whose [[people]] entry names a destination
    // that takes no alerts.
    let config = DeliveryConfig {
        public_url: Some("https://cs.example.com".into()),
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        slack: vec![SlackConfig {
            name: "ana-dm".into(),
            webhook_url: format!("{base}/services/T0/B0/ana"),
            channel: None,
            alerts: Some(false),
        }],
        digest: DigestConfig {
            top: 5,
            from: Some("Bellwether <digest@example.com>".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let (_dir, store) = common::embedded().await;
    let store = common::book_with_alerts(store, &config).await;
    let rows = store.assessments(None).await.unwrap();
    let mut owners: Vec<String> = rows.iter().filter_map(|a| a.owner.clone()).collect();
    owners.sort();
    owners.dedup();
    assert!(owners.len() >= 3, "{owners:?}");
    let ana = owners[0].clone();
    let people = People(vec![Person {
        email: ana.clone(),
        slack: Some("ana-dm".into()),
        ..Person::default()
    }]);

    assert_eq!(
        store.outbox_counts().await.unwrap().pending,
        0,
        "no alert went to the digest-only destination"
    );
    let monday = Timestamp(
        "2026-11-30T08:00:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond(),
    );
    let utc = jiff::tz::TimeZone::UTC;
    let (digests, queued) = digest::queue(&*store, None, &config, &people, monday, &utc)
        .await
        .unwrap();
    assert_eq!(digests.len(), owners.len(), "one digest per CSM");
    assert_eq!(queued, owners.len() + 1, "an email each, and ana's Slack");
    for d in &digests {
        // The list is the owner's own worklist, ranked by priority, with reasons and plays.
        assert!(!d.items.is_empty() && d.items.len() <= 5);
        assert!(d
            .items
            .iter()
            .all(|i| i.owner.as_deref() == Some(d.owner.as_str())));
        assert!(d.items.windows(2).all(|w| w[0].priority >= w[1].priority));
        assert!(d
            .items
            .iter()
            .all(|i| i.play.is_some() && !i.reason.is_empty()));
        assert_eq!(
            d.accounts,
            rows.iter()
                .filter(|a| a.owner.as_deref() == Some(d.owner.as_str()))
                .count()
        );
    }
    // The pass that opened the book's signals ran on its day: they show as opened this week.
    assert!(digests.iter().any(|d| !d.opened.is_empty()));

    let c = common::deliver_all(&store, &config).await;
    assert_eq!((c.delivered, c.parked), (queued as u64, 0), "{c:?}");
    // Queued again for the same week: nothing new is sent.
    let later = Timestamp(monday.0 + 5 * 3_600_000);
    let (_, again) = digest::queue(&*store, None, &config, &people, later, &utc)
        .await
        .unwrap();
    assert_eq!(again, queued);
    let c = common::deliver_all(&store, &config).await;
    assert_eq!(c.delivered, queued as u64, "{c:?}");
    drop(smtp);

    let mail: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(mail.len(), owners.len(), "one mail per CSM, once");
    let delivered = store
        .outbox(
            &bellwether_store::OutboxFilter::state(Some(OutboxState::Delivered)),
            1000,
        )
        .await
        .unwrap();
    for d in &digests {
        let id = format!("digest:{}:2026-W49:email", d.owner);
        assert!(delivered.iter().any(|e| e.item.id == id), "{id}");
        let m = mail
            .iter()
            .find(|m| m["message_id"] == message_id(&id))
            .unwrap_or_else(|| panic!("no mail with the Message-ID of {id}"));
        assert_eq!(m["to"], serde_json::json!([d.owner]));
        assert_eq!(m["from"], "Bellwether <digest@example.com>");
        assert!(m["subject"]
            .as_str()
            .unwrap()
            .starts_with("Your accounts for the week of "));
        let text = m["text"].as_str().unwrap();
        let first = &d.items[0];
        assert!(
            text.contains(&format!("1. {}: {}", first.account_id, first.arithmetic)),
            "{text}"
        );
        assert!(text.contains(&first.reason) && text.contains("Since last week:"));
        let html = m["html"].as_str().unwrap();
        assert!(html.contains("<ol><li><b>") && html.contains("/v1/worklists/"));
    }
    let received = bodies.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "ana's Slack, once");
    common::check_with_slack_sdk(tmp.path(), &received);
    let ana_digest = digests.iter().find(|d| d.owner == ana).unwrap();
    let first = received[0]["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(first.contains(&ana_digest.items[0].account_id), "{first}");
}

#[test]
fn the_digest_is_due_on_the_weekday_and_hour_in_each_persons_time_zone() {
    let config = DeliveryConfig::default();
    let people = People(vec![
        Person {
            email: "tokyo@example.com".into(),
            time_zone: Some("Asia/Tokyo".into()),
            ..Person::default()
        },
        Person {
            email: "la@example.com".into(),
            time_zone: Some("America/Los_Angeles".into()),
            ..Person::default()
        },
    ]);
    let owners: Vec<String> = ["tokyo@example.com", "la@example.com", "utc@example.com"]
        .map(String::from)
        .to_vec();
    let utc = jiff::tz::TimeZone::UTC;
    let at = |s: &str| Timestamp(s.parse::<jiff::Timestamp>().unwrap().as_millisecond());
    // Sunday 23:00 UTC is Monday 08:00 in Tokyo.
    assert_eq!(
        digest::due_owners(&owners, &config, &people, &utc, at("2026-11-29T23:00:00Z")),
        ["tokyo@example.com"]
    );
    // Monday 08:00 UTC: Tokyo and UTC; Los Angeles is still Monday 00:00.
    assert_eq!(
        digest::due_owners(&owners, &config, &people, &utc, at("2026-11-30T08:00:00Z")),
        ["tokyo@example.com", "utc@example.com"]
    );
    // Monday 16:00 UTC is Monday 08:00 in Los Angeles; Tokyo's Monday is over.
    assert_eq!(
        digest::due_owners(&owners, &config, &people, &utc, at("2026-11-30T16:00:00Z")),
        ["la@example.com", "utc@example.com"]
    );
    assert!(
        digest::due_owners(&owners, &config, &people, &utc, at("2026-12-01T09:00:00Z")).is_empty()
    );
    assert_eq!(
        digest::local_week(at("2026-11-30T12:00:00Z"), &utc),
        "2026-W49"
    );
    let bad = DigestConfig {
        weekday: "someday".into(),
        ..Default::default()
    };
    assert!(bad.check().unwrap_err().contains("weekday"));
}
