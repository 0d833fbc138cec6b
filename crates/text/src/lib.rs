//! Reading customer text. Scores are computed once, when the text is imported, and stored with the record, so
//! daily passes over a whole book read a number instead of re-reading every ticket.
//!
//! - [`sentiment`]: the tone of ticket text, from −1 (frustrated) to 1 (thankful).
#![deny(missing_docs)]

pub mod sentiment;
