//! The Monday list: a digest per CSM of the accounts to call first this week (ranked by expected impact, each
//! with why and the play), what changed since last week (signals opened and cleared, health that moved), by
//! email and Slack. `bellwether digest --owner X [--send]` shows or sends one now; the scheduler's `digest`
//! job queues each person's when their week starts in their time zone (`[delivery.digest]`, default Monday
//! 08:00), once: a digest's outbox id is its owner and week, so queuing it again changes nothing.

use crate::channels::email::esc;
use crate::channels::slack::cut;
use crate::people::People;
use crate::DeliveryConfig;
use bellwether_core::model::{Assessment, Signal, SignalStatus};
use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_engine::worklist::{worklist, Attention, WorklistItem};
use bellwether_store::{OutboxFilter, OutboxItem, OutboxState, SignalFilter, Store};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

/// `[delivery.digest]`: when the weekly digest goes out and what it holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigestConfig {
    /// The day it goes out, in each person's time zone (default `monday`).
    pub weekday: String,
    /// The hour it goes out (0–23, default 8).
    pub hour: i8,
    /// Accounts in its list (default 10).
    pub top: usize,
    /// Who it comes from by email (default `Bellwether <bellwether@localhost>`).
    pub from: Option<String>,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            weekday: "monday".into(),
            hour: 8,
            top: 10,
            from: None,
        }
    }
}

impl DigestConfig {
    /// The weekday, read; the error names the setting.
    pub fn weekday(&self) -> Result<jiff::civil::Weekday, String> {
        use jiff::civil::Weekday::*;
        Ok(match self.weekday.to_ascii_lowercase().as_str() {
            "monday" | "mon" => Monday,
            "tuesday" | "tue" => Tuesday,
            "wednesday" | "wed" => Wednesday,
            "thursday" | "thu" => Thursday,
            "friday" | "fri" => Friday,
            "saturday" | "sat" => Saturday,
            "sunday" | "sun" => Sunday,
            other => {
                return Err(format!(
                    "[delivery.digest] weekday = \"{other}\" is not a day of the week (monday … sunday)"
                ))
            }
        })
    }

    /// Checks the settings; the error names the one at fault.
    pub fn check(&self) -> Result<(), String> {
        self.weekday()?;
        if !(0..=23).contains(&self.hour) {
            return Err(format!(
                "[delivery.digest] hour = {} is not an hour of the day (0–23)",
                self.hour
            ));
        }
        if self.top == 0 || self.top > 100 {
            return Err(format!(
                "[delivery.digest] top = {} must be between 1 and 100",
                self.top
            ));
        }
        Ok(())
    }
}

/// A signal that opened or cleared during the week.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// The account.
    pub account_id: String,
    /// The signal's kind.
    pub kind: String,
    /// Its severity.
    pub severity: String,
    /// Its cause in words.
    pub explanation: String,
    /// The day it opened, or cleared.
    pub day: Day,
}

/// An alert held back from its reader during the week (their quiet hours, their daily cap), shown in the
/// digest instead.
#[derive(Clone, Debug, Serialize)]
pub struct Folded {
    /// The account.
    pub account_id: String,
    /// The signal's kind.
    pub kind: String,
    /// Its severity.
    pub severity: String,
    /// Its cause in words.
    pub explanation: String,
    /// Why it was held back.
    pub reason: String,
}

/// An account whose health moved by 10 points or more since a week before.
#[derive(Clone, Debug, Serialize)]
pub struct Move {
    /// The account.
    pub account_id: String,
    /// Health a week before.
    pub from: f64,
    /// Health now.
    pub to: f64,
}

/// One CSM's digest.
#[derive(Clone, Debug, Serialize)]
pub struct Digest {
    /// The CSM (as the accounts' `owner`).
    pub owner: String,
    /// The day of the assessments it is made from.
    pub as_of: Day,
    /// The ISO week it is for (`2026-W49`): with the owner, its identity.
    pub week: String,
    /// When it was built: the alerts folded after this are the next digest's.
    pub built_at: Timestamp,
    /// Accounts owned.
    pub accounts: usize,
    /// The accounts to call first, ranked by expected impact.
    pub items: Vec<WorklistItem>,
    /// Signals opened in the last 7 days, most severe first.
    pub opened: Vec<Change>,
    /// Signals that cleared in the last 7 days.
    pub cleared: Vec<Change>,
    /// Health that moved by 10 points or more since a week before, largest drop first.
    pub moved: Vec<Move>,
    /// Alerts held back from the owner since their previous digest, newest first.
    pub folded: Vec<Folded>,
}

