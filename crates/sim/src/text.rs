//! Free text for tickets, interactions and NPS comments, assembled from templates.
//!
//! The tone of a ticket follows the account's hidden state: frustrated accounts write with words a sentiment
//! lexicon scores as negative ("frustrated", "unacceptable", "still broken", "disappointed"), content accounts
//! with positive ones ("thanks", "great", "appreciate"), the rest neutrally. Topics, openings, details and
//! closings vary independently so that no two accounts read alike.

use crate::rng::Rng;

/// The tone a piece of customer text is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Thankful, upbeat.
    Positive,
    /// Matter-of-fact.
    Neutral,
    /// Mildly annoyed.
    Annoyed,
    /// Angry, escalating, mentions alternatives or the renewal.
    Frustrated,
}

struct Topic {
    subjects: &'static [&'static str],
    problems: &'static [&'static str],
}

const TOPICS: &[Topic] = &[
    Topic {
        subjects: &[
            "Dashboard not loading",
            "Dashboards slow to load",
            "Blank dashboard after login",
        ],
        problems: &[
            "The main dashboard takes more than a minute to load for our team.",
            "Several users see an empty dashboard after they log in.",
            "Dashboard widgets time out when we pick a date range longer than a month.",
        ],
    },
    Topic {
        subjects: &[
            "Report export fails",
            "Cannot export report to PDF",
            "CSV export missing rows",
        ],
        problems: &[
            "Exporting the weekly report to PDF fails with an error.",
            "The CSV export stops after a few thousand rows.",
            "Exported reports show different totals from the screen.",
        ],
    },
    Topic {
        subjects: &[
            "SSO login fails for some users",
            "SAML error on sign-in",
            "SSO configuration question",
        ],
        problems: &[
            "Some of our users get a SAML error when they sign in through our identity provider.",
            "After rotating our certificate, single sign-on stopped working for part of the team.",
            "We would like to enforce SSO for everyone and need to know the steps.",
        ],
    },
    Topic {
        subjects: &[
            "API rate limit errors",
            "API returns 500",
            "Question about API pagination",
        ],
        problems: &[
            "Our nightly job hits rate limit errors on the API.",
            "The API returns a 500 error on the accounts endpoint.",
            "We are unsure how pagination works on the events endpoint.",
        ],
    },
    Topic {
        subjects: &[
            "CRM sync stopped",
            "Integration sync errors",
            "Duplicate records after sync",
        ],
        problems: &[
            "The CRM integration stopped syncing two days ago.",
            "The integration log shows sync errors on every run.",
            "Each sync creates duplicate records in our CRM.",
        ],
    },
    Topic {
        subjects: &[
            "Workflow did not trigger",
            "Automation runs twice",
            "How to build an approval workflow",
        ],
        problems: &[
            "A workflow that should trigger on new records did not run.",
            "One of our automations runs twice for every record.",
            "We want to build an approval workflow and are not sure where to start.",
        ],
    },
    Topic {
        subjects: &[
            "Alert emails not arriving",
            "Too many alert notifications",
            "Alert thresholds question",
        ],
        problems: &[
            "Alert emails stopped arriving for our operations team.",
            "We receive far too many alert notifications for the same issue.",
            "We would like to set different alert thresholds per team.",
        ],
    },
    Topic {
        subjects: &[
            "Data import failed",
            "CSV import rejects dates",
            "Import stuck in processing",
        ],
        problems: &[
            "Our CSV import failed halfway through.",
            "The import rejects dates written as day/month/year.",
            "An import has been stuck in processing since yesterday.",
        ],
    },
    Topic {
        subjects: &[
            "User permissions question",
            "Cannot invite new users",
            "Seat count looks wrong",
        ],
        problems: &[
            "We need read-only access for a group of users.",
            "Inviting new users fails with a seat limit message.",
            "The seat count in settings does not match our contract.",
        ],
    },
    Topic {
        subjects: &[
            "Invoice copy request",
            "Question about our invoice",
            "Billing contact change",
        ],
        problems: &[
            "Could we get a copy of last month's invoice with our VAT number on it?",
            "Our latest invoice shows more seats than we use.",
            "Please change our billing contact to our finance team.",
        ],
    },
    Topic {
        subjects: &[
            "Scheduled export did not run",
            "Export schedule timezone",
            "Scheduled report empty",
        ],
        problems: &[
            "The scheduled export did not run this morning.",
            "Scheduled exports run at the wrong hour for our timezone.",
            "The scheduled report arrived empty.",
        ],
    },
    Topic {
        subjects: &[
            "Feature request: custom fields",
            "Feature request: dark mode",
            "Request: more chart types",
        ],
        problems: &[
            "We would like custom fields on records.",
            "Several users asked for a dark mode.",
            "We need more chart types for the executive dashboard.",
        ],
    },
];

