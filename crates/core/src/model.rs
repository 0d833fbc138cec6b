//! The canonical records: what every source is normalised into and every later stage reads.
//!
//! Times are UTC ([`Timestamp`] for instants, [`Day`] for calendar days), money is integer minor units, and every
//! fact carries `received_at`, the instant Bellwether received it, beside its event time. Attributes that change
//! (account ARR, seats, plan, owner …; a contact's role and status) are not fields here but [`AttrFact`]s, read
//! as of a day through [`crate::history`].
//!
//! [`AttrFact`]: crate::history::AttrFact

use crate::history::{attr, Snapshot};
use crate::ids::{AccountId, ContactId};
use crate::money::{Currency, Money};
use crate::time::{Day, Timestamp};
use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal $(| $alias:literal)*,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant,)* }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// The canonical text.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text,)* } }
            /// Reads the canonical text or a common alias, case-insensitively.
            pub fn parse(s: &str) -> Result<Self, String> {
                // The canonical text, as stored, matches without allocating (bulk reads parse millions).
                $(if s == $text { return Ok($name::$variant); })*
                let l = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
                match l.as_str() {
                    $($text $(| $alias)* => Ok($name::$variant),)*
                    _ => Err(format!("'{}' is not one of: {}", s, [$($text),*].join(", "))),
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

text_enum!(
    /// A stakeholder's role at the customer.
    Role {
        /// Advocates for the product.
        Champion => "champion",
        /// Senior owner of the budget.
        ExecutiveSponsor => "executive_sponsor" | "sponsor" | "exec_sponsor" | "executive",
        /// Administers the product.
        Admin => "admin" | "administrator",
        /// A user.
        User => "user" | "end_user",
        /// Anything else.
        Other => "other",
    }
);

text_enum!(
    /// Whether a stakeholder is still there.
    ContactStatus {
        /// Still at the account and reachable.
        Active => "active",
        /// Marked inactive in the CRM.
        Inactive => "inactive",
        /// Left the company (turnover).
        Left => "left" | "departed" | "churned",
    }
);

text_enum!(
    /// Support ticket priority.
    Priority {
        /// Low.
        Low => "low",
        /// Normal.
        Normal => "normal" | "medium",
        /// High.
        High => "high",
        /// Urgent.
        Urgent => "urgent" | "critical",
    }
);

text_enum!(
    /// What a billing event records (Stripe semantics).
    BillingKind {
        /// An invoice was paid.
        InvoicePaid => "invoice_paid" | "invoice.paid" | "payment_succeeded",
        /// A payment attempt failed.
        PaymentFailed => "payment_failed" | "invoice.payment_failed",
        /// A subscription started.
        SubscriptionCreated => "subscription_created" | "customer.subscription.created",
        /// A subscription changed (plan, seats, price).
        SubscriptionUpdated => "subscription_updated" | "customer.subscription.updated",
        /// A subscription was cancelled.
        SubscriptionCancelled => "subscription_cancelled" | "subscription_canceled" | "customer.subscription.deleted",
        /// Seats were added or removed.
        SeatsChanged => "seats_changed",
        /// The plan changed to a cheaper one.
        Downgrade => "downgrade",
        /// The plan changed to a dearer one.
        Upgrade => "upgrade",
        /// Money was returned.
        Refund => "refund",
    }
);

text_enum!(
    /// A kind of interaction between the vendor and the customer.
    InteractionKind {
        /// A meeting took place.
        Meeting => "meeting" | "call",
        /// A QBR/EBR invitation was sent; `response` says what came of it.
        QbrInvite => "qbr_invite" | "qbr" | "ebr_invite",
        /// An email was sent to the customer.
        EmailSent => "email_sent",
        /// The customer replied or wrote.
        EmailReceived => "email_received" | "email_reply",
        /// An NPS survey answer; `score` is 0–10.
        Nps => "nps" | "nps_response",
    }
);

text_enum!(
    /// What came of an invitation or message.
    Response {
        /// Accepted.
        Accepted => "accepted" | "yes",
        /// Declined.
        Declined => "declined" | "no",
        /// No answer.
        Ignored => "ignored" | "no_response" | "none",
        /// Answered.
        Replied => "replied",
        /// Nothing to say.
        NotApplicable => "n/a" | "na",
    }
);

text_enum!(
    /// What happened to an account's contract.
    OutcomeKind {
        /// Renewed at the same value.
        Renewed => "renewed" | "renewal",
        /// Left.
        Churned => "churned" | "churn" | "cancelled",
        /// Renewed for less.
        Contracted => "contracted" | "contraction" | "downsell",
        /// Grew.
        Expanded => "expanded" | "expansion" | "upsell",
    }
);

impl OutcomeKind {
    /// The ARR change of an outcome whose size is `amount` (minor units, 0 or more): a churn or contraction
    /// loses it, an expansion gains it, a renewal keeps the ARR as it was.
    pub fn arr_change(self, amount: i64) -> i64 {
        match self {
            OutcomeKind::Churned | OutcomeKind::Contracted => -amount,
            OutcomeKind::Expanded => amount,
            OutcomeKind::Renewed => 0,
        }
    }

    /// Whether a signed ARR change agrees with the kind (a churn or contraction cannot gain ARR, an
    /// expansion cannot lose it; a renewal may carry either).
    pub fn agrees_with(self, arr_delta: i64) -> bool {
        match self {
            OutcomeKind::Churned | OutcomeKind::Contracted => arr_delta <= 0,
            OutcomeKind::Expanded => arr_delta >= 0,
            OutcomeKind::Renewed => true,
        }
    }
}

text_enum!(
    /// How urgent a signal is.
    Severity {
        /// Worth knowing.
        Low => "low",
        /// Act this week.
        Medium => "medium",
        /// Act today.
        High => "high",
        /// Revenue at immediate risk.
        Critical => "critical",
    }
);

text_enum!(
    /// Where a signal is in its life.
    SignalStatus {
        /// New, not yet looked at.
        Open => "open",
        /// Someone is on it.
        Acknowledged => "acknowledged",
        /// Hidden until a date.
        Snoozed => "snoozed",
        /// The condition cleared or was handled.
        Resolved => "resolved",
        /// Nobody acted and it aged out.
        Expired => "expired",
    }
);

/// A person at a customer account. Role, status and title change over time and live in the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// The contact id.
    pub id: ContactId,
    /// The account the contact works at.
    pub account_id: AccountId,
    /// Email address.
    pub email: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// When the contact was first seen.
    pub first_seen: Option<Timestamp>,
}

/// A product usage event (Segment `track` semantics). Events are rolled up into series on import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductEvent {
    /// The account the event is attributed to.
    pub account_id: AccountId,
    /// When it happened.
    pub at: Timestamp,
    /// The event name, such as `report_exported`.
    pub name: String,
    /// The user who did it.
    pub user_id: Option<String>,
    /// A numeric value (1 when absent).
    pub value: f64,
}