/// The outbox kind of a digest.
pub const KIND: &str = "digest";

/// The outbox id of `owner`'s digest for `week` on `channel`: a digest queued twice is sent once.
pub fn entry_id(owner: &str, week: &str, channel: &str) -> String {
    format!("digest:{owner}:{week}:{channel}")
}

/// The ISO week of a date (`2026-W49`).
fn iso_week(d: jiff::civil::Date) -> String {
    let w = d.iso_week_date();
    format!("{}-W{:02}", w.year(), w.week())
}

/// When digests are built, and in whose time: `now`, read in each owner's time zone (their `[[people]]`
/// one, else `fallback`). A digest's week is its reader's, and so is the window of the alerts it folds in.
#[derive(Clone, Copy, Debug)]
pub struct When<'a> {
    /// The moment.
    pub now: Timestamp,
    /// The directory, for time zones.
    pub people: &'a People,
    /// The time zone of owners without one (the schedule's).
    pub fallback: &'a jiff::tz::TimeZone,
}

impl When<'_> {
    fn zone(&self, owner: &str) -> jiff::tz::TimeZone {
        self.people
            .get(owner)
            .map_or_else(|| self.fallback.clone(), |p| p.zone(self.fallback))
    }
}

/// The slot the schedule gave the previous digest of a reader in `zone`, for one built at `now`
/// (`[delivery.digest]` weekday and hour, a week before this week's): since when a digest shows the alerts
/// folded for them when their previous one is not in the outbox. `None` when the weekday setting is not one.
pub fn folded_since(
    config: &DigestConfig,
    now: Timestamp,
    zone: &jiff::tz::TimeZone,
) -> Option<Timestamp> {
    let weekday = config.weekday().ok()?;
    let local = jiff::Timestamp::from_millisecond(now.0)
        .ok()?
        .to_zoned(zone.clone());
    let date = local.date();
    let monday = date
        .checked_sub(jiff::Span::new().days(date.weekday().to_monday_zero_offset()))
        .ok()?;
    let slot = monday
        .checked_add(jiff::Span::new().days(weekday.to_monday_zero_offset() - 7))
        .ok()?
        .at(config.hour, 0, 0, 0)
        .to_zoned(zone.clone())
        .ok()?;
    Some(Timestamp(slot.timestamp().as_millisecond()))
}

