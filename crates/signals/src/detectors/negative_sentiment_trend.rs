//! Negative sentiment trend: the account's recent support tickets read clearly more negative than before, or
//! plainly negative.
//!
//! Each ticket's subject and body are scored from −1 (frustrated) to 1 (thankful) by
//! [`bellwether_features::sentiment`], the same scorer behind the `sentiment_45d` and `sentiment_baseline`
//! features (the baseline is read from the feature when the windows are the defaults). The recent mean is
//! over tickets opened in the last 45 days (at least 2 of them); the account's own baseline is the mean of the
//! tickets opened 45 to 365 days before (at least 3 of them). It fires when the recent mean is negative and at
//! least 0.5 below the baseline, or at or below the fixed line of −0.35 whatever the baseline (matter-of-fact
//! tickets score around 0.2, frustrated ones around −0.75). A mean of −0.6 or below over 3 or more tickets is
//! high.

use crate::{mean, Context, Detection, Detector, Direction};
use bellwether_core::model::Severity;
use bellwether_features::sentiment;
use serde_json::json;

/// Fires when recent ticket sentiment falls `min_gap` below the account's baseline, or below `negative_line`.
pub struct NegativeSentimentTrend {
    /// The recent window, in days.
    pub window_days: i32,
    /// Where the baseline window starts, in days before the day.
    pub baseline_days: i32,
    /// Fewest recent tickets to judge.
    pub min_recent: usize,
    /// Fewest baseline tickets for the comparison with the account's own past.
    pub min_baseline: usize,
    /// Fall below the baseline mean that fires.
    pub min_gap: f64,
    /// Recent mean at or below which it fires regardless of the baseline.
    pub negative_line: f64,
}

impl Default for NegativeSentimentTrend {
    fn default() -> Self {
        NegativeSentimentTrend {
            window_days: 45,
            baseline_days: 365,
            min_recent: 2,
            min_baseline: 3,
            min_gap: 0.5,
            negative_line: -0.35,
        }
    }
}

