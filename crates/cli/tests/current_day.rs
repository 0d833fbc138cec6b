//! The picture a team sees on its first day, through the binary: the worklist's priority arithmetic and
//! order (before and after a model scores), one current day for the whole book with every
//! active account in the current list, undated CRM values visible to the assessment made after they arrive,
//! ended accounts leaving the list at once, and stored models scored with their own columns.

mod common;

use common::{bw, ok};

use bellwether_core::Day;
use bellwether_sim::{simulate, SimConfig};
use std::path::Path;

/// Reads "$1.94M" / "€127k" / "$900" back into major units.
fn dollars(s: &str) -> f64 {
    let s = s.trim_start_matches(|c: char| !c.is_ascii_digit() && c != '-');
    let (num, mul) = match s.chars().last() {
        Some('B') => (&s[..s.len() - 1], 1e9),
        Some('M') => (&s[..s.len() - 1], 1e6),
        Some('k') => (&s[..s.len() - 1], 1e3),
        _ => (s, 1.0),
    };
    num.parse::<f64>().unwrap() * mul
}

/// The figures of one printed priority, `$120k ARR × 25% churn … + $20k potential (…) × 50% … = $40k × 1.63
/// (…) × 0.70 (…) = $45.5k`: what they multiply out to, and the printed result.
fn multiply_out(arith: &str) -> (f64, f64) {
    let pct = |s: &str| -> f64 {
        s.trim()
            .split('%')
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap_or_else(|e| panic!("{e}: {s} in {arith}"))
            / 100.0
    };
    let (arr_text, rest) = arith
        .split_once(" ARR × ")
        .unwrap_or_else(|| panic!("no ARR in {arith}"));
    let arr = dollars(arr_text.split_whitespace().last().unwrap());
    let mut stake = arr * pct(rest);
    if let Some((_, growth)) = rest.split_once(" + ") {
        let potential = dollars(growth.split_whitespace().next().unwrap());
        let (_, p) = growth.split_once(") × ").unwrap();
        stake += potential * pct(p);
    }
    // Every weight prints as " × 1.23 (" with its reasons.
    for part in rest.split(" × ").skip(1) {
        if let Some((f, _)) = part.split_once(" (") {
            if let Ok(f) = f.parse::<f64>() {
                stake *= f;
            }
        }
    }
    let (_, printed) = arith.rsplit_once(" = ").unwrap();
    (stake, dollars(printed.split_whitespace().next().unwrap()))
}

/// Checks every printed worklist line: its arithmetic multiplies out to the printed priority (to the printed
/// precision), and the priorities never increase down the list. Returns them.
fn check_arithmetic(text: &str) -> Vec<f64> {
    let mut stakes = Vec::new();
    for line in text.lines().filter(|l| l.contains(" ARR × ")) {
        let (product, stake) = multiply_out(line);
        // Each printed figure carries three significant digits (percentages: whole points, weights: two
        // decimals), so the product of the printed figures agrees with the printed result to within a few
        // percent, plus rounding at small values.
        assert!(
            (product - stake).abs() <= 0.05 * stake.max(product) + 10.0,
            "{product} against the printed {stake}: {line}"
        );
        stakes.push(stake);
    }
    assert!(!stakes.is_empty(), "no worklist lines in:\n{text}");
    for w in stakes.windows(2) {
        assert!(
            w[0] >= w[1] * 0.995,
            "the order must follow the printed priorities: {stakes:?}"
        );
    }
    stakes
}

