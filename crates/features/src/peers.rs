//! Segment peers: how an account's seat utilisation and usage per seat compare with the accounts of its
//! segment on the same day.
//!
//! A full pass computes every account's features first, takes the median of each segment from them
//! ([`peer_stats`]), then sets each account's ratio to its segment's median ([`apply`]). The medians are stored
//! with their day; a pass over a few accounts reads the latest medians of a day not after its own. Segments
//! with fewer than [`MIN_PEERS`] accounts, and accounts without a segment, get no comparison.

use crate::AccountFeatures;
use bellwether_core::model::PeerStats;
use std::collections::BTreeMap;

/// Accounts a segment needs before its median means anything.
pub const MIN_PEERS: usize = 5;

/// Medians by segment.
pub type Peers = BTreeMap<String, PeerStats>;

/// Median of the values (NaN-free), `None` when there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Events in the last 28 days per seat bought.
pub fn events_per_seat(f: &AccountFeatures) -> Option<f64> {
    match (f.usage.events_28d, f.seats) {
        (Some(e), Some(s)) if s > 0 => Some(e / s as f64),
        _ => None,
    }
}

/// The medians of each segment over the given accounts (those still customers).
pub fn peer_stats<'a>(features: impl IntoIterator<Item = &'a AccountFeatures>) -> Peers {
    type Samples = (usize, Vec<f64>, Vec<f64>, Vec<f64>);
    let mut by: BTreeMap<String, Samples> = BTreeMap::new();
    for f in features.into_iter().filter(|f| !f.churned) {
        let Some(seg) = &f.segment else { continue };
        let e = by.entry(seg.clone()).or_default();
        e.0 += 1;
        e.1.extend(f.usage.utilisation);
        e.2.extend(events_per_seat(f));
        e.3.extend(f.expansion_share_365d);
    }
    by.into_iter()
        .filter(|(_, (n, ..))| *n >= MIN_PEERS)
        .map(|(seg, (n, util, eps, exp))| {
            (
                seg,
                PeerStats {
                    accounts: n,
                    utilisation: median(&util),
                    events_per_seat: median(&eps),
                    // Too few expansions to say what one is worth: none.
                    expansion_share: (exp.len() >= MIN_PEERS).then(|| median(&exp)).flatten(),
                },
            )
        })
        .collect()
}

/// Sets an account's ratios to its segment's medians (1.0 = the median peer).
pub fn apply(f: &mut AccountFeatures, peers: &Peers) {
    let Some(p) = f.segment.as_ref().and_then(|s| peers.get(s)) else {
        return;
    };
    let ratio = |v: Option<f64>, m: Option<f64>| match (v, m) {
        (Some(v), Some(m)) if m > 0.0 => Some(v / m),
        _ => None,
    };
    f.utilisation_vs_peers = ratio(f.usage.utilisation, p.utilisation);
    f.usage_per_seat_vs_peers = ratio(events_per_seat(f), p.events_per_seat);
    f.peer_utilisation = p.utilisation;
    f.peer_expansion_share = p.expansion_share;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(seg: &str, util: f64, events: f64, seats: i64) -> AccountFeatures {
        let mut f = AccountFeatures {
            segment: Some(seg.into()),
            seats: Some(seats),
            ..Default::default()
        };
        f.usage.utilisation = Some(util);
        f.usage.events_28d = Some(events);
        f
    }

    #[test]
    fn medians_per_segment_and_ratios() {
        let mut book: Vec<AccountFeatures> = (1..=5)
            .map(|i| acct("smb", 0.125 * i as f64, 100.0 * i as f64, 10))
            .collect();
        book.push(acct("enterprise", 0.5, 10.0, 100));
        let peers = peer_stats(&book);
        assert_eq!(peers.len(), 1, "enterprise has too few accounts");
        assert_eq!(
            peers["smb"].expansion_share, None,
            "no expansions: nothing to say what one is worth"
        );
        for (i, f) in book.iter_mut().enumerate() {
            f.expansion_share_365d = Some([0.1, 0.3, 0.2, 0.5, 0.25][i % 5]);
        }
        assert_eq!(peer_stats(&book)["smb"].expansion_share, Some(0.25));
        let smb = &peers["smb"];
        assert_eq!(
            (smb.accounts, smb.utilisation, smb.events_per_seat),
            (5, Some(0.375), Some(30.0))
        );
        let mut f = acct("smb", 0.1875, 150.0, 10);
        apply(&mut f, &peers);
        assert_eq!(f.utilisation_vs_peers, Some(0.5));
        assert_eq!(f.usage_per_seat_vs_peers, Some(0.5));
        let mut e = acct("enterprise", 0.5, 10.0, 100);
        apply(&mut e, &peers);
        assert_eq!(e.utilisation_vs_peers, None);
    }
}