impl Detector for NegativeSentimentTrend {
    fn kind(&self) -> &'static str {
        "negative_sentiment_trend"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        30
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let recent: Vec<_> = cx
            .tickets()
            .filter(|k| cx.within(k.opened_at, self.window_days))
            .map(|k| (sentiment::ticket_score(k), k))
            .collect();
        if recent.len() < self.min_recent {
            return None;
        }
        let base_tickets: Vec<_> = cx
            .tickets()
            .filter(|k| {
                cx.within(k.opened_at, self.baseline_days)
                    && !cx.within(k.opened_at, self.window_days)
            })
            .collect();
        let scores: Vec<f64> = recent.iter().map(|p| p.0).collect();
        let now = mean(&scores)?;
        // The feature holds the same mean over the same default windows; score the tickets only otherwise.
        let feature = cx
            .features
            .sentiment_baseline
            .filter(|_| self.window_days == 45 && self.baseline_days == 365);
        let baseline = if base_tickets.len() < self.min_baseline {
            None
        } else if feature.is_some() {
            feature
        } else {
            let base: Vec<f64> = base_tickets
                .iter()
                .map(|k| sentiment::ticket_score(k))
                .collect();
            mean(&base)
        };
        let below_own = baseline.is_some_and(|b| now < 0.0 && now <= b - self.min_gap);
        let below_line = now <= self.negative_line;
        if !below_own && !below_line {
            return None;
        }
        let severity = if now <= -0.6 && recent.len() >= 3 {
            Severity::High
        } else {
            Severity::Medium
        };
        let (worst_score, worst) = recent
            .iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(s, k)| (*s, *k))?;
        let against = match baseline {
            Some(b) => format!(
                "against {b:.2} over its {} tickets of the {} to {} days before",
                base_tickets.len(),
                self.window_days,
                self.baseline_days
            ),
            None => format!("below the negative line of {:.2}", self.negative_line),
        };
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "recent_mean": now, "recent_tickets": recent.len(), "baseline_mean": baseline,
                "baseline_tickets": base_tickets.len(), "negative_line": self.negative_line, "min_gap": self.min_gap,
                "most_negative": { "id": worst.id, "subject": worst.subject, "score": worst_score },
            }),
            explanation: format!(
                "The {} tickets opened in the last {} days read as negative, with a mean sentiment of {now:.2} (on a scale from -1 to 1), {against}; the most negative was \"{}\" ({worst_score:.2}).",
                recent.len(),
                self.window_days,
                worst.subject
            ),
            suggested_action: "Read the recent tickets, then call the champion to acknowledge the frustration; agree the fixes with dates and follow up in writing.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::model::Priority;
    use bellwether_core::Day;

    const NEUTRAL: &str = "Hi team, the CSV export stops after a few thousand rows. Could you please look into this when you have a moment? Thanks, Dana";
    const FRUSTRATED: &str = "Hi, the CRM integration stopped syncing two days ago. Our team is frustrated and losing trust in the product. It is still broken and keeps wasting hours of our time.";

    fn kit(history: &[(i32, &str)]) -> Kit {
        let mut k = Kit::new(Day::ymd(2025, 6, 16));
        for (i, (back, body)) in history.iter().enumerate() {
            let subject = if body == &FRUSTRATED {
                "Unacceptable: CRM sync stopped"
            } else {
                "CSV export missing rows"
            };
            k.ticket(*back, Priority::Normal, subject).body = format!("{body} #{i}");
        }
        k
    }

    #[test]
    fn frustrated_recent_tickets_fire_against_a_neutral_past() {
        let k = kit(&[
            (-300, NEUTRAL),
            (-200, NEUTRAL),
            (-120, NEUTRAL),
            (-60, NEUTRAL),
            (-30, FRUSTRATED),
            (-10, FRUSTRATED),
            (-3, FRUSTRATED),
        ]);
        let d = k.run(&NegativeSentimentTrend::default()).expect("fires");
        assert_eq!(d.severity, Severity::High);
        let now = d.evidence["recent_mean"].as_f64().unwrap();
        let base = d.evidence["baseline_mean"].as_f64().unwrap();
        assert!(now < -0.6 && base > 0.0, "{now} {base}");
        assert!(
            d.explanation.starts_with(&format!(
                "The 3 tickets opened in the last 45 days read as negative, with a mean sentiment of {now:.2}"
            )) && d
                .explanation
                .contains(&format!("against {base:.2} over its 4 tickets of the 45 to 365 days before"))
                && d.explanation.contains("\"Unacceptable: CRM sync stopped\""),
            "{}",
            d.explanation
        );
        // A new account with no past: two frustrated tickets are below the fixed line.
        let d = kit(&[(-10, FRUSTRATED), (-3, FRUSTRATED)])
            .run(&NegativeSentimentTrend::default())
            .expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(d.explanation.contains("below the negative line of -0.35"));
    }

    #[test]
    fn the_baseline_feature_is_used_when_present() {
        // Mildly negative recent tickets (about -0.2): above the fixed line, so only the comparison with the
        // account's past can fire.
        let mut k = kit(&[(-300, NEUTRAL), (-200, NEUTRAL), (-120, NEUTRAL)]);
        for back in [10, 5] {
            k.ticket(-back, Priority::Normal, "Re: CRM sync stopped").body = "Hi team, the CRM integration stopped syncing two days ago. We are a bit disappointed that this keeps coming back. Could you please look into this when you have a moment? Thanks, Dana".into();
        }
        // Scored from the tickets (no feature given), the neutral past makes it a fall.
        let now = k
            .run(&NegativeSentimentTrend::default())
            .expect("fires against the scored past")
            .evidence["recent_mean"]
            .as_f64()
            .unwrap();
        assert!((-0.35..0.0).contains(&now), "{now}");
        k.features.sentiment_baseline = Some(-0.3);
        assert!(
            k.run(&NegativeSentimentTrend::default()).is_none(),
            "against a negative past the same tickets are no change"
        );
        k.features.sentiment_baseline = Some(0.6);
        let d = k.run(&NegativeSentimentTrend::default()).expect("fires");
        assert!(
            d.explanation.contains("against 0.60 over its 3 tickets"),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn neutral_single_and_future_tickets_do_not_fire() {
        let neutral = kit(&[(-200, NEUTRAL), (-20, NEUTRAL), (-5, NEUTRAL)]);
        assert!(neutral.run(&NegativeSentimentTrend::default()).is_none());
        // One frustrated ticket among neutral ones is not a trend.
        let one = kit(&[(-200, NEUTRAL), (-20, NEUTRAL), (-5, FRUSTRATED)]);
        assert!(one.run(&NegativeSentimentTrend::default()).is_none());
        // Frustrated tickets on or after the day are not read.
        let future = kit(&[
            (-20, NEUTRAL),
            (-5, NEUTRAL),
            (0, FRUSTRATED),
            (3, FRUSTRATED),
        ]);
        assert!(future.run(&NegativeSentimentTrend::default()).is_none());
    }
}
