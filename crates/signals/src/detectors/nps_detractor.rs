//! NPS detractor: someone at the account answered the NPS survey with 0 to 6 in the last 60 days.
//!
//! An answer stops counting when the same person has answered 7 or more since. A score of 3 or below, or two or
//! more detractors, is high; otherwise medium. The comment left with the score, if any, is quoted.

use crate::{Context, Detection, Detector, Direction};
use bellwether_core::model::{InteractionKind, Severity};
use serde_json::json;

/// Fires on NPS answers of `max_score` or below within `window_days`.
pub struct NpsDetractor {
    /// Days an answer stays news.
    pub window_days: i32,
    /// Highest detractor score.
    pub max_score: f64,
}

impl Default for NpsDetractor {
    fn default() -> Self {
        NpsDetractor {
            window_days: 60,
            max_score: 6.0,
        }
    }
}

impl Detector for NpsDetractor {
    fn kind(&self) -> &'static str {
        "nps_detractor"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        60
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let answers: Vec<_> = cx
            .interactions()
            .filter(|i| i.kind == InteractionKind::Nps && i.score.is_some())
            .collect();
        let detractors: Vec<_> = answers
            .iter()
            .filter(|i| cx.within(i.at, self.window_days) && i.score <= Some(self.max_score))
            .filter(|i| {
                !answers.iter().any(|j| {
                    j.at > i.at
                        && i.contact_id.is_some()
                        && j.contact_id == i.contact_id
                        && j.score > Some(self.max_score)
                })
            })
            .collect();
        let worst = detractors
            .iter()
            .min_by(|a, b| a.score.unwrap_or(0.0).total_cmp(&b.score.unwrap_or(0.0)))?;
        let score = worst.score.unwrap_or(0.0);
        let severity = if score <= 3.0 || detractors.len() >= 2 {
            Severity::High
        } else {
            Severity::Medium
        };
        let mut explanation = cx.nps_answer(worst, score, ", a detractor score (0 to 6)");
        if detractors.len() > 1 {
            explanation.push_str(&format!(
                " {} detractor answers came from the account in the last {} days.",
                detractors.len(),
                self.window_days
            ));
        }
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "lowest_score": score, "detractors": detractors.len(), "on": worst.at.day().to_string(),
                "contact": worst.contact_id.as_ref().map(|c| c.to_string()), "comment": worst.note.trim(),
            }),
            explanation,
            suggested_action: "Close the loop within the week: call the respondent, thank them for the honesty, ask what would raise the score, and agree one concrete fix to report back on.".into(),
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
    fn a_low_score_fires_with_the_comment() {
        let mut k = kit();
        k.nps(
            -12,
            3.0,
            "dana",
            "Support is slow and issues keep coming back.",
        );
        let d = k.run(&NpsDetractor::default()).expect("fires");
        assert_eq!(d.severity, Severity::High);
        assert_eq!(
            d.explanation,
            "Dana Lee (the champion) answered 3 to the NPS survey 12 days ago (on 2025-06-04), a detractor score (0 to 6), with the comment \"Support is slow and issues keep coming back\"."
        );
        let mut k = kit();
        k.nps(-12, 6.0, "bob", "");
        let d = k.run(&NpsDetractor::default()).expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation
                .starts_with("Contact bob answered 6 to the NPS survey 12 days ago"),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn passives_old_answers_recovered_and_future_answers_do_not_fire() {
        let mut k = kit();
        k.nps(-10, 8.0, "dana", "");
        k.nps(-70, 2.0, "dana", "Old news.");
        k.nps(2, 1.0, "dana", "Not yet given.");
        assert!(k.run(&NpsDetractor::default()).is_none());
        let mut k = kit();
        k.nps(-40, 5.0, "dana", "");
        k.nps(-5, 9.0, "dana", "Much better now.");
        assert!(k.run(&NpsDetractor::default()).is_none());
    }
}
