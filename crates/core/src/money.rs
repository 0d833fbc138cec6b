//! Money as integer minor units with an ISO 4217 currency, never as floating point: each currency's own
//! minor unit (a cent of USD, one yen, a thousandth of a dinar), parsed, stored and printed by its exponent.
//! Amounts of several currencies meet only through [`Rates::to_reporting`], the one conversion every sum and
//! ranking uses, configured under `[money]`.

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

/// ISO 4217 currencies whose minor unit is not a hundredth: (code, decimals).
const EXPONENTS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// The largest amount taken anywhere, in minor units (10^15: ten trillion dollars, or a quadrillion yen).
/// Larger values are refused as out of range rather than stored.
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

impl Currency {
    /// The number of decimals of its minor unit (ISO 4217): 0 for JPY or KRW, 3 for BHD or KWD, else 2.
    pub fn exponent(&self) -> u32 {
        EXPONENTS
            .iter()
            .find(|(c, _)| c.as_bytes() == self.0)
            .map_or(2, |(_, e)| *e)
    }
    /// Minor units per major unit: 1 for JPY, 100 for USD, 1000 for KWD.
    pub fn scale(&self) -> i64 {
        10i64.pow(self.exponent())
    }
    /// The sign written before amounts in sentences: `$`, `€`, `£`, `¥`, else the code and a space.
    pub fn symbol(&self) -> String {
        match self.as_str() {
            "USD" => "$".into(),
            "EUR" => "€".into(),
            "GBP" => "£".into(),
            "JPY" | "CNY" => "¥".into(),
            "KRW" => "₩".into(),
            "INR" => "₹".into(),
            other => format!("{other} "),
        }
    }
}

/// An amount in minor units (for example cents, or yen) of a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (in the currency's own exponent); negative for credits and decreases.
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
    /// The amount in major units, for display and for models: `minor / 10^exponent`.
    pub fn major(&self) -> f64 {
        self.minor as f64 / self.currency.scale() as f64
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            format_major(self.minor, self.currency),
            self.currency
        )
    }
}

/// Formats minor units of `currency` as a grouped major amount, dropping a zero fraction: `1234567` USD →
/// `12,345.67`, `600000` JPY → `600,000`, `1500` KWD → `1.500`.
pub fn format_major(minor: i64, currency: Currency) -> String {
    let exp = currency.exponent();
    let scale = currency.scale().unsigned_abs();
    let neg = minor < 0;
    let abs = minor.unsigned_abs();
    let (units, frac) = (abs / scale, abs % scale);
    let digits = units.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if frac != 0 {
        out.push_str(&format!(".{frac:0width$}", width = exp as usize));
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// Parses a decimal amount in major units (`12000`, `12000.5`, `-3.25`, `1,200.00`) into minor units of
/// `currency`, rounding half away from zero below its minor unit (`100.5` JPY is 101 yen). Amounts beyond
/// [`MAX_MINOR`] are refused.
pub fn parse_major(s: &str, currency: Currency) -> Result<i64, String> {
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
    let too_large = || {
        format!(
            "'{s}' is out of range; amounts up to {} {currency} are taken",
            format_major(MAX_MINOR, currency)
        )
    };
    let whole: i64 = whole.parse().map_err(|_| too_large())?;
    let exp = currency.exponent() as usize;
    let fb = frac.as_bytes();
    let mut minor_frac = 0i64;
    for i in 0..exp {
        minor_frac = minor_frac * 10 + fb.get(i).map_or(0, |c| (c - b'0') as i64);
    }
    // Round half away from zero on the first decimal below the minor unit.
    if fb.get(exp).is_some_and(|c| *c >= b'5') {
        minor_frac += 1;
    }
    let v = whole
        .checked_mul(currency.scale())
        .and_then(|w| w.checked_add(minor_frac))
        .filter(|v| *v <= MAX_MINOR)
        .ok_or_else(too_large)?;
    Ok(if neg { -v } else { v })
}

/// Checks an amount already in minor units (from an API such as Stripe's) against [`MAX_MINOR`]; refuses
/// non-finite, fractional-beyond-rounding and out-of-range values.
pub fn checked_minor(v: f64, currency: Currency) -> Result<i64, String> {
    if !v.is_finite() {
        return Err(format!("{v} is not a finite amount"));
    }
    if v.abs() > MAX_MINOR as f64 {
        return Err(format!(
            "{v} minor units is out of range; amounts up to {} {currency} are taken",
            format_major(MAX_MINOR, currency)
        ));
    }
    Ok(v.round() as i64)
}

/// The `[money]` settings: the currency sums and rankings are made in, and the rates into it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MoneyConfig {
    /// The reporting currency (`reporting_currency = "USD"`); without it a book in one currency reports in
    /// that currency, and a book in several is refused.
    pub reporting_currency: Option<Currency>,
    /// Units of the reporting currency per unit of each other currency (`[money.rates] EUR = 1.08`).
    pub rates: std::collections::BTreeMap<Currency, f64>,
}

/// How to bring amounts of any currency of a book into its one reporting currency.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    reporting: Currency,
    rates: std::collections::BTreeMap<Currency, f64>,
}

impl Default for Rates {
    fn default() -> Self {
        Rates::single(Currency::USD)
    }
}

