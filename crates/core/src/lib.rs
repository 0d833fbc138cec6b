//! The canonical model every other Bellwether crate speaks.
//!
//! This crate sits at the bottom of the one-way flow (ingest → store → rollups → features → health/signals →
//! prioritise → deliver) and does no I/O. It owns:
//!
//! - [`time`]: UTC days and instants, parsed and printed without a date library on the hot import path, and
//!   the window of plausible event times;
//! - [`money`]: integer minor units with an ISO currency, and the reporting-currency conversion;
//! - [`ids`]: typed identifiers so an account id is never passed where a contact id belongs;
//! - [`model`]: accounts, contacts, events, tickets, billing, subscriptions, interactions, outcomes, signals,
//!   assessments and plays;
//! - [`history`]: attributes that change over time and the point-in-time rule for reading them;
//! - [`series`]: per-account daily metric series and their compact packed encoding;
//! - [`text`]: the bounds on ids and names (length, no control characters);
//! - [`error`]: the one table of error codes shared by the CLI and the HTTP API.
#![deny(missing_docs)]

pub mod error;
pub mod history;
pub mod ids;
pub mod model;
pub mod money;
pub mod people;
pub mod series;
pub mod text;
pub mod time;

pub use error::{Code, ErrorType};
pub use ids::{AccountId, ContactId};
pub use money::{Currency, Money, MoneyConfig, Rates};
pub use time::{Day, Timestamp};
