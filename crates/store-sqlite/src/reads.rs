//! Bulk reads of the book: every account's packed facts (in ranges, so halves of a book decode on two
//! connections at once) and packed series.

use super::*;

/// Reads the packed facts of the accounts with ids in `[from, to)` (unbounded where `None`).
pub(crate) fn load_packed_range(
    c: &Connection,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Book> {
    let started = std::time::Instant::now();
    let mut out = Book::default();
    let select = "SELECT account_id, packed FROM facts_packed";
    let (sql, bound): (String, Vec<&str>) = match (from, to) {
        (None, None) => (select.into(), vec![]),
        (Some(f), None) => (format!("{select} WHERE account_id >= ?1"), vec![f]),
        (None, Some(t)) => (format!("{select} WHERE account_id < ?1"), vec![t]),
        (Some(f), Some(t)) => (
            format!("{select} WHERE account_id >= ?1 AND account_id < ?2"),
            vec![f, t],
        ),
    };
    let mut st = c.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = st
        .query(rusqlite::params_from_iter(bound))
        .map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        let id: String = r.get(0).map_err(db_err)?;
        let blob = r
            .get_ref(1)
            .map_err(db_err)?
            .as_blob()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let facts = decode_facts(&id, blob)?;
        out.accounts.insert(AccountId(id), facts);
    }
    tracing::debug!(
        accounts = out.accounts.len(),
        seconds = started.elapsed().as_secs_f64(),
        "packed facts read"
    );
    Ok(out)
}

pub(crate) fn decode_facts(id: &str, blob: &[u8]) -> Result<AccountFacts> {
    bellwether_store::codec::facts::decode(id, blob)
        .map_err(|e| StoreError::Corrupt(format!("facts of account {id}: {e}")))
}

/// Reads the packed facts of the given accounts (or all): the book.
pub(crate) fn load_packed(c: &Connection, ids: Option<&[AccountId]>) -> Result<Book> {
    let started = std::time::Instant::now();
    let mut out = Book::default();
    match ids {
        None => return load_packed_range(c, None, None),
        Some(ids) => {
            let mut st = c
                .prepare_cached("SELECT packed FROM facts_packed WHERE account_id = ?1")
                .map_err(db_err)?;
            for id in ids {
                let mut rows = st.query([id.as_str()]).map_err(db_err)?;
                if let Some(r) = rows.next().map_err(db_err)? {
                    let blob = r
                        .get_ref(0)
                        .map_err(db_err)?
                        .as_blob()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let facts = decode_facts(id.as_str(), blob)?;
                    out.accounts.insert(id.clone(), facts);
                }
            }
        }
    }
    tracing::debug!(
        accounts = out.accounts.len(),
        seconds = started.elapsed().as_secs_f64(),
        "packed facts read"
    );
    Ok(out)
}

pub(crate) fn decode_series(id: String, blob: &[u8]) -> Result<(AccountId, AccountSeries)> {
    let s = AccountSeries::decode(blob)
        .map_err(|e| StoreError::Corrupt(format!("series of account {id}: {e}")))?;
    Ok((AccountId(id), s))
}