#[test]
fn the_worklist_multiplies_out_and_follows_its_figures_before_and_after_train() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    simulate(
        &SimConfig {
            accounts: 1500,
            seed: 21,
            ..SimConfig::default()
        },
        &book,
        &mut |_| {},
    )
    .unwrap();
    let data = dir.path().join("data");
    // Ranked in a reporting currency other than the book's: scoring must convert as the pass does.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("bellwether.toml"),
        "[money]\nreporting_currency = \"EUR\"\n[money.rates]\nUSD = 0.9\n",
    )
    .unwrap();
    ok(bw(&data, &["import", book.to_str().unwrap()]));
    let before = ok(bw(&data, &["worklist", "--limit", "25"]));
    assert!(
        before.contains("risk proxy") && before.contains("€"),
        "{before}"
    );
    check_arithmetic(&before);

    ok(bw(&data, &["train"]));
    let after = ok(bw(&data, &["worklist", "--limit", "25"]));
    assert!(
        after.contains("ranked by: model version 1 ranks by churn before the next renewal")
            && after.contains("% churn before the next renewal"),
        "after training the model's risk ranks the list:\n{after}"
    );
    check_arithmetic(&after);
    // The JSON carries the same numbers: the priority is what its arithmetic gives, the churn part from the
    // model's probability and the ARR in euro cents, in order.
    let json: serde_json::Value =
        serde_json::from_str(&ok(bw(&data, &["worklist", "--json", "--limit", "100"]))).unwrap();
    let items = json.as_array().unwrap();
    let mut last = f64::INFINITY;
    for it in items {
        let arr = it["arr_minor"].as_f64().unwrap_or(0.0) / 100.0;
        let p = it["churn_probability"].as_f64().expect("scored");
        let impact = &it["impact"];
        assert!((impact["arr"].as_f64().unwrap() - arr).abs() < 0.01, "{it}");
        assert_eq!(impact["churn"].as_f64(), Some(p), "{it}");
        let priority = it["priority"].as_f64().unwrap();
        let (product, printed) = multiply_out(it["arithmetic"].as_str().unwrap());
        assert!((product - priority).abs() <= 0.05 * priority + 10.0, "{it}");
        assert!((printed - priority).abs() <= 0.01 * priority + 10.0, "{it}");
        assert!(priority <= last);
        last = priority;
    }

    // A stored model is scored with its own columns: one this version does not compute is refused by name.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use bellwether_store::Store;
        let store = bellwether_store_sqlite::SqliteStore::open(&data.join("bellwether.db"))
            .await
            .unwrap();
        let rec = store.model(None).await.unwrap().unwrap();
        let mut bundle = bellwether_predict::bundle::Bundle::from_bytes(&rec.bundle).unwrap();
        let i = bundle
            .columns
            .iter()
            .position(|c| c == "tenure_days")
            .unwrap();
        bundle.columns[i] = "tenure_days_before_rename".into();
        let cfg = bellwether_predict::TrainConfig::default();
        store
            .save_model(bundle.record(&cfg, true), true)
            .await
            .unwrap();
    });
    let out = bw(&data, &["score"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[model_incompatible]") && err.contains("tenure_days_before_rename"),
        "{err}"
    );
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn every_active_account_stays_in_the_current_list_with_the_age_of_its_assessment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let accounts = dir.path().join("accounts.csv");
    write(
        &accounts,
        "account_id,name,owner,arr,contract_start\n\
         a1,Acme,dana@example.com,12000,2026-01-01\n\
         a2,Globex,dana@example.com,24000,2026-01-01\n\
         a3,Initech,dana@example.com,36000,2026-01-01\n",
    );
    let mut events = String::from("account_id,timestamp,event,user_id\n");
    for d in 0..60 {
        let day = Day::ymd(2026, 5, 1).plus(d);
        for a in ["a1", "a2", "a3"] {
            events.push_str(&format!("{a},{day}T10:00:00Z,Report Viewed,u-{a}\n"));
        }
    }
    write(&dir.path().join("events.csv"), &events);
    ok(bw(
        &data,
        &["import", "accounts", accounts.to_str().unwrap()],
    ));
    ok(bw(
        &data,
        &[
            "import",
            "events",
            dir.path().join("events.csv").to_str().unwrap(),
        ],
    ));
    let first: serde_json::Value =
        serde_json::from_str(&ok(bw(&data, &["worklist", "--json"]))).unwrap();
    assert_eq!(first.as_array().unwrap().len(), 3, "{first}");
    // Three more days of one account's data move the book's day; the others keep their assessment.
    let mut more = String::from("account_id,timestamp,event,user_id\n");
    for d in 60..63 {
        let day = Day::ymd(2026, 5, 1).plus(d);
        more.push_str(&format!("a1,{day}T10:00:00Z,Report Viewed,u-a1\n"));
    }
    write(&dir.path().join("more.csv"), &more);
    ok(bw(
        &data,
        &[
            "import",
            "events",
            dir.path().join("more.csv").to_str().unwrap(),
        ],
    ));
    let list = ok(bw(&data, &["worklist"]));
    let today = Day::ymd(2026, 5, 1).plus(63);
    assert!(list.contains(&format!("as of {today}")), "{list}");
    for a in ["a1", "a2", "a3"] {
        assert!(list.contains(a), "{a} stays in the list:\n{list}");
    }
    assert_eq!(
        list.matches("3 days ago").count(),
        2,
        "a2 and a3 were assessed three days before the book's day:\n{list}"
    );
    // A full pass brings every account to the book's day.
    ok(bw(&data, &["assess"]));
    let json: serde_json::Value =
        serde_json::from_str(&ok(bw(&data, &["worklist", "--json"]))).unwrap();
    assert!(json
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["as_of"] == today.to_string().as_str()));
}

#[test]
fn a_subscription_booked_to_start_later_does_not_move_the_books_day() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut events = String::from("account_id,timestamp,event,user_id\n");
    for d in 0..30 {
        let day = Day::ymd(2026, 5, 1).plus(d);
        events.push_str(&format!("a1,{day}T10:00:00Z,Login,u1\n"));
    }
    write(&dir.path().join("events.csv"), &events);
    write(
        &dir.path().join("subscriptions.csv"),
        "account_id,plan,start_date,end_date,mrr\na1,Pro,2026-01-01,2026-12-31,1000\na1,Pro,2099-01-01,,1000\n",
    );
    ok(bw(&data, &["import", dir.path().to_str().unwrap()]));
    let list = ok(bw(&data, &["worklist"]));
    assert!(list.contains("as of 2026-05-31"), "{list}");
}

