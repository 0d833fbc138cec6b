//! Bounds on the ids and names Bellwether takes in, from files, the tracking API and webhooks alike.
//!
//! Ids (account, user, contact, ticket, event, interaction and subscription ids, emails, owners) are at most
//! [`MAX_ID_BYTES`] bytes; names (event and metric names, plans, segments, lifecycle stages, attribute names,
//! account and contact names, titles) at most [`MAX_NAME_BYTES`]. Neither may hold a control character
//! (U+0000–U+001F, U+007F–U+009F: NUL, tab, line breaks, escape …): they are keys and labels, shown in worklists
//! and alerts, and a control character in one is a fault of the export, never part of the name. Free text (ticket
//! subjects and bodies, notes, tags, custom attribute values) is at most [`MAX_TEXT_BYTES`] and may hold tabs
//! and line breaks but no other control character (a NUL is a broken export). Values are checked after
//! trimming, as they are stored.

use std::fmt;

/// The longest id accepted, in bytes of UTF-8.
pub const MAX_ID_BYTES: usize = 256;
/// The longest name accepted, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 200;
/// The longest free text accepted (a ticket body, a note), in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// What a value is, for its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// An identifier or address: at most [`MAX_ID_BYTES`].
    Id,
    /// A name or label: at most [`MAX_NAME_BYTES`].
    Name,
    /// Free text: at most [`MAX_TEXT_BYTES`]; tabs and line breaks allowed.
    Text,
}

impl Bound {
    /// The longest value accepted, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            Bound::Id => MAX_ID_BYTES,
            Bound::Name => MAX_NAME_BYTES,
            Bound::Text => MAX_TEXT_BYTES,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Bound::Id => "ids",
            Bound::Name => "names",
            Bound::Text => "text fields",
        }
    }

    /// Whether a control character is refused in a value of this bound.
    fn refuses(self, c: char) -> bool {
        c.is_control() && !(self == Bound::Text && matches!(c, '\t' | '\n' | '\r'))
    }
}

/// Why a value was refused. The message names no field: the caller's error does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextError {
    /// Longer than its bound.
    TooLong {
        /// The value's length in bytes.
        bytes: usize,
        /// What it is.
        bound: Bound,
    },
    /// Holds a control character.
    Control {
        /// The character.
        ch: char,
        /// Its byte offset in the value.
        at: usize,
        /// What it is.
        bound: Bound,
    },
    /// Not UTF-8.
    NotUtf8,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::TooLong {
                bytes,
                bound: Bound::Text,
            } => write!(
                f,
                "is {bytes} bytes long; text fields are at most {MAX_TEXT_BYTES} bytes: shorten it at the source \
                 (or check the quoting of the row before it)"
            ),
            TextError::TooLong { bytes, bound } => write!(
                f,
                "is {bytes} bytes long; {} are at most {} bytes: check that the column holds {} and not text",
                bound.what(),
                bound.max_bytes(),
                bound.what()
            ),
            TextError::Control {
                ch,
                at,
                bound: Bound::Text,
            } => write!(
                f,
                "holds the control character U+{:04X} at byte {at}; text fields may hold tabs and line breaks but \
                 no other control character (a NUL is a broken export): remove it at the source",
                *ch as u32
            ),
            TextError::Control { ch, at, bound } => write!(
                f,
                "holds the control character U+{:04X} at byte {at}; {} cannot hold control characters \
                 (NUL, tab, line breaks): remove it at the source",
                *ch as u32,
                bound.what()
            ),
            TextError::NotUtf8 => write!(f, "is not valid UTF-8; save the file as UTF-8"),
        }
    }
}

impl std::error::Error for TextError {}

/// Checks an id or name (already trimmed) against its bound.
pub fn check(bound: Bound, value: &str) -> Result<(), TextError> {
    if value.len() > bound.max_bytes() {
        return Err(TextError::TooLong {
            bytes: value.len(),
            bound,
        });
    }
    if value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    match value.char_indices().find(|(_, c)| bound.refuses(*c)) {
        Some((at, ch)) => Err(TextError::Control { ch, at, bound }),
        None => Ok(()),
    }
}

/// [`check`] on raw bytes, which must be UTF-8; the text when it passes.
#[inline]
pub fn check_bytes(bound: Bound, value: &[u8]) -> Result<&str, TextError> {
    if value.len() <= bound.max_bytes() && value.iter().all(|b| (0x20..0x7f).contains(b)) {
        // Printable ASCII is UTF-8 with no control character.
        return std::str::from_utf8(value).map_err(|_| TextError::NotUtf8);
    }
    let s = std::str::from_utf8(value).map_err(|_| TextError::NotUtf8)?;
    check(bound, s).map(|()| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_bounded_and_free_of_control_characters() {
        assert!(check(Bound::Id, "acme-1").is_ok());
        assert!(check(Bound::Name, "Überseering Café 東京").is_ok());
        assert!(check(Bound::Id, &"a".repeat(256)).is_ok());
        assert_eq!(
            check(Bound::Id, &"a".repeat(257)),
            Err(TextError::TooLong {
                bytes: 257,
                bound: Bound::Id
            })
        );
        assert!(check(Bound::Name, &"é".repeat(101)).is_err());
        for bad in ["a\0b", "a\tb", "a\nb", "a\u{1b}b", "a\u{7f}", "a\u{85}b"] {
            let e = check(Bound::Name, bad).unwrap_err();
            assert!(matches!(e, TextError::Control { at: 1, .. }), "{bad:?}");
            assert!(e.to_string().contains("control character U+"), "{e}");
        }
        assert_eq!(check_bytes(Bound::Id, b"u1"), Ok("u1"));
        assert_eq!(check_bytes(Bound::Id, b"\xff"), Err(TextError::NotUtf8));
        assert!(check_bytes(Bound::Id, b"u\x001").is_err());
    }

    #[test]
    fn free_text_keeps_line_breaks_and_tabs_but_refuses_nul_and_length() {
        assert!(check(Bound::Text, "Export fails.\r\n\tSteps:\n1. open").is_ok());
        assert!(check(Bound::Text, &"x".repeat(MAX_TEXT_BYTES)).is_ok());
        let e = check(Bound::Text, &"x".repeat(MAX_TEXT_BYTES + 1)).unwrap_err();
        assert!(
            e.to_string()
                .contains("text fields are at most 65536 bytes"),
            "{e}"
        );
        let e = check(Bound::Text, "broken\0export").unwrap_err();
        assert!(matches!(
            e,
            TextError::Control {
                ch: '\0',
                at: 6,
                bound: Bound::Text
            }
        ));
        assert!(e.to_string().contains("U+0000"), "{e}");
        assert!(check(Bound::Text, "esc\u{1b}[31m").is_err());
    }
}
