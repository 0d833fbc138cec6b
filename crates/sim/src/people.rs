//! The people at an account: product users (who join, leave, go dormant) and the contacts among them
//! (champion, executive sponsor, admin, a few users), with their turnover and the hidden drivers' effect on them.
//!
//! User ids are `<account_id>-u<n>`; a contact's id is its user id, so a champion who stops appearing in the
//! events is the same person whose `left` row appears in `contacts.csv`.

use crate::account::{Bufs, Ctx, Story};
use crate::book::{stream, Archetype, Segment};
use crate::names;
use crate::out::{push_day, push_text, push_u64, File};
use crate::rng::{math, Rng};
use bellwether_core::time::Day;

/// A day far in the future: "never".
pub(crate) const NEVER: i32 = i32::MAX;

/// Scale of per-user activity, tuned so the default book writes about 1,100 events per account (see
/// docs/simulator.md for the resulting volumes).
const ACTIVITY: f64 = 0.166;

/// How a user uses the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Persona {
    /// Looks at dashboards and reports.
    Viewer = 0,
    /// Builds reports, workflows, comments.
    Creator = 1,
    /// Configures the product.
    Admin = 2,
    /// Connects systems: API, integrations.
    Integrator = 3,
}

/// Feature events per active day (beyond the login) by persona.
const PERSONA_LAMBDA: [f64; 4] = [0.3, 0.7, 0.45, 0.9];

/// A product user.
#[derive(Clone, Debug)]
pub(crate) struct User {
    /// The number in the user id.
    pub n: u32,
    /// First day in the product.
    pub join: i32,
    /// First day no longer there ([`NEVER`] if staying).
    pub leave: i32,
    /// First day of (near) inactivity, [`NEVER`] if none.
    pub dormant: i32,
    /// Probability of being active on an ordinary workday.
    pub p: f64,
    /// `exp(-λ)` for λ the mean number of feature events per active day (for Poisson draws).
    pub exp_neg_lambda: f64,
    pub persona: Persona,
}

impl User {
    /// Is the user at the account on `d`?
    #[inline]
    pub fn present(&self, d: i32) -> bool {
        self.join <= d && d < self.leave
    }
}

/// A stakeholder: a user with a name, a title and a role.
#[derive(Clone, Debug)]
pub(crate) struct Contact {
    /// Index into [`People::users`].
    pub user: usize,
    pub first: &'static str,
    pub last: &'static str,
    pub email: String,
    pub title: &'static str,
    pub role: &'static str,
    /// Day this contact became the champion, after the previous one left.
    pub promoted: Option<Day>,
}

/// Users and contacts of an account.
pub(crate) struct People {
    pub users: Vec<User>,
    /// Users ordered by join day.
    pub order: Vec<usize>,
    pub contacts: Vec<Contact>,
    /// Index into `users` of the initial champion and admin.
    pub champion: usize,
    pub admin: usize,
}

impl People {
    /// The contact who speaks for the account on `d`: the champion (or promoted successor) if present, else
    /// the admin, else any present contact.
    pub fn voice(&self, d: Day) -> Option<&Contact> {
        let present = |c: &&Contact| self.users[c.user].present(d.0);
        let champion = self
            .contacts
            .iter()
            .filter(|c| c.role == "champion" || c.promoted.is_some_and(|p| p <= d))
            .rev()
            .find(present);
        champion
            .or_else(|| {
                self.contacts
                    .iter()
                    .filter(|c| c.role == "admin")
                    .find(present)
            })
            .or_else(|| self.contacts.iter().find(present))
    }

    /// The executive sponsor if present on `d`.
    pub fn sponsor_on(&self, d: Day) -> Option<&Contact> {
        self.contacts
            .iter()
            .find(|c| c.role == "executive_sponsor" && self.users[c.user].present(d.0))
    }

