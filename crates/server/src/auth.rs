//! API keys: made from 32 random bytes, shown once, stored as their SHA-256; read from `Authorization:
//! Bearer KEY`, from HTTP Basic auth with the key as user name (how Segment clients send a write key), or from
//! a `writeKey` in a tracking body. `ingest` keys may only send data, `read` keys only read, `admin` keys both.

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
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "key {} has scope '{}', which cannot {} here; use a key with scope '{}' or 'admin'",
                k.id,
                k.scope.name(),
                if need == Need::Write {
                    "send data"
                } else {
                    "read"
                },
                if need == Need::Write {
                    "ingest"
                } else {
                    "read"
                }
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
}
