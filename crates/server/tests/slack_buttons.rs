//! An alert's Slack buttons act on its signal: a click signed as Slack signs it (by slack_sdk's signature
//! code) from the account owner's Slack user acknowledges the signal, and snoozes it for a week or until the day
//! picked in the date picker, with who did it as the reason; a forged, stale or unauthorised click is refused and changes nothing.

mod common;

use bellwether_core::model::SignalStatus;
use bellwether_server::routes::{People, Person, SlackApp};
use bellwether_server::ServerConfig;
use bellwether_store::{SignalFilter, Store};
use common::TestServer;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_click_acknowledges_and_forged_stale_or_unauthorised_ones_are_refused() {
    let server = TestServer::start(ServerConfig {
        slack: Some(SlackApp {
            signing_secret: SECRET.into(),
            people: People(vec![
                Person {
                    email: "ann@example.com".into(),
                    slack_user_id: Some("U0ANN".into()),
                    leader: Some("lea@example.com".into()),
                    ..Person::default()
                },
                Person {
                    email: "bob@example.com".into(),
                    slack_user_id: Some("U0BOB".into()),
                    leader: None,
                    ..Person::default()
                },
            ]),
        }),
        ..ServerConfig::default()
    })
    .await;
    let signal = bellwether_store_conformance::signal("a1", "usage_drop", SignalStatus::Open);
    server
        .store
        .save_signals(std::slice::from_ref(&signal), &[])
        .await
        .unwrap();
    // Ann's leader comes from the imported directory, not the configured one.
    server
        .store
        .write(bellwether_store::WriteBatch {
            source: "people.csv".into(),
            kind: "people".into(),
            people: vec![Person {
                email: "lea@example.com".into(),
                slack_user_id: Some("U0LEA".into()),
                ..Person::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let until = bellwether_core::Day::today().plus(30).to_string();
    let out = server
        .run_client(
            "slack_click.py",
            &[
                ("SECRET", SECRET),
                ("SIGNAL", &signal.id),
                ("UNTIL", &until),
            ],
        )
        .await;
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for (case, status, code) in [
        ("forged", 401, "invalid_signature"),
        ("stale", 401, "invalid_signature"),
        ("stranger", 403, "forbidden"),
    ] {
        assert_eq!(r[case]["status"], status, "{case}: {r:#}");
        assert_eq!(r[case]["body"]["code"], code, "{case}: {r:#}");
    }
    assert_eq!(r["owner"]["status"], 200, "{r:#}");
    assert_eq!(r["owner"]["body"]["response_type"], "ephemeral");
    assert!(
        r["owner"]["body"]["text"]
            .as_str()
            .unwrap()
            .contains("acknowledged (by ann@example.com)"),
        "{r:#}"
    );
    // Snoozed by its owner: for a week, then until the day picked, saying who did it from Slack.
    assert_eq!(r["snooze"]["status"], 200, "{r:#}");
    let week = bellwether_core::Day::today().plus(7).to_string();
    assert!(
        r["snooze"]["body"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("is now snoozed until {week}")),
        "{r:#}"
    );
    assert_eq!(r["picked"]["status"], 200, "{r:#}");
    assert!(
        r["picked"]["body"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("is now snoozed until {until}")),
        "{r:#}"
    );
    let now = server
        .store
        .signals(SignalFilter {
            id: Some(signal.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(now[0].status, SignalStatus::Snoozed);
    assert_eq!(
        now[0].snoozed_until.map(|d| d.to_string()),
        Some(until.clone())
    );
    assert_eq!(
        now[0].snooze_reason,
        Some(format!(
            "snoozed until {until} from Slack by ann@example.com"
        ))
    );
    // The leader marks the account contacted: a call is recorded for the account.
    assert_eq!(r["leader"]["status"], 200, "{r:#}");
    assert!(
        r["leader"]["body"]["text"]
            .as_str()
            .unwrap()
            .contains("marked contacted today (by lea@example.com)"),
        "{r:#}"
    );
    let book = server
        .store
        .load_book(Some(&[bellwether_core::AccountId("a1".into())]))
        .await
        .unwrap();
    let calls = &book.accounts[&bellwether_core::AccountId("a1".into())].interactions;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].kind,
        bellwether_core::model::InteractionKind::Meeting
    );
    assert!(calls[0].note.contains("lea@example.com"));
    server.stop().await;
}
