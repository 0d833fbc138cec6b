//! The import kinds, their columns, and how a file's kind is recognised from its name or header.

use std::fmt;

/// What an import file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Accounts and their attributes.
    Accounts,
    /// Changes of account attributes over time.
    AccountChanges,
    /// Stakeholders.
    Contacts,
    /// Product usage events (rolled up on import).
    Events,
    /// Pre-aggregated daily metrics.
    DailyMetrics,
    /// Subscriptions.
    Subscriptions,
    /// Support tickets.
    Tickets,
    /// Billing events.
    BillingEvents,
    /// Meetings, QBR invites, emails, NPS.
    Interactions,
    /// Renewals, churns, contractions, expansions.
    Outcomes,
    /// The people alerts and digests go to (CSMs, their leaders).
    People,
}

/// A column of a kind: canonical name, accepted aliases (normalised), required or not.
#[derive(Debug)]
pub struct Column {
    /// The canonical name.
    pub name: &'static str,
    /// Other header names accepted for it.
    pub aliases: &'static [&'static str],
    /// Whether a file must have it.
    pub required: bool,
}

const fn req(name: &'static str, aliases: &'static [&'static str]) -> Column {
    Column {
        name,
        aliases,
        required: true,
    }
}
const fn opt(name: &'static str, aliases: &'static [&'static str]) -> Column {
    Column {
        name,
        aliases,
        required: false,
    }
}

const ACCOUNT_ID: Column = req("account_id", &["accountid", "group_id", "groupid"]);

impl Kind {
    /// Every kind, in the order a folder import applies them (accounts first, so later files find them).
    pub const ALL: &'static [Kind] = &[
        Kind::People,
        Kind::Accounts,
        Kind::AccountChanges,
        Kind::Contacts,
        Kind::Subscriptions,
        Kind::BillingEvents,
        Kind::Tickets,
        Kind::Interactions,
        Kind::Outcomes,
        Kind::DailyMetrics,
        Kind::Events,
    ];

    /// The kind's name on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Accounts => "accounts",
            Kind::AccountChanges => "account_changes",
            Kind::Contacts => "contacts",
            Kind::Events => "events",
            Kind::DailyMetrics => "daily_metrics",
            Kind::Subscriptions => "subscriptions",
            Kind::Tickets => "tickets",
            Kind::BillingEvents => "billing_events",
            Kind::Interactions => "interactions",
            Kind::Outcomes => "outcomes",
            Kind::People => "people",
        }
    }

    /// Reads a kind name (plural or singular, dashes or underscores).
    pub fn parse(s: &str) -> Option<Kind> {
        let n = normalise(s);
        Kind::ALL.iter().copied().find(|k| {
            n == k.name()
                || n == k.name().trim_end_matches('s')
                || n == k.name().replace("_events", "_event")
                || (*k == Kind::People && n == "person")
        })
    }

    /// The columns of this kind.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Accounts => {
                const C: &[Column] = &[
                    req("account_id", &["id", "accountid", "group_id", "groupid"]),
                    opt("name", &["account_name", "company"]),
                    opt("owner", &["csm", "owner_email", "account_owner"]),
                    opt("segment", &["tier"]),
                    opt("plan", &[]),
                    opt("arr", &[]),
                    opt("currency", &[]),
                    opt("seats", &["licenses", "seats_purchased"]),
                    opt("contract_start", &["contract_start_date", "start_date"]),
                    opt(
                        "renewal_date",
                        &["renewal", "contract_end", "contract_end_date"],
                    ),
                    opt("lifecycle_stage", &["stage", "lifecycle"]),
                    opt("parent_id", &["parent_account_id"]),
                    opt("valid_from", &["as_of", "updated_at", "effective_at"]),
                ];
                C
            }
            Kind::AccountChanges => {
                const C: &[Column] = &[
                    ACCOUNT_ID,
                    req("attribute", &["attr", "field"]),
                    opt("value", &["new_value"]),
                    req(
                        "valid_from",
                        &["as_of", "changed_at", "effective_at", "timestamp"],
                    ),
                    opt("currency", &[]),
                ];
                C
            }
            Kind::Contacts => {
                const C: &[Column] = &[
                    req("contact_id", &["id", "contactid", "user_id", "userid"]),
                    ACCOUNT_ID,
                    opt("email", &[]),
                    opt("name", &["full_name"]),
                    opt("title", &["job_title"]),
                    opt("role", &["stakeholder_role"]),
                    opt("status", &[]),
                    opt("valid_from", &["as_of", "updated_at", "effective_at"]),
                    opt("first_seen", &["created_at"]),
                ];
                C
            }
            Kind::Events => {
                const C: &[Column] = &[
                    ACCOUNT_ID,
                    req(
                        "timestamp",
                        &["time", "ts", "occurred_at", "sent_at", "original_timestamp"],
                    ),
                    req("event", &["name", "event_name", "event_type"]),
                    opt("user_id", &["userid", "anonymous_id", "anonymousid"]),
                    opt("value", &[]),
                ];
                C
            }
            Kind::DailyMetrics => {
                const C: &[Column] = &[
                    ACCOUNT_ID,
                    req("date", &["day"]),
                    req("metric", &["metric_name", "name"]),
                    req("value", &[]),
                ];
                C
            }
            Kind::Subscriptions => {
                const C: &[Column] = &[
                    ACCOUNT_ID,
                    req("plan", &["plan_name", "product"]),
                    req(
                        "start_date",
                        &["start", "started_at", "current_period_start"],
                    ),
                    opt(
                        "end_date",
                        &["end", "ended_at", "cancelled_at", "canceled_at"],
                    ),
                    req("mrr", &["monthly_recurring_revenue"]),
                    opt("quantity", &["seats"]),
                    opt(
                        "billing_period",
                        &[
                            "interval",
                            "billing_interval",
                            "plan_interval",
                            "billing_cycle",
                            "billing_frequency",
                            "term",
                        ],
                    ),
                    opt("currency", &[]),
                    opt("subscription_id", &["id"]),
                ];
                C
            }
            Kind::Tickets => {
                const C: &[Column] = &[
                    req("ticket_id", &["id"]),
                    ACCOUNT_ID,
                    req("opened_at", &["created_at", "opened"]),
                    opt("closed_at", &["solved_at", "resolved_at", "closed"]),
                    opt("priority", &[]),
                    opt("status", &[]),
                    opt("escalated", &["is_escalated"]),
                    opt("tags", &[]),
                    opt(
                        "first_response_minutes",
                        &["first_reply_time_minutes", "first_response_time"],
                    ),
                    opt(
                        "resolution_minutes",
                        &["full_resolution_time_minutes", "resolution_time"],
                    ),
                    opt("sla_breached", &["sla_breach", "breached_sla"]),
                    opt("csat", &["satisfaction", "satisfaction_score"]),
                    opt("subject", &["title"]),
                    opt("body", &["description", "text"]),
                    opt("contact_id", &["requester_id"]),
                ];
                C
            }
            Kind::BillingEvents => {
                const C: &[Column] = &[
                    req("event_id", &["id"]),
                    ACCOUNT_ID,
                    req("timestamp", &["created_at", "at", "occurred_at", "date"]),
                    req("kind", &["type", "event_type"]),
                    opt("amount", &[]),
                    opt("currency", &[]),
                    opt("mrr_delta", &[]),
                    opt("seats_delta", &[]),
                    opt("plan", &[]),
                ];
                C
            }
            Kind::Interactions => {
                const C: &[Column] = &[
                    req("interaction_id", &["id"]),
                    ACCOUNT_ID,
                    req("timestamp", &["at", "occurred_at", "date"]),
                    req("kind", &["type"]),
                    opt("contact_id", &[]),
                    opt("response", &["status"]),
                    opt("score", &["nps"]),
                    opt("note", &["subject", "notes"]),
                ];
                C
            }
            Kind::Outcomes => {
                const C: &[Column] = &[
                    ACCOUNT_ID,
                    req("date", &["day", "closed_at"]),
                    req("kind", &["outcome", "type"]),
                    opt("arr_delta", &[]),
                    opt("amount", &["deal_amount"]),
                    opt("currency", &[]),
                ];
                C
            }
            Kind::People => {
                const C: &[Column] = &[
                    req(
                        "email",
                        &["person_email", "csm_email", "user_email", "owner_email"],
                    ),
                    opt("name", &["full_name"]),
                    opt("slack_user_id", &["slack_id", "slack_user"]),
                    opt("leader", &["manager", "leader_email", "manager_email"]),
                    opt("time_zone", &["timezone", "tz"]),
                    opt("slack", &["slack_destination"]),
                    opt("digest", &["weekly_digest"]),
                    opt("channels", &["alert_channels"]),
                    opt("quiet_hours", &[]),
                    opt("daily_cap", &["alert_cap", "max_alerts_per_day"]),
                ];
                C
            }
        }
    }

    /// Recognises a kind from a file name: the stem (before the first dot) starts with a kind's name.
    pub fn from_file_name(name: &str) -> Option<Kind> {
        let stem = normalise(name.split('.').next().unwrap_or(name));
        // Longest name first, so `account_changes` wins over `accounts` and `billing_events` over `events`.
        let mut kinds: Vec<Kind> = Kind::ALL.to_vec();
        kinds.sort_by_key(|k| std::cmp::Reverse(k.name().len()));
        kinds.into_iter().find(|k| {
            let n = k.name();
            let singular = n.trim_end_matches('s');
            stem == n
                || stem.starts_with(&format!("{n}_"))
                || stem == singular
                || stem.starts_with(&format!("{singular}_"))
        })
    }

    /// Recognises a kind from a header: the kind whose required columns are all present, preferring the one
    /// with most of its columns matched.
    pub fn from_header(header: &[String]) -> Option<Kind> {
        Kind::ALL
            .iter()
            .copied()
            .filter_map(|k| {
                let map = resolve(k, header);
                let all_required = k
                    .columns()
                    .iter()
                    .zip(&map)
                    .all(|(c, m)| !c.required || m.is_some());
                all_required.then(|| (map.iter().filter(|m| m.is_some()).count(), k))
            })
            .max_by_key(|(n, k)| (*n, std::cmp::Reverse(k.columns().len())))
            .map(|(_, k)| k)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Normalises a header or kind name: trimmed, lower case, spaces, dashes and dots as underscores.
pub fn normalise(s: &str) -> String {
    s.trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase()
        .replace([' ', '-', '.'], "_")
}

/// A label's stored form (segments, lifecycle stages): lower case, each run of spaces and punctuation as one
/// underscore, so `Customer - Direct`, `customer-direct` and `CUSTOMER DIRECT` are all `customer_direct`.
pub fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().trim_start_matches('\u{feff}').chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// For each column of `kind`, the index of the header field that holds it.
pub fn resolve(kind: Kind, header: &[String]) -> Vec<Option<usize>> {
    let norm: Vec<String> = header.iter().map(|h| normalise(h)).collect();
    kind.columns()
        .iter()
        .map(|c| {
            norm.iter().position(|h| h == c.name).or_else(|| {
                c.aliases
                    .iter()
                    .find_map(|a| norm.iter().position(|h| h == a))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_headers() {
        assert_eq!(Kind::from_file_name("accounts.csv"), Some(Kind::Accounts));
        assert_eq!(
            Kind::from_file_name("account_changes.csv"),
            Some(Kind::AccountChanges)
        );
        assert_eq!(
            Kind::from_file_name("events-2024-03.jsonl"),
            Some(Kind::Events)
        );
        assert_eq!(
            Kind::from_file_name("billing_events.csv"),
            Some(Kind::BillingEvents)
        );
        assert_eq!(
            Kind::from_file_name("ticket_export.csv"),
            Some(Kind::Tickets)
        );
        assert_eq!(Kind::from_file_name("notes.csv"), None);
        let h = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            Kind::from_header(&h("account_id,timestamp,event,user_id,value")),
            Some(Kind::Events)
        );
        assert_eq!(
            Kind::from_header(&h("account_id,plan,start_date,end_date,mrr,quantity")),
            Some(Kind::Subscriptions)
        );
        assert_eq!(
            Kind::from_header(&h("account_id,date,metric,value")),
            Some(Kind::DailyMetrics)
        );
        assert_eq!(
            Kind::from_header(&h("Account ID,Name,Owner,ARR,Region")),
            Some(Kind::Accounts)
        );
        assert_eq!(Kind::parse("billing-event"), Some(Kind::BillingEvents));
        assert_eq!(label("Customer - Direct"), "customer_direct");
        assert_eq!(label(" Mid-Market "), "mid_market");
        assert_eq!(
            label("Channel Partner / Reseller"),
            "channel_partner_reseller"
        );
        assert_eq!(Kind::parse("daily_metrics"), Some(Kind::DailyMetrics));
        assert_eq!(Kind::parse("person"), Some(Kind::People));
        assert_eq!(Kind::from_file_name("people.csv"), Some(Kind::People));
        assert_eq!(
            Kind::from_header(&h("email,name,slack_user_id,leader,time_zone")),
            Some(Kind::People)
        );
        assert_eq!(
            Kind::from_header(&h("contact_id,account_id,email,name")),
            Some(Kind::Contacts)
        );
    }
}
