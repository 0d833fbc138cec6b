//! Alerts by email through a real SMTP server on loopback (aiosmtpd), which parses what it accepts: each
//! message has a text and an HTML part, the alert's cause, and the `Message-ID` of its outbox entry; a
//! transient refusal (451) is retried and the message then arrives once; a permanent one (550, no such
//! mailbox) is parked with the server's answer; a team's own template writes the subject.

mod common;

use bellwether_deliver::channels::email::{message_id, EmailConfig};
use bellwether_deliver::DeliveryConfig;
use bellwether_store::{OutboxState, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_arrive_by_email_with_their_message_id() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mail.jsonl");
    let (smtp, port) = common::smtp_sink(&out, true);
    // The team's own subject line over the built-in one; the bodies stay built in.
    let templates = tmp.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("alert_subject.txt"),
        "Bellwether | {{ severity|upper }} | {{ kind }} | {{ account }}",
    )
    .unwrap();

    let config = DeliveryConfig {
        public_url: Some("https://cs.example.com".into()),
        min_severity: Some("medium".into()),
        max_alerts_per_pass: Some(4),
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        templates: Some(templates),
        email: vec![
            EmailConfig {
                name: "csm".into(),
                to: vec!["ana@example.com".into()],
                from: Some("Bellwether <alerts@example.com>".into()),
            },
            EmailConfig {
                name: "gone".into(),
                to: vec!["nobody@example.com".into()],
                from: None,
            },
        ],
        ..Default::default()
    };
    let (_dir, store) = common::embedded().await;
    let store = common::book_with_alerts(store, &config).await;
    assert_eq!(store.outbox_counts().await.unwrap().pending, 8);
    let c = common::deliver_all(&store, &config).await;
    assert_eq!((c.delivered, c.parked), (4, 4), "{c:?}");
    drop(smtp);

    let parked = store
        .outbox(
            &bellwether_store::OutboxFilter::state(Some(OutboxState::Parked)),
            20,
        )
        .await
        .unwrap();
    assert!(parked
        .iter()
        .all(|e| e.item.destination == "gone" && e.last_error.contains("no such mailbox")));
    let delivered = store
        .outbox(
            &bellwether_store::OutboxFilter::state(Some(OutboxState::Delivered)),
            20,
        )
        .await
        .unwrap();
    assert_eq!(
        delivered.iter().filter(|e| e.attempts == 2).count(),
        1,
        "the message refused with 451 was sent again"
    );
    let mail: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(mail.len(), 4, "each alert arrived once");
    for e in &delivered {
        let m = mail
            .iter()
            .find(|m| m["message_id"] == message_id(&e.item.id))
            .unwrap_or_else(|| panic!("no mail with the Message-ID of {}", e.item.id));
        let alert: serde_json::Value = serde_json::from_str(&e.item.payload).unwrap();
        let explanation = alert["signal"]["explanation"].as_str().unwrap();
        assert_eq!(m["to"], serde_json::json!(["ana@example.com"]));
        assert_eq!(m["from"], "Bellwether <alerts@example.com>");
        let subject = m["subject"].as_str().unwrap();
        assert!(
            subject.starts_with("Bellwether | ")
                && subject.ends_with(alert["signal"]["account_id"].as_str().unwrap()),
            "the overriding template writes the subject: {subject}"
        );
        assert!(m["text"].as_str().unwrap().contains(explanation));
        // The HTML template escapes what it prints (`/` as `&#x2f;`, as OWASP advises); a reader sees the link.
        let html = m["html"].as_str().unwrap().replace("&#x2f;", "/");
        assert!(
            html.contains("<h2>") && html.contains("href=\"https://cs.example.com/v1/accounts/"),
            "{html}"
        );
    }
}
