//! CRM exports through the shipped Salesforce mapping: contacts that turn inactive or vanish between exports
//! become status changes, and closed renewal opportunities become outcomes; the plain import signs outcomes
//! as the CRM import does.

use bellwether_core::AccountId;
use bellwether_ingest::crm::{import_crm, Mapping};
use bellwether_store::Store;
use bellwether_store_sqlite::SqliteStore;

/// The shipped Salesforce mapping with the custom contact fields it suggests switched on, as an org that has
/// them would.
fn mapping() -> Mapping {
    let mut text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../mappings/salesforce.toml"
    ))
    .unwrap();
    for line in [
        "role = ",
        "status = ",
        "[contacts.values.status]",
        "\"Active\"",
        "\"Inactive\"",
        "\"Left Company\"",
        "\"*\" = \"\"\n\n# Closed",
    ] {
        text = text.replace(&format!("# {line}"), line);
    }
    toml::from_str(&text).unwrap()
}

#[tokio::test]
async fn salesforce_contacts_turnover_and_renewals() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
    let m = mapping();
    let header = "Id,AccountId,Email,FirstName,LastName,Title,Stakeholder_Role__c,Status__c\n";
    let first = dir.path().join("contacts1.csv");
    std::fs::write(&first, format!("{header}c1,acme,ann@acme.io,Ann,Lee,VP Ops,Champion,Active\nc2,acme,bo@acme.io,Bo,Ng,Analyst,User,Active\nc3,acme,cy@acme.io,Cy,Fu,Admin,Admin,Inactive\n")).unwrap();
    let r = import_crm(
        &store,
        &m,
        "contacts",
        &first,
        &Default::default(),
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!((r.rows, r.stored, r.left, r.rejected.len()), (3, 3, 0, 0));
    // The champion is gone from the next export.
    let second = dir.path().join("contacts2.csv");
    std::fs::write(&second, format!("{header}c2,acme,bo@acme.io,Bo,Ng,Analyst,User,Active\nc3,acme,cy@acme.io,Cy,Fu,Admin,Admin,Inactive\n")).unwrap();
    let r = import_crm(
        &store,
        &m,
        "contacts",
        &second,
        &Default::default(),
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!((r.stored, r.left), (2, 1));
    let id = AccountId("acme".into());
    let book = store
        .load_book(Some(std::slice::from_ref(&id)))
        .await
        .unwrap();
    let contacts = &book.accounts[&id].contacts;
    let status = |c: &str| {
        let f = contacts.iter().find(|x| x.contact.id.0 == c).unwrap();
        f.attrs
            .iter()
            .filter(|a| a.attr == "status")
            .max_by_key(|a| a.valid_from)
            .and_then(|a| a.value.clone())
    };
    assert_eq!(status("c1").as_deref(), Some("left"));
    assert_eq!(status("c3").as_deref(), Some("inactive"));
    assert_eq!(
        contacts
            .iter()
            .find(|x| x.contact.id.0 == "c1")
            .unwrap()
            .contact
            .name
            .as_deref(),
        Some("Ann Lee")
    );

    let opps = dir.path().join("opps.csv");
    std::fs::write(&opps, "Id,AccountId,CloseDate,StageName,Amount\no1,acme,2026-01-31,Closed Won,12000\no2,acme,2026-03-31,Negotiation,9000\no3,beta,2026-02-28,Closed Lost,5000\no4,beta,someday,Closed Won,1\n").unwrap();
    let r = import_crm(
        &store,
        &m,
        "opportunities",
        &opps,
        &Default::default(),
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        (r.rows, r.stored, r.skipped, r.rejected.len()),
        (4, 2, 1, 1)
    );
    assert_eq!(r.rejected[0].index, 3);
    assert_eq!(r.rejected[0].field, Some("date"));
}

#[tokio::test]
async fn zendesk_ticket_export_is_matched_to_accounts_by_organization_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
    let accounts = dir.path().join("accounts.csv");
    std::fs::write(
        &accounts,
        "account_id,name\nacc-1,Acme Corp\nacc-2,Globex\nacc-3,Initech\nacc-4,Initech\n",
    )
    .unwrap();
    bellwether_ingest::import_file(&store, &accounts, &Default::default())
        .await
        .unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../mappings/zendesk.toml"
    ))
    .unwrap();
    let m: Mapping = toml::from_str(&text).unwrap();
    let export = dir.path().join("tickets.csv");
    std::fs::write(
        &export,
        "Summation column,Id,Requester,Subject,Status,Priority,Created at,Organization,Solved at,Satisfaction Score,First reply time in minutes,Full resolution time in minutes,Tags\n\
         ,101,Ann,Export broken,Solved,Urgent,2026-03-02 09:00:00,acme corp ,2026-03-03 10:00:00,Bad,35,1500,vip escalated\n\
         ,102,Bo,How do I invite?,Open,-,\"November 30, 2026 13:00\",Globex,,Offered,,,onboarding\n\
         ,103,Cy,Billing,Open,Normal,2026-03-05 12:00:00,Umbrella,,,,,\n\
         ,104,Di,SSO,Pending,High,2026-03-06 13:00:00,Initech,,,,,\n",
    )
    .unwrap();
    let r = import_crm(
        &store,
        &m,
        "tickets",
        &export,
        &Default::default(),
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!((r.rows, r.stored, r.rejected.len()), (4, 2, 2), "{r:?}");
    assert_eq!(
        (r.rejected[0].index, r.rejected[0].field),
        (2, Some("account_id"))
    );
    assert!(
        r.rejected[0]
            .message
            .contains("no account has the name 'Umbrella'"),
        "{}",
        r.rejected[0].message
    );
    assert!(
        r.rejected[1]
            .message
            .contains("2 accounts have the name 'Initech'"),
        "{}",
        r.rejected[1].message
    );
    let book = store.load_book(None).await.unwrap();
    let t = &book.accounts[&AccountId("acc-1".into())].tickets;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].id, "101");
    assert_eq!(t[0].csat, Some(1.0));
    assert_eq!(t[0].first_response_minutes, Some(35.0));
    assert!(t[0].closed_at.is_some());
    assert!(
        t[0].escalated,
        "the Tags column's `escalated` marks the ticket"
    );
    let g = &book.accounts[&AccountId("acc-2".into())].tickets;
    assert_eq!((g.len(), g[0].csat), (1, None));
    // Zendesk's long-form date and its `-` for no priority.
    assert_eq!(g[0].opened_at.to_string(), "2026-11-30T13:00:00Z");
    assert_eq!(g[0].priority, bellwether_core::model::Priority::Normal);
    assert!(!g[0].escalated);
}

