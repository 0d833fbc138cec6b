//! `bellwether import` with absurd event times, through the binary: the bad lines are named with line, field
//! and code, the good ones stored, the exit status is 2, and `[event_times]` in the settings moves the window.

use std::process::Command;

fn bw(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_import_names_absurd_times_keeps_the_rest_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let yesterday = bellwether_core::Day::today().plus(-1);
    let csv = dir.path().join("events.csv");
    std::fs::write(
        &csv,
        format!(
            "account_id,timestamp,event,user_id\n\
             acme,{yesterday}T09:00:00Z,login,u1\n\
             acme,9999-12-31T23:59:59Z,login,u1\n\
             beta,{yesterday}T10:00:00Z,login,u2\n\
             beta,0000-01-01,login,u2\n\
             beta,9223372036854775807,login,u2\n\
             gamma,1995-05-05,login,u3\n"
        ),
    )
    .unwrap();
    let out = bw(&data, &["import", csv.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r["imported"].as_u64(), r["rejected_count"].as_u64()),
        (Some(2), Some(4)),
        "{r}"
    );
    let got: Vec<(u64, &str, &str)> = r["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["line"].as_u64().unwrap(),
                x["field"].as_str().unwrap(),
                x["code"].as_str().unwrap(),
            )
        })
        .collect();
    let bad = |line| (line, "timestamp", "event_time_out_of_range");
    assert_eq!(got, [bad(3), bad(5), bad(6), bad(7)], "{r}");

    // The text report names file, line and field too.
    let again = dir.path().join("events_again.csv");
    std::fs::write(
        &again,
        format!("account_id,timestamp,event\nacme,{yesterday}T11:00:00Z,export\nacme,9999-01-01,export\n"),
    )
    .unwrap();
    let out = bw(&data, &["import", again.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("events_again.csv:3: field 'timestamp'")
            && err.contains("[event_time_out_of_range]"),
        "{err}"
    );

    // The settings file of the data directory widens the window: 1995 is now accepted.
    std::fs::write(
        data.join("bellwether.toml"),
        "[event_times]\nearliest = \"1990-01-01\"\n",
    )
    .unwrap();
    let old = dir.path().join("old_events.csv");
    std::fs::write(&old, "account_id,timestamp,event\ngamma,1995-05-05,login\n").unwrap();
    let out = bw(&data, &["import", old.to_str().unwrap(), "--no-assess"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