const GREETINGS: &[&str] = &[
    "Hi team,",
    "Hello,",
    "Hi support,",
    "Hi there,",
    "Good morning,",
];
const POSITIVE_OPENERS: &[&str] = &[
    "Thanks for the great help last time, we really appreciate it!",
    "First of all, we love the new dashboards, the team is very happy.",
    "Great product overall, just a small question.",
    "Thanks again for the quick and helpful answer last week.",
];
const DETAILS: &[&str] = &[
    "It affects {n} users on our side.",
    "We noticed it on {n} occasions this week.",
    "Roughly {n} records are involved.",
    "Our team of {n} relies on this daily.",
    "We tried in two browsers with the same result.",
    "Steps to reproduce are below; logs can be shared on request.",
];
const NEUTRAL_CLOSERS: &[&str] = &[
    "Could you please look into this when you have a moment?",
    "Let me know if you need more details.",
    "Please advise on the best way forward.",
    "We can also jump on a call if that is easier.",
];
const POSITIVE_CLOSERS: &[&str] = &[
    "Thanks in advance, you folks are always helpful!",
    "Appreciate it, keep up the excellent work.",
    "Thanks so much, great support as always.",
    "Many thanks, the product has been awesome for us.",
];
const ANNOYED: &[&str] = &[
    "This is getting frustrating, it is the second time this month.",
    "We are a bit disappointed that this keeps coming back.",
    "This is slowing the team down, which is frustrating.",
    "We reported something similar before and it is still broken.",
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
const ANNOYED_PREFIXES: &[&str] = &["Re: ", "Follow-up: ", "Still waiting: ", ""];
const POSITIVE_PREFIXES: &[&str] = &["Quick question: ", "", "Small question: "];
const SIGN_OFFS: &[&str] = &["Thanks,", "Best,", "Regards,", "Cheers,", "Kind regards,"];

fn fill(template: &str, n: u32) -> String {
    template.replace("{n}", &n.to_string())
}

/// A ticket's subject and body in the given tone, signed by `signer`.
pub fn ticket(rng: &mut Rng, tone: Tone, signer: &str) -> (String, String) {
    let topic = rng.pick(TOPICS);
    let base_subject = rng.pick_str(topic.subjects);
    let prefix = match tone {
        Tone::Frustrated => rng.pick_str(FRUSTRATED_PREFIXES),
        Tone::Annoyed => rng.pick_str(ANNOYED_PREFIXES),
        Tone::Positive => rng.pick_str(POSITIVE_PREFIXES),
        Tone::Neutral => "",
    };
    let subject = format!("{prefix}{base_subject}");
    let mut body = String::with_capacity(400);
    body.push_str(rng.pick_str(GREETINGS));
    body.push_str("\n\n");
    if tone == Tone::Positive {
        body.push_str(rng.pick_str(POSITIVE_OPENERS));
        body.push(' ');
    }
    body.push_str(rng.pick_str(topic.problems));
    body.push(' ');
    let n = 2 + rng.below(40) as u32;
    body.push_str(&fill(rng.pick_str(DETAILS), n));
    body.push_str("\n\n");
    match tone {
        Tone::Frustrated => {
            let a = rng.below(FRUSTRATED.len() as u64) as usize;
            let b = (a + 1 + rng.below(FRUSTRATED.len() as u64 - 1) as usize) % FRUSTRATED.len();
            body.push_str(FRUSTRATED[a]);
            body.push(' ');
            body.push_str(FRUSTRATED[b]);
        }
        Tone::Annoyed => {
            body.push_str(rng.pick_str(ANNOYED));
            body.push(' ');
            body.push_str(rng.pick_str(NEUTRAL_CLOSERS));
        }
        Tone::Neutral => body.push_str(rng.pick_str(NEUTRAL_CLOSERS)),
        Tone::Positive => body.push_str(rng.pick_str(POSITIVE_CLOSERS)),
    }
    body.push_str("\n\n");
    body.push_str(rng.pick_str(SIGN_OFFS));
    body.push('\n');
    body.push_str(signer);
    (subject, body)
}

/// A comment left with an NPS score, or none.
pub fn nps_comment(rng: &mut Rng, score: u32) -> &'static str {
    const PROMOTER: &[&str] = &[
        "Great product and helpful support.",
        "Love the dashboards, saves us hours every week.",
        "Excellent onboarding and a responsive team.",
    ];
    const PASSIVE: &[&str] = &[
        "Does the job; reporting could be more flexible.",
        "Good overall, a few rough edges.",
        "Fine for our needs.",
    ];
    const DETRACTOR: &[&str] = &[
        "Too expensive for what we use.",
        "Support is slow and issues keep coming back.",
        "Hard to get the team to adopt it.",
        "Frustrating experience, considering alternatives.",
    ];
    if !rng.bernoulli(0.45) {
        return "";
    }
    match score {
        9..=10 => rng.pick_str(PROMOTER),
        7..=8 => rng.pick_str(PASSIVE),
        _ => rng.pick_str(DETRACTOR),
    }
}