#[tokio::test]
async fn outcome_amounts_are_signed_by_their_kind_and_signed_deltas_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
    let day = bellwether_core::Day::today().plus(-10);
    let file = dir.path().join("outcomes.csv");
    std::fs::write(
        &file,
        format!(
            "account_id,date,kind,arr_delta,amount\n\
             a1,{day},churned,,18000\n\
             a2,{day},expanded,,5000\n\
             a3,{day},churned,18000,\n\
             a4,{day},contracted,-2000,\n\
             a5,{day},churned,,-18000\n"
        ),
    )
    .unwrap();
    let r = bellwether_ingest::import_file(&store, &file, &Default::default())
        .await
        .unwrap();
    let lines = r.rejection_lines();
    assert_eq!((r.imported, lines.len()), (3, 2), "{lines:?}");
    assert!(
        lines[0].contains(":4: field 'arr_delta': 18000 is a gain for a churned outcome"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains(":6: field 'amount': -18000 is negative"),
        "{lines:?}"
    );
    let book = store.load_book(None).await.unwrap();
    let delta = |a: &str| book.accounts[&AccountId(a.into())].outcomes[0].arr_delta;
    assert_eq!(delta("a1"), Some(-1_800_000));
    assert_eq!(delta("a2"), Some(500_000));
    assert_eq!(delta("a4"), Some(-200_000));
}
