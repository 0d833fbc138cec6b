//! Deterministic random numbers for the simulator.
//!
//! The simulator promises byte-identical output for a seed across versions and platforms, which general-purpose
//! crates do not: their algorithms and the platform's `libm` may change. So this module holds its own:
//!
//! - [`SplitMix64`] turns a seed (and stream numbers) into well-mixed 64-bit states;
//! - [`Rng`] is xoshiro256** (Blackman & Vigna), seeded through SplitMix64;
//! - the distributions the simulator needs (uniform, normal by Box–Muller, lognormal, exponential, Poisson,
//!   Bernoulli, weighted choice);
//! - [`math`]: `ln`, `exp` and `cos` built from `+ − × ÷` only, so results never depend on the platform's maths
//!   library (IEEE 754 makes the basic operations and `sqrt` exact to the last bit everywhere).
//!
//! Changing any algorithm here changes every simulated book; treat it as a new difficulty version.

/// SplitMix64 (Steele, Lea & Flood): a tiny generator used to expand seeds.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }
}

/// The SplitMix64 finaliser: a bijective 64-bit hash.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** with the distributions the simulator uses.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

impl Rng {
    /// A generator seeded from one number through SplitMix64.
    pub fn seed_from(seed: u64) -> Rng {
        let mut sm = SplitMix64::new(seed);
        let s = [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()];
        Rng {
            s,
            spare_normal: None,
        }
    }

