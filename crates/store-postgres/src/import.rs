//! Tables in the portable layout ([`bellwether_store::codec::portable`]) written into this database, for
//! moving a book here from another backend: each page one multi-row statement, cells converted to the
//! column's type as the catalogue gives it; then sequences moved past the copied numbers and every pack
//! rebuilt.

use crate::pool::db_err;
use crate::PgStore;
use bellwether_store::codec::portable::{Cell, Table};
use bellwether_store::{Result, StoreError};
use tokio_postgres::types::ToSql;

/// A column's values, typed as the column is.
enum Column {
    I64(Vec<Option<i64>>),
    I32(Vec<Option<i32>>),
    I16(Vec<Option<i16>>),
    Bool(Vec<Option<bool>>),
    F64(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Column {
    fn new(sql_type: &str) -> Option<(Column, &'static str)> {
        Some(match sql_type {
            "bigint" => (Column::I64(vec![]), "bigint[]"),
            "integer" => (Column::I32(vec![]), "int4[]"),
            "smallint" => (Column::I16(vec![]), "int2[]"),
            "boolean" => (Column::Bool(vec![]), "bool[]"),
            "double precision" => (Column::F64(vec![]), "float8[]"),
            "text" => (Column::Text(vec![]), "text[]"),
            "bytea" => (Column::Bytes(vec![]), "bytea[]"),
            _ => return None,
        })
    }

    fn push(&mut self, c: Cell) -> std::result::Result<(), String> {
        let bad = |c: &Cell| format!("{c:?} does not fit the column");
        match (self, c) {
            (Column::I64(v), Cell::Null) => v.push(None),
            (Column::I64(v), Cell::Int(i)) => v.push(Some(i)),
            (Column::I32(v), Cell::Null) => v.push(None),
            (Column::I32(v), Cell::Int(i)) => {
                v.push(Some(i32::try_from(i).map_err(|e| e.to_string())?))
            }
            (Column::I16(v), Cell::Null) => v.push(None),
            (Column::I16(v), Cell::Int(i)) => {
                v.push(Some(i16::try_from(i).map_err(|e| e.to_string())?))
            }
            (Column::Bool(v), Cell::Null) => v.push(None),
            (Column::Bool(v), Cell::Int(i)) => v.push(Some(i != 0)),
            (Column::F64(v), Cell::Null) => v.push(None),
            (Column::F64(v), Cell::Real(f)) => v.push(Some(f)),
            (Column::F64(v), Cell::Int(i)) => v.push(Some(i as f64)),
            (Column::Text(v), Cell::Null) => v.push(None),
            (Column::Text(v), Cell::Text(t)) => v.push(Some(t)),
            (Column::Text(v), Cell::Blob(b)) => {
                v.push(Some(String::from_utf8(b).map_err(|e| e.to_string())?))
            }
            (Column::Bytes(v), Cell::Null) => v.push(None),
            (Column::Bytes(v), Cell::Blob(b)) => v.push(Some(b)),
            (Column::Bytes(v), Cell::Text(t)) => v.push(Some(t.into_bytes())),
            (_, c) => return Err(bad(&c)),
        }
        Ok(())
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::I64(v) => v,
            Column::I32(v) => v,
            Column::I16(v) => v,
            Column::Bool(v) => v,
            Column::F64(v) => v,
            Column::Text(v) => v,
            Column::Bytes(v) => v,
        }
    }
}

impl PgStore {
    /// Whether the database holds no book yet (no account, import, model or key).
    pub async fn is_empty(&self) -> Result<bool> {
        let c = self.conn().await?;
        let r = c
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM accounts) AND NOT EXISTS (SELECT 1 FROM imports) \
                 AND NOT EXISTS (SELECT 1 FROM models) AND NOT EXISTS (SELECT 1 FROM api_keys)",
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    /// Writes one page of a portable table's rows.
    pub async fn import(&self, table: Table, rows: Vec<Vec<Cell>>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let c = self.conn().await?;
        let types = c
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
                &[&table.name],
            )
            .await
            .map_err(db_err)?;
        let mut cols = Vec::with_capacity(table.columns.len());
        let mut casts = Vec::with_capacity(table.columns.len());
        for name in table.columns {
            let ty: String = types
                .iter()
                .find(|r| r.get::<_, &str>(0) == *name)
                .map(|r| r.get(1))
                .ok_or_else(|| {
                    StoreError::Unavailable(format!("table {} has no column {name}", table.name))
                })?;
            let (col, cast) = Column::new(&ty).ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "column {}.{name} has a type ({ty}) the copy does not move",
                    table.name
                ))
            })?;
            cols.push(col);
            casts.push(cast);
        }
        for (n, row) in rows.into_iter().enumerate() {
            if row.len() != cols.len() {
                return Err(StoreError::Corrupt(format!(
                    "{}: row {n} has {} values for {} columns",
                    table.name,
                    row.len(),
                    cols.len()
                )));
            }
            for ((col, cell), name) in cols.iter_mut().zip(row).zip(table.columns) {
                col.push(cell).map_err(|e| {
                    StoreError::Corrupt(format!("{}.{name}, row {n}: {e}", table.name))
                })?;
            }
        }
        let unnest: Vec<String> = casts
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}", i + 1))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT * FROM unnest({})",
            table.name,
            table.columns.join(", "),
            unnest.join(", ")
        );
        let params: Vec<&(dyn ToSql + Sync)> = cols.iter().map(Column::param).collect();
        c.execute(&sql, &params).await.map_err(db_err)?;
        Ok(())
    }

    /// After an import: sequences continue after the copied numbers, and every account's pack is rebuilt.
    pub async fn finish_import(&self) -> Result<()> {
        {
            let c = self.conn().await?;
            c.batch_execute(
                "SELECT setval('imports_id_seq', coalesce((SELECT max(id) FROM imports), 0) + 1, false); \
                 SELECT setval('models_version_seq', coalesce((SELECT max(version) FROM models), 0) + 1, false); \
                 SELECT setval('inbox_seq_seq', greatest((SELECT max(seq) FROM inbox), (SELECT max(seq) FROM inbox_applied), 0) + 1, false); \
                 INSERT INTO facts_dirty (account_id) SELECT account_id FROM accounts ON CONFLICT DO NOTHING;",
            )
            .await
            .map_err(db_err)?;
        }
        bellwether_store::Store::settle(self).await
    }

    /// Rows of a portable table.
    pub async fn count(&self, table: Table) -> Result<u64> {
        let c = self.conn().await?;
        let r = c
            .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
            .await
            .map_err(db_err)?;
        Ok(r.get::<_, i64>(0) as u64)
    }
}
