//! CRM exports (Salesforce, HubSpot) read through a small mapping: which export column holds which canonical
//! field, and which values mean what. Accounts, contacts and opportunities (closed renewals as outcomes) go
//! through the import's own record validation ([`crate::records`]); a users export names the CRM's record
//! owners, so the owner columns of later exports (user ids, names) become the owners' emails.
//!
//! Headers are matched as the plain import matches them (case, spaces, dashes and dots do not matter). Only
//! the record's id and its account link must be in the export; other mapped columns that are absent are
//! reported and left out, and columns the mapping does not name are kept as custom account attributes. A bad
//! row is reported with its line and left out; the rest of the file is kept.
//!
//! Contacts carry stakeholder turnover: a contact whose status maps to `inactive` or `left`, or who was in
//! the previous contacts export of the same source and is missing from this one, gets a status change to
//! `left` (missing) or its mapped status, dated at the import, so the signals see a champion leave. A contact
//! whose row was rejected is not missing: it keeps its place in the list.

use crate::kind::{self, Kind};
use crate::records::{records_batch, RecordError};
use bellwether_core::history::{attr, AttrFact};
use bellwether_core::time::{EventTimeWindow, TimeReading};
use bellwether_core::{AccountId, Code, Timestamp};
use bellwether_store::{CrmUser, LiveBatch, LiveStore, StoreError};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A mapping file: `source` names the CRM (turnover compares exports of the same source).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The CRM's name, such as `salesforce`.
    pub source: String,
    /// Accounts export.
    pub accounts: Option<KindMapping>,
    /// Contacts export.
    pub contacts: Option<KindMapping>,
    /// Opportunities export; rows whose mapped `kind` is empty (open deals) are skipped.
    pub opportunities: Option<KindMapping>,
    /// Help-desk tickets export (Zendesk).
    pub tickets: Option<KindMapping>,
    /// Users export (`user_id`, `name`, `email`): the record owners, whose ids or names the owner column of the
    /// accounts export holds.
    pub users: Option<KindMapping>,
}

/// One export's columns and values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindMapping {
    /// Canonical field → export column header. Several columns joined by ` + ` have their values joined by a
    /// space (first and last name); alternatives separated by ` | ` are tried in order, the first the export
    /// has being read. Headers match ignoring case, spaces, dashes and dots.
    pub columns: BTreeMap<String, String>,
    /// Canonical field → (export value → canonical value), matched ignoring case and runs of spaces; a value
    /// not listed takes the `"*"` entry when there is one (and is reported), else is kept as it is; a value
    /// mapped to "" leaves the field blank.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// When the `account_id` column holds an account attribute rather than the id (`name`: Zendesk's
    /// Organization column), the attribute it holds; each value is matched to the one account whose latest
    /// attribute equals it, ignoring case and surrounding spaces.
    pub account_by: Option<String>,
}

/// A row that was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmRejected {
    /// Its position among the data rows (0 = the first).
    pub index: usize,
    /// Its line in the file (1 = the header), where the row starts.
    pub line: u64,
    /// The canonical field at fault, if one is.
    pub field: Option<&'static str>,
    /// What is wrong and what to do.
    pub message: String,
    /// The product error code.
    pub code: Code,
}

/// What a CRM import did.
#[derive(Debug, Default)]
pub struct CrmReport {
    /// Rows read.
    pub rows: usize,
    /// Records stored.
    pub stored: usize,
    /// Rows skipped on purpose (open opportunities).
    pub skipped: usize,
    /// Bad rows, in file order.
    pub rejected: Vec<CrmRejected>,
    /// Contacts marked left because they vanished from the export.
    pub left: usize,
    /// Accounts touched.
    pub touched: Vec<AccountId>,
    /// What the user should know that did not stop a row: mapped columns the export lacks, values the
    /// mapping does not list, owners not found among the users.
    pub notices: Vec<String>,
}

/// What an import of `what` reads into.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Records(Kind),
    Users,
}

impl Target {
    /// Canonical fields a mapping must find in the export: the record's id and its account link.
    fn required(self) -> Vec<&'static str> {
        match self {
            Target::Records(k) => k
                .columns()
                .iter()
                .filter(|c| c.required)
                .map(|c| c.name)
                .collect(),
            Target::Users => vec!["email"],
        }
    }
}