impl Rates {
    /// Reporting in `currency` with no other currency convertible.
    pub fn single(currency: Currency) -> Rates {
        Rates {
            reporting: currency,
            rates: Default::default(),
        }
    }
    /// The reporting currency.
    pub fn reporting(&self) -> Currency {
        self.reporting
    }
    /// An amount in major units of the reporting currency: the one conversion every sum and ranking uses.
    /// Refuses a currency without a configured rate, saying what to configure.
    pub fn to_reporting(&self, m: Money) -> Result<f64, String> {
        if m.currency == self.reporting {
            return Ok(m.major());
        }
        match self.rates.get(&m.currency) {
            Some(r) => Ok(m.major() * r),
            None => Err(format!(
                "no rate from {} into the reporting currency {}; add `{} = <{} per {}>` under [money.rates] in bellwether.toml",
                m.currency, self.reporting, m.currency, self.reporting, m.currency
            )),
        }
    }
    /// An amount converted into the reporting currency, in its minor units (rounded).
    pub fn convert(&self, m: Money) -> Result<Money, String> {
        if m.currency == self.reporting {
            return Ok(m);
        }
        let major = self.to_reporting(m)?;
        Ok(Money {
            minor: (major * self.reporting.scale() as f64).round() as i64,
            currency: self.reporting,
        })
    }
}

impl MoneyConfig {
    /// Checks the settings' own values: rates are positive and finite.
    pub fn validate(&self) -> Result<(), String> {
        for (c, r) in &self.rates {
            if !(r.is_finite() && *r > 0.0) {
                return Err(format!(
                    "[money.rates] {c} = {r} is not a rate; give a positive number of reporting-currency units per {c}"
                ));
            }
        }
        Ok(())
    }

    /// The rates for a book holding amounts in `currencies`: the configured reporting currency (else the
    /// book's only currency, else USD for an empty book), refusing a currency that cannot be converted into it.
    pub fn resolve(
        &self,
        currencies: &std::collections::BTreeSet<Currency>,
    ) -> Result<Rates, String> {
        let reporting = match (self.reporting_currency, currencies.len()) {
            (Some(c), _) => c,
            (None, 0) => Currency::USD,
            (None, 1) => *currencies.iter().next().expect("one currency"),
            (None, _) => {
                let list: Vec<&str> = currencies.iter().map(Currency::as_str).collect();
                return Err(format!(
                    "the book holds amounts in {} and they are not added up without rates; set `[money] reporting_currency = \"{}\"` and a rate for each other currency under `[money.rates]` (such as `{} = 1.08`) in bellwether.toml",
                    list.join(", "),
                    list[0],
                    list.get(1).unwrap_or(&"EUR"),
                ));
            }
        };
        let rates = Rates {
            reporting,
            rates: self.rates.clone(),
        };
        let missing: Vec<&str> = currencies
            .iter()
            .filter(|c| **c != reporting && !rates.rates.contains_key(c))
            .map(Currency::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the book holds amounts in {} but [money.rates] has no rate into the reporting currency {reporting}; add `{} = <{reporting} per {}>` under `[money.rates]` in bellwether.toml",
                missing.join(", "),
                missing[0],
                missing[0]
            ));
        }
        Ok(rates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        let usd = Currency::USD;
        let jpy = Currency::parse("JPY").unwrap();
        let kwd = Currency::parse("kwd").unwrap();
        assert_eq!(parse_major("12000", usd).unwrap(), 1_200_000);
        assert_eq!(parse_major("1,200.5", usd).unwrap(), 120_050);
        assert_eq!(parse_major("-3.255", usd).unwrap(), -326);
        assert!(parse_major("12k", usd).unwrap_err().contains("12k"));
        assert_eq!(parse_major("600000", jpy).unwrap(), 600_000);
        assert_eq!(parse_major("100.5", jpy).unwrap(), 101);
        assert_eq!(parse_major("1.2345", kwd).unwrap(), 1_235);
        assert!(parse_major("1e300", usd).is_err());
        assert!(parse_major("99999999999999999999", usd)
            .unwrap_err()
            .contains("out of range"));
        assert_eq!(format_major(123_456_700, usd), "1,234,567");
        assert_eq!(format_major(-150, usd), "-1.50");
        assert_eq!(format_major(600_000, jpy), "600,000");
        assert_eq!(format_major(1_500, kwd), "1.500");
        assert_eq!(
            Money {
                minor: 600_000,
                currency: jpy
            }
            .major(),
            600_000.0
        );
        assert!(checked_minor(1e300, usd).is_err());
        assert!(checked_minor(f64::NAN, usd).is_err());
        assert_eq!(Money::usd(250_000).to_string(), "2,500 USD");
        assert_eq!(Currency::parse("eur").unwrap().as_str(), "EUR");
    }

    #[test]
    fn rates_convert_or_refuse() {
        let usd = Currency::USD;
        let eur = Currency::parse("EUR").unwrap();
        let both: std::collections::BTreeSet<Currency> = [usd, eur].into();
        let none = MoneyConfig::default();
        let e = none.resolve(&both).unwrap_err();
        assert!(
            e.contains("[money]") && e.contains("reporting_currency"),
            "{e}"
        );
        let only_eur: std::collections::BTreeSet<Currency> = [eur].into();
        assert_eq!(none.resolve(&only_eur).unwrap().reporting(), eur);
        let cfg: MoneyConfig = toml_like(usd, &[(eur, 1.08)]);
        let r = cfg.resolve(&both).unwrap();
        assert!(
            (r.to_reporting(Money {
                minor: 10_000,
                currency: eur
            })
            .unwrap()
                - 108.0)
                .abs()
                < 1e-9
        );
        let no_rate = MoneyConfig {
            reporting_currency: Some(usd),
            ..Default::default()
        };
        assert!(no_rate
            .resolve(&both)
            .unwrap_err()
            .contains("[money.rates]"));
    }

    fn toml_like(reporting: Currency, rates: &[(Currency, f64)]) -> MoneyConfig {
        MoneyConfig {
            reporting_currency: Some(reporting),
            rates: rates.iter().copied().collect(),
        }
    }
}