/// Subject of an email the CSM sends; `tech_touch` accounts get automated programme emails.
pub fn csm_email_subject(rng: &mut Rng, tech_touch: bool) -> &'static str {
    const HIGH_TOUCH: &[&str] = &[
        "Following up on our last call",
        "Ideas for your team's next quarter",
        "New release: what it means for you",
        "Checking in",
        "Training session for new users",
        "Your usage summary",
    ];
    const TECH_TOUCH: &[&str] = &[
        "Tips: getting more from dashboards",
        "Your monthly usage summary",
        "Webinar invitation: automation basics",
        "What's new this month",
    ];
    if tech_touch {
        rng.pick_str(TECH_TOUCH)
    } else {
        rng.pick_str(HIGH_TOUCH)
    }
}

/// Subject of an email the customer sends, by tone.
pub fn customer_email_subject(rng: &mut Rng, tone: Tone) -> &'static str {
    const GOOD: &[&str] = &[
        "Re: Following up",
        "Thanks for the session!",
        "Re: Ideas for next quarter",
        "Question about new features",
    ];
    const BAD: &[&str] = &[
        "Re: Renewal concerns",
        "Re: Budget review",
        "Unhappy with recent issues",
        "Re: Checking in - we need to talk",
    ];
    match tone {
        Tone::Frustrated | Tone::Annoyed => rng.pick_str(BAD),
        _ => rng.pick_str(GOOD),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> i32 {
        const NEG: &[&str] = &[
            "frustrat",
            "unacceptable",
            "disappoint",
            "terrible",
            "broken",
            "worst",
            "angry",
            "poor",
        ];
        const POS: &[&str] = &[
            "thank",
            "great",
            "love",
            "appreciate",
            "helpful",
            "excellent",
            "awesome",
            "happy",
        ];
        let t = text.to_lowercase();
        POS.iter().filter(|w| t.contains(*w)).count() as i32
            - NEG.iter().filter(|w| t.contains(*w)).count() as i32
    }

    #[test]
    fn a_lexicon_scorer_separates_tones() {
        let mut rng = Rng::seed_from(3);
        let mean = |tone: Tone, rng: &mut Rng| {
            (0..500)
                .map(|_| {
                    let (s, b) = ticket(rng, tone, "Dana");
                    score(&format!("{s} {b}"))
                })
                .sum::<i32>() as f64
                / 500.0
        };
        let (p, n, a, f) = (
            mean(Tone::Positive, &mut rng),
            mean(Tone::Neutral, &mut rng),
            mean(Tone::Annoyed, &mut rng),
            mean(Tone::Frustrated, &mut rng),
        );
        assert!(
            p > 1.0 && n.abs() < 0.3 && a < -0.5 && f < -1.2,
            "{p} {n} {a} {f}"
        );
    }
}
