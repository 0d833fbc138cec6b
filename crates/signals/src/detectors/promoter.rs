//! Promoter: someone at the account answered the NPS survey with 9 or 10 in the last 90 days.
//!
//! An answer stops counting when the same person has answered 6 or below since. Two or more promoters are
//! medium; one is low. The comment left with the score, if any, is quoted: it is often the start of a case
//! study.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::{InteractionKind, Severity};
use serde_json::json;

/// Fires on NPS answers of `min_score` or above within `window_days`.
pub struct Promoter {
    /// Days an answer stays news.
    pub window_days: i32,
    /// Lowest promoter score.
    pub min_score: f64,
}

impl Default for Promoter {
    fn default() -> Self {
        Promoter {
            window_days: 90,
            min_score: 9.0,
        }
    }
}

impl Detector for Promoter {
    fn kind(&self) -> &'static str {
        "promoter"
    }
    fn direction(&self) -> Direction {
        Direction::Expansion
    }
    fn cooldown_days(&self) -> i32 {
        90
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let answers: Vec<_> = cx
            .interactions()
            .filter(|i| i.kind == InteractionKind::Nps && i.score.is_some())
            .collect();
        let promoters: Vec<_> = answers
            .iter()
            .filter(|i| cx.within(i.at, self.window_days) && i.score >= Some(self.min_score))
            .filter(|i| {
                !answers.iter().any(|j| {
                    j.at > i.at
                        && i.contact_id.is_some()
                        && j.contact_id == i.contact_id
                        && j.score <= Some(6.0)
                })
            })
            .collect();
        let latest = promoters.iter().max_by_key(|i| i.at)?;
        let score = latest.score.unwrap_or(10.0);
        let mut explanation = cx.nps_answer(latest, score, "");
        if promoters.len() > 1 {
            explanation.push_str(&format!(
                " {} promoter answers came from the account in the last {} days.",
                promoters.len(),
                self.window_days
            ));
        }
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity: if promoters.len() >= 2 {
                Severity::Medium
            } else {
                Severity::Low
            },
            evidence: json!({
                "score": score, "promoters": promoters.len(), "on": latest.at.day().to_string(),
                "contact": latest.contact_id.as_ref().map(|c| c.to_string()), "comment": latest.note.trim(),
            }),
            explanation,
            suggested_action: "Thank the respondent and ask for a reference, a review or a case study; ask too which other teams could get the same value, as a lead for expansion.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::Day;

    fn kit() -> Kit {
        let mut k = Kit::new(Day::ymd(2025, 6, 16));
        k.contact("dana", "Dana Lee", &[(-300, "role", "champion")]);
        k
    }

    #[test]
    fn a_promoter_fires_with_the_comment() {
        let mut k = kit();
        k.nps(
            -20,
            10.0,
            "dana",
            "Love the dashboards, saves us hours every week.",
        );
        let d = k.run(&Promoter::default()).expect("fires");
        assert_eq!(d.severity, Severity::Low);
        assert_eq!(d.direction, Direction::Expansion);
        assert_eq!(
            d.explanation,
            "Dana Lee (the champion) answered 10 to the NPS survey 20 days ago (on 2025-05-27), with the comment \"Love the dashboards, saves us hours every week\"."
        );
        k.nps(-5, 9.0, "sam", "");
        let d = k.run(&Promoter::default()).unwrap();
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation.starts_with("Contact sam answered 9"),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn passives_old_reversed_and_future_answers_do_not_fire() {
        let mut k = kit();
        k.nps(-10, 8.0, "dana", "");
        k.nps(-100, 10.0, "sam", "Old news.");
        k.nps(3, 10.0, "lee", "Not yet given.");
        assert!(k.run(&Promoter::default()).is_none());
        let mut k = kit();
        k.nps(-60, 9.0, "dana", "");
        k.nps(-5, 4.0, "dana", "Things went downhill.");
        assert!(k.run(&Promoter::default()).is_none());
    }
}
