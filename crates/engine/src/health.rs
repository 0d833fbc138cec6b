//! The rules health score: a transparent baseline that learned models must beat.
//!
//! Components (usage, adoption, engagement, support, SLA, sentiment, stakeholders, billing, NPS) each score 0–100 with a
//! plain-words reason built from the account's own numbers. A component whose inputs are missing for an
//! account (its source holds nothing) drops out and its weight is shared among the others. Weights come from
//! configuration, with an optional override per segment.

use bellwether_core::model::HealthComponent;
use bellwether_features::AccountFeatures;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Component weights, by component name, with per-segment overrides.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Default weights.
    pub weights: BTreeMap<String, f64>,
    /// Weights per segment (a component missing here keeps its default weight).
    pub segments: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The component names, in display order.
pub const COMPONENTS: &[&str] = &[
    "usage",
    "adoption",
    "engagement",
    "support",
    "sla",
    "sentiment",
    "stakeholders",
    "billing",
    "nps",
];

impl Default for HealthConfig {
    fn default() -> Self {
        let weights = [
            ("usage", 0.25),
            ("adoption", 0.12),
            ("engagement", 0.13),
            ("support", 0.10),
            ("sla", 0.05),
            ("sentiment", 0.05),
            ("stakeholders", 0.15),
            ("billing", 0.10),
            ("nps", 0.05),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        HealthConfig {
            weights,
            segments: BTreeMap::new(),
        }
    }
}

impl HealthConfig {
    /// Checks names and values, naming the bad key.
    pub fn validate(&self) -> Result<(), String> {
        let check = |w: &BTreeMap<String, f64>, at: &str| -> Result<(), String> {
            for (k, v) in w {
                if !COMPONENTS.contains(&k.as_str()) {
                    return Err(format!(
                        "{at}.{k}: unknown health component; use one of {}",
                        COMPONENTS.join(", ")
                    ));
                }
                if !(v.is_finite() && *v >= 0.0) {
                    return Err(format!("{at}.{k} = {v}: a weight must be 0 or more"));
                }
            }
            Ok(())
        };
        check(&self.weights, "health.weights")?;
        for (seg, w) in &self.segments {
            check(w, &format!("health.segments.{seg}"))?;
        }
        Ok(())
    }

    fn weight(&self, segment: Option<&str>, component: &str) -> f64 {
        segment
            .and_then(|s| self.segments.get(s))
            .and_then(|w| w.get(component))
            .or_else(|| self.weights.get(component))
            .copied()
            .unwrap_or(0.0)
    }
}

/// A scored account.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthScore {
    /// 0–100.
    pub score: f64,
    /// The components that had inputs, with redistributed weights.
    pub components: Vec<HealthComponent>,
}