    /// A uniformly chosen contact present on `d`.
    pub fn any_contact(&self, r: &mut Rng, d: Day) -> Option<&Contact> {
        let n = self
            .contacts
            .iter()
            .filter(|c| self.users[c.user].present(d.0))
            .count();
        if n == 0 {
            return None;
        }
        let k = r.below(n as u64) as usize;
        self.contacts
            .iter()
            .filter(|c| self.users[c.user].present(d.0))
            .nth(k)
    }

    /// The user to credit with an admin action on `d` (admin, else champion, else any present user).
    pub fn actor(&self, d: i32) -> Option<usize> {
        [self.admin, self.champion]
            .into_iter()
            .find(|&u| self.users[u].present(d))
            .or_else(|| {
                self.order
                    .iter()
                    .copied()
                    .find(|&u| self.users[u].present(d))
            })
    }
}

fn utilisation(r: &mut Rng, seg: Segment) -> f64 {
    match seg {
        Segment::Smb => r.uniform(0.5, 0.95),
        Segment::MidMarket => r.uniform(0.45, 0.85),
        Segment::Enterprise => r.uniform(0.35, 0.75),
    }
}

struct Builder<'r> {
    r: &'r mut Rng,
    users: Vec<User>,
    p0: f64,
}

impl Builder<'_> {
    fn add(&mut self, join: i32, persona: Persona, activity: f64) -> usize {
        let p = (self.p0 * activity * self.r.lognormal_median(1.0, 0.6)).clamp(0.003, 0.85);
        let lambda = PERSONA_LAMBDA[persona as usize] * self.r.lognormal_median(1.0, 0.3);
        let n = self.users.len() as u32 + 1;
        self.users.push(User {
            n,
            join,
            leave: NEVER,
            dormant: NEVER,
            p,
            exp_neg_lambda: math::exp(-lambda),
            persona,
        });
        self.users.len() - 1
    }

    fn random_persona(&mut self, weights: &[f64; 4]) -> Persona {
        [
            Persona::Viewer,
            Persona::Creator,
            Persona::Admin,
            Persona::Integrator,
        ][self.r.weighted(weights)]
    }

    fn count_present(&self, d: i32) -> usize {
        self.users.iter().filter(|u| u.present(d)).count()
    }
}

const ORDINARY: [f64; 4] = [0.5, 0.3, 0.05, 0.15];
const NEW_TEAM: [f64; 4] = [0.2, 0.5, 0.0, 0.3];