/// A support ticket with its text, for sentiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The help desk's ticket id.
    pub id: String,
    /// The account.
    pub account_id: AccountId,
    /// Who raised it.
    pub contact_id: Option<ContactId>,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// When it was closed, if it was.
    pub closed_at: Option<Timestamp>,
    /// Priority.
    pub priority: Priority,
    /// The help desk's status text (`open`, `pending`, `solved` …).
    pub status: String,
    /// Whether it was escalated.
    pub escalated: bool,
    /// Minutes to first response.
    pub first_response_minutes: Option<f64>,
    /// Minutes to resolution.
    pub resolution_minutes: Option<f64>,
    /// Whether an SLA was breached.
    pub sla_breached: bool,
    /// Satisfaction rating, 1–5.
    pub csat: Option<f64>,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Sentiment of subject and body, −1 to 1, scored on import.
    pub sentiment: Option<f64>,
    /// When Bellwether received it.
    pub received_at: Timestamp,
}

/// A billing event (Stripe semantics).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BillingEvent {
    /// The billing system's event id.
    pub id: String,
    /// The account.
    pub account_id: AccountId,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: BillingKind,
    /// Amount of the invoice or payment.
    pub amount: Option<Money>,
    /// Change of MRR in minor units.
    pub mrr_delta: Option<i64>,
    /// Change of seats.
    pub seats_delta: Option<i64>,
    /// Plan after the event.
    pub plan: Option<String>,
    /// When Bellwether received it.
    pub received_at: Timestamp,
}

