//! `import --check`: a file is read as an import reads it, its rejections named by line and field, and
//! nothing is written: the import that follows stores every good record as new.

mod common;
use common::{bw, text};

#[test]
fn a_checked_file_reports_what_it_would_store_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("tickets.csv");
    std::fs::write(
        &file,
        "ticket_id,account_id,opened_at,priority,body\r\n\
         t1,acme,2026-11-02,high,\"Export fails\r\n\tsince Monday\"\r\n\
         \r\n\
         t2,acme,someday,high,x\r\n\
         t3,globex,2026-11-03,low,\"nul \0 inside\"\r\n\
         t4,globex,2026-11-04,low,fine\r\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let checked = bw(&data, &["import", "--check", "tickets", f]);
    let out = text(&checked);
    assert_eq!(checked.status.code(), Some(2), "rejections exit 2: {out}");
    assert!(
        out.contains("4 records read, 2 would be stored, 2 rejected"),
        "{out}"
    );
    assert!(
        out.contains("tickets.csv:5: field 'opened_at': 'someday'"),
        "{out}"
    );
    assert!(
        out.contains("tickets.csv:6: field 'body'") && out.contains("U+0000"),
        "{out}"
    );
    assert!(
        !data.join("bellwether.db").exists(),
        "--check opens no store"
    );

    let json = bw(&data, &["import", "--check", "--json", "tickets", f]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["imported"], 2);
    assert_eq!(v["rejected"][0]["line"], 5);
    assert_eq!(v["rejected"][1]["field"], "body");
    assert_eq!(v["accounts_touched"], 2);

    // A folder is checked as a folder is imported: its import files in import order, others skipped.
    let folder = tmp.path().join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(&file, folder.join("tickets.csv")).unwrap();
    std::fs::write(folder.join("accounts.csv"), "account_id,name\nacme,Acme\n").unwrap();
    std::fs::write(folder.join("notes.csv"), "what,ever\n1,2\n").unwrap();
    let checked = bw(&data, &["import", "--check", folder.to_str().unwrap()]);
    let out = text(&checked);
    assert_eq!(checked.status.code(), Some(2), "{out}");
    let (a, t) = (
        out.find("accounts.csv: accounts 1 records read").unwrap(),
        out.find("tickets.csv: tickets 4").unwrap(),
    );
    assert!(a < t, "accounts first: {out}");
    assert!(
        out.contains("skipped ") && out.contains("notes.csv: not an import file"),
        "{out}"
    );
    assert!(
        !data.join("bellwether.db").exists(),
        "--check opens no store"
    );

    let imported = bw(&data, &["import", "--no-assess", "tickets", f]);
    let out = text(&imported);
    assert!(
        out.contains("4 records read, 2 stored, 2 rejected"),
        "{out}"
    );
    assert!(
        !out.contains("already imported"),
        "the check wrote no chunk: {out}"
    );
}