/// Accounts by one attribute's value (lowercased), for exports that name accounts rather than give their ids.
struct AccountsBy {
    attr: String,
    ids: FxHashMap<String, Vec<String>>,
}

impl AccountsBy {
    async fn load<S: LiveStore + ?Sized>(store: &S, attr: &str) -> Result<AccountsBy, String> {
        let mut ids: FxHashMap<String, Vec<String>> = Default::default();
        for (id, value) in store.account_attr(attr).await.map_err(|e| e.to_string())? {
            ids.entry(value.trim().to_lowercase())
                .or_default()
                .push(id.0);
        }
        Ok(AccountsBy {
            attr: attr.to_string(),
            ids,
        })
    }

    /// The id of the one account whose attribute is `value`.
    fn find(&self, value: &str) -> Result<String, String> {
        match self.ids.get(&value.trim().to_lowercase()).map(Vec::as_slice) {
            Some([id]) => Ok(id.clone()),
            Some(many) => Err(format!(
                "{} accounts have the {} '{value}' ({}); give them distinct {}s or export the account id",
                many.len(),
                self.attr,
                many.join(", "),
                self.attr
            )),
            None => Err(format!(
                "no account has the {} '{value}'; import the accounts first (their {} must match), or export \
                 the account id",
                self.attr, self.attr
            )),
        }
    }
}

/// A value's key for matching: lower case, runs of white space as one space.
fn value_key(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// One field's value table, keyed by [`value_key`].
struct ValueMap {
    map: FxHashMap<String, String>,
    rest: Option<String>,
}

/// A CRM source's users, for turning an owner column (user ids or names) into the owners' emails.
struct Owners {
    by_id: FxHashMap<String, String>,
    by_name: FxHashMap<String, Vec<String>>,
}

enum Owner {
    Found(String),
    Ambiguous(usize),
    Unknown,
}

impl Owners {
    fn new(users: Vec<CrmUser>) -> Owners {
        let mut by_id = FxHashMap::default();
        let mut by_name: FxHashMap<String, Vec<String>> = FxHashMap::default();
        for u in users {
            if let Some(id) = &u.id {
                by_id.insert(id.clone(), u.email.clone());
            }
            if let Some(n) = &u.name {
                let emails = by_name.entry(value_key(n)).or_default();
                if !emails.contains(&u.email) {
                    emails.push(u.email.clone());
                }
            }
        }
        Owners { by_id, by_name }
    }

    fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.by_name.is_empty()
    }

    fn find(&self, v: &str) -> Owner {
        if let Some(e) = self.by_id.get(v) {
            return Owner::Found(e.clone());
        }
        match self.by_name.get(&value_key(v)).map(Vec::as_slice) {
            Some([e]) => Owner::Found(e.clone()),
            Some(many) => Owner::Ambiguous(many.len()),
            None => Owner::Unknown,
        }
    }
}

/// Where a mapped column spec is in the header: the first alternative (` | `) whose columns (` + `) are all
/// there.
fn locate(spec: &str, header: &[String]) -> Option<Vec<usize>> {
    spec.split(" | ").find_map(|alt| {
        alt.split(" + ")
            .map(|c| {
                let c = kind::normalise(c);
                header.iter().position(|h| *h == c)
            })
            .collect()
    })
}

/// Counts of values a mapping sent to its `"*"` entry, by field.
type Unlisted = BTreeMap<String, BTreeMap<String, usize>>;