/// Builds the users and contacts of an account.
pub(crate) fn build(ctx: &Ctx, story: &Story) -> People {
    let plan = story.plan;
    let mut r = Rng::stream(ctx.cfg.seed, plan.idx as u64, stream::USERS);
    let first = story.first.0;
    let last = story.last.0;
    let cs = plan.contract_start.0;
    let new = plan.contract_start >= ctx.start;
    let s = story.s;
    let arch = plan.archetype;
    let ts = plan.trouble_start.map(|d| d.0);
    let dec = plan.decisive.map(|d| d.0);
    let seats = story.period_at(story.first).seats;
    let util = utilisation(&mut r, plan.segment);
    let n_target = ((seats as f64 * util).round() as usize).max(1);
    let p0 = ACTIVITY * math::powf(n_target as f64 / 5.0, -0.6).min(1.6);
    let mut b = Builder {
        r: &mut r,
        users: Vec::new(),
        p0,
    };

    // Initial users: the champion, the sponsor and the rest of the team.
    let failed = arch == Archetype::FailedOnboarding;
    let joining = 1.0 - (1.0 - b.r.uniform(0.2, 0.45)) * s.min(1.0);
    let n_initial = if failed {
        ((n_target as f64 * joining).round() as usize).max(1)
    } else {
        n_target
    };
    let ramp = if failed {
        b.r.uniform(40.0, 80.0)
    } else {
        b.r.uniform(10.0, 45.0)
    };
    let join_of = |b: &mut Builder, k: usize| -> i32 {
        if !new {
            (first - 1 - b.r.below(720) as i32).max(cs)
        } else {
            match k {
                0 => cs,
                1 => cs + b.r.below(6) as i32,
                2 => cs + b.r.below(4) as i32,
                _ => cs + (b.r.exponential(ramp) as i32).min(240),
            }
        }
    };
    let j = join_of(&mut b, 0);
    let champion = b.add(j, Persona::Creator, 2.2);
    let j = join_of(&mut b, 1);
    let sponsor = b.add(j, Persona::Viewer, 0.3);
    let mut admin = champion;
    for k in 1..n_initial {
        let j = join_of(&mut b, k + 1);
        if k == 1 && n_target >= 4 {
            admin = b.add(j, Persona::Admin, 1.5);
        } else {
            let persona = b.random_persona(&ORDINARY);
            b.add(j, persona, 1.0);
        }
    }

    // Turnover: leavers, most of them replaced.
    let troubled_after = |d: i32| arch.is_trouble() && ts.is_some_and(|t| d >= t);
    let mut i = 0;
    while i < b.users.len() {
        let from = b.users[i].join.max(first);
        let mean = if i == champion {
            6.0 * 365.0
        } else if i == sponsor {
            7.0 * 365.0
        } else {
            3.5 * 365.0
        };
        let leave = from + b.r.exponential(mean) as i32;
        let replace =
            b.r.bernoulli(if troubled_after(leave) { 0.35 } else { 0.92 });
        let gap = 5 + b.r.below(36) as i32;
        if leave <= last && b.users[i].leave == NEVER {
            b.users[i].leave = leave;
            if replace && leave + gap <= last && i != sponsor {
                let persona = if i == champion || i == admin {
                    Persona::Creator
                } else {
                    b.users[i].persona
                };
                b.add(leave + gap, persona, 1.0);
            }
        }
        i += 1;
        if b.users.len() > 50_000 {
            break;
        }
    }

    // Organic growth for accounts not in trouble.
    let years = ((last - first + 1).max(0) as f64) / 365.0;
    let growth = b.r.poisson(n_target as f64 * 0.08 * years);
    for _ in 0..growth {
        let d = first + b.r.below((last - first + 1).max(1) as u64) as i32;
        if !troubled_after(d) {
            let persona = b.random_persona(&ORDINARY);
            b.add(d, persona, 1.0);
        }
    }

    // The champion's fate and successor.
    let mut promotions: Vec<i32> = Vec::new();
    match (arch, ts) {
        (Archetype::ChampionLoss, Some(t)) => {
            if b.r.bernoulli(s.min(1.0)) {
                b.users[champion].leave = t;
            }
            if b.r.bernoulli(0.3 * s.min(1.0)) {
                let t2 = t + b.r.range_i32(0, 60);
                if b.users[sponsor].leave > t2 {
                    b.users[sponsor].leave = t2;
                }
            }
            if b.r.bernoulli(0.35) {
                promotions.push(t + b.r.range_i32(60, 150));
            }
        }
        _ => {
            if plan.false_alarm && b.r.bernoulli(0.4) && last - first > 120 {
                let t = b.r.range_i32(first + 60, last - 30);
                b.users[champion].leave = t;
                promotions.push(t + b.r.range_i32(10, 40));
            } else if b.users[champion].leave <= last {
                let t = b.users[champion].leave;
                if b.r.bernoulli(0.9) {
                    promotions.push(t + b.r.range_i32(15, 60));
                }
            }
        }
    }

    // Drivers that act on users. A self-serve account's trouble acts through its engagement path instead.
    let acts_on_users = plan.engagement.is_none() || arch.is_expansion();
    match (arch, ts, dec) {
        _ if !acts_on_users => {}
        (Archetype::SlowDisengagement, Some(t), Some(e)) => {
            let depth = (0.75 * s).clamp(0.0, 0.95);
            for u in 0..b.users.len() {
                let go = b.r.bernoulli(depth);
                let when = t + ((e - t) as f64 * b.r.f64()) as i32;
                if go && b.users[u].present(t) && u != sponsor {
                    b.users[u].dormant = when;
                }
            }
        }
        (Archetype::ChampionLoss, Some(t), Some(e)) => {
            for u in 0..b.users.len() {
                let go = b.r.bernoulli((0.5 * s).clamp(0.0, 0.95));
                let when = t + 14 + ((e - t - 14).max(1) as f64 * b.r.f64()) as i32;
                if go && b.users[u].present(t) && u != champion {
                    b.users[u].dormant = when;
                }
            }
        }
        (Archetype::SupportFrustration, Some(t), Some(e)) => {
            for u in 0..b.users.len() {
                let go = b.r.bernoulli((0.3 * s).clamp(0.0, 0.95));
                let when = t + ((e - t) as f64 * b.r.uniform(0.3, 1.0)) as i32;
                if go && b.users[u].present(t) {
                    b.users[u].dormant = when;
                }
            }
        }
        (Archetype::FailedOnboarding, Some(t), _) => {
            for u in 0..b.users.len() {
                let go = b.r.bernoulli((0.6 * s).clamp(0.0, 0.95));
                let when = t + b.r.range_i32(30, 120);
                if go {
                    b.users[u].dormant = when.max(b.users[u].join + 14);
                }
            }
        }
        (Archetype::BudgetTrouble, Some(_), _) => {
            if let Some(cut) = story.cut_day {
                let keep = ((story.period_at(cut).seats as f64) * 0.9).round() as usize;
                let mut present: Vec<usize> = (0..b.users.len())
                    .filter(|&u| {
                        b.users[u].present(cut.0) && u != champion && u != sponsor && u != admin
                    })
                    .collect();
                let mut count = b.count_present(cut.0);
                while count > keep.max(1) && !present.is_empty() {
                    let k = b.r.below(present.len() as u64) as usize;
                    let u = present.swap_remove(k);
                    b.users[u].leave = cut.0;
                    count -= 1;
                }
            }
        }
        (Archetype::SeatSaturation, Some(t), Some(e)) => {
            let target = (seats as f64 * b.r.uniform(0.97, 1.12)).round() as usize;
            let now = b.count_present(t);
            let extra = target.saturating_sub(now) + 1 + b.r.below(3) as usize;
            let extra = (extra as f64 * s.min(1.0)).round() as usize;
            for _ in 0..extra {
                let d = t + ((e - t) as f64 * b.r.f64()) as i32;
                let persona = b.random_persona(&ORDINARY);
                b.add(d, persona, 1.0);
            }
            let new_seats = story.period_at(Day(e)).seats as usize;
            let more =
                ((new_seats as f64 * b.r.uniform(0.8, 0.95)) as usize).saturating_sub(target);
            let more = (more as f64 * s.min(1.0)).round() as usize;
            for _ in 0..more {
                let d = e + b.r.range_i32(0, 180);
                let persona = b.random_persona(&ORDINARY);
                b.add(d, persona, 1.0);
            }
        }
        (Archetype::NewTeamAdoption, Some(t), Some(e)) => {
            let now = b.count_present(t);
            let k = (now as f64 * b.r.uniform(0.4, 0.9) * s).round() as usize;
            let k = if s > 0.0 { k.max(2) } else { 0 };
            for _ in 0..k {
                let d = t + b.r.range_i32(0, 21);
                let persona = b.random_persona(&NEW_TEAM);
                b.add(d, persona, 1.2);
            }
            for _ in 0..k / 3 {
                let d = e + b.r.range_i32(0, 120);
                let persona = b.random_persona(&NEW_TEAM);
                b.add(d, persona, 1.0);
            }
        }
        _ => {}
    }

    let mut order: Vec<usize> = (0..b.users.len()).collect();
    order.sort_by_key(|&u| (b.users[u].join, u));
    let users = std::mem::take(&mut b.users);

    // Contacts: champion, sponsor, admin and a few users.
    let mut contacts: Vec<Contact> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut contact = |r: &mut Rng,
                       contacts: &mut Vec<Contact>,
                       user: usize,
                       role: &'static str,
                       promoted: Option<Day>| {
        let (first, last) = names::person(r);
        let title = match role {
            "champion" => *r.pick(names::CHAMPION_TITLES),
            "executive_sponsor" => *r.pick(names::SPONSOR_TITLES),
            "admin" => *r.pick(names::ADMIN_TITLES),
            _ => *r.pick(names::USER_TITLES),
        };
        let mut local = names::email_local(first, last);
        if !seen.insert(local.clone()) {
            local = format!("{local}{}", users[user].n);
            seen.insert(local.clone());
        }
        contacts.push(Contact {
            user,
            first,
            last,
            email: format!("{local}@{}", plan.domain),
            title,
            role,
            promoted,
        });
    };
    contact(&mut r, &mut contacts, champion, "champion", None);
    contact(&mut r, &mut contacts, sponsor, "executive_sponsor", None);
    if admin != champion {
        contact(&mut r, &mut contacts, admin, "admin", None);
    }
    let n_user_contacts = match plan.segment {
        Segment::Smb => 1,
        Segment::MidMarket => 3,
        Segment::Enterprise => 6,
    };
    let mut picked = 0;
    for (u, user) in users.iter().enumerate() {
        if picked >= n_user_contacts {
            break;
        }
        if u != champion && u != sponsor && u != admin && user.join < first.max(cs + 30) {
            contact(&mut r, &mut contacts, u, "user", None);
            picked += 1;
        }
    }
    for t in promotions {
        if t > last {
            continue;
        }
        // Promote a present user contact, else a present user not yet a contact.
        let existing = (0..contacts.len()).find(|&c| {
            contacts[c].role == "user"
                && contacts[c].promoted.is_none()
                && users[contacts[c].user].present(t)
        });
        match existing {
            Some(c) => contacts[c].promoted = Some(Day(t)),
            None => {
                let candidate = order.iter().copied().find(|&u| {
                    u != sponsor && users[u].present(t) && !contacts.iter().any(|c| c.user == u)
                });
                if let Some(u) = candidate {
                    contact(&mut r, &mut contacts, u, "user", Some(Day(t)));
                }
            }
        }
    }
    People {
        users,
        order,
        contacts,
        champion,
        admin,
    }
}