/// The digests of `owners` (every owner of a current account with `None`) as of `when`, from the current
/// assessments, the assessments of a week before, the signals and the folded alerts, each read once for all
/// of them.
pub async fn build<S: Store + ?Sized>(
    store: &S,
    owners: Option<&[String]>,
    config: &DigestConfig,
    when: When<'_>,
) -> bellwether_store::Result<Vec<Digest>> {
    let top = config.top;
    let rows: Vec<Assessment> = match owners {
        Some([one]) => store.owner_assessments(one).await?,
        _ => store.assessments(None).await?,
    };
    let Some(as_of) = rows.iter().map(|a| a.as_of).max() else {
        return Ok(Vec::new());
    };
    let week_ago: HashMap<AccountId, f64> = store
        .assessments(Some(as_of.plus(-7)))
        .await?
        .into_iter()
        .map(|a| (a.account_id, a.health))
        .collect();
    let signals = store
        .signals(SignalFilter {
            accounts: match owners {
                Some([_]) => Some(rows.iter().map(|a| a.account_id.clone()).collect()),
                _ => None,
            },
            ..Default::default()
        })
        .await?;
    let mut by_account: HashMap<&AccountId, Vec<&Signal>> = HashMap::new();
    for s in &signals {
        by_account.entry(&s.account_id).or_default().push(s);
    }
    let attention: HashMap<AccountId, Attention> = rows
        .iter()
        .filter_map(|a| {
            let ss = by_account.get(&a.account_id)?;
            Some((
                a.account_id.clone(),
                Attention::of(ss.iter().copied(), a.as_of),
            ))
        })
        .collect();
    let mut by_owner: HashMap<&str, Vec<&Assessment>> = HashMap::new();
    for a in &rows {
        if let Some(o) = a.owner.as_deref() {
            if owners.is_none_or(|w| w.iter().any(|x| x == o)) {
                by_owner.entry(o).or_default().push(a);
            }
        }
    }
    let week_start = as_of.plus(-7);
    let mut names: Vec<&str> = by_owner.keys().copied().collect();
    names.sort_unstable();
    // Each reader's window of folded alerts: since their previous week's digest was built (so each folded
    // alert shows in one digest), else since that digest's slot; and the earliest of them, to read the
    // outbox from once.
    let zones: HashMap<&str, jiff::tz::TimeZone> =
        names.iter().map(|o| (*o, when.zone(o))).collect();
    let previous = previous_digests(store, &names, &zones, when.now).await?;
    let since: HashMap<&str, Timestamp> = names
        .iter()
        .map(|o| {
            let start = previous.get(*o).copied().unwrap_or_else(|| {
                folded_since(config, when.now, &zones[o]).unwrap_or(week_start.start())
            });
            (*o, start)
        })
        .collect();
    let earliest = since.values().copied().min().unwrap_or(week_start.start());
    let folded = folded_alerts(store, owners, earliest).await?;
    let mut out = Vec::new();
    for owner in names {
        let mine: Vec<Assessment> = by_owner[owner].iter().map(|a| (*a).clone()).collect();
        let items = worklist(&mine, Some(owner), top, &attention);
        let change = |s: &Signal, day: Day| Change {
            account_id: s.account_id.to_string(),
            kind: s.kind.clone(),
            severity: s.severity.as_str().to_string(),
            explanation: s.explanation.clone(),
            day,
        };
        let mut opened = Vec::new();
        let mut cleared = Vec::new();
        for a in &mine {
            for s in by_account.get(&a.account_id).into_iter().flatten() {
                if s.detected_at > week_start && s.detected_at <= as_of {
                    opened.push((s.severity, change(s, s.detected_at)));
                }
                if let (SignalStatus::Resolved | SignalStatus::Expired, Some(r)) =
                    (s.status, s.resolved_at)
                {
                    if r > week_start && r <= as_of {
                        cleared.push(change(s, r));
                    }
                }
            }
        }
        opened.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.day.cmp(&a.1.day))
                .then(a.1.account_id.cmp(&b.1.account_id))
        });
        cleared.sort_by(|a, b| b.day.cmp(&a.day).then(a.account_id.cmp(&b.account_id)));
        let mut moved: Vec<Move> = mine
            .iter()
            .filter_map(|a| {
                let from = *week_ago.get(&a.account_id)?;
                ((a.health - from).abs() >= 10.0).then(|| Move {
                    account_id: a.account_id.to_string(),
                    from,
                    to: a.health,
                })
            })
            .collect();
        moved.sort_by(|a, b| {
            (a.to - a.from)
                .total_cmp(&(b.to - b.from))
                .then(a.account_id.cmp(&b.account_id))
        });
        out.push(Digest {
            owner: owner.to_string(),
            as_of,
            week: local_week(when.now, &zones[owner]),
            built_at: when.now,
            accounts: mine.len(),
            items,
            opened: opened.into_iter().map(|(_, c)| c).collect(),
            cleared,
            moved,
            folded: folded
                .get(&bellwether_core::people::key(owner))
                .into_iter()
                .flatten()
                .filter(|(at, _)| *at >= since[owner])
                .map(|(_, f)| f.clone())
                .collect(),
        });
    }
    Ok(out)
}

/// When each of `owners`' digest of the week before the one `now` falls in (in their zone) was built, for
/// those the outbox holds one of, read in batches of ids.
async fn previous_digests<'a, S: Store + ?Sized>(
    store: &S,
    owners: &[&'a str],
    zones: &HashMap<&str, jiff::tz::TimeZone>,
    now: Timestamp,
) -> bellwether_store::Result<HashMap<&'a str, Timestamp>> {
    let week_before = Timestamp(now.0 - 7 * 86_400_000);
    let mut by_id: HashMap<String, &'a str> = HashMap::new();
    for &o in owners {
        let week = local_week(week_before, &zones[o]);
        for channel in [crate::channels::email::NAME, crate::channels::slack::NAME] {
            by_id.insert(entry_id(o, &week, channel), o);
        }
    }
    let ids: Vec<String> = by_id.keys().cloned().collect();
    let mut out: HashMap<&'a str, Timestamp> = HashMap::new();
    for chunk in ids.chunks(500) {
        let filter = OutboxFilter {
            kind: Some(KIND.into()),
            ids: Some(chunk.to_vec()),
            ..Default::default()
        };
        for e in store.outbox(&filter, chunk.len()).await? {
            if let Some(&o) = by_id.get(&e.item.id) {
                let t = out.entry(o).or_insert(e.item.created_at);
                *t = (*t).min(e.item.created_at);
            }
        }
    }
    Ok(out)
}

