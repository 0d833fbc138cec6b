//! API keys: made from 32 random bytes, shown once, stored as their SHA-256; read from `Authorization:
//! Bearer KEY`, from HTTP Basic auth with the key as user name (how Segment clients send a write key), or from
//! a `writeKey` in a tracking body (found by [`body_key`] before the body is parsed, and never stored).
//! `ingest` keys may only send data, `read` keys only read, `admin` keys both.

use crate::error::ApiError;
use axum::http::HeaderMap;
use base64::Engine as _;
use bellwether_core::{Code, Timestamp};
use bellwether_store::{ApiKey, KeyScope, LiveStore};
use sha2::{Digest, Sha256};

/// What an endpoint needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Sending data.
    Write,
    /// Reading.
    Read,
    /// Acting on what people work on (a signal's status).
    Act,
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a key, lowercase hex.
pub fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// Makes a new key: the key to show once, and the record to store.
pub fn new_key(scope: KeyScope, name: &str) -> Result<(String, ApiKey), String> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| format!("the system's random source failed: {e}"))?;
    let key = format!(
        "bw_{}_{}",
        scope.name(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let hash = hash_key(&key);
    let record = ApiKey {
        id: hash[..12].to_string(),
        hash,
        scope,
        name: name.to_string(),
        created_at: Timestamp::now(),
        revoked_at: None,
    };
    Ok((key, record))
}

/// The key a request carries in its headers, if any.
pub fn header_key(headers: &HeaderMap) -> Option<String> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    if let Some(k) = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
    {
        return Some(k.trim().to_string());
    }
    let b = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split(':').next().unwrap_or("");
    (!user.is_empty()).then(|| user.to_string())
}

/// The member of a tracking body that may carry the write key (Segment's name).
pub const WRITE_KEY_FIELD: &str = "writeKey";

/// The `writeKey` at the top level of a JSON object body, found by one pass over its bytes that builds
/// nothing else: a request whose key can only be in its body is authenticated before the body is parsed.
/// The work is bounded by the body's size, itself capped when the body is read. None when the body is not an
/// object, has no such member or its value is not a string.
pub fn body_key(body: &[u8]) -> Option<String> {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let first = body.iter().position(|b| !ws(b))?;
    if body[first] != b'{' {
        return None;
    }
    // The end (exclusive) of the string that opens at `at`, a quote.
    let string_end = |at: usize| -> Option<usize> {
        let mut i = at + 1;
        while i < body.len() {
            match body[i] {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    };
    let next_token = |from: usize| body[from..].iter().position(|b| !ws(b)).map(|p| from + p);
    let mut depth = 0usize;
    let mut i = first;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let end = string_end(i)?;
                if depth == 1 && &body[i + 1..end - 1] == WRITE_KEY_FIELD.as_bytes() {
                    let colon = next_token(end)?;
                    if body[colon] == b':' {
                        let v = next_token(colon + 1)?;
                        if body[v] != b'"' {
                            return None;
                        }
                        return serde_json::from_slice(&body[v..string_end(v)?]).ok();
                    }
                }
                i = end;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Checks a key against the store and the need of the endpoint.
pub async fn check<S: LiveStore + ?Sized>(
    store: &S,
    key: Option<&str>,
    need: Need,
) -> Result<ApiKey, ApiError> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Err(ApiError::new(
            Code::Unauthorized,
            "this endpoint needs an API key: send `Authorization: Bearer KEY` (Segment clients: the key as write key); create one with `bellwether keys create --scope ingest`",
        ));
    };
    let found = store.key_by_hash(&hash_key(key)).await?;
    let Some(k) = found.filter(|k| k.revoked_at.is_none()) else {
        return Err(ApiError::new(
            Code::Unauthorized,
            "the API key is unknown or revoked; `bellwether keys list` shows the valid ones",
        ));
    };
    let ok = matches!(
        (k.scope, need),
        (KeyScope::Admin, _) | (KeyScope::Ingest, Need::Write) | (KeyScope::Read, Need::Read)
    );
    if !ok {
        let (what, scope) = match need {
            Need::Write => ("send data", "a key with scope 'ingest' or 'admin'"),
            Need::Read => ("read", "a key with scope 'read' or 'admin'"),
            Need::Act => ("act on signals", "a key with scope 'admin'"),
        };
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "key {} has scope '{}', which cannot {what} here; use {scope}",
                k.id,
                k.scope.name(),
            ),
        ));
    }
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn keys_are_random_and_hashed() {
        let (a, ra) = new_key(KeyScope::Ingest, "a").unwrap();
        let (b, _) = new_key(KeyScope::Ingest, "b").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("bw_ingest_"));
        assert_eq!(ra.hash, hash_key(&a));
        assert_eq!(ra.hash.len(), 64);
        assert!(!ra.hash.contains(&a));
    }

    #[test]
    fn keys_are_read_from_bearer_and_basic() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer k1"));
        assert_eq!(header_key(&h).as_deref(), Some("k1"));
        // "k2:" in base64, as Segment's clients send the write key.
        h.insert("authorization", HeaderValue::from_static("Basic azI6"));
        assert_eq!(header_key(&h).as_deref(), Some("k2"));
        h.insert("authorization", HeaderValue::from_static("Basic Og=="));
        assert_eq!(header_key(&h), None);
    }

    #[test]
    fn the_body_key_is_the_top_level_write_key() {
        let k = |b: &str| body_key(b.as_bytes());
        assert_eq!(k(r#"{"batch":[],"writeKey":"k1"}"#).as_deref(), Some("k1"));
        assert_eq!(
            k(r#" { "writeKey" : "k\u0032" , "x":1}"#).as_deref(),
            Some("k2")
        );
        // Nested, inside a string, as a value, not a string, or not an object: no key.
        assert_eq!(k(r#"{"batch":[{"writeKey":"k3"}]}"#), None);
        assert_eq!(k(r#"{"context":{"writeKey":"k3"}}"#), None);
        assert_eq!(k(r#"{"a":"\"writeKey\":\"k4\"","b":"writeKey"}"#), None);
        assert_eq!(k(r#"{"writeKey":5}"#), None);
        assert_eq!(k(r#"["writeKey","k5"]"#), None);
        assert_eq!(k("a=b&writeKey=k6"), None);
        // Unbalanced or truncated input ends the scan.
        assert_eq!(k(r#"{"a":]]]],"writeKey":"k7"}"#), None);
        assert_eq!(k(r#"{"writeKey":"k8"#), None);
        // The first member wins once found; after a nested object closes, top-level members count again.
        assert_eq!(
            k(r#"{"c":{"d":[1,{"e":2}]},"writeKey":"k9"}"#).as_deref(),
            Some("k9")
        );
    }
}
