//! The body of one acknowledged group of tracking messages: each message as a one-byte kind, a four-byte
//! little-endian length and its JSON, the whole LZ4-compressed behind a marker byte (about a fifth of the
//! bytes to write and sync, for less time than the write saves).

use crate::{InboxMessage, Result, StoreError};

/// Encodes a group's messages.
pub fn encode<'a>(messages: impl Iterator<Item = &'a InboxMessage>) -> Vec<u8> {
    let mut plain = Vec::new();
    for m in messages {
        plain.push(m.kind);
        plain.extend_from_slice(&(m.payload.len() as u32).to_le_bytes());
        plain.extend_from_slice(m.payload.as_bytes());
    }
    super::marked_lz4(&plain)
}

/// Decodes group `seq`'s body into `(kind, payload)` pairs, in the order received.
pub fn decode(seq: i64, body: &[u8]) -> Result<Vec<(u8, String)>> {
    let corrupt = || StoreError::Corrupt(format!("inbox group {seq} is damaged"));
    let body = super::unmarked(body).map_err(|_| corrupt())?;
    let mut out = Vec::new();
    let mut rest = &body[..];
    while let [kind, l0, l1, l2, l3, tail @ ..] = rest {
        let len = u32::from_le_bytes([*l0, *l1, *l2, *l3]) as usize;
        let payload = tail.get(..len).ok_or_else(corrupt)?;
        let text = std::str::from_utf8(payload).map_err(|_| corrupt())?;
        out.push((*kind, text.to_string()));
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        return Err(corrupt());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_damage_is_named() {
        let msgs =
            [(1u8, "{\"a\":1}"), (3, ""), (6, "{\"é\":\"ü\"}")].map(|(kind, p)| InboxMessage {
                id: String::new(),
                kind,
                payload: p.into(),
            });
        let body = encode(msgs.iter());
        let back = decode(7, &body).unwrap();
        assert_eq!(
            back,
            msgs.iter()
                .map(|m| (m.kind, m.payload.clone()))
                .collect::<Vec<_>>()
        );
        let e = decode(7, &body[..body.len() - 1]).unwrap_err();
        assert!(e.to_string().contains("inbox group 7"), "{e}");
    }
}
