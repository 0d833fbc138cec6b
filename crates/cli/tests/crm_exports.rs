//! `import-crm` on the vendors' documented default exports, through the binary: HubSpot's default companies
//! view and deals with title-case stages, a standard-field Salesforce Account, Contact (Data Loader's upper-case
//! headers), Opportunity and User export, owners resolved from the users export, unsigned deal amounts signed
//! by what happened, malformed rows kept apart, and a rejected contact row not counted as a stakeholder leaving.

mod common;

use common::{bw, ok, text};

use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_store::{Book, LiveStore, Store};
use bellwether_store_sqlite::SqliteStore;
use std::path::Path;

fn mapping(name: &str) -> String {
    format!("{}/../../mappings/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

fn crm(dir: &Path, map: &str, what: &str, file: &str) -> std::process::Output {
    bw(dir, &["import-crm", "--mapping", &mapping(map), what, file])
}

fn book(dir: &Path) -> Book {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = SqliteStore::open(&dir.join("bellwether.db")).await.unwrap();
        store.load_book(None).await.unwrap()
    })
}

fn seen(dir: &Path, source: &str) -> usize {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = SqliteStore::open(&dir.join("bellwether.db")).await.unwrap();
        store.crm_seen(source).await.unwrap().len()
    })
}

fn day(n: i32) -> String {
    Day::today().plus(n).to_string()
}

#[test]
fn hubspot_default_companies_view_and_deals() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let users = write(
        d,
        "users.csv",
        "First Name,Last Name,Email,User ID\nDana,Reyes,dana@vendor.io,u1\nLee,Park,lee@vendor.io,u2\n",
    );
    let out = ok(crm(d, "hubspot", "users", &users));
    assert!(out.contains("2 rows, 2 stored"), "{out}");
    // HubSpot's default companies view: no lifecycle stage or ARR columns.
    let companies = write(
        d,
        "companies.csv",
        "Record ID,Company name,Company owner,Create Date,Phone Number,Last Activity Date,City,Country/Region,Industry\n\
         101,Acme Corp,Dana Reyes,2024-01-10 09:00,555-0100,2026-01-02 10:00,Austin,United States,Software\n\
         102,Globex,lee park,2024-02-11 09:00,,,Berlin,Germany,Manufacturing\n\
         103,Initech,Nobody Known,2024-03-12 09:00,,,,,\n",
    );
    let o = crm(d, "hubspot", "accounts", &companies);
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(all.contains("3 rows, 3 stored"), "{all}");
    assert!(
        all.contains("'Lifecycle Stage' (lifecycle_stage)")
            && all.contains("'Annual recurring revenue' (arr)"),
        "{all}"
    );
    assert!(all.contains("'Nobody Known'"), "{all}");
    let b = book(d);
    let now = Some(Timestamp::now());
    let view = |id: &str| {
        let id = AccountId(id.into());
        b.accounts[&id].view_current(&id, Day::today(), now)
    };
    let acme = view("101");
    assert_eq!(acme.name.as_deref(), Some("Acme Corp"));
    assert_eq!(acme.owner.as_deref(), Some("dana@vendor.io"));
    assert_eq!(acme.extra["industry"], "Software");
    assert_eq!(acme.extra["country/region"], "United States");
    assert_eq!(view("102").owner.as_deref(), Some("lee@vendor.io"));
    assert_eq!(view("103").owner.as_deref(), Some("Nobody Known"));

    // Deals: title-case stages, an unsigned amount, an open deal, and a row with a stray field.
    let deals = write(
        d,
        "deals.csv",
        &format!(
            "Record ID,Deal Name,Deal Stage,Close Date,Deal owner,Amount,Associated Company IDs (Primary)\n\
             9001,Acme renewal,Closed Won,{},Dana Reyes,24000,101\n\
             9002,Globex renewal,Closed Lost,{},Lee Park,18000,102\n\
             9003,Initech renewal,Contract Sent,{},Lee Park,9000,103\n\
             9004,Broken,Closed Lost,{},Lee Park,\"5,000\",103,extra\n",
            day(-20),
            day(-10),
            day(30),
            day(-5)
        ),
    );
    let o = crm(d, "hubspot", "opportunities", &deals);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(
        all.contains("4 rows, 2 stored, 1 skipped, 1 rejected"),
        "{all}"
    );
    assert!(
        all.contains("deals.csv:5: has 8 fields where the header has 7"),
        "{all}"
    );
    assert!(all.contains("'Contract Sent' (1 rows)"), "{all}");
    let b = book(d);
    let acme = &b.accounts[&AccountId("101".into())].outcomes;
    assert_eq!((acme.len(), acme[0].kind.as_str()), (1, "renewed"));
    assert_eq!(acme[0].arr_delta, Some(0));
    let globex = &b.accounts[&AccountId("102".into())].outcomes;
    assert_eq!(globex[0].kind.as_str(), "churned");
    assert_eq!(globex[0].arr_delta, Some(-1_800_000));
    assert!(b.accounts[&AccountId("103".into())].outcomes.is_empty());
}

