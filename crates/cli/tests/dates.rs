//! `bellwether import` with the dates people export, through the binary: slash dates without a day order are
//! refused with exit status 2 and an error naming the setting; `--day-order` or `[import] day_order` reads them,
//! and `[import] time_zone` places times written without an offset.

mod common;

use common::bw;

#[test]
fn slash_dates_need_the_day_order_setting_and_then_import() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("interactions.csv");
    std::fs::write(
        &csv,
        "interaction_id,account_id,timestamp,kind\n\
         i1,acme,03/05/2024,meeting\n\
         i2,acme,3/5/2024 2:22 PM,meeting\n\
         i3,acme,\"Mar 5, 2024\",meeting\n\
         i4,acme,05.03.2024 09:00,meeting\n",
    )
    .unwrap();
    let path = csv.to_str().unwrap();
    let out = bw(&data, &["import", path, "--no-assess"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interactions.csv:2: field 'timestamp'")
            && err.contains("'03/05/2024'")
            && err.contains("[import] day_order")
            && err.contains("--day-order"),
        "{err}"
    );
    assert!(err.contains("'3/5/2024 2:22 PM'"), "{err}");

    // The flag reads them month first (into a fresh data directory: chunks already imported are skipped).
    let fresh = dir.path().join("fresh");
    let out = bw(
        &fresh,
        &[
            "import",
            path,
            "--day-order",
            "mdy",
            "--no-assess",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r["imported"].as_u64(), r["rejected_count"].as_u64()),
        (Some(4), Some(0)),
        "{r}"
    );

    // A bad flag value says what the choices are.
    let out = bw(&data, &["import", path, "--day-order", "ymd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mdy"));

    // The settings file does the same, day first, with a time zone.
    std::fs::write(
        data.join("bellwether.toml"),
        "[import]\nday_order = \"dmy\"\ntime_zone = \"+01:00\"\n",
    )
    .unwrap();
    let other = dir.path().join("interactions_dmy.csv");
    std::fs::write(
        &other,
        "interaction_id,account_id,timestamp,kind\nj1,beta,13/05/2024 10:00,meeting\n",
    )
    .unwrap();
    let out = bw(
        &data,
        &["import", other.to_str().unwrap(), "--no-assess", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["imported"].as_u64(), Some(1), "{r}");

    // A time zone that is not a fixed offset is a settings error.
    std::fs::write(
        data.join("bellwether.toml"),
        "[import]\ntime_zone = \"Europe/Paris\"\n",
    )
    .unwrap();
    let out = bw(&data, &["import", other.to_str().unwrap(), "--no-assess"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("fixed offset"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
