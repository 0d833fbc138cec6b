//! The portable layout of a store, for moving a book between backends (`bellwether copy`): every table that
//! holds records (not what is derived from them, such as packed facts), its columns by name, and cells as
//! plain values. A backend exports its tables in this layout and imports them from it; JSON documents travel
//! as [`crate::codec::docs::Doc::into_bytes`] gives them.

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// An integer (also booleans, 0 or 1).
    Int(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// A table of the portable layout.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    /// Its name.
    pub name: &'static str,
    /// Its columns, in the order rows carry them.
    pub columns: &'static [&'static str],
}

/// Every table, in an order that satisfies references (imports before chunks).
pub const TABLES: &[Table] = &[
    Table {
        name: "accounts",
        columns: &["account_id", "first_seen"],
    },
    Table {
        name: "account_attrs",
        columns: &["account_id", "attr", "valid_from", "value", "received_at"],
    },
    Table {
        name: "contacts",
        columns: &["account_id", "id", "email", "name", "first_seen"],
    },
    Table {
        name: "contact_attrs",
        columns: &[
            "account_id",
            "contact_id",
            "attr",
            "valid_from",
            "value",
            "received_at",
        ],
    },
    Table {
        name: "tickets",
        columns: &[
            "account_id",
            "id",
            "contact_id",
            "opened_at",
            "closed_at",
            "priority",
            "status",
            "escalated",
            "first_response_minutes",
            "resolution_minutes",
            "sla_breached",
            "csat",
            "subject",
            "body",
            "received_at",
            "sentiment",
        ],
    },
    Table {
        name: "billing_events",
        columns: &[
            "account_id",
            "id",
            "at",
            "kind",
            "amount",
            "currency",
            "mrr_delta",
            "seats_delta",
            "plan",
            "received_at",
        ],
    },
    Table {
        name: "subscriptions",
        columns: &[
            "account_id",
            "id",
            "plan",
            "start_day",
            "end_day",
            "mrr",
            "currency",
            "quantity",
            "received_at",
            "term_days",
        ],
    },
    Table {
        name: "interactions",
        columns: &[
            "account_id",
            "id",
            "contact_id",
            "at",
            "kind",
            "response",
            "score",
            "note",
            "received_at",
        ],
    },
    Table {
        name: "outcomes",
        columns: &["account_id", "day", "kind", "arr_delta", "received_at"],
    },
    Table {
        name: "series",
        columns: &["account_id", "packed", "updated_at"],
    },
    Table {
        name: "assessments",
        columns: &[
            "account_id",
            "as_of",
            "health",
            "risk_proxy",
            "churn_probability",
            "priority",
            "owner",
            "arr",
            "reason",
            "components",
            "impact",
        ],
    },
    Table {
        name: "current_assessments",
        columns: &["account_id", "as_of", "ended", "owner"],
    },
    Table {
        name: "signals",
        columns: &[
            "account_id",
            "id",
            "kind",
            "direction",
            "severity",
            "detected_at",
            "last_seen",
            "evidence",
            "explanation",
            "suggested_action",
            "status",
            "owner",
            "resolved_at",
            "snoozed_until",
            "snooze_reason",
            "alerted",
            "updated_at",
        ],
    },
    Table {
        name: "account_predictions",
        columns: &["account_id", "as_of", "predictions"],
    },
    Table {
        name: "distinct_users",
        columns: &["account_id", "series_key", "day", "user_hash"],
    },
    Table {
        name: "crm_contacts_seen",
        columns: &["account_id", "source", "contact_id", "seen_at"],
    },
    Table {
        name: "imports",
        columns: &[
            "id",
            "source",
            "kind",
            "received_at",
            "records",
            "rejected",
            "chunks",
        ],
    },
    Table {
        name: "chunks",
        columns: &["fingerprint", "import_id"],
    },
    Table {
        name: "catalog",
        columns: &["metric", "first_day", "last_day"],
    },
    Table {
        name: "peer_stats",
        columns: &[
            "as_of",
            "segment",
            "accounts",
            "utilisation",
            "events_per_seat",
        ],
    },
    Table {
        name: "common_features",
        columns: &["as_of", "scope", "grp", "source", "accounts", "features"],
    },
    Table {
        name: "models",
        columns: &[
            "version",
            "created_at",
            "trained_from",
            "trained_to",
            "engine",
            "features",
            "params",
            "metrics",
            "active",
            "bundle",
        ],
    },
    Table {
        name: "api_keys",
        columns: &["id", "hash", "scope", "name", "created_at", "revoked_at"],
    },
    Table {
        name: "received_messages",
        columns: &["source", "id", "received_at"],
    },
    Table {
        name: "identity_links",
        columns: &["source", "external_id", "account_id", "updated_at"],
    },
    Table {
        name: "pending_messages",
        columns: &["source", "user_key", "id", "received_at", "payload", "kind"],
    },
    Table {
        name: "crm_users",
        columns: &["source", "seq", "user_id", "name", "email"],
    },
    Table {
        name: "inbox_received",
        columns: &["source", "id", "received_at"],
    },
    Table {
        name: "inbox",
        columns: &["seq", "source", "received_at", "messages", "body"],
    },
    Table {
        name: "inbox_applied",
        columns: &["source", "seq"],
    },
    Table {
        name: "job_runs",
        columns: &[
            "name",
            "slot",
            "holder",
            "state",
            "started_at",
            "lease_until",
            "finished_at",
            "attempts",
            "outcome",
        ],
    },
];
