//! How stored values are laid out, decided once for every backend: an account's packed facts, the JSON
//! documents of assessments and predictions (compressed when long), what a day's prediction row of an account
//! holds, the bodies of tracking-inbox groups, and exact distinct-user counting. A backend moves these bytes
//! and counts; it does not decide their shape.

pub mod distinct;
pub mod docs;
pub mod facts;
pub mod inbox;
pub mod portable;