fn clamp(v: f64) -> f64 {
    v.clamp(0.0, 100.0)
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn plural(n: f64, one: &str, many: &str) -> String {
    if n == 1.0 {
        format!("1 {one}")
    } else {
        format!("{n:.0} {many}")
    }
}

/// Which usage source the figures came from, for the end of the usage reason: `in product events`, and why
/// when the account has the other source too.
fn usage_source(f: &AccountFeatures) -> String {
    let u = &f.usage;
    let Some(src) = u.source else {
        return String::new();
    };
    let mut out = format!(" in {}", src.label());
    if let (Some(other), Some(days)) = (u.other_source, u.other_source_days) {
        out.push_str(&format!(
            " (the longer unbroken history: {} days against {days} days of {})",
            u.source_days.unwrap_or(0),
            other.label()
        ));
    }
    out
}

fn usage(f: &AccountFeatures) -> Option<(f64, String)> {
    let u = &f.usage;
    let e28 = u.events_28d?;
    let source = usage_source(f);
    if e28 == 0.0 {
        let since = u
            .days_since_active
            .map(|d| format!(" (last seen {d} days ago)"))
            .unwrap_or_default();
        return Some((
            0.0,
            format!("no product activity in the last 28 days{since}{source}"),
        ));
    }
    let trend = u.trend?;
    let score = clamp(100.0 - (-trend).max(0.0) * 160.0);
    let reason = if trend <= -0.1 {
        format!("usage down {} against its own 90-day baseline ({e28:.0} in 28 days, {:.0} expected){source}", pct(-trend), u.events_baseline_28d.unwrap_or(0.0))
    } else if trend >= 0.1 {
        format!(
            "usage up {} against its own 90-day baseline{source}",
            pct(trend)
        )
    } else {
        format!(
            "usage steady against its own baseline ({:+.0}%){source}",
            trend * 100.0
        )
    };
    Some((score, reason))
}

fn adoption(f: &AccountFeatures) -> Option<(f64, String)> {
    let u = &f.usage;
    let breadth = u.breadth?;
    let used = u.common_used.unwrap_or(0.0);
    let total = u.common_features.unwrap_or(0.0);
    let place = u.common_where.as_deref().unwrap_or("in the book");
    let others = (u.features_used_28d.unwrap_or(0.0) - used).max(0.0);
    let abandoned = u.features_abandoned.unwrap_or(0.0);
    let score = clamp(breadth / 0.5 * 100.0 - 15.0 * abandoned.min(3.0));
    let mut reason = format!("uses {used:.0} of {total:.0} features common {place}");
    if others > 0.0 {
        reason.push_str(&format!(
            ", and {}",
            plural(others, "other feature", "other features")
        ));
    }
    if abandoned > 0.0 {
        reason.push_str(&format!("; stopped using {}", u.abandoned_names.join(", ")));
    }
    Some((score, reason))
}

fn engagement(f: &AccountFeatures) -> Option<(f64, String)> {
    let u = &f.usage;
    let util = u.utilisation?;
    let seats = f.seats.unwrap_or(0);
    let mau = u.mau.unwrap_or(0.0);
    // Against the segment's median when there are enough peers: at the median scores 75; else against 50%.
    let (mut score, mut reason) = match (f.utilisation_vs_peers, f.peer_utilisation) {
        (Some(r), Some(m)) => (
            clamp(r * 75.0),
            format!("{mau:.0} monthly active users on {seats} seats ({} utilisation, {:.1}× the segment's median of {})", pct(util), r, pct(m)),
        ),
        _ => (clamp(util / 0.5 * 100.0), format!("{mau:.0} monthly active users on {seats} seats ({} utilisation)", pct(util))),
    };
    if let Some(base) = u.mau_baseline.filter(|b| *b > 0.0) {
        if mau / base < 0.8 {
            score = clamp(score - (1.0 - mau / base) * 120.0);
            reason.push_str(&format!(
                "; down {} from {base:.0} the months before",
                pct(1.0 - mau / base)
            ));
        }
    }
    Some((score, reason))
}

fn support(f: &AccountFeatures) -> Option<(f64, String)> {
    let t28 = f.tickets_28d?;
    let mut score = 100.0;
    let mut why = Vec::new();
    let high = f.open_high_priority.unwrap_or(0.0);
    if high > 0.0 {
        score -= 15.0 * high.min(3.0);
        why.push(format!(
            "{} open",
            plural(high, "high-priority ticket", "high-priority tickets")
        ));
    }
    let base = f.tickets_baseline_28d.unwrap_or(0.0);
    if t28 >= 3.0 && t28 > 2.0 * base.max(0.5) {
        score -= 25.0;
        why.push(format!(
            "{t28:.0} tickets in 28 days against {base:.1} usual"
        ));
    }
    let esc = f.escalations_90d.unwrap_or(0.0);
    if esc > 0.0 {
        score -= 10.0 * esc.min(2.0);
        why.push(plural(esc, "escalation", "escalations"));
    }
    if let Some(c) = f.csat_90d.filter(|c| *c < 3.5) {
        score -= (3.5 - c) * 20.0;
        why.push(format!("CSAT {c:.1} of 5"));
    }
    let reason = if why.is_empty() {
        format!("support quiet ({t28:.0} tickets in 28 days)")
    } else {
        why.join(", ")
    };
    Some((clamp(score), reason))
}

fn sla(f: &AccountFeatures) -> Option<(f64, String)> {
    let breaches = f.sla_breaches_90d?;
    let reason = if breaches == 0.0 {
        "no SLA breaches in 90 days".to_string()
    } else {
        format!(
            "{} in 90 days",
            plural(breaches, "SLA breach", "SLA breaches")
        )
    };
    Some((clamp(100.0 - 20.0 * breaches.min(5.0)), reason))
}

fn sentiment(f: &AccountFeatures) -> Option<(f64, String)> {
    let s = f.sentiment_45d?;
    let mut score = clamp(50.0 + 50.0 * s);
    let mut reason = format!("ticket tone {s:+.2} over 45 days (−1 frustrated, +1 thankful)");
    if let Some(b) = f.sentiment_baseline {
        reason.push_str(&format!(", usually {b:+.2}"));
        if s - b < -0.3 {
            score = clamp(score - 15.0);
        }
    }
    Some((score, reason))
}

fn stakeholders(f: &AccountFeatures) -> Option<(f64, String)> {
    let champion = f.has_champion?;
    let mut score = 100.0;
    let mut why = Vec::new();
    if let Some(d) = f.key_contact_left_days {
        score -= 40.0;
        why.push(format!("champion or sponsor left {d} days ago"));
    }
    if !champion {
        score -= 25.0;
        why.push("no active champion".to_string());
    }
    if f.has_sponsor == Some(false) {
        score -= 10.0;
        why.push("no executive sponsor".to_string());
    }
    let missed = f.qbr_missed_180d.unwrap_or(0.0);
    if missed > 0.0 {
        score -= 15.0 * missed.min(2.0);
        why.push(format!(
            "{} declined or ignored",
            plural(missed, "QBR invite", "QBR invites")
        ));
    }
    if let Some(d) = f.days_since_meeting.filter(|d| *d > 120) {
        score -= 10.0;
        why.push(format!("no meeting in {d} days"));
    }
    let reason = if why.is_empty() {
        "champion and sponsor in place and engaged".to_string()
    } else {
        why.join(", ")
    };
    Some((clamp(score), reason))
}

fn billing(f: &AccountFeatures) -> Option<(f64, String)> {
    let fails = f.payment_failures_90d?;
    let downs = f.downgrades_180d.unwrap_or(0.0);
    let score = clamp(100.0 - 30.0 * fails.min(2.0) - 35.0 * downs.min(2.0));
    let mut why = Vec::new();
    if fails > 0.0 {
        why.push(format!(
            "{} in 90 days",
            plural(fails, "failed payment", "failed payments")
        ));
    }
    if downs > 0.0 {
        why.push(format!(
            "{} in 180 days",
            plural(
                downs,
                "downgrade or seat reduction",
                "downgrades or seat reductions"
            )
        ));
    }
    let reason = if why.is_empty() {
        "billing in good standing".to_string()
    } else {
        why.join(", ")
    };
    Some((score, reason))
}

fn nps(f: &AccountFeatures) -> Option<(f64, String)> {
    let s = f.nps_latest?;
    let (score, label) = if s >= 9.0 {
        (100.0, "promoter")
    } else if s >= 7.0 {
        (65.0, "passive")
    } else {
        (clamp(s * 5.0), "detractor")
    };
    Some((score, format!("last NPS {s:.0} ({label})")))
}

/// Scores an account from its features.
pub fn score(f: &AccountFeatures, cfg: &HealthConfig) -> HealthScore {
    let parts: [(&str, Option<(f64, String)>); 9] = [
        ("usage", usage(f)),
        ("adoption", adoption(f)),
        ("engagement", engagement(f)),
        ("support", support(f)),
        ("sla", sla(f)),
        ("sentiment", sentiment(f)),
        ("stakeholders", stakeholders(f)),
        ("billing", billing(f)),
        ("nps", nps(f)),
    ];
    let seg = f.segment.as_deref();
    let present: Vec<(&str, f64, String, f64)> = parts
        .into_iter()
        .filter_map(|(n, p)| p.map(|(s, r)| (n, s, r, cfg.weight(seg, n))))
        .filter(|p| p.3 > 0.0)
        .collect();
    let total: f64 = present.iter().map(|p| p.3).sum();
    if total == 0.0 {
        return HealthScore {
            score: 50.0,
            components: Vec::new(),
        };
    }
    let components: Vec<HealthComponent> = present
        .into_iter()
        .map(|(n, s, r, w)| HealthComponent {
            name: n.to_string(),
            score: s,
            weight: w / total,
            reason: r,
        })
        .collect();
    let score = components.iter().map(|c| c.score * c.weight).sum();
    HealthScore { score, components }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellwether_features::usage::Usage;

    fn base() -> AccountFeatures {
        AccountFeatures {
            usage: Usage {
                events_28d: Some(100.0),
                trend: Some(0.0),
                events_baseline_28d: Some(100.0),
                breadth: Some(0.5),
                features_used_28d: Some(6.0),
                common_features: Some(12.0),
                common_used: Some(6.0),
                common_where: Some("on the Pro plan".into()),
                utilisation: Some(0.5),
                mau: Some(14.0),
                ..Default::default()
            },
            seats: Some(20),
            ..Default::default()
        }
    }

    #[test]
    fn healthy_usage_scores_high_and_a_drop_scores_low_with_its_numbers() {
        let cfg = HealthConfig::default();
        let h = score(&base(), &cfg);
        assert!(h.score > 95.0, "{h:?}");
        let mut f = base();
        f.usage.trend = Some(-0.46);
        f.usage.events_28d = Some(54.0);
        let h2 = score(&f, &cfg);
        let usage = h2.components.iter().find(|c| c.name == "usage").unwrap();
        assert!(usage.score < 30.0);
        assert!(usage.reason.contains("down 46%"), "{}", usage.reason);
        assert!(h2.score < h.score - 15.0);
    }

    #[test]
    fn missing_inputs_drop_out_and_weights_are_shared() {
        let h = score(&base(), &HealthConfig::default());
        let names: Vec<_> = h.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["usage", "adoption", "engagement"]);
        let w: f64 = h.components.iter().map(|c| c.weight).sum();
        assert!((w - 1.0).abs() < 1e-9);
        assert!((h.components[0].weight - 0.5).abs() < 1e-9, "0.30 of 0.60");
    }

    #[test]
    fn engagement_compares_with_the_segment_when_peers_are_known() {
        let mut f = base();
        f.usage.utilisation = Some(0.1);
        let alone = score(&f, &HealthConfig::default());
        f.utilisation_vs_peers = Some(1.0);
        f.peer_utilisation = Some(0.1);
        let with_peers = score(&f, &HealthConfig::default());
        let e = |h: &HealthScore| {
            h.components
                .iter()
                .find(|c| c.name == "engagement")
                .unwrap()
                .clone()
        };
        assert_eq!(e(&alone).score, 20.0, "10% of seats against the 50% line");
        assert_eq!(
            e(&with_peers).score,
            75.0,
            "the same 10% is the segment's median"
        );
        assert!(
            e(&with_peers)
                .reason
                .contains("1.0× the segment's median of 10%"),
            "{}",
            e(&with_peers).reason
        );
    }

    #[test]
    fn sla_and_sentiment_are_their_own_components() {
        let mut f = base();
        f.tickets_28d = Some(2.0);
        f.sla_breaches_90d = Some(2.0);
        f.sentiment_45d = Some(-0.6);
        f.sentiment_baseline = Some(0.3);
        let h = score(&f, &HealthConfig::default());
        let get = |n: &str| h.components.iter().find(|c| c.name == n).unwrap().clone();
        assert_eq!(get("sla").score, 60.0);
        assert_eq!(get("sla").reason, "2 SLA breaches in 90 days");
        let s = get("sentiment");
        assert!(
            (s.score - 5.0).abs() < 1e-9,
            "50 − 30, −15 for the fall from its usual tone: {s:?}"
        );
        assert!(
            s.reason.contains("-0.60") && s.reason.contains("usually +0.30"),
            "{}",
            s.reason
        );
        assert!(
            get("support").reason.contains("support quiet"),
            "SLA breaches no longer count twice"
        );
    }

    #[test]
    fn segment_weights_override_defaults_and_bad_names_are_named() {
        let mut cfg = HealthConfig::default();
        cfg.segments.insert(
            "smb".into(),
            [("usage".to_string(), 0.0)].into_iter().collect(),
        );
        let mut f = base();
        f.segment = Some("smb".into());
        assert!(score(&f, &cfg).components.iter().all(|c| c.name != "usage"));
        cfg.weights.insert("vibes".into(), 1.0);
        assert!(cfg.validate().unwrap_err().contains("health.weights.vibes"));
    }
}
