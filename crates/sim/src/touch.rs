//! Touchpoints between the vendor and the customer: QBR invitations and their answers, meetings, emails both
//! ways and NPS answers (surveys each March and September).
//!
//! Mid-market and enterprise accounts get a QBR invitation each quarter and regular check-ins; SMB accounts are
//! tech-touch (automated programme emails, rare replies). Trouble drivers make sponsors decline or ignore QBRs,
//! replies dry up, NPS falls and, late on, the customer writes about the renewal; expansion drivers bring
//! questions about more seats.

use crate::account::{business_second, Bufs, Ctx, Story};
use crate::book::{stream, Archetype, Segment};
use crate::out::{push_day, push_text, push_time_of_day, push_u64, File};
use crate::people::People;
use crate::rng::Rng;
use crate::text::{self, Tone};
use bellwether_core::time::Day;

struct Ix {
    day: i32,
    sec: u32,
    kind: &'static str,
    /// User number of the contact.
    contact: Option<u32>,
    response: &'static str,
    score: Option<u32>,
    note: String,
}

/// Writes the account's interactions in time order.
pub(crate) fn write(ctx: &Ctx, story: &Story, people: &People, bufs: &mut Bufs) {
    let plan = story.plan;
    let mut r = Rng::stream(ctx.cfg.seed, plan.idx as u64, stream::TOUCH);
    let first = story.first.0;
    let last = story.last.0;
    if last < first {
        return;
    }
    let s = story.s;
    let arch = plan.archetype;
    let seg = plan.segment;
    let cs = plan.contract_start.0;
    let new = plan.contract_start >= ctx.start;
    let off = plan.utc_offset_h;
    let mut evs: Vec<Ix> = Vec::new();
    let user_n = |c: Option<&crate::people::Contact>| c.map(|c| people.users[c.user].n);

    if new && cs < last {
        let d = (cs + r.range_i32(1, 10)).min(last);
        let c = user_n(people.voice(Day(d)));
        let sec = business_second(&mut r, off);
        evs.push(Ix {
            day: d,
            sec,
            kind: "meeting",
            contact: c,
            response: "",
            score: None,
            note: "Onboarding kickoff".into(),
        });
    }

    // Quarterly business reviews.
    if seg != Segment::Smb {
        let fa_from = if plan.false_alarm {
            Some(first + r.below((last - first + 1) as u64) as i32)
        } else {
            None
        };
        let mut fa_done = false;
        let mut d = first + if new { 90 } else { r.below(91) as i32 };
        while d <= last {
            let day = Day(d);
            let contact = people.sponsor_on(day).or_else(|| people.voice(day));
            let x = story.progress(day);
            let mut bad = 0.0;
            if story.troubled(day) {
                let k = if matches!(arch, Archetype::BudgetTrouble | Archetype::ChampionLoss) {
                    1.3
                } else {
                    1.0
                };
                bad = ((0.15 + 0.75 * x) * s * k).clamp(0.0, 0.95);
            }
            let w = if story.expanding(day) {
                [0.8, 0.08, 0.12]
            } else {
                let accept = 0.65 * (1.0 - bad);
                let decline = 0.12 + 0.25 * bad;
                [accept, decline, (1.0 - accept - decline).max(0.0)]
            };
            let mut response = ["accepted", "declined", "ignored"][r.weighted(&w)];
            if fa_from.is_some_and(|f| d >= f) && !fa_done {
                response = "declined";
                fa_done = true;
            }
            let (y, m, _) = day.civil();
            let note = format!("Q{} {} business review", (m - 1) / 3 + 1, y);
            let sec = business_second(&mut r, off);
            let meet = d + r.range_i32(7, 21);
            evs.push(Ix {
                day: d,
                sec,
                kind: "qbr_invite",
                contact: user_n(contact),
                response,
                score: None,
                note,
            });
            if response == "accepted" && meet <= last {
                let sec = business_second(&mut r, off);
                evs.push(Ix {
                    day: meet,
                    sec,
                    kind: "meeting",
                    contact: user_n(contact),
                    response: "",
                    score: None,
                    note: "Quarterly business review".into(),
                });
            }
            d += 91 + r.range_i32(-5, 5);
        }
        // Check-ins.
        const NOTES: [&str; 4] = [
            "Check-in call",
            "Roadmap review",
            "Training session",
            "Success plan review",
        ];
        let mean = if seg == Segment::Enterprise {
            30.0
        } else {
            60.0
        };
        let mut d = first + r.exponential(mean) as i32;
        while d <= last {
            let day = Day(d);
            let skip =
                story.troubled(day) && r.bernoulli((0.5 * s * story.progress(day)).min(0.95));
            let note = *r.pick(&NOTES);
            let sec = business_second(&mut r, off);
            if !skip {
                let c = user_n(people.voice(day));
                evs.push(Ix {
                    day: d,
                    sec,
                    kind: "meeting",
                    contact: c,
                    response: "",
                    score: None,
                    note: note.into(),
                });
            }
            d += 7 + r.exponential(mean) as i32;
        }
    }

    // Emails from the CSM, and replies.
    let mean_gap = [40.0, 18.0, 10.0][seg.index()];
    let base_reply = [0.12, 0.5, 0.55][seg.index()];
    let mut d = first + r.exponential(mean_gap) as i32;
    while d <= last {
        let day = Day(d);
        let x = story.progress(day);
        let mut p = base_reply;
        if story.troubled(day) {
            p *= (1.0 - 0.7 * s * x).max(0.05);
        } else if story.expanding(day) {
            p = (p * 1.2).min(0.95);
        }
        let replied = r.bernoulli(p);
        let subject = text::csm_email_subject(&mut r, seg == Segment::Smb);
        let sec = business_second(&mut r, off);
        let lag = r.range_i32(0, 3);
        let sour = story.troubled(day) && r.bernoulli((0.6 * s * x).min(1.0));
        let reply_subject =
            text::customer_email_subject(&mut r, if sour { Tone::Annoyed } else { Tone::Neutral });
        let reply_sec = business_second(&mut r, off);
        if let Some(c) = people.voice(day) {
            let n = people.users[c.user].n;
            let response = if replied { "replied" } else { "ignored" };
            evs.push(Ix {
                day: d,
                sec,
                kind: "email_sent",
                contact: Some(n),
                response,
                score: None,
                note: subject.into(),
            });
            if replied && d + lag <= last {
                evs.push(Ix {
                    day: d + lag,
                    sec: reply_sec,
                    kind: "email_received",
                    contact: Some(n),
                    response: "",
                    score: None,
                    note: reply_subject.into(),
                });
            }
        }
        d += 1 + r.exponential(mean_gap) as i32;
    }

    // Unprompted emails from the customer late in a driver's course.
    if let (Some(t), Some(e)) = (plan.trouble_start, plan.decisive) {
        let (p, lo, hi, note) = if arch.is_trouble() {
            let note = if arch == Archetype::BudgetTrouble {
                "Budget review: we need to reduce our spend"
            } else {
                "Re: Renewal concerns"
            };
            ((0.5 * s).min(0.9), 0.5, 0.95, note)
        } else if arch == Archetype::SeatSaturation {
            (
                (0.6 * s).min(0.9),
                0.4,
                0.9,
                "Running out of seats - can we add more?",
            )
        } else {
            (
                (0.6 * s).min(0.9),
                0.2,
                0.7,
                "New team wants access - pricing for more seats?",
            )
        };
        let yes = r.bernoulli(p);
        let d = t.0 + ((e.0 - t.0) as f64 * r.uniform(lo, hi)) as i32;
        let sec = business_second(&mut r, off);
        if yes && d >= first && d <= last {
            let c = user_n(people.sponsor_on(Day(d)).or_else(|| people.voice(Day(d))));
            evs.push(Ix {
                day: d,
                sec,
                kind: "email_received",
                contact: c,
                response: "",
                score: None,
                note: note.into(),
            });
        }
    }

    // NPS surveys: 10 March and 10 September, answered over the following days.
    let (y0, _, _) = ctx.start.civil();
    let (y1, _, _) = ctx.end.civil();
    for y in y0..=y1 {
        for m in [3, 9] {
            let sent = Day::ymd(y, m, 10);
            if sent.0 < first || sent.0 > last || sent.0 < cs + 60 {
                continue;
            }
            let mut respondents: Vec<&crate::people::Contact> = Vec::new();
            if let Some(v) = people.voice(sent) {
                respondents.push(v);
            }
            for _ in 0..2 {
                if let Some(c) = people.any_contact(&mut r, sent) {
                    if !respondents.iter().any(|x| x.user == c.user) {
                        respondents.push(c);
                    }
                }
            }
            for c in respondents {
                let x = story.progress(sent);
                let troubled = story.troubled(sent);
                let p = if troubled {
                    0.35 * (1.0 - 0.4 * s * x).max(0.1)
                } else {
                    0.35
                };
                let answers = r.bernoulli(p);
                let mu = if troubled {
                    match arch {
                        Archetype::SupportFrustration => 8.2 - 5.5 * s * x,
                        Archetype::FailedOnboarding => 8.2 - 3.0 * s * x,
                        _ => 8.2 - 4.0 * s * x,
                    }
                } else if story.expanding(sent) {
                    8.8
                } else if plan.false_alarm {
                    7.8
                } else {
                    8.2
                };
                let score = r
                    .normal(mu, 1.5 * story.noise.sqrt())
                    .round()
                    .clamp(0.0, 10.0) as u32;
                let comment = text::nps_comment(&mut r, score);
                let d = sent.0 + r.range_i32(0, 6);
                let sec = business_second(&mut r, off);
                if answers && d <= last {
                    let n = people.users[c.user].n;
                    if people.users[c.user].present(d) {
                        evs.push(Ix {
                            day: d,
                            sec,
                            kind: "nps",
                            contact: Some(n),
                            response: "",
                            score: Some(score),
                            note: comment.into(),
                        });
                    }
                }
            }
        }
    }

    let mut order: Vec<usize> = (0..evs.len()).collect();
    order.sort_by_key(|&i| (evs[i].day, evs[i].sec, i));
    for (k, &i) in order.iter().enumerate() {
        let e = &evs[i];
        let b = bufs.line(File::Interactions);
        b.extend_from_slice(b"i-");
        push_u64(b, story.num as u64);
        b.push(b'-');
        push_u64(b, k as u64 + 1);
        b.push(b',');
        push_text(b, &plan.id);
        b.push(b',');
        push_day(b, Day(e.day));
        push_time_of_day(b, e.sec);
        b.push(b',');
        b.extend_from_slice(e.kind.as_bytes());
        b.push(b',');
        if let Some(n) = e.contact {
            push_text(b, &plan.id);
            b.extend_from_slice(b"-u");
            push_u64(b, n as u64);
        }
        b.push(b',');
        b.extend_from_slice(e.response.as_bytes());
        b.push(b',');
        if let Some(sc) = e.score {
            push_u64(b, sc as u64);
        }
        b.push(b',');
        push_text(b, &e.note);
        b.push(b'\n');
    }
}