/// The alerts folded for each of `owners` (everyone's with `None`) since `since`, by lower-case recipient,
/// newest first, each alert once whatever the channels it was held back on, with when it was folded.
async fn folded_alerts<S: Store + ?Sized>(
    store: &S,
    owners: Option<&[String]>,
    since: Timestamp,
) -> bellwether_store::Result<HashMap<String, Vec<(Timestamp, Folded)>>> {
    let filter = |recipient: Option<String>| OutboxFilter {
        state: Some(OutboxState::Folded),
        kind: Some(crate::alerts::OPENED.into()),
        recipient,
        finished_since: Some(since),
        ..Default::default()
    };
    let entries = match owners {
        Some([one]) => store.outbox(&filter(Some(one.clone())), 10_000).await?,
        _ => store.outbox(&filter(None), usize::MAX).await?,
    };
    let mut out: HashMap<String, Vec<(Timestamp, Folded)>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        let Some(r) = e.item.recipient.clone() else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&e.item.payload) else {
            continue;
        };
        let s = &v["signal"];
        let t = |k: &str| s[k].as_str().unwrap_or("").to_string();
        if !seen.insert((r.clone(), t("id"))) {
            continue;
        }
        let at = e.delivered_at.unwrap_or(e.item.created_at);
        out.entry(r).or_default().push((
            at,
            Folded {
                account_id: t("account_id"),
                kind: t("kind"),
                severity: t("severity"),
                explanation: t("explanation"),
                reason: e.last_error,
            },
        ));
    }
    Ok(out)
}

/// How many of a list's lines a message shows before saying how many more there are.
const SHOWN: usize = 8;

/// The digest's subject line.
pub fn subject(d: &Digest) -> String {
    format!(
        "Your accounts for the week of {}: {} to call first",
        d.as_of,
        d.items.len()
    )
}

fn change_lines(d: &Digest) -> Vec<String> {
    let mut lines: Vec<String> = d
        .opened
        .iter()
        .take(SHOWN)
        .map(|c| {
            format!(
                "opened {}: {} {} ({}): {}",
                c.day,
                c.account_id,
                c.kind.replace('_', " "),
                c.severity,
                c.explanation
            )
        })
        .collect();
    if d.opened.len() > SHOWN {
        lines.push(format!(
            "and {} more signals opened",
            d.opened.len() - SHOWN
        ));
    }
    lines.extend(d.cleared.iter().take(SHOWN).map(|c| {
        format!(
            "cleared {}: {} {}",
            c.day,
            c.account_id,
            c.kind.replace('_', " ")
        )
    }));
    if d.cleared.len() > SHOWN {
        lines.push(format!("and {} more cleared", d.cleared.len() - SHOWN));
    }
    lines.extend(
        d.moved
            .iter()
            .take(SHOWN)
            .map(|m| format!("health of {}: {:.0} → {:.0}", m.account_id, m.from, m.to)),
    );
    lines.extend(d.folded.iter().take(SHOWN).map(|f| {
        format!(
            "held back for this list ({}): {} {} ({}): {}",
            f.reason,
            f.account_id,
            f.kind.replace('_', " "),
            f.severity,
            f.explanation
        )
    }));
    if d.folded.len() > SHOWN {
        lines.push(format!(
            "and {} more alerts held back",
            d.folded.len() - SHOWN
        ));
    }
    lines
}

