//! CRM exports (Salesforce, HubSpot) read through a small mapping: which export column holds which canonical
//! field, and which values mean what. Accounts, contacts and opportunities (closed renewals as outcomes) go
//! through the import's own record validation ([`crate::records`]).
//!
//! Contacts carry stakeholder turnover: a contact whose status maps to `inactive` or `left`, or who was in
//! the previous contacts export of the same source and is missing from this one, gets a status change to
//! `left` (missing) or its mapped status, dated at the import, so the signals see a champion leave.

use crate::records::{records_batch, RecordError};
use crate::Kind;
use bellwether_core::history::{attr, AttrFact};
use bellwether_core::time::{EventTimeWindow, TimeReading};
use bellwether_core::Timestamp;
use bellwether_store::{LiveBatch, LiveStore, StoreError};
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
}

/// One export's columns and values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindMapping {
    /// Canonical field → export column header (or several joined by ` + `, their values joined by a space).
    pub columns: BTreeMap<String, String>,
    /// Canonical field → (export value → canonical value); a value not listed takes the `"*"` entry when
    /// there is one, else is kept as it is; a value mapped to "" leaves the field blank.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// When the `account_id` column holds an account attribute rather than the id (`name`: Zendesk's
    /// Organization column), the attribute it holds; each value is matched to the one account whose latest
    /// attribute equals it, ignoring case and surrounding spaces.
    pub account_by: Option<String>,
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
    /// Bad rows, by position (0 = first data row).
    pub rejected: Vec<RecordError>,
    /// Contacts marked left because they vanished from the export.
    pub left: usize,
    /// Accounts touched.
    pub touched: Vec<bellwether_core::AccountId>,
}

/// Accounts by one attribute's value (lowercased), for exports that name accounts rather than give their ids.
struct AccountsBy {
    attr: String,
    ids: rustc_hash::FxHashMap<String, Vec<String>>,
}

impl AccountsBy {
    async fn load<S: LiveStore + ?Sized>(store: &S, attr: &str) -> Result<AccountsBy, String> {
        let mut ids: rustc_hash::FxHashMap<String, Vec<String>> = Default::default();
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

/// Imports one CRM export of `what` (`accounts`, `contacts` or `opportunities`) with a mapping; event times
/// (a ticket's opening, an outcome's date) are checked against `window`; dates are read under `reading`.
pub async fn import_crm<S: LiveStore + ?Sized>(
    store: &S,
    mapping: &Mapping,
    what: &str,
    path: &Path,
    window: &EventTimeWindow,
    reading: &TimeReading,
) -> Result<CrmReport, String> {
    let (kind, m) = match what {
        "accounts" => (Kind::Accounts, mapping.accounts.as_ref()),
        "contacts" => (Kind::Contacts, mapping.contacts.as_ref()),
        "opportunities" => (Kind::Outcomes, mapping.opportunities.as_ref()),
        "tickets" => (Kind::Tickets, mapping.tickets.as_ref()),
        other => {
            return Err(format!(
                "'{other}' is not accounts, contacts, opportunities or tickets"
            ))
        }
    };
    let m = m.ok_or_else(|| format!("the mapping for {} has no [{what}] table", mapping.source))?;
    let mut rdr = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    // A field may join several columns with ` + ` (first and last name).
    let mut cols: Vec<(String, Vec<usize>)> = Vec::new();
    for (field, spec) in &m.columns {
        let mut idx = Vec::new();
        for column in spec.split(" + ") {
            idx.push(header.iter().position(|h| h == column.trim()).ok_or_else(|| {
                format!("{}: the mapping's column '{column}' (for {field}) is not in the header; the header has: {}", path.display(), header.join(", "))
            })?);
        }
        cols.push((field.clone(), idx));
    }
    let by = match &m.account_by {
        Some(a) => Some(AccountsBy::load(store, a).await?),
        None => None,
    };
    let mut report = CrmReport::default();
    let mut records = Vec::new();
    let mut positions = Vec::new();
    let mut unmatched = Vec::new();
    for (row, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        report.rows += 1;
        let mut out: Vec<(String, String)> = Vec::new();
        for (field, idx) in &cols {
            let parts: Vec<&str> = idx
                .iter()
                .map(|i| rec.get(*i).unwrap_or("").trim())
                .filter(|v| !v.is_empty())
                .collect();
            let raw = parts.join(" ");
            let raw = raw.as_str();
            let v = match m.values.get(field) {
                Some(t) => t
                    .get(raw)
                    .or_else(|| t.get("*"))
                    .map(String::as_str)
                    .unwrap_or(raw),
                None => raw,
            };
            if !v.is_empty() {
                out.push((field.clone(), v.to_string()));
            }
        }
        if kind == Kind::Outcomes && !out.iter().any(|(k, _)| k == "kind") {
            report.skipped += 1;
            continue;
        }
        if let Some(by) = &by {
            if let Some((_, v)) = out.iter_mut().find(|(k, _)| k == "account_id") {
                match by.find(v) {
                    Ok(id) => *v = id,
                    Err(message) => {
                        unmatched.push(RecordError {
                            index: row,
                            field: Some("account_id"),
                            message,
                            code: bellwether_core::Code::InvalidField,
                        });
                        continue;
                    }
                }
            }
        }
        records.push(out);
        positions.push(row);
    }
    let now = Timestamp::now();
    let (mut batch, errors) = records_batch(kind, &records, now, window, reading);
    report.rejected = errors
        .into_iter()
        .map(|mut e| {
            e.index = positions[e.index];
            e
        })
        .collect();
    report.stored = records.len() - report.rejected.len();
    report.rejected.extend(unmatched);
    report.rejected.sort_by_key(|e| e.index);
    let mut live = LiveBatch::default();
    if kind == Kind::Contacts {
        let previous = store
            .crm_seen(&mapping.source)
            .await
            .map_err(|e| e.to_string())?;
        let current: Vec<(String, bellwether_core::AccountId)> = batch
            .contacts
            .iter()
            .map(|c| (c.id.0.clone(), c.account_id.clone()))
            .collect();
        let ids: rustc_hash::FxHashSet<&str> = current.iter().map(|(c, _)| c.as_str()).collect();
        for (contact, account) in &previous {
            if !ids.contains(contact.as_str()) {
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
    batch.source = path.display().to_string();
    live.batch = batch;
    store
        .write_live(live)
        .await
        .map_err(|e: StoreError| e.to_string())?;
    Ok(report)
}
