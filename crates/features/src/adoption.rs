//! Adoption measured against the features that are common where an account lives, not against every name the
//! book has ever seen: one account sending nine extra event names must not turn everyone else's "3 of 3
//! features" into "3 of 12".
//!
//! A feature is common in a group when, in the 28 days before the day, at least `common_share` (default 20%)
//! of the group's active accounts used it, and at least `min_accounts` (default 5) of them did: a name used by
//! fewer accounts never counts against anyone. Groups are taken per usage source (event names and imported
//! daily metric names are never mixed). An account is measured against the common features of its plan; when
//! none is common there (no plan, or too few accounts on it), those of its segment; else those of the book.
//!
//! An account's own use of features that are not common does not change the ratio, so accounts with the same
//! use of the common features score the same; the health reason names them beside it ("and 9 other features").
//!
//! Like the segment medians ([`crate::peers`]), the common features are computed by a full pass from every
//! account's features ([`common_features`]), then applied to each account ([`apply`]); they are stored with
//! their day, and a pass over a few accounts applies those of the latest full pass not after its own day.

use crate::AccountFeatures;
use bellwether_core::model::{CommonFeatures, CommonScope};
use bellwether_core::series::UsageSource;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// `[features]`: what makes a feature common.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdoptionConfig {
    /// Share of a group's active accounts that must use a feature for it to be common (0.2 = 20%).
    pub common_share: f64,
    /// Fewest accounts that must use a feature for it to count against others.
    pub min_accounts: usize,
}

impl Default for AdoptionConfig {
    fn default() -> Self {
        AdoptionConfig {
            common_share: 0.2,
            min_accounts: 5,
        }
    }
}

impl AdoptionConfig {
    /// Checks the values, naming the bad key.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.common_share > 0.0 && self.common_share <= 1.0) {
            return Err(format!(
                "features.common_share = {}: a share must be more than 0 and at most 1 (0.2 = 20% of accounts)",
                self.common_share
            ));
        }
        if self.min_accounts == 0 {
            return Err(
                "features.min_accounts = 0: at least one account must use a feature".into(),
            );
        }
        Ok(())
    }
}

type Key = (CommonScope, String, UsageSource);

/// The common features of every group, looked up by scope, group and source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Common {
    groups: BTreeMap<Key, CommonFeatures>,
}

impl Common {
    /// From stored rows.
    pub fn from_rows(rows: impl IntoIterator<Item = CommonFeatures>) -> Common {
        Common {
            groups: rows
                .into_iter()
                .map(|c| ((c.scope, c.group.clone(), c.source), c))
                .collect(),
        }
    }

    /// The rows to store.
    pub fn rows(&self) -> Vec<CommonFeatures> {
        self.groups.values().cloned().collect()
    }

    /// Whether no group has any common feature.
    pub fn is_empty(&self) -> bool {
        self.groups.values().all(|g| g.features.is_empty())
    }

    /// The group an account is measured against: its plan's, else its segment's, else the book's, the first
    /// with a common feature of the account's source.
    pub fn for_account(&self, f: &AccountFeatures) -> Option<&CommonFeatures> {
        let source = f.usage.source?;
        [
            (CommonScope::Plan, f.plan.as_deref()),
            (CommonScope::Segment, f.segment.as_deref()),
            (CommonScope::Book, Some("")),
        ]
        .into_iter()
        .filter_map(|(scope, group)| self.groups.get(&(scope, group?.to_string(), source)))
        .find(|g| !g.features.is_empty())
    }
}