/// Imports one CRM export of `what` (`accounts`, `contacts`, `opportunities`, `tickets` or `users`) with a
/// mapping; event times (a ticket's opening, an outcome's date) are checked against `window`. An `Err` means
/// nothing of the file was stored (the mapping does not fit it, or the file cannot be read). Dates are read
/// under `reading`.
pub async fn import_crm<S: LiveStore + ?Sized>(
    store: &S,
    mapping: &Mapping,
    what: &str,
    path: &Path,
    window: &EventTimeWindow,
    reading: &TimeReading,
) -> Result<CrmReport, String> {
    let (target, m) = match what {
        "accounts" => (Target::Records(Kind::Accounts), mapping.accounts.as_ref()),
        "contacts" => (Target::Records(Kind::Contacts), mapping.contacts.as_ref()),
        "opportunities" => (
            Target::Records(Kind::Outcomes),
            mapping.opportunities.as_ref(),
        ),
        "tickets" => (Target::Records(Kind::Tickets), mapping.tickets.as_ref()),
        "users" => (Target::Users, mapping.users.as_ref()),
        other => {
            return Err(format!(
                "'{other}' is not accounts, contacts, opportunities, tickets or users"
            ))
        }
    };
    let m = m.ok_or_else(|| format!("the mapping for {} has no [{what}] table", mapping.source))?;
    let file = path.display();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("{file}: {e}"))?;
    let raw_header: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| format!("{file}: {e}"))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let header: Vec<String> = raw_header.iter().map(|h| kind::normalise(h)).collect();
    let width = header.len();
    let mut report = CrmReport::default();

    // Mapped fields the export has; the id and account link must be there, the others may be absent.
    let required = target.required();
    let mut cols: Vec<(String, Vec<usize>)> = Vec::new();
    let mut absent = Vec::new();
    for (field, spec) in &m.columns {
        match locate(spec, &header) {
            Some(idx) => cols.push((field.clone(), idx)),
            None if required.contains(&field.as_str()) => {
                return Err(format!(
                    "{file}: the export has no column '{spec}' (for {field}), which every row needs; export it, or \
                     edit the mapping's [{what}.columns] {field} to the export's header; the header has: {}",
                    raw_header.join(", ")
                ))
            }
            None => absent.push(format!("'{spec}' ({field})")),
        }
    }
    if !absent.is_empty() {
        report.notices.push(format!(
            "{file}: the export has no column {}: left out; add the column to the export to read it",
            absent.join(", ")
        ));
    }
    let values: BTreeMap<&str, ValueMap> = m
        .values
        .iter()
        .map(|(field, table)| {
            let mut map = FxHashMap::default();
            let mut rest = None;
            for (k, v) in table {
                if k == "*" {
                    rest = Some(v.clone());
                } else {
                    map.insert(value_key(k), v.clone());
                }
            }
            (field.as_str(), ValueMap { map, rest })
        })
        .collect();
    // Columns the mapping does not name are kept as custom account attributes (those whose name is a canonical
    // column of the kind are not: the mapping decides what those are).
    let used: FxHashSet<usize> = cols.iter().flat_map(|(_, i)| i.iter().copied()).collect();
    let extras: Vec<(usize, String)> = match target {
        Target::Records(Kind::Accounts) => header
            .iter()
            .enumerate()
            .filter(|(i, h)| {
                !used.contains(i)
                    && !h.is_empty()
                    && kind::resolve(Kind::Accounts, std::slice::from_ref(*h))
                        .iter()
                        .all(Option::is_none)
            })
            .map(|(i, h)| (i, h.clone()))
            .collect(),
        _ => Vec::new(),
    };
    let by = match &m.account_by {
        Some(a) => Some(AccountsBy::load(store, a).await?),
        None => None,
    };
    let owners = if target == Target::Records(Kind::Accounts) {
        Owners::new(
            store
                .crm_users(&mapping.source)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else {
        Owners::new(Vec::new())
    };
    let mut unknown_owners: BTreeMap<String, usize> = BTreeMap::new();
    let mut unlisted: Unlisted = BTreeMap::new();
    let mut records = Vec::new();
    let mut positions: Vec<(usize, u64)> = Vec::new();
    let mut rejected = Vec::new();
    // Contact ids of rejected rows: listed in the export, so not gone.
    let mut rejected_ids: Vec<(String, Option<String>)> = Vec::new();
    let field_of = |name: &str| cols.iter().find(|(f, _)| f == name).map(|(_, i)| i.clone());
    let id_cols = field_of("contact_id");
    let account_cols = field_of("account_id");
    let mut rec = csv::ByteRecord::new();
    let mut row = 0usize;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(format!(
                    "{file}:{}: {e}; nothing of the file was stored",
                    rdr.position().line()
                ))
            }
        }
        let index = row;
        row += 1;
        let line = rec.position().map_or(0, |p| p.line());
        report.rows += 1;
        let text = |i: usize| std::str::from_utf8(rec.get(i).unwrap_or(b"")).map(str::trim);
        let joined = |idx: &[usize]| -> Option<String> {
            let parts: Vec<&str> = idx
                .iter()
                .filter_map(|i| text(*i).ok())
                .filter(|v| !v.is_empty())
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        };
        let mut reject = |field: Option<&'static str>, message: String, code: Code| {
            rejected.push(CrmRejected {
                index,
                line,
                field,
                message,
                code,
            })
        };
        let problem = if rec.len() != width {
            Some(format!(
                "has {} fields where the header has {width}; check the quoting of text fields",
                rec.len()
            ))
        } else {
            (0..rec.len()).find(|i| text(*i).is_err()).map(|i| {
                format!(
                    "column {} ('{}') is not valid UTF-8; export the file as UTF-8",
                    i + 1,
                    raw_header.get(i).map_or("", String::as_str)
                )
            })
        };
        if let Some(message) = problem {
            reject(None, message, Code::InvalidRecord);
            if let Some(id) = id_cols.as_deref().and_then(joined) {
                rejected_ids.push((id, account_cols.as_deref().and_then(joined)));
            }
            continue;
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for (field, idx) in &cols {
            let Some(raw) = joined(idx) else { continue };
            let v = match values.get(field.as_str()) {
                Some(t) => match t.map.get(&value_key(&raw)) {
                    Some(v) => v.clone(),
                    None => match &t.rest {
                        Some(v) => {
                            *unlisted
                                .entry(field.clone())
                                .or_default()
                                .entry(raw.clone())
                                .or_default() += 1;
                            v.clone()
                        }
                        None => raw,
                    },
                },
                None => raw,
            };
            if !v.is_empty() {
                out.push((field.clone(), v));
            }
        }
        if target == Target::Records(Kind::Outcomes) && !out.iter().any(|(k, _)| k == "kind") {
            report.skipped += 1;
            continue;
        }
        if let Some(by) = &by {
            if let Some((_, v)) = out.iter_mut().find(|(k, _)| k == "account_id") {
                match by.find(v) {
                    Ok(id) => *v = id,
                    Err(message) => {
                        reject(Some("account_id"), message, Code::InvalidField);
                        continue;
                    }
                }
            }
        }
        if !owners.is_empty() {
            if let Some((_, v)) = out.iter_mut().find(|(k, _)| k == "owner") {
                match owners.find(v) {
                    Owner::Found(email) => *v = email,
                    Owner::Ambiguous(n) => {
                        reject(
                            Some("owner"),
                            format!(
                                "{n} users are named '{v}'; export the owner's id (or email) instead of the name"
                            ),
                            Code::InvalidField,
                        );
                        continue;
                    }
                    Owner::Unknown => *unknown_owners.entry(v.clone()).or_default() += 1,
                }
            }
        }
        for (i, name) in &extras {
            if let Ok(v) = text(*i) {
                if !v.is_empty() {
                    out.push((name.clone(), v.to_string()));
                }
            }
        }
        records.push(out);
        positions.push((index, line));
    }
    notice_unlisted(&mut report, &file.to_string(), &unlisted);
    if !unknown_owners.is_empty() {
        report.notices.push(format!(
            "{file}: {} owner(s) are not in the last users export of {} and are kept as written: {}; import \
             the users export (import-crm ... users FILE) to have owners' emails",
            unknown_owners.len(),
            mapping.source,
            list(&unknown_owners)
        ));
    }
    let now = Timestamp::now();
    let Target::Records(kind) = target else {
        return import_users(store, mapping, records, positions, rejected, report).await;
    };
    let (mut batch, errors) = records_batch(kind, &records, now, window, reading);
    let mut bad_records = FxHashSet::default();
    for e in errors {
        bad_records.insert(e.index);
        let (index, line) = positions[e.index];
        if kind == Kind::Contacts {
            let get = |k: &str| {
                records[e.index]
                    .iter()
                    .find(|(f, _)| f == k)
                    .map(|(_, v)| v.clone())
            };
            if let Some(id) = get("contact_id") {
                rejected_ids.push((id, get("account_id")));
            }
        }
        rejected.push(from_record(e, index, line));
    }
    report.stored = records.len() - bad_records.len();
    rejected.sort_by_key(|e| e.index);
    report.rejected = rejected;
    let mut live = LiveBatch::default();
    if kind == Kind::Contacts {
        let previous = store
            .crm_seen(&mapping.source)
            .await
            .map_err(|e| e.to_string())?;
        let mut current: Vec<(String, AccountId)> = batch
            .contacts
            .iter()
            .map(|c| (c.id.0.clone(), c.account_id.clone()))
            .collect();
        let mut ids: FxHashSet<String> = current.iter().map(|(c, _)| c.clone()).collect();
        for (id, account) in rejected_ids {
            if ids.insert(id.clone()) {
                match previous.get(&id).cloned().or(account.map(AccountId)) {
                    Some(a) => current.push((id, a)),
                    None => continue,
                }
            }
        }
        for (contact, account) in &previous {
            if !ids.contains(contact) {
                report.left += 1;
                batch.contact_attrs.push(AttrFact {
                    subject: contact.clone(),
                    attr: attr::STATUS.into(),
                    value: Some("left".into()),
                    valid_from: now,
                    received_at: now,
                });
                report.touched.push(account.clone());
            }
        }
        live.crm_seen = Some((mapping.source.clone(), current));
    }
    report.touched.extend(batch.accounts());
    report.touched.sort();
    report.touched.dedup();
    batch.source = file.to_string();
    live.batch = batch;
    store
        .write_live(live)
        .await
        .map_err(|e: StoreError| e.to_string())?;
    Ok(report)
}