/// A subscription: a plan bought for a period. A missing end is a running subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// The billing system's id, or one derived from account, plan and start.
    pub id: String,
    /// The account.
    pub account_id: AccountId,
    /// Plan name.
    pub plan: String,
    /// First day covered.
    pub start: Day,
    /// Day the subscription ended (exclusive); `None` while running.
    pub end: Option<Day>,
    /// Monthly recurring revenue.
    pub mrr: Money,
    /// Seats or units.
    pub quantity: i64,
    /// The billing term in days (30 monthly, 91 quarterly, 365 annual) when the source says it.
    #[serde(default)]
    pub term_days: Option<i32>,
    /// When Bellwether received it.
    pub received_at: Timestamp,
}

/// A touchpoint between vendor and customer: meeting, QBR invite, email, NPS answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// Its id.
    pub id: String,
    /// The account.
    pub account_id: AccountId,
    /// The person involved.
    pub contact_id: Option<ContactId>,
    /// When it happened.
    pub at: Timestamp,
    /// What it was.
    pub kind: InteractionKind,
    /// What came of it.
    pub response: Option<Response>,
    /// NPS score 0–10.
    pub score: Option<f64>,
    /// Subject or note.
    pub note: String,
    /// When Bellwether received it.
    pub received_at: Timestamp,
}

/// What happened at a contract's end: the labels models learn from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The account.
    pub account_id: AccountId,
    /// The day it happened.
    pub date: Day,
    /// What happened.
    pub kind: OutcomeKind,
    /// Change of ARR in minor units.
    pub arr_delta: Option<i64>,
    /// When Bellwether received it.
    pub received_at: Timestamp,
}

/// An account's attributes as of a day, typed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    /// The account id.
    pub id: AccountId,
    /// Display name.
    pub name: Option<String>,
    /// The owning CSM.
    pub owner: Option<String>,
    /// Segment.
    pub segment: Option<String>,
    /// Plan.
    pub plan: Option<String>,
    /// ARR.
    pub arr: Option<Money>,
    /// Seats purchased.
    pub seats: Option<i64>,
    /// Contract start.
    pub contract_start: Option<Day>,
    /// Next renewal.
    pub renewal_date: Option<Day>,
    /// Lifecycle stage.
    pub lifecycle_stage: Option<String>,
    /// Parent account.
    pub parent_id: Option<AccountId>,
    /// Custom attributes.
    pub extra: std::collections::BTreeMap<String, String>,
}

impl AccountView {
    /// Types a snapshot of attributes; unreadable known values are left out (they were validated on import).
    pub fn from_snapshot(id: AccountId, mut s: Snapshot) -> AccountView {
        let currency = s
            .remove(attr::CURRENCY)
            .and_then(|c| Currency::parse(&c).ok())
            .unwrap_or(Currency::USD);
        let day = |v: Option<String>| v.and_then(|v| Day::parse(&v).ok());
        AccountView {
            id,
            name: s.remove(attr::NAME),
            owner: s.remove(attr::OWNER),
            segment: s.remove(attr::SEGMENT),
            plan: s.remove(attr::PLAN),
            arr: s
                .remove(attr::ARR)
                .and_then(|v| v.parse().ok())
                .map(|minor| Money { minor, currency }),
            seats: s.remove(attr::SEATS).and_then(|v| v.parse().ok()),
            contract_start: day(s.remove(attr::CONTRACT_START)),
            renewal_date: day(s.remove(attr::RENEWAL_DATE)),
            lifecycle_stage: s.remove(attr::LIFECYCLE_STAGE),
            parent_id: s.remove(attr::PARENT_ID).map(AccountId),
            extra: s,
        }
    }
}

/// A contact's state as of a day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactView {
    /// The contact.
    pub contact: Contact,
    /// Role as of the day.
    pub role: Option<Role>,
    /// Status as of the day (active when never stated).
    pub status: ContactStatus,
    /// Title as of the day.
    pub title: Option<String>,
}