/// The common features of every plan, segment and the book, from the features of all accounts on one day
/// (those still customers with usage). The book's group is kept even when nothing is common in it, so a stored
/// day always says what it found.
pub fn common_features<'a>(
    features: impl IntoIterator<Item = &'a AccountFeatures>,
    cfg: &AdoptionConfig,
) -> Common {
    let mut counts: BTreeMap<Key, (usize, BTreeMap<&'a str, usize>)> = BTreeMap::new();
    for f in features.into_iter().filter(|f| !f.churned) {
        let Some(source) = f.usage.source else {
            continue;
        };
        let groups = [
            (CommonScope::Plan, f.plan.as_deref()),
            (CommonScope::Segment, f.segment.as_deref()),
            (CommonScope::Book, Some("")),
        ];
        for (scope, group) in groups {
            let Some(group) = group else { continue };
            let e = counts
                .entry((scope, group.to_string(), source))
                .or_default();
            e.0 += 1;
            for name in &f.usage.features_used {
                *e.1.entry(name.as_str()).or_default() += 1;
            }
        }
    }
    let groups = counts
        .into_iter()
        .map(|((scope, group, source), (accounts, users))| {
            let need = (cfg.common_share * accounts as f64).max(cfg.min_accounts as f64);
            let features: Vec<String> = users
                .into_iter()
                .filter(|(_, n)| *n as f64 >= need - 1e-9)
                .map(|(name, _)| name.to_string())
                .collect();
            let key = (scope, group.clone(), source);
            (
                key,
                CommonFeatures {
                    scope,
                    group,
                    source,
                    accounts,
                    features,
                },
            )
        })
        .filter(|(k, g)| k.0 == CommonScope::Book || !g.features.is_empty())
        .collect();
    Common { groups }
}

/// Where a group's features were common, in words: `on the Pro plan`, `in the smb segment`, `in the book`.
pub fn words(g: &CommonFeatures) -> String {
    match g.scope {
        CommonScope::Plan => format!("on the {} plan", g.group),
        CommonScope::Segment => format!("in the {} segment", g.group),
        CommonScope::Book => "in the book".to_string(),
    }
}

/// Sets an account's breadth: the share of the features common where it lives that it used in the last 28
/// days. Without any common feature for it, breadth is missing (the adoption component drops out).
pub fn apply(f: &mut AccountFeatures, common: &Common) {
    let u = &mut f.usage;
    (u.breadth, u.common_features, u.common_used, u.common_where) = (None, None, None, None);
    let Some(g) = common.for_account(f) else {
        return;
    };
    let used: BTreeSet<&str> = f.usage.features_used.iter().map(String::as_str).collect();
    let hit = g
        .features
        .iter()
        .filter(|n| used.contains(n.as_str()))
        .count() as f64;
    let total = g.features.len() as f64;
    let place = words(g);
    let u = &mut f.usage;
    u.breadth = Some(hit / total);
    u.common_features = Some(total);
    u.common_used = Some(hit);
    u.common_where = Some(place);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(plan: Option<&str>, seg: &str, used: &[&str]) -> AccountFeatures {
        let mut f = AccountFeatures {
            plan: plan.map(String::from),
            segment: Some(seg.into()),
            ..Default::default()
        };
        f.usage.source = Some(UsageSource::Events);
        f.usage.features_used = used.iter().map(|s| s.to_string()).collect();
        f
    }

    #[test]
    fn a_rare_name_never_counts_against_others_and_plans_come_first() {
        let core = ["login", "report", "share"];
        let mut book: Vec<AccountFeatures> =
            (0..29).map(|_| acct(Some("Pro"), "smb", &core)).collect();
        let mut odd: Vec<&str> = core.to_vec();
        let extra: Vec<String> = (0..9).map(|i| format!("extra_{i}")).collect();
        odd.extend(extra.iter().map(String::as_str));
        book.push(acct(Some("Pro"), "smb", &odd));
        let common = common_features(&book, &AdoptionConfig::default());
        let mut f = acct(Some("Pro"), "smb", &core);
        apply(&mut f, &common);
        assert_eq!(
            (f.usage.breadth, f.usage.common_features),
            (Some(1.0), Some(3.0))
        );
        assert_eq!(f.usage.common_where.as_deref(), Some("on the Pro plan"));
        // The odd account is measured against the same three; its own names do not change the ratio.
        let mut o = book.last().unwrap().clone();
        apply(&mut o, &common);
        assert_eq!(o.usage.breadth, Some(1.0));
        // No plan: the segment's; a segment nobody else is in: the book's.
        let mut s = acct(None, "smb", &core[..2]);
        apply(&mut s, &common);
        assert_eq!(s.usage.common_where.as_deref(), Some("in the smb segment"));
        assert!((s.usage.breadth.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        let mut b = acct(Some("Solo"), "mid", &core[..1]);
        apply(&mut b, &common);
        assert_eq!(b.usage.common_where.as_deref(), Some("in the book"));
        // Fewer than five users is never common, whatever the share; too few accounts give nothing at all.
        let small: Vec<_> = (0..4).map(|_| acct(Some("Pro"), "smb", &core)).collect();
        let c = common_features(&small, &AdoptionConfig::default());
        assert!(c.is_empty());
        let mut f = acct(Some("Pro"), "smb", &core);
        apply(&mut f, &c);
        assert_eq!(f.usage.breadth, None);
        assert_eq!(
            Common::from_rows(common.rows()),
            common,
            "stored rows round-trip"
        );
    }

    #[test]
    fn the_share_is_of_the_groups_active_accounts() {
        // 30 accounts; `export` used by 5 of them (17%): not common at 20%, common at 10%.
        let book: Vec<AccountFeatures> = (0..30)
            .map(|i| {
                if i < 5 {
                    acct(Some("Pro"), "smb", &["login", "export"])
                } else {
                    acct(Some("Pro"), "smb", &["login"])
                }
            })
            .collect();
        let at = |share| {
            let c = common_features(
                &book,
                &AdoptionConfig {
                    common_share: share,
                    min_accounts: 5,
                },
            );
            let mut f = acct(Some("Pro"), "smb", &["login"]);
            apply(&mut f, &c);
            f.usage.common_features
        };
        assert_eq!(at(0.2), Some(1.0));
        assert_eq!(at(0.1), Some(2.0));
        assert!(AdoptionConfig {
            common_share: 1.5,
            min_accounts: 5
        }
        .validate()
        .unwrap_err()
        .contains("features.common_share"));
    }
}