fn from_record(e: RecordError, index: usize, line: u64) -> CrmRejected {
    CrmRejected {
        index,
        line,
        field: e.field,
        message: e.message,
        code: e.code,
    }
}

/// `'a' (3), 'b' (1)`, the commonest first, at most ten.
fn list(counts: &BTreeMap<String, usize>) -> String {
    let mut v: Vec<(&String, &usize)> = counts.iter().collect();
    v.sort_by_key(|(k, n)| (std::cmp::Reverse(**n), (*k).clone()));
    let mut s: Vec<String> = v
        .iter()
        .take(10)
        .map(|(k, n)| format!("'{k}' ({n} rows)"))
        .collect();
    if v.len() > 10 {
        s.push(format!("and {} more", v.len() - 10));
    }
    s.join(", ")
}

fn notice_unlisted(report: &mut CrmReport, file: &str, unlisted: &Unlisted) {
    for (field, counts) in unlisted {
        report.notices.push(format!(
            "{file}: {field} values the mapping does not list, taken by its \"*\" entry: {}; add them to \
             [values.{field}] to read them otherwise",
            list(counts)
        ));
    }
}

/// Stores a users export as the source's users, replacing the previous one.
async fn import_users<S: LiveStore + ?Sized>(
    store: &S,
    mapping: &Mapping,
    records: Vec<Vec<(String, String)>>,
    positions: Vec<(usize, u64)>,
    mut rejected: Vec<CrmRejected>,
    mut report: CrmReport,
) -> Result<CrmReport, String> {
    let mut users = Vec::new();
    for (rec, (index, line)) in records.into_iter().zip(positions) {
        let get = |k: &str| rec.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
        let bad = |field, message: &str| CrmRejected {
            index,
            line,
            field: Some(field),
            message: message.to_string(),
            code: Code::InvalidField,
        };
        let (id, name) = (get("user_id"), get("name"));
        match get("email") {
            None => rejected.push(bad("email", "is blank; a user is kept by their email")),
            Some(e) if !e.contains('@') => {
                rejected.push(bad("email", &format!("'{e}' is not an email address")))
            }
            Some(_) if id.is_none() && name.is_none() => rejected.push(bad(
                "user_id",
                "the row has neither a user id nor a name, so no owner can be matched to it",
            )),
            Some(email) => users.push(CrmUser { id, name, email }),
        }
    }
    report.stored = users.len();
    rejected.sort_by_key(|e| e.index);
    report.rejected = rejected;
    store
        .replace_crm_users(&mapping.source, users)
        .await
        .map_err(|e| e.to_string())?;
    Ok(report)
}