/// The digest as plain text.
pub fn text(d: &Digest, link: Option<&str>) -> String {
    let mut out = format!(
        "{}\n\nRanked by expected impact across your {} accounts (as of {}).\n",
        subject(d),
        d.accounts,
        d.as_of
    );
    for it in &d.items {
        out.push_str(&format!(
            "\n{}. {}: {}\n   Why: {}\n",
            it.rank, it.account_id, it.arithmetic, it.reason
        ));
        if let Some(p) = &it.play {
            out.push_str(&format!("   Play: {p}\n"));
        }
    }
    let changes = change_lines(d);
    out.push_str("\nSince last week:\n");
    if changes.is_empty() {
        out.push_str("- nothing opened, cleared or moved by 10 points\n");
    }
    for c in changes {
        out.push_str(&format!("- {c}\n"));
    }
    if let Some(l) = link {
        out.push_str(&format!("\n{l}\n"));
    }
    out
}

/// The digest as HTML.
pub fn html(d: &Digest, link: Option<&str>) -> String {
    let items: String = d
        .items
        .iter()
        .map(|it| {
            format!(
                "<li><b>{}</b>: {}<br>Why: {}{}</li>",
                esc(&it.account_id),
                esc(&it.arithmetic),
                esc(&it.reason),
                it.play
                    .as_deref()
                    .map(|p| format!("<br>Play: {}", esc(p)))
                    .unwrap_or_default()
            )
        })
        .collect();
    let changes: String = change_lines(d)
        .iter()
        .map(|c| format!("<li>{}</li>", esc(c)))
        .collect();
    format!(
        "<!doctype html><html><body><h2>{}</h2><p>Ranked by expected impact across your {} accounts (as of {}).</p><ol>{items}</ol><h3>Since last week</h3><ul>{}</ul>{}</body></html>",
        esc(&subject(d)),
        d.accounts,
        d.as_of,
        if changes.is_empty() {
            "<li>nothing opened, cleared or moved by 10 points</li>".to_string()
        } else {
            changes
        },
        link.map(|l| format!("<p><a href=\"{}\">Open Bellwether</a></p>", esc(l)))
            .unwrap_or_default()
    )
}

/// A URL path segment: what is not unreserved percent-encoded (`@` kept, as addresses read better).
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Text for Slack's mrkdwn: the three characters it reads as markup escaped, as Slack asks.
fn mrkdwn(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Accounts a Slack digest shows: its other blocks (header, divider, changes, link) stay within Slack's 50.
const SLACK_ITEMS: usize = 45;

/// The digest as Slack Block Kit blocks (a header, one section per account, the week's changes).
pub fn blocks(d: &Digest, link: Option<&str>) -> serde_json::Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&subject(d), 150)}}),
    ];
    for it in d.items.iter().take(SLACK_ITEMS) {
        let mut body = format!(
            "*{}. {}*  {}\n{}",
            it.rank,
            mrkdwn(&it.account_id),
            mrkdwn(&it.arithmetic),
            mrkdwn(&it.reason)
        );
        if let Some(p) = &it.play {
            body.push_str(&format!("\n_Play:_ {}", mrkdwn(p)));
        }
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&body, 3000)}}));
    }
    let changes = change_lines(d);
    if !changes.is_empty() {
        blocks.push(json!({"type": "divider"}));
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&format!("*Since last week*\n{}", changes.iter().map(|c| format!("• {}", mrkdwn(c))).collect::<Vec<_>>().join("\n")), 3000)}}));
    }
    if let Some(l) = link {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("<{l}|Open Bellwether>")}]}));
    }
    // Slack allows 50 blocks in a message (the items are capped above).
    blocks.truncate(50);
    serde_json::Value::Array(blocks)
}

/// The outbox entries that send a digest: by email to the owner (when a mail server is configured) and to
/// the Slack destination their `[[people]]` entry names. Ids are `digest:<owner>:<week>:<channel>`, so a
/// digest queued twice is sent once.
pub fn entries(d: &Digest, config: &DeliveryConfig, people: &People) -> Vec<OutboxItem> {
    let person = people.get(&d.owner);
    if person.is_some_and(|p| p.digest == Some(false)) {
        return Vec::new();
    }
    let link = config.public_url.as_deref().map(|u| {
        format!(
            "{}/v1/worklists/{}",
            u.trim_end_matches('/'),
            path_segment(&d.owner)
        )
    });
    let payload = json!({
        "type": "digest",
        "owner": d.owner,
        "week": d.week,
        "as_of": d.as_of.to_string(),
        "subject": subject(d),
        "text": text(d, link.as_deref()),
        "html": html(d, link.as_deref()),
        "blocks": blocks(d, link.as_deref()),
        "from": config.digest.from,
    })
    .to_string();
    let mut out = Vec::new();
    let mut push = |channel: &str, destination: String| {
        out.push(OutboxItem {
            id: entry_id(&d.owner, &d.week, channel),
            channel: channel.into(),
            destination,
            account_id: None,
            kind: KIND.into(),
            payload: payload.clone(),
            created_at: d.built_at,
            recipient: Some(bellwether_core::people::key(&d.owner)),
        });
    };
    for (channel, destination) in crate::alerts::personal_routes(config, &d.owner, person, false) {
        push(channel, destination);
    }
    out
}