/// Writes `contacts.csv` rows: each contact when first seen, a role change on promotion, a `left` row.
pub(crate) fn write_contacts(ctx: &Ctx, story: &Story, people: &People, bufs: &mut Bufs) {
    let plan = story.plan;
    let row = |bufs: &mut Bufs,
               c: &Contact,
               role: &str,
               status: &str,
               valid_from: Day,
               first_seen: Day| {
        let b = bufs.line(File::Contacts);
        push_text(b, &plan.id);
        b.extend_from_slice(b"-u");
        push_u64(b, people.users[c.user].n as u64);
        b.push(b',');
        push_text(b, &plan.id);
        b.push(b',');
        push_text(b, &c.email);
        b.push(b',');
        push_text(b, c.first);
        b.push(b' ');
        push_text(b, c.last);
        b.push(b',');
        push_text(b, c.title);
        b.push(b',');
        b.extend_from_slice(role.as_bytes());
        b.push(b',');
        b.extend_from_slice(status.as_bytes());
        b.push(b',');
        push_day(b, valid_from);
        b.push(b',');
        push_day(b, first_seen);
        b.push(b'\n');
    };
    for c in &people.contacts {
        let u = &people.users[c.user];
        let first_seen = Day(u.join);
        if first_seen > ctx.end {
            continue;
        }
        row(bufs, c, c.role, "active", first_seen, first_seen);
        let mut role = c.role;
        if let Some(p) = c.promoted.filter(|p| *p <= ctx.end) {
            role = "champion";
            row(bufs, c, role, "active", p, first_seen);
        }
        if u.leave <= ctx.end.0 {
            row(bufs, c, role, "left", Day(u.leave), first_seen);
        }
    }
}
