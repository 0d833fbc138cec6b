//! Seat utilisation fall: the share of bought seats in use fell by 30% or more, or is below 20%.
//!
//! Utilisation is the monthly active users of the last whole calendar month (the `monthly_active_users` series,
//! dated by each month's last day, so the month in progress is never read) divided by the seats bought as of
//! the day. It is compared with the mean of the three whole months before; a month without a point counts as
//! zero users, once the series has started. A fall must also lose at least two users, so that 3 users
//! becoming 2 on a small plan is not news. Low utilisation on its own is the classic set-up for a seat cut at
//! renewal: it is low severity, medium when the renewal is within 120 days.

use crate::{mean, month_label, months_label, Context, Detection, Detector, Direction};
use bellwether_core::model::Severity;
use bellwether_core::series::MONTHLY_ACTIVE_USERS;
use serde_json::json;

/// Fires on a fall of at least `min_fall` against the three months before, or utilisation below `low_line`.
pub struct SeatUtilisationFall {
    /// Smallest relative fall of monthly active users that fires (0.3 = 30%).
    pub min_fall: f64,
    /// Utilisation below which the account fires regardless of the trend (0.2 = 20% of seats).
    pub low_line: f64,
    /// Fewest users lost for a fall to count.
    pub min_users_lost: f64,
}

impl Default for SeatUtilisationFall {
    fn default() -> Self {
        SeatUtilisationFall {
            min_fall: 0.3,
            low_line: 0.2,
            min_users_lost: 2.0,
        }
    }
}

impl Detector for SeatUtilisationFall {
    fn kind(&self) -> &'static str {
        "seat_utilisation_fall"
    }
    fn direction(&self) -> Direction {
        Direction::Risk
    }
    fn cooldown_days(&self) -> i32 {
        30
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let seats = cx.features.seats.filter(|s| *s > 0)? as f64;
        let mau = cx.series?.get(MONTHLY_ACTIVE_USERS)?;
        let ends = cx.month_ends(4);
        if mau.first_day()? > ends[0] {
            return None;
        }
        let users: Vec<f64> = ends.iter().map(|e| mau.sum(*e, e.plus(1)) + 0.0).collect();
        let now = users[3];
        let base = mean(&users[..3])?;
        let (util, base_util) = (now / seats, base / seats);
        let fall = if base > 0.0 { 1.0 - now / base } else { 0.0 };
        let fell = fall >= self.min_fall && base - now >= self.min_users_lost;
        let low = util < self.low_line;
        if !fell && !low {
            return None;
        }
        let renewal_soon = cx.features.days_to_renewal.is_some_and(|d| d <= 120);
        let severity = match (fell, low) {
            (true, true) => Severity::High,
            (true, false) if fall >= 0.5 => Severity::High,
            (true, false) => Severity::Medium,
            _ if renewal_soon => Severity::Medium,
            _ => Severity::Low,
        };
        let (month, before) = (month_label(ends[3]), months_label(ends[0], ends[2]));
        let explanation = if fell {
            format!(
                "Monthly active users fell {:.0}% to {now:.0} in {month}, from an average of {base:.0} over {before}: {now:.0} of {seats:.0} seats in use ({:.0}%) against {:.0}% before.",
                fall * 100.0,
                util * 100.0,
                base_util * 100.0
            )
        } else {
            format!(
                "Only {now:.0} of {seats:.0} seats ({:.0}%) were used in {month}, below the {:.0}% line; the three months before averaged {base:.0} users ({:.0}%).",
                util * 100.0,
                self.low_line * 100.0,
                base_util * 100.0
            )
        };
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "seats": seats, "mau": now, "mau_baseline": base, "utilisation": util,
                "utilisation_baseline": base_util, "fall": fall, "month_end": ends[3].to_string(),
                "baseline_months": users[..3], "days_to_renewal": cx.features.days_to_renewal,
            }),
            explanation,
            suggested_action: if fell {
                "Find out which teams stopped logging in and why; offer those teams training or a relaunch before the renewal turns into a conversation about cutting seats.".into()
            } else {
                "Agree an adoption plan with the champion to put the unused seats to work (who should have access, which workflows to roll out) before the renewal conversation turns to cutting them.".into()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::Day;

    /// Monthly active users at the ends of March to July 2025 (July being the month in progress on the day).
    fn kit(seats: i64, months: [f64; 5]) -> Kit {
        let mut k = Kit::new(Day::ymd(2025, 7, 15));
        let ends = [
            Day::ymd(2025, 3, 31),
            Day::ymd(2025, 4, 30),
            Day::ymd(2025, 5, 31),
            Day::ymd(2025, 6, 30),
            Day::ymd(2025, 7, 31),
        ];
        k.points(
            MONTHLY_ACTIVE_USERS,
            ends.into_iter().zip(months).filter(|p| p.1 > 0.0).collect(),
        );
        k.features.seats = Some(seats);
        k.features.days_to_renewal = Some(200);
        k
    }

    #[test]
    fn a_fall_fires_with_its_numbers() {
        let d = kit(60, [42.0, 40.0, 44.0, 25.0, 60.0])
            .run(&SeatUtilisationFall::default())
            .expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert!(
            d.explanation.contains(
                "fell 40% to 25 in June 2025, from an average of 42 over March to May 2025"
            ) && d
                .explanation
                .contains("25 of 60 seats in use (42%) against 70% before"),
            "{}",
            d.explanation
        );
        // A month with no users at all counts as zero: a fall to nothing, and below the line.
        let d = kit(60, [42.0, 40.0, 44.0, 0.0, 0.0])
            .run(&SeatUtilisationFall::default())
            .unwrap();
        assert_eq!(d.severity, Severity::High);
    }

    #[test]
    fn chronic_low_use_is_low_and_medium_near_renewal() {
        let mut k = kit(60, [10.0, 9.0, 11.0, 9.0, 9.0]);
        let d = k.run(&SeatUtilisationFall::default()).expect("fires");
        assert_eq!(d.severity, Severity::Low);
        assert!(
            d.explanation
                .contains("Only 9 of 60 seats (15%) were used in June 2025"),
            "{}",
            d.explanation
        );
        k.features.days_to_renewal = Some(90);
        assert_eq!(
            k.run(&SeatUtilisationFall::default()).unwrap().severity,
            Severity::Medium
        );
    }

    #[test]
    fn small_dips_the_month_in_progress_and_short_histories_do_not_fire() {
        // A 10% dip.
        assert!(kit(60, [42.0, 40.0, 44.0, 38.0, 0.0])
            .run(&SeatUtilisationFall::default())
            .is_none());
        // The month in progress (dated 31 July, after the day) is not read, however low.
        assert!(kit(60, [42.0, 40.0, 44.0, 41.0, 3.0])
            .run(&SeatUtilisationFall::default())
            .is_none());
        // Three users to two on a five-seat plan loses too few people to judge by the fall.
        assert!(kit(5, [3.0, 3.0, 3.0, 2.0, 2.0])
            .run(&SeatUtilisationFall::default())
            .is_none());
        // Too little history: the series starts in May.
        assert!(kit(60, [0.0, 0.0, 44.0, 20.0, 20.0])
            .run(&SeatUtilisationFall::default())
            .is_none());
        // No seat count, no utilisation.
        let mut k = kit(60, [42.0, 40.0, 44.0, 25.0, 0.0]);
        k.features.seats = None;
        assert!(k.run(&SeatUtilisationFall::default()).is_none());
    }
}