impl ContactView {
    /// Types a contact's attribute snapshot.
    pub fn from_snapshot(contact: Contact, s: &Snapshot) -> ContactView {
        ContactView {
            contact,
            role: s.get(attr::ROLE).and_then(|r| Role::parse(r).ok()),
            status: s
                .get(attr::STATUS)
                .and_then(|r| ContactStatus::parse(r).ok())
                .unwrap_or(ContactStatus::Active),
            title: s.get(attr::TITLE).cloned(),
        }
    }
}

/// A behavioural change worth someone's attention, with its evidence and reasons.
///
/// One signal stands for one condition on one account while it lasts: a pass that finds the condition again
/// updates it (`last_seen`, evidence, explanation) instead of raising a new one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Its id: `<account>:<kind>:<first day detected>`.
    pub id: String,
    /// The account.
    pub account_id: AccountId,
    /// The detector's kind name, such as `usage_drop`.
    pub kind: String,
    /// `risk` or `expansion`.
    pub direction: String,
    /// How urgent.
    pub severity: Severity,
    /// The as-of day of the pass that first found it.
    pub detected_at: Day,
    /// The as-of day of the latest pass that still found it.
    pub last_seen: Day,
    /// The numbers and what they were compared with (latest).
    pub evidence: serde_json::Value,
    /// The plain-words explanation (latest).
    pub explanation: String,
    /// What to do about it.
    pub suggested_action: String,
    /// Lifecycle status.
    pub status: SignalStatus,
    /// Who it is routed to (the account's owner when raised).
    pub owner: Option<String>,
    /// The day it was resolved or expired.
    pub resolved_at: Option<Day>,
    /// Hidden until this day when snoozed.
    pub snoozed_until: Option<Day>,
    /// Why it was snoozed, in the words of who snoozed it (while it is snoozed).
    #[serde(default)]
    pub snooze_reason: Option<String>,
    /// An alert was queued when it opened (or grew to the alerting severity): its clearing is sent when it
    /// closes, whatever its severity then, and only then.
    #[serde(default)]
    pub alerted: bool,
}

impl SignalStatus {
    /// The statuses of a signal that still asks for attention: open, acknowledged or snoozed.
    pub const ACTIVE: [SignalStatus; 3] = [
        SignalStatus::Open,
        SignalStatus::Acknowledged,
        SignalStatus::Snoozed,
    ];
}

impl Signal {
    /// Whether it still asks for attention (its status is one of [`SignalStatus::ACTIVE`]).
    pub fn is_active(&self) -> bool {
        SignalStatus::ACTIVE.contains(&self.status)
    }
}

/// The medians of one segment's accounts on a day, for comparing an account with its peers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerStats {
    /// Accounts in the segment.
    pub accounts: usize,
    /// Median seat utilisation (monthly active users / seats).
    pub utilisation: Option<f64>,
    /// Median events in 28 days per seat.
    pub events_per_seat: Option<f64>,
    /// Median ARR the segment's expansions of the last year added, as a share of the ARR before them (over
    /// the accounts that expanded): what an expansion is worth here when an account's seats do not say.
    #[serde(default)]
    pub expansion_share: Option<f64>,
}

text_enum!(
    /// Where the features an account's adoption is measured against were found common.
    CommonScope {
        /// The accounts on the account's plan.
        Plan => "plan",
        /// The accounts of its segment.
        Segment => "segment",
        /// The whole book.
        Book => "book",
    }
);

/// The features common to one group of accounts on a day: used in the 28 days before it by enough of the
/// group's active accounts (see `bellwether_features::adoption`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommonFeatures {
    /// Plan, segment or book.
    pub scope: CommonScope,
    /// The plan or segment (empty for the book).
    pub group: String,
    /// The usage source the feature names belong to.
    pub source: crate::series::UsageSource,
    /// Active accounts of the group whose usage comes from that source.
    pub accounts: usize,
    /// The common feature names, sorted.
    pub features: Vec<String>,
}

