//! Seat saturation: the account is using (nearly) all the seats it bought, or its users are growing toward
//! the limit.
//!
//! Monthly active users of the last whole calendar month (the `monthly_active_users` series, dated by each
//! month's last day) are compared with the seats bought as of the day. At 90% or more it fires (high at 100% or
//! over: people are sharing logins or waiting for access). Otherwise it fires at low severity when users rose in
//! each of the last three whole months, already fill 75% of the seats, and at the average monthly growth would
//! fill them within three months. Plans of fewer than 3 seats are left out.

use crate::{month_label, months_label, Context, Detection, Detector, Direction};
use bellwether_core::model::Severity;
use bellwether_core::series::MONTHLY_ACTIVE_USERS;
use serde_json::json;

/// Fires at `near_full` utilisation, or when growth reaches the seat count within `horizon_months`.
pub struct SeatSaturation {
    /// Utilisation that fires on its own (0.9 = 90%).
    pub near_full: f64,
    /// Smallest utilisation for the growth rule.
    pub approaching: f64,
    /// Months within which growth must reach the seats.
    pub horizon_months: f64,
    /// Smallest plan watched.
    pub min_seats: i64,
}

impl Default for SeatSaturation {
    fn default() -> Self {
        SeatSaturation {
            near_full: 0.9,
            approaching: 0.75,
            horizon_months: 3.0,
            min_seats: 3,
        }
    }
}

impl Detector for SeatSaturation {
    fn kind(&self) -> &'static str {
        "seat_saturation"
    }
    fn direction(&self) -> Direction {
        Direction::Expansion
    }
    fn cooldown_days(&self) -> i32 {
        60
    }
    fn detect(&self, cx: &Context) -> Option<Detection> {
        let seats = cx.features.seats.filter(|s| *s >= self.min_seats)? as f64;
        let mau = cx.series?.get(MONTHLY_ACTIVE_USERS)?;
        let ends = cx.month_ends(3);
        let users: Vec<f64> = ends.iter().map(|e| mau.sum(*e, e.plus(1)) + 0.0).collect();
        let now = users[2];
        let util = now / seats;
        let month = month_label(ends[2]);
        let (severity, explanation, months_to_full) = if util >= self.near_full {
            let severity = if util >= 1.0 {
                Severity::High
            } else {
                Severity::Medium
            };
            let tail = if util >= 1.0 {
                "more people are using the product than the seats bought"
            } else {
                "the account is close to its seat limit"
            };
            (
                severity,
                format!(
                    "{now:.0} people used the product in {month} on {seats:.0} seats ({:.0}% utilisation): {tail}.",
                    util * 100.0
                ),
                None,
            )
        } else {
            let rising = users[0] > 0.0 && users[0] < users[1] && users[1] < users[2];
            let growth = (users[2] - users[0]) / 2.0;
            let months = (seats - now) / growth;
            if !rising || util < self.approaching || months > self.horizon_months {
                return None;
            }
            (
                Severity::Low,
                format!(
                    "Monthly active users grew in each of the last three months, to {:.0}, {:.0} and {now:.0} over {}, on {seats:.0} seats ({:.0}% utilisation); at {growth:.1} more users a month the seats run out in about {:.0} month{}.",
                    users[0],
                    users[1],
                    months_label(ends[0], ends[2]),
                    util * 100.0,
                    months.ceil(),
                    if months.ceil() <= 1.0 { "" } else { "s" }
                ),
                Some(months),
            )
        };
        Some(Detection {
            kind: self.kind(),
            direction: self.direction(),
            severity,
            evidence: json!({
                "seats": seats, "mau": now, "utilisation": util, "months": users,
                "month_end": ends[2].to_string(), "months_to_full": months_to_full,
            }),
            explanation,
            suggested_action: "Open an expansion conversation: show the champion the utilisation, ask which teams are waiting for access, and propose more seats or a larger plan ahead of the renewal.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testkit::Kit;
    use bellwether_core::Day;

    /// Monthly active users at the ends of April to July 2025; the day is 15 July (July in progress).
    fn kit(seats: i64, months: [f64; 4]) -> Kit {
        let mut k = Kit::new(Day::ymd(2025, 7, 15));
        let ends = [
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
        k
    }

    #[test]
    fn near_full_and_over_the_limit_fire() {
        let d = kit(60, [50.0, 52.0, 55.0, 10.0])
            .run(&SeatSaturation::default())
            .expect("fires");
        assert_eq!(d.severity, Severity::Medium);
        assert_eq!(d.direction, Direction::Expansion);
        assert_eq!(
            d.explanation,
            "55 people used the product in June 2025 on 60 seats (92% utilisation): the account is close to its seat limit."
        );
        let d = kit(60, [58.0, 60.0, 63.0, 0.0])
            .run(&SeatSaturation::default())
            .unwrap();
        assert_eq!(d.severity, Severity::High);
    }

    #[test]
    fn steady_growth_toward_the_limit_fires_low() {
        let d = kit(60, [40.0, 45.0, 50.0, 0.0])
            .run(&SeatSaturation::default())
            .expect("fires");
        assert_eq!(d.severity, Severity::Low);
        assert_eq!(
            d.explanation,
            "Monthly active users grew in each of the last three months, to 40, 45 and 50 over April to June 2025, on 60 seats (83% utilisation); at 5.0 more users a month the seats run out in about 2 months."
        );
        // At 4 more a month from 46 the seats last beyond three months.
        assert!(kit(60, [38.0, 42.0, 46.0, 0.0])
            .run(&SeatSaturation::default())
            .is_none());
    }

    #[test]
    fn flat_or_slow_use_and_the_month_in_progress_do_not_fire() {
        assert!(kit(60, [40.0, 40.0, 41.0, 0.0])
            .run(&SeatSaturation::default())
            .is_none());
        // Rising, but far from the limit.
        assert!(kit(100, [40.0, 45.0, 50.0, 0.0])
            .run(&SeatSaturation::default())
            .is_none());
        // July is full, but July is not over on the day.
        assert!(kit(60, [40.0, 40.0, 41.0, 60.0])
            .run(&SeatSaturation::default())
            .is_none());
        // Tiny plans are left out.
        assert!(kit(2, [2.0, 2.0, 2.0, 2.0])
            .run(&SeatSaturation::default())
            .is_none());
    }
}
