//! Money as integer minor units (cents) with an ISO 4217 currency, never as floating point.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency code such as `USD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollars, the default when a file names no currency.
    pub const USD: Currency = Currency(*b"USD");

    /// Reads a three-letter code, case-insensitively.
    pub fn parse(s: &str) -> Result<Currency, String> {
        let b = s.trim().as_bytes();
        if b.len() == 3 && b.iter().all(|c| c.is_ascii_alphabetic()) {
            Ok(Currency([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(format!(
                "'{s}' is not a currency code; use three letters such as USD or EUR"
            ))
        }
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units (for example cents) of a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units; negative for credits and decreases.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in US cents.
    pub fn usd(minor: i64) -> Money {
        Money {
            minor,
            currency: Currency::USD,
        }
    }
    /// The amount in major units, for display and for models.
    pub fn major(&self) -> f64 {
        self.minor as f64 / 100.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", format_major(self.minor), self.currency)
    }
}

/// Formats minor units as a grouped major amount: `1234567` → `12,345.67`, dropping `.00`.
pub fn format_major(minor: i64) -> String {
    let neg = minor < 0;
    let abs = minor.unsigned_abs();
    let (units, cents) = (abs / 100, abs % 100);
    let digits = units.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if cents != 0 {
        out.push_str(&format!(".{cents:02}"));
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// Parses a decimal amount in major units (`12000`, `12000.5`, `-3.25`, `1,200.00`) into minor units.
pub fn parse_major(s: &str) -> Result<i64, String> {
    let t = s.trim().replace([',', '_'], "");
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, t),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    let ok = !whole.is_empty()
        && whole.bytes().all(|c| c.is_ascii_digit())
        && frac.bytes().all(|c| c.is_ascii_digit());
    if !ok || frac.len() > 6 {
        return Err(format!(
            "'{s}' is not an amount; write it in major units with a dot, such as 1200.50"
        ));
    }
    let whole: i64 = whole
        .parse()
        .map_err(|_| format!("'{s}' is too large an amount"))?;
    let mut cents = 0i64;
    let fb = frac.as_bytes();
    for i in 0..2 {
        cents = cents * 10 + fb.get(i).map_or(0, |c| (c - b'0') as i64);
    }
    // Round half away from zero on the third decimal.
    if fb.get(2).is_some_and(|c| *c >= b'5') {
        cents += 1;
    }
    let v = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(cents))
        .ok_or_else(|| format!("'{s}' is too large an amount"))?;
    Ok(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_major("12000").unwrap(), 1_200_000);
        assert_eq!(parse_major("1,200.5").unwrap(), 120_050);
        assert_eq!(parse_major("-3.255").unwrap(), -326);
        assert!(parse_major("12k").unwrap_err().contains("12k"));
        assert_eq!(format_major(123_456_700), "1,234,567");
        assert_eq!(format_major(-150), "-1.50");
        assert_eq!(Money::usd(250_000).to_string(), "2,500 USD");
        assert_eq!(Currency::parse("eur").unwrap().as_str(), "EUR");
    }
}