/// One part of a health score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthComponent {
    /// Its name, such as `usage`.
    pub name: String,
    /// 0–100, higher is healthier.
    pub score: f64,
    /// Weight after redistribution of missing components (weights of present components sum to 1).
    pub weight: f64,
    /// Why, in plain words, with the account's numbers.
    pub reason: String,
}

/// Bellwether's judgement of an account as of a day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The account.
    pub account_id: AccountId,
    /// The day assessed (facts before this day were used).
    pub as_of: Day,
    /// Health 0–100.
    pub health: f64,
    /// Its components.
    pub components: Vec<HealthComponent>,
    /// A risk proxy 0–1 derived from health: not a probability.
    pub risk_proxy: f64,
    /// Churn probability, once a model is trained.
    pub churn_probability: Option<f64>,
    /// Priority for the owner's worklist (higher first).
    pub priority: f64,
    /// One line on why this account ranks where it does.
    pub reason: String,
    /// The owning CSM as of the day.
    pub owner: Option<String>,
    /// ARR in minor units of the book's reporting currency (`[money]`), as ranked.
    pub arr_minor: Option<i64>,
    /// What the priority is computed from, with why this account and why now and the play to run; `None` on
    /// assessments stored before it was kept.
    #[serde(default)]
    pub impact: Option<Impact>,
}

/// What an account's priority is computed from (see `bellwether_engine::worklist::priority`): the money at
/// stake and the urgency the pass saw. Kept with its assessment, so a worklist read recomputes the priority
/// with the signals' statuses of that moment (acknowledged, snoozed) instead of the pass's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Impact {
    /// The reporting currency the amounts are in (ISO 4217 code; empty means USD).
    pub currency: String,
    /// ARR in the reporting currency, major units (0 when unknown).
    pub arr: f64,
    /// The churn risk ranked by: the default target's calibrated probability, or the rules score's risk proxy.
    pub churn: f64,
    /// The churn target in words (`churn before the next renewal`); `None` when `churn` is the risk proxy.
    pub churn_target: Option<String>,
    /// The expansion target's probability, when a model scored it.
    pub expansion: Option<f64>,
    /// The expansion target in words (`an expansion within 180 days`).
    pub expansion_target: Option<String>,
    /// What an expansion would add to ARR, major units of the reporting currency.
    pub potential: f64,
    /// Where `potential` comes from, in words (`6 seats of headroom at $1.2k a seat`).
    pub potential_basis: String,
    /// Days to the next renewal, when known.
    pub days_to_renewal: Option<i64>,
    /// Days since the freshest active signal was first detected.
    pub signal_age_days: Option<i64>,
    /// Days since the last meeting with the account.
    pub days_since_contact: Option<i64>,
    /// One sentence: why this account, and why now.
    pub why: String,
    /// The recommended play.
    pub play: String,
}

/// A play run on an account, from a playbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Play {
    /// Its id.
    pub id: String,
    /// The playbook's name.
    pub playbook: String,
    /// The account.
    pub account_id: AccountId,
    /// Who does it.
    pub assignee: Option<String>,
    /// When it is due.
    pub due: Option<Day>,
    /// `open`, `done`, `cancelled`.
    pub status: String,
    /// What came of it.
    pub result: Option<String>,
}

/// One reason behind a prediction, on the probability scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    /// The reason group (`usage`, `support`, `stakeholders` …).
    pub reason: String,
    /// Percentage points this reason adds to (or, negative, takes from) the probability; the drivers of a
    /// prediction sum to its probability minus the model's base probability.
    pub points: f64,
    /// The reason in words with the account's own numbers.
    pub text: String,
}

/// A model's prediction for an account on a day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The account.
    pub account_id: AccountId,
    /// The day scored (facts before it were used).
    pub as_of: Day,
    /// What is predicted (`churn_renewal`, `churn_90d`, `expansion_180d` …).
    pub target: String,
    /// Calibrated probability.
    pub probability: f64,
    /// The model's base probability (an account with average inputs).
    pub base_probability: f64,
    /// The model version that made it.
    pub model_version: i64,
    /// Every reason, largest first.
    pub drivers: Vec<Driver>,
}
