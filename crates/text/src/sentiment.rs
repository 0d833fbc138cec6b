//! Sentiment of customer text (support tickets): a score in [-1, 1], negative for frustrated writing, near zero
//! for matter-of-fact writing and positive for thankful writing.
//!
//! Scores come from VADER (Hutto & Gilbert, 2014), a rule-based scorer built on a hand-rated lexicon of about
//! 7,500 words, with negation ("not helpful"), boosters ("completely unacceptable"), capitals and exclamation
//! marks taken into account. Its compound score is the normalised sum of word valences, so it is comparable
//! across tickets of different lengths. It needs no model file and no network, and it is fast enough for a daily
//! pass over a whole book (tens of thousands of tickets a second on one core).
//!
//! Text that holds no sentiment words scores 0. Ticket text is usually the subject and body joined by a space
//! (see [`ticket_text`]).

use bellwether_core::model::Ticket;
use std::sync::OnceLock;
use vader_sentiment::SentimentIntensityAnalyzer;

fn analyzer() -> &'static SentimentIntensityAnalyzer<'static> {
    static A: OnceLock<SentimentIntensityAnalyzer<'static>> = OnceLock::new();
    A.get_or_init(SentimentIntensityAnalyzer::new)
}

/// The sentiment of `text` in [-1, 1] (VADER's compound score); 0 for empty or neutral text.
pub fn score(text: &str) -> f64 {
    if text.trim().is_empty() {
        return 0.0;
    }
    analyzer()
        .polarity_scores(text)
        .get("compound")
        .copied()
        .unwrap_or(0.0)
        .clamp(-1.0, 1.0)
}

/// The text of a ticket that is scored: its subject and body.
pub fn ticket_text(t: &Ticket) -> String {
    let mut s = String::with_capacity(t.subject.len() + t.body.len() + 1);
    s.push_str(&t.subject);
    s.push(' ');
    s.push_str(&t.body);
    s
}

/// The sentiment of a ticket's subject and body: the score stored on import, or scored now for a ticket
/// that has none.
pub fn ticket_score(t: &Ticket) -> f64 {
    t.sentiment.unwrap_or_else(|| score(&ticket_text(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pieces in the style of the simulator's ticket templates: a problem, a detail, then a tone-specific close.
    const PROBLEMS: &[(&str, &str)] = &[
        (
            "Dashboard not loading",
            "The main dashboard takes more than a minute to load for our team.",
        ),
        (
            "Report export fails",
            "Exporting the weekly report to PDF fails with an error.",
        ),
        (
            "SSO login fails for some users",
            "Some of our users get a SAML error when they sign in through our identity provider.",
        ),
        (
            "CRM sync stopped",
            "The CRM integration stopped syncing two days ago.",
        ),
        (
            "Data import failed",
            "Our CSV import failed halfway through.",
        ),
        (
            "Cannot invite new users",
            "Inviting new users fails with a seat limit message.",
        ),
    ];
    const NEUTRAL: &[&str] = &[
        "Could you please look into this when you have a moment?",
        "Let me know if you need more details.",
        "Please advise on the best way forward.",
        "We can also jump on a call if that is easier.",
    ];
    const FRUSTRATED: &[&str] = &[
        "This is the third time we hit this and it is completely unacceptable.",
        "Our team is frustrated and losing trust in the product.",
        "We have waited days for a response, which is very disappointing.",
        "Honestly this is a terrible experience and we are evaluating alternatives.",
        "If this is not fixed this week we will have to reconsider our renewal.",
        "Nobody got back to us and the workaround you suggested does not work.",
        "It is still broken and keeps wasting hours of our time.",
        "Extremely poor support so far; we need this escalated.",
        "This is the worst outage we have had and management is angry.",
    ];
    const FRUSTRATED_PREFIXES: &[&str] = &[
        "URGENT: ",
        "Still broken: ",
        "Again: ",
        "Escalation: ",
        "Unacceptable: ",
    ];
    const POSITIVE: &[&str] = &[
        "Thanks in advance, you folks are always helpful!",
        "Appreciate it, keep up the excellent work.",
        "Thanks so much, great support as always.",
    ];

    fn neutral_texts() -> Vec<String> {
        let mut v = Vec::new();
        for (i, (s, p)) in PROBLEMS.iter().enumerate() {
            for (j, c) in NEUTRAL.iter().enumerate() {
                v.push(format!(
                    "{s} Hi team,\n\n{p} It affects {} users on our side.\n\n{c}\n\nThanks,\nDana",
                    2 + i * 3 + j
                ));
            }
        }
        v
    }

    fn frustrated_texts() -> Vec<String> {
        let mut v = Vec::new();
        for (i, (s, p)) in PROBLEMS.iter().enumerate() {
            for a in 0..FRUSTRATED.len() {
                let b = (a + 1 + i) % FRUSTRATED.len();
                let prefix = FRUSTRATED_PREFIXES[(a + i) % FRUSTRATED_PREFIXES.len()];
                v.push(format!(
                    "{prefix}{s} Hello,\n\n{p} We noticed it on {} occasions this week.\n\n{} {}\n\nRegards,\nSam",
                    3 + a,
                    FRUSTRATED[a],
                    FRUSTRATED[b]
                ));
            }
        }
        v
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    #[test]
    fn frustrated_tickets_score_well_below_neutral_ones() {
        let neutral: Vec<f64> = neutral_texts().iter().map(|t| score(t)).collect();
        let frustrated: Vec<f64> = frustrated_texts().iter().map(|t| score(t)).collect();
        let (n, f) = (mean(&neutral), mean(&frustrated));
        assert!(n > -0.25, "neutral mean {n}");
        assert!(f < -0.5, "frustrated mean {f}");
        // Ranking: the share of (frustrated, neutral) pairs where the frustrated text scores lower.
        let below = frustrated
            .iter()
            .map(|a| neutral.iter().filter(|b| a < *b).count())
            .sum::<usize>() as f64
            / (frustrated.len() * neutral.len()) as f64;
        assert!(
            below > 0.95,
            "frustrated below neutral in {below:.3} of pairs"
        );
        let positive = PROBLEMS
            .iter()
            .zip(POSITIVE.iter().cycle())
            .map(|((s, p), c)| {
                score(&format!(
                    "Quick question: {s} Hi,\n\nGreat product overall, just a small question. {p}\n\n{c}\n\nBest,\nAlex"
                ))
            })
            .collect::<Vec<_>>();
        let p = mean(&positive);
        println!("means: positive {p:.3}, neutral {n:.3}, frustrated {f:.3}; frustrated below neutral in {below:.3} of pairs");
        assert!(p > n + 0.2, "positive mean {p}");
    }

    #[test]
    fn scores_are_bounded_and_negation_counts() {
        assert_eq!(score(""), 0.0);
        assert_eq!(score("   "), 0.0);
        assert!(score("The export is helpful.") > 0.2);
        assert!(score("The export is not helpful.") < 0.0);
        let long = "terrible awful unacceptable broken ".repeat(200);
        let s = score(&long);
        assert!((-1.0..=-0.9).contains(&s), "{s}");
    }
}
