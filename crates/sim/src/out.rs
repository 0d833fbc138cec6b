//! The output files: their names and headers, and hand-written CSV formatting.
//!
//! Lines are formatted straight into byte buffers (no CSV library, no `format!` on the hot path). Text fields
//! that contain a comma, a quote or a line break are quoted per RFC 4180, with quotes doubled.

use crate::config::Profile;
use bellwether_core::time::Day;

/// One output file of the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum File {
    Accounts,
    AccountChanges,
    Contacts,
    Events,
    DailyMetrics,
    Subscriptions,
    Tickets,
    BillingEvents,
    Interactions,
    Outcomes,
    Truth,
}

impl File {
    /// The files in the order they are listed in the summary.
    pub const ALL: [File; 11] = [
        File::Accounts,
        File::AccountChanges,
        File::Contacts,
        File::Events,
        File::DailyMetrics,
        File::Subscriptions,
        File::Tickets,
        File::BillingEvents,
        File::Interactions,
        File::Outcomes,
        File::Truth,
    ];

    /// Path relative to the output folder.
    pub fn path(self) -> &'static str {
        match self {
            File::Accounts => "accounts.csv",
            File::AccountChanges => "account_changes.csv",
            File::Contacts => "contacts.csv",
            File::Events => "events.csv",
            File::DailyMetrics => "daily_metrics.csv",
            File::Subscriptions => "subscriptions.csv",
            File::Tickets => "tickets.csv",
            File::BillingEvents => "billing_events.csv",
            File::Interactions => "interactions.csv",
            File::Outcomes => "outcomes.csv",
            File::Truth => "truth/ground_truth.csv",
        }
    }

    /// The header line (without its line break).
    pub fn header(self) -> &'static str {
        match self {
            File::Accounts => {
                "account_id,name,owner,segment,plan,arr,currency,seats,contract_start,renewal_date,lifecycle_stage,valid_from,region,industry"
            }
            File::AccountChanges => "account_id,attribute,value,valid_from",
            File::Contacts => "contact_id,account_id,email,name,title,role,status,valid_from,first_seen",
            File::Events => "account_id,timestamp,event,user_id,value",
            File::DailyMetrics => "account_id,date,metric,value",
            File::Subscriptions => "subscription_id,account_id,plan,start_date,end_date,mrr,quantity,currency",
            File::Tickets => {
                "ticket_id,account_id,contact_id,opened_at,closed_at,priority,status,escalated,first_response_minutes,resolution_minutes,sla_breached,csat,subject,body"
            }
            File::BillingEvents => "event_id,account_id,timestamp,kind,amount,currency,mrr_delta,seats_delta,plan",
            File::Interactions => "interaction_id,account_id,timestamp,kind,contact_id,response,score,note",
            File::Outcomes => "account_id,date,kind,arr_delta",
            File::Truth => "account_id,archetype,trouble_start,outcome,outcome_date,segment,arr",
        }
    }

    /// The header line of this file in a book of `profile` (a self-serve `accounts.csv` has the columns of a
    /// sign-up).
    pub fn header_for(self, profile: Profile) -> &'static str {
        match (profile, self) {
            (Profile::SelfServe, File::Accounts) => crate::self_serve::ACCOUNTS_HEADER,
            // Self-serve billing systems state each subscription's interval, as Stripe does.
            (Profile::SelfServe, File::Subscriptions) => {
                "subscription_id,account_id,plan,start_date,end_date,mrr,quantity,currency,billing_period"
            }
            _ => self.header(),
        }
    }

    /// Whether a book of `profile` writes this file (`daily`: daily metrics instead of events).
    pub fn written(self, profile: Profile, daily: bool) -> bool {
        match self {
            File::Events => !daily,
            File::DailyMetrics => daily,
            File::Accounts | File::Subscriptions | File::Truth => true,
            _ => profile == Profile::B2b,
        }
    }

    /// Index into per-file arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Number of output files.
