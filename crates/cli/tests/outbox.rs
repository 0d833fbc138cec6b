//! `bellwether outbox` through the binary: the counts and entries of an empty outbox, and a state it does
//! not know refused with the states it does.

mod common;
use common::{bw, ok, text};

#[test]
fn the_outbox_command_shows_counts_and_refuses_an_unknown_state() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(bw(dir.path(), &["outbox"]));
    assert!(out.starts_with("0 pending, 0 delivered, 0 parked"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(bw(dir.path(), &["outbox", "--json"]))).unwrap();
    assert_eq!(json["counts"]["pending"], 0);
    assert_eq!(json["entries"].as_array().map(Vec::len), Some(0));
    let bad = bw(dir.path(), &["outbox", "--state", "sent"]);
    assert!(!bad.status.success());
    let said = text(&bad);
    assert!(
        said.contains("--state sent is not one of pending, delivered, parked"),
        "{said}"
    );
}