#[test]
fn an_account_whose_churn_is_recorded_leaves_the_current_list_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write(
        &dir.path().join("accounts.csv"),
        "account_id,owner,arr,contract_start\n\
         a1,dana@example.com,12000,2026-01-01\n\
         a2,dana@example.com,24000,2026-01-01\n",
    );
    let mut events = String::from("account_id,timestamp,event,user_id\n");
    for d in 0..30 {
        let day = Day::ymd(2026, 5, 1).plus(d);
        events.push_str(&format!(
            "a1,{day}T10:00:00Z,Login,u1\na2,{day}T10:00:00Z,Login,u2\n"
        ));
    }
    write(&dir.path().join("events.csv"), &events);
    ok(bw(&data, &["import", dir.path().to_str().unwrap()]));
    let day = Day::ymd(2026, 5, 31);
    let list = ok(bw(&data, &["worklist"]));
    assert!(
        list.contains(&format!("as of {day}")) && list.contains("a2"),
        "{list}"
    );
    // The churn is dated on the book's current day itself.
    write(
        &dir.path().join("outcomes.csv"),
        &format!("account_id,date,kind,arr_delta\na2,{day},churned,-24000\n"),
    );
    ok(bw(
        &data,
        &[
            "import",
            "outcomes",
            dir.path().join("outcomes.csv").to_str().unwrap(),
        ],
    ));
    let list = ok(bw(&data, &["worklist"]));
    assert!(list.contains("a1"), "{list}");
    assert!(
        !list.contains("a2"),
        "an ended account leaves the list:\n{list}"
    );
}

#[test]
fn undated_crm_values_apply_to_the_assessment_made_after_they_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A HubSpot companies export alone: no dates anywhere.
    let companies = dir.path().join("companies.csv");
    write(
        &companies,
        "Record ID,Company name,Company owner,Lifecycle Stage,Annual recurring revenue\n\
         501,Acme,owner@example.com,customer,120000\n\
         502,Globex,owner@example.com,customer,60000\n",
    );
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mappings/hubspot.toml");
    ok(bw(
        &data,
        &[
            "import-crm",
            "--mapping",
            mapping.to_str().unwrap(),
            "accounts",
            companies.to_str().unwrap(),
        ],
    ));
    let assess = ok(bw(&data, &["assess"]));
    assert!(assess.contains("assessed 2 accounts"), "{assess}");
    let list = ok(bw(&data, &["worklist", "--csm", "owner@example.com"]));
    assert!(list.contains("501") && list.contains("502"), "{list}");
    assert!(list.contains("$120k ARR"), "{list}");
    let acct = ok(bw(&data, &["account", "501"]));
    assert!(
        acct.contains("owner owner@example.com") && acct.contains("ARR 120"),
        "{acct}"
    );

    // Beside a book of past data: `accounts.csv` without `contract_start` is undated too.
    let past = dir.path().join("past");
    std::fs::create_dir_all(&past).unwrap();
    write(
        &past.join("accounts.csv"),
        "account_id,owner,arr\nb1,kim@example.com,50000\n",
    );
    let mut events = String::from("account_id,timestamp,event,user_id\n");
    for d in 0..30 {
        let day = Day::ymd(2025, 3, 1).plus(d);
        events.push_str(&format!("b1,{day}T10:00:00Z,Login,u1\n"));
    }
    write(&past.join("events.csv"), &events);
    let data2 = dir.path().join("data2");
    ok(bw(&data2, &["import", past.to_str().unwrap()]));
    let list = ok(bw(&data2, &["worklist", "--csm", "kim@example.com"]));
    assert!(
        list.contains("as of 2025-03-31") && list.contains("$50.0k ARR"),
        "{list}"
    );
    // A past day (a replay, a training snapshot) does not see what arrived after it.
    let replay = ok(bw(&data2, &["assess", "--as-of", "2025-03-20"]));
    assert!(replay.contains("assessed 1 accounts"), "{replay}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(bw(&data2, &["worklist", "--json"]))).unwrap();
    assert_eq!(
        json[0]["as_of"], "2025-03-31",
        "the current list keeps the current day: {json}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (then, now) = rt.block_on(async {
        use bellwether_store::Store;
        let store = bellwether_store_sqlite::SqliteStore::open(&data2.join("bellwether.db"))
            .await
            .unwrap();
        (
            store
                .assessments(Some(Day::ymd(2025, 3, 20)))
                .await
                .unwrap(),
            store
                .assessments(Some(Day::ymd(2025, 3, 31)))
                .await
                .unwrap(),
        )
    });
    assert_eq!(then[0].owner, None, "received after 2025-03-20");
    assert_eq!(now[0].owner.as_deref(), Some("kim@example.com"));
}