/// The ISO week `now` falls in for a person in `zone` (`2026-W49`): a digest's week is its reader's.
pub fn local_week(now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_millisecond(now.0) {
        Ok(t) => iso_week(t.to_zoned(zone.clone()).date()),
        Err(_) => "unknown-week".into(),
    }
}

/// Builds the digests of `owners` (everyone with `None`) and queues their entries in the outbox, each for
/// the week `now` falls in for its owner (in their `[[people]]` time zone, else `fallback`); returns the
/// digests and the entries decided (one already queued for its owner and week stays as it was).
pub async fn queue<S: Store + ?Sized>(
    store: &S,
    owners: Option<&[String]>,
    config: &DeliveryConfig,
    people: &People,
    now: Timestamp,
    fallback: &jiff::tz::TimeZone,
) -> bellwether_store::Result<(Vec<Digest>, usize)> {
    let when = When {
        now,
        people,
        fallback,
    };
    let digests = build(store, owners, &config.digest, when).await?;
    let items: Vec<OutboxItem> = digests
        .iter()
        .flat_map(|d| entries(d, config, people))
        .collect();
    let n = items.len();
    store.save_signals(&[], &items).await?;
    Ok((digests, n))
}

/// The owners whose digest is due at `now`: those whose week has started in their time zone (the configured
/// weekday, at or after the configured hour, `fallback` for people without one). Every owner of the book
/// counts, not only those in `[[people]]`.
pub fn due_owners(
    owners: &[String],
    config: &DeliveryConfig,
    people: &People,
    fallback: &jiff::tz::TimeZone,
    now: Timestamp,
) -> Vec<String> {
    let Ok(weekday) = config.digest.weekday() else {
        return Vec::new();
    };
    let Ok(at) = jiff::Timestamp::from_millisecond(now.0) else {
        return Vec::new();
    };
    owners
        .iter()
        .filter(|o| {
            let tz = people
                .get(o)
                .map_or_else(|| fallback.clone(), |p| p.zone(fallback));
            let local = at.to_zoned(tz);
            local.weekday() == weekday && local.hour() >= config.digest.hour
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp(s.parse::<jiff::Timestamp>().unwrap().as_millisecond())
    }

    #[test]
    fn folded_alerts_are_shown_since_the_previous_digests_slot() {
        let monday_8 = DigestConfig::default();
        let utc = jiff::tz::TimeZone::UTC;
        // Built at this week's slot, or later in the week: since last week's slot.
        for now in [
            "2026-11-30T08:00:00Z",
            "2026-12-02T15:00:00Z",
            "2026-12-06T23:59:00Z",
        ] {
            assert_eq!(
                folded_since(&monday_8, at(now), &utc),
                Some(at("2026-11-23T08:00:00Z")),
                "{now}"
            );
        }
        // In the reader's zone: 08:00 in Los Angeles, across the end of summer time (2026-11-01).
        let la = jiff::tz::TimeZone::get("America/Los_Angeles").unwrap();
        assert_eq!(
            folded_since(&monday_8, at("2026-11-02T17:00:00Z"), &la),
            Some(at("2026-10-26T15:00:00Z"))
        );
        // A Friday digest built on the Wednesday before it: since last Friday's.
        let friday = DigestConfig {
            weekday: "friday".into(),
            hour: 9,
            ..Default::default()
        };
        assert_eq!(
            folded_since(&friday, at("2026-12-02T10:00:00Z"), &utc),
            Some(at("2026-11-27T09:00:00Z"))
        );
        let bad = DigestConfig {
            weekday: "someday".into(),
            ..Default::default()
        };
        assert_eq!(folded_since(&bad, at("2026-12-02T10:00:00Z"), &utc), None);
    }
}