#[test]
fn salesforce_standard_exports_with_users() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let users = write(
        d,
        "User.csv",
        "Id,Username,LastName,FirstName,Name,Email\n\
         005A1,dana@vendor.io.prod,Reyes,Dana,Dana Reyes,dana@vendor.io\n\
         005A2,lee@vendor.io.prod,Park,Lee,Lee Park,lee@vendor.io\n",
    );
    ok(crm(d, "salesforce", "users", &users));
    let accounts = write(
        d,
        "Account.csv",
        "Id,Name,Type,ParentId,OwnerId,AnnualRevenue,Industry,BillingCountry\n\
         001A,Acme Corp,Customer - Direct,,005A1,5000000,Technology,US\n\
         001B,Globex,Customer - Channel,001A,005A2,,Manufacturing,DE\n",
    );
    let o = crm(d, "salesforce", "accounts", &accounts);
    assert!(o.status.success(), "{}", text(&o));
    let b = book(d);
    let now = Some(Timestamp::now());
    let view = |id: &str| {
        let id = AccountId(id.into());
        b.accounts[&id].view_current(&id, Day::today(), now)
    };
    let acme = view("001A");
    assert_eq!(acme.owner.as_deref(), Some("dana@vendor.io"));
    assert_eq!(acme.segment.as_deref(), Some("customer_direct"));
    assert_eq!(acme.extra["industry"], "Technology");
    assert_eq!(acme.extra["annualrevenue"], "5000000");
    let globex = view("001B");
    assert_eq!(globex.owner.as_deref(), Some("lee@vendor.io"));
    assert_eq!(globex.segment.as_deref(), Some("customer_channel"));

    // Opportunities: StageName with the standard Type picklist.
    let opps = write(
        d,
        "Opportunity.csv",
        &format!(
            "Id,AccountId,Name,StageName,Amount,CloseDate,Type\n\
             006A,001A,Acme upsell,Closed Won,12000,{},Existing Customer - Upgrade\n\
             006B,001B,Globex renewal,Closed Lost,18000,{},Existing Customer - Replacement\n\
             006C,001A,Acme new team,Prospecting,3000,{},New Customer\n",
            day(-15),
            day(-8),
            day(20)
        ),
    );
    let o = crm(d, "salesforce", "opportunities", &opps);
    let all = text(&o);
    assert!(
        all.contains("3 rows, 2 stored, 1 skipped, 0 rejected"),
        "{all}"
    );
    let b = book(d);
    let a = &b.accounts[&AccountId("001A".into())].outcomes;
    assert_eq!(
        (a[0].kind.as_str(), a[0].arr_delta),
        ("expanded", Some(1_200_000))
    );
    let g = &b.accounts[&AccountId("001B".into())].outcomes;
    assert_eq!(
        (g[0].kind.as_str(), g[0].arr_delta),
        ("churned", Some(-1_800_000))
    );

    // Contacts from Data Loader, whose headers are upper case.
    let header = "ID,ACCOUNTID,FIRSTNAME,LASTNAME,EMAIL,TITLE\n";
    let first = write(
        d,
        "Contact1.csv",
        &format!(
            "{header}003A,001A,Ann,Lee,ann@acme.io,VP Ops\n003B,001A,Bo,Ng,bo@acme.io,Analyst\n\
             003C,001B,Cy,Fu,cy@globex.de,Admin\n"
        ),
    );
    let out = ok(crm(d, "salesforce", "contacts", &first));
    assert!(
        out.contains("3 rows, 3 stored, 0 skipped, 0 rejected, 0 contacts left"),
        "{out}"
    );
    // The next export: Ann's row has a stray field, Cy's lost its account, Bo is gone.
    let second = write(
        d,
        "Contact2.csv",
        &format!("{header}003A,001A,Ann,Lee,ann@acme.io,VP, Ops\n003C,,Cy,Fu,cy@globex.de,Admin\n"),
    );
    let o = crm(d, "salesforce", "contacts", &second);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(
        all.contains("2 rows, 0 stored, 0 skipped, 2 rejected, 1 contacts left"),
        "{all}"
    );
    assert!(all.contains("Contact2.csv:2: has 7 fields"), "{all}");
    assert!(all.contains("Contact2.csv:3: field 'account_id'"), "{all}");
    let b = book(d);
    let status = |account: &str, c: &str| {
        b.accounts[&AccountId(account.into())]
            .contacts
            .iter()
            .find(|x| x.contact.id.0 == c)
            .unwrap()
            .attrs
            .iter()
            .filter(|a| a.attr == "status")
            .max_by_key(|a| a.valid_from)
            .and_then(|a| a.value.clone())
    };
    assert_eq!(status("001A", "003B").as_deref(), Some("left"));
    assert_eq!(status("001A", "003A"), None);
    assert_eq!(status("001B", "003C"), None);
    // The rejected contacts stay listed: a third export without Ann counts her as gone then.
    assert_eq!(seen(d, "salesforce"), 2);
}
