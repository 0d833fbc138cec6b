//! Reading single fields: times, days, money, numbers, booleans and enumerations, each failure naming the
//! field, quoting the value and saying what form is expected.

use crate::report::FieldError;
use bellwether_core::text::{self, Bound};
use bellwether_core::time::TimeReading;
use bellwether_core::{money, Currency, Day, Timestamp};

/// The bound of a canonical column (or account attribute) that holds an id, a name or free text, if it does:
/// the one list of which fields are keys, labels and text, for files, webhooks and the tracking API's traits
/// alike. Numbers, times and flags have none (their readers refuse what is not one).
pub(crate) fn column_bound(name: &str) -> Option<Bound> {
    match name {
        "account_id" | "contact_id" | "user_id" | "ticket_id" | "event_id" | "interaction_id"
        | "subscription_id" | "parent_id" | "email" | "owner" => Some(Bound::Id),
        "event" | "metric" | "plan" | "segment" | "lifecycle_stage" | "attribute" | "name"
        | "title" | "role" | "status" | "kind" | "priority" | "response" | "currency" => {
            Some(Bound::Name)
        }
        "subject" | "body" | "note" | "tags" => Some(Bound::Text),
        _ => None,
    }
}

/// A record's fields by canonical column position, blank values as `None`.
pub struct Fields<'a> {
    pub(crate) values: &'a [Option<&'a str>],
    pub(crate) names: &'static [crate::kind::Column],
    /// How dates that leave something open are read (`[import]`).
    pub(crate) reading: TimeReading,
}

impl<'a> Fields<'a> {
    fn index(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("column {name} is not declared"))
    }

    /// Checks every id and name of the record against its bound ([`column_bound`]); the first one refused is
    /// the error, naming its field.
    pub(crate) fn check_bounds(&self) -> Result<(), FieldError> {
        for (col, v) in self.names.iter().zip(self.values) {
            if let (Some(bound), Some(v)) = (column_bound(col.name), v) {
                text::check(bound, v.trim()).map_err(|e| FieldError::text(col.name, e))?;
            }
        }
        Ok(())
    }

    /// The raw text of a column, `None` when absent or blank.
    pub fn get(&self, name: &'static str) -> Option<&'a str> {
        self.values[self.index(name)]
    }

    /// A required column's text.
    pub fn req(&self, name: &'static str) -> Result<&'a str, FieldError> {
        self.get(name)
            .ok_or_else(|| FieldError::field(name, "is required but blank"))
    }

    /// A required instant.
    pub fn time(&self, name: &'static str) -> Result<Timestamp, FieldError> {
        Timestamp::parse_with(self.req(name)?, &self.reading)
            .map_err(|e| FieldError::field(name, e.to_string()))
    }

    /// An optional instant.
    pub fn opt_time(&self, name: &'static str) -> Result<Option<Timestamp>, FieldError> {
        self.get(name)
            .map(|v| {
                Timestamp::parse_with(v, &self.reading)
                    .map_err(|e| FieldError::field(name, e.to_string()))
            })
            .transpose()
    }

    /// A required day.
    pub fn day(&self, name: &'static str) -> Result<Day, FieldError> {
        Day::parse_with(self.req(name)?, &self.reading)
            .map_err(|e| FieldError::field(name, e.to_string()))
    }

    /// An optional day.
    pub fn opt_day(&self, name: &'static str) -> Result<Option<Day>, FieldError> {
        self.get(name)
            .map(|v| {
                Day::parse_with(v, &self.reading)
                    .map_err(|e| FieldError::field(name, e.to_string()))
            })
            .transpose()
    }

    /// An optional amount in major units, as minor units of `currency` (its ISO 4217 exponent).
    pub fn opt_money(
        &self,
        name: &'static str,
        currency: Currency,
    ) -> Result<Option<i64>, FieldError> {
        self.get(name)
            .map(|v| money::parse_major(v, currency).map_err(|e| FieldError::field(name, e)))
            .transpose()
    }

    /// An optional currency (USD when blank).
    pub fn currency(&self) -> Result<Currency, FieldError> {
        match self.get("currency") {
            None => Ok(Currency::USD),
            Some(c) => Currency::parse(c).map_err(|e| FieldError::field("currency", e)),
        }
    }

    /// An optional finite number.
    pub fn opt_f64(&self, name: &'static str) -> Result<Option<f64>, FieldError> {
        self.get(name).map(|v| number(name, v)).transpose()
    }

    /// An optional whole number.
    pub fn opt_i64(&self, name: &'static str) -> Result<Option<i64>, FieldError> {
        self.get(name)
            .map(|v| {
                let t = v.trim();
                t.parse::<i64>()
                    .or_else(|_| {
                        t.parse::<f64>()
                            .ok()
                            .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                            .map(|f| f as i64)
                            .ok_or(())
                    })
                    .map_err(|_| FieldError::field(name, format!("'{v}' is not a whole number")))
            })
            .transpose()
    }

    /// An optional boolean (blank is false).
    pub fn flag(&self, name: &'static str) -> Result<bool, FieldError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) => match v.as_str() {
                "true" | "yes" | "y" | "1" | "t" => Ok(true),
                "false" | "no" | "n" | "0" | "f" => Ok(false),
                _ => Err(FieldError::field(
                    name,
                    format!("'{v}' is not a boolean; use true or false"),
                )),
            },
        }
    }

    /// An optional enumeration value read by `parse`.
    pub fn opt_enum<T>(
        &self,
        name: &'static str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, FieldError> {
        self.get(name)
            .map(|v| parse(v).map_err(|e| FieldError::field(name, e)))
            .transpose()
    }
}

/// Reads a finite number, naming the field on failure.
pub fn number(name: &'static str, v: &str) -> Result<f64, FieldError> {
    match v.trim().parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        _ => Err(FieldError::field(name, format!("'{v}' is not a number"))),
    }
}