    /// An independent stream for `(seed, a, b)`: used as (book seed, account index, purpose) so each account and
    /// each aspect of it draws from its own sequence, and changing one aspect leaves the others as they were.
    pub fn stream(seed: u64, a: u64, b: u64) -> Rng {
        let k = mix64(seed ^ 0x6A09_E667_F3BC_C908);
        let k = mix64(k ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let k = mix64(k ^ b.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng::seed_from(k)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`: safe to take the logarithm of.
    #[inline]
    fn f64_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    #[inline]
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `[0, n)` (Lemire's multiply-shift with rejection; `n` must be positive).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform integer in `[lo, hi]` (inclusive).
    pub fn range_i32(&mut self, lo: i32, hi: i32) -> i32 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i32
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    #[inline]
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal by the Box–Muller transform; the second value of each pair is kept for the next call.
    pub fn std_normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = self.f64_open0();
        let u2 = self.f64();
        let r = (-2.0 * math::ln(u1)).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        let (c, s) = (math::cos(theta), math::sin(theta));
        self.spare_normal = Some(r * s);
        r * c
    }

    /// Normal with the given mean and standard deviation.
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        mean + sd * self.std_normal()
    }

    /// Lognormal whose logarithm has mean `mu` and standard deviation `sigma`.
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        math::exp(self.normal(mu, sigma))
    }

    /// Lognormal with the given median and log-scale spread.
    pub fn lognormal_median(&mut self, median: f64, sigma: f64) -> f64 {
        median * math::exp(sigma * self.std_normal())
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * math::ln(self.f64_open0())
    }

    /// Poisson with mean `lambda`: Knuth's product method below 30, a rounded normal above.
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda < 30.0 {
            self.poisson_knuth(math::exp(-lambda))
        } else {
            let v = self.normal(lambda, lambda.sqrt()) + 0.5;
            if v < 0.0 {
                0
            } else {
                v as u32
            }
        }
    }

    /// Poisson by Knuth's product method given `limit = exp(-lambda)` (for small `lambda` drawn many times).
    #[inline]
    pub fn poisson_knuth(&mut self, limit: f64) -> u32 {
        let mut k = 0u32;
        let mut p = self.f64_open0();
        while p > limit {
            k += 1;
            p *= self.f64_open0();
        }
        k
    }

    /// An index drawn with probability proportional to `weights` (non-negative, not all zero).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        // Rounding left x at or just above the last weight: return the last positive one.
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }

    /// A uniformly chosen string of a non-empty list.
    pub fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len() as u64) as usize]
    }

    /// A uniformly chosen element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Elementary functions from basic arithmetic, identical on every platform.
pub mod math {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const LN2: f64 = std::f64::consts::LN_2;

    /// Natural logarithm; NaN below zero, −∞ at zero.
    pub fn ln(x: f64) -> f64 {
        if x.is_nan() || x < 0.0 {
            return f64::NAN;
        }
        if x == 0.0 {
            return f64::NEG_INFINITY;
        }
        if x.is_infinite() {
            return x;
        }
        let mut bits = x.to_bits();
        let mut e: i64 = 0;
        if (bits >> 52) & 0x7ff == 0 {
            // Subnormal: scale into the normal range first.
            bits = (x * (1u64 << 54) as f64).to_bits();
            e -= 54;
        }
        e += ((bits >> 52) & 0x7ff) as i64 - 1023;
        let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000); // in [1, 2)
        if m > std::f64::consts::SQRT_2 {
            m *= 0.5;
            e += 1;
        }
        // ln(m) = 2 atanh(t), t = (m − 1)/(m + 1), |t| ≤ 0.1716.
        let t = (m - 1.0) / (m + 1.0);
        let t2 = t * t;
        let mut term = t;
        let mut sum = 0.0;
        let mut k = 1.0;
        for _ in 0..14 {
            sum += term / k;
            term *= t2;
            k += 2.0;
        }
        2.0 * sum + e as f64 * LN2
    }

    /// e to the power `x`.
    pub fn exp(x: f64) -> f64 {
        if x.is_nan() {
            return x;
        }
        if x > 709.78 {
            return f64::INFINITY;
        }
        if x < -745.2 {
            return 0.0;
        }
        let k = (x / LN2 + if x < 0.0 { -0.5 } else { 0.5 }) as i64;
        let r = (x - k as f64 * LN2_HI) - k as f64 * LN2_LO; // |r| ≤ ln2/2
        let mut term = 1.0;
        let mut sum = 1.0;
        for i in 1..=15 {
            term *= r / i as f64;
            sum += term;
        }
        // Scale by 2^k in two steps so that very small results pass through the subnormal range.
        let k1 = k / 2;
        let k2 = k - k1;
        sum * pow2(k1) * pow2(k2)
    }

    fn pow2(k: i64) -> f64 {
        f64::from_bits(((k + 1023) as u64) << 52)
    }

    /// `base` to the power `e` for positive `base`.
    pub fn powf(base: f64, e: f64) -> f64 {
        exp(e * ln(base))
    }

    /// Cosine.
    pub fn cos(x: f64) -> f64 {
        let (r, sign) = reduce(x);
        sign * cos_core(r)
    }

    /// Sine.
    pub fn sin(x: f64) -> f64 {
        cos(x - std::f64::consts::FRAC_PI_2)
    }

    /// Reduces `x` to `r` in `[0, π/2]` with `cos(x) = sign · cos(r)`.
    fn reduce(x: f64) -> (f64, f64) {
        use std::f64::consts::{PI, TAU};
        let n = (x / TAU + if x < 0.0 { -0.5 } else { 0.5 }) as i64;
        let r = (x - n as f64 * TAU).abs(); // in [0, π]
        if r > PI / 2.0 {
            (PI - r, -1.0)
        } else {
            (r, 1.0)
        }
    }

    fn cos_core(r: f64) -> f64 {
        let r2 = r * r;
        let mut term = 1.0;
        let mut sum = 1.0;
        let mut k = 0.0;
        for _ in 0..12 {
            term *= -r2 / ((k + 1.0) * (k + 2.0));
            sum += term;
            k += 2.0;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_the_reference_sequence() {
        // Reference: xoshiro256** from state {1, 2, 3, 4}.
        let mut r = Rng {
            s: [1, 2, 3, 4],
            spare_normal: None,
        };
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, vec![11520, 0, 1509978240]);
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        let mut sm = SplitMix64::new(1234567);
        assert_eq!(sm.next_u64(), 6457827717110365317);
        assert_eq!(sm.next_u64(), 3203168211198807973);
    }

    #[test]
    fn portable_math_agrees_with_std() {
        for i in 1..2000 {
            let x = i as f64 * 0.0137;
            assert!(
                (math::ln(x) - x.ln()).abs() < 1e-14 * (1.0 + x.ln().abs()),
                "ln {x}"
            );
            let y = x - 12.0;
            assert!((math::exp(y) / y.exp() - 1.0).abs() < 1e-14, "exp {y}");
            assert!((math::cos(y) - y.cos()).abs() < 1e-13, "cos {y}");
            assert!((math::sin(y) - y.sin()).abs() < 1e-13, "sin {y}");
        }
        assert!((math::ln(1e-310) - 1e-310f64.ln()).abs() < 1e-12);
        assert_eq!(math::exp(-800.0), 0.0);
    }

    #[test]
    fn distributions_have_the_right_moments() {
        let mut r = Rng::seed_from(7);
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let z = r.std_normal();
            s += z;
            s2 += z * z;
        }
        assert!((s / n as f64).abs() < 0.01);
        assert!((s2 / n as f64 - 1.0).abs() < 0.02);
        for lambda in [0.3, 4.0, 45.0] {
            let m: f64 = (0..n).map(|_| r.poisson(lambda) as f64).sum::<f64>() / n as f64;
            assert!((m / lambda - 1.0).abs() < 0.02, "poisson {lambda}: {m}");
        }
        let e: f64 = (0..n).map(|_| r.exponential(3.0)).sum::<f64>() / n as f64;
        assert!((e / 3.0 - 1.0).abs() < 0.02);
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[r.weighted(&[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((counts[2] as f64 / n as f64 - 0.75).abs() < 0.01);
        let mut hist = [0usize; 5];
        for _ in 0..n {
            hist[r.below(5) as usize] += 1;
        }
        assert!(hist
            .iter()
            .all(|h| (*h as f64 / n as f64 - 0.2).abs() < 0.01));
    }

    #[test]
    fn streams_are_independent_and_repeatable() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(42, 1, 0).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::stream(42, 1, 0).next_u64(),
            Rng::stream(42, 2, 0).next_u64()
        );
        assert_ne!(
            Rng::stream(42, 1, 0).next_u64(),
            Rng::stream(42, 1, 1).next_u64()
        );
        assert_ne!(
            Rng::stream(42, 1, 0).next_u64(),
            Rng::stream(43, 1, 0).next_u64()
        );
    }
}