pub(crate) const FILES: usize = File::ALL.len();

/// Appends an unsigned integer.
#[inline]
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends a signed integer.
#[inline]
pub(crate) fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_u64(buf, v.unsigned_abs());
}

/// Appends an amount given in cents as decimal major units: `48000`, `1200.5` is written `1200.50`.
pub(crate) fn push_money(buf: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        buf.push(b'-');
    }
    let a = cents.unsigned_abs();
    push_u64(buf, a / 100);
    let c = a % 100;
    if c != 0 {
        buf.push(b'.');
        buf.push(b'0' + (c / 10) as u8);
        buf.push(b'0' + (c % 10) as u8);
    }
}

/// Appends a text field, quoted per RFC 4180 when it needs to be.
pub(crate) fn push_text(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

/// Appends `YYYY-MM-DD`.
pub(crate) fn push_day(buf: &mut Vec<u8>, d: Day) {
    let (y, m, dd) = d.civil();
    push_4(buf, y as u32);
    buf.push(b'-');
    push_2(buf, m);
    buf.push(b'-');
    push_2(buf, dd);
}

#[inline]
fn push_2(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'0' + (v / 10 % 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

#[inline]
fn push_4(buf: &mut Vec<u8>, v: u32) {
    push_2(buf, v / 100);
    push_2(buf, v % 100);
}

/// Appends the time part `THH:MM:SSZ` of an RFC 3339 UTC timestamp.
#[inline]
pub(crate) fn push_time_of_day(buf: &mut Vec<u8>, sec: u32) {
    let sec = sec % 86_400;
    buf.push(b'T');
    push_2(buf, sec / 3600);
    buf.push(b':');
    push_2(buf, sec / 60 % 60);
    buf.push(b':');
    push_2(buf, sec % 60);
    buf.push(b'Z');
}

/// Appends an RFC 3339 UTC timestamp for a day and a second of that day.
#[cfg(test)]
pub(crate) fn push_ts(buf: &mut Vec<u8>, d: Day, sec: u32) {
    push_day(buf, d);
    push_time_of_day(buf, sec);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads one RFC 4180 field back.
    fn unquote(b: &[u8]) -> String {
        let s = std::str::from_utf8(b).unwrap();
        match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) => inner.replace("\"\"", "\""),
            None => s.to_string(),
        }
    }

    proptest! {
        #[test]
        fn text_fields_round_trip(s in "[a-z ,\"\n\r\u{e9}]{0,40}") {
            let mut b = Vec::new();
            push_text(&mut b, &s);
            let quoted = b.first() == Some(&b'"');
            prop_assert_eq!(quoted, s.contains([',', '"', '\n', '\r']));
            prop_assert_eq!(unquote(&b), s);
        }

        #[test]
        fn money_reads_back(cents in -10_000_000_000i64..10_000_000_000) {
            let mut b = Vec::new();
            push_money(&mut b, cents);
            let v: f64 = std::str::from_utf8(&b).unwrap().parse().unwrap();
            prop_assert!((v * 100.0 - cents as f64).abs() < 0.5);
        }
    }

    #[test]
    fn formats() {
        let mut b = Vec::new();
        push_money(&mut b, 4_800_000);
        b.push(b' ');
        push_money(&mut b, 120_050);
        b.push(b' ');
        push_money(&mut b, -5);
        b.push(b' ');
        push_i64(&mut b, -42);
        b.push(b' ');
        push_text(&mut b, "plain");
        b.push(b' ');
        push_text(&mut b, "a, \"b\"\nc");
        b.push(b' ');
        push_ts(&mut b, Day::ymd(2025, 3, 4), 14 * 3600 + 3 * 60 + 11);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "48000 1200.50 -0.05 -42 plain \"a, \"\"b\"\"\nc\" 2025-03-04T14:03:11Z"
        );
    }
}
