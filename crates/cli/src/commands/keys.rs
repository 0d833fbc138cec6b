//! `bellwether keys`: API keys for the server. A key is printed once at creation and stored only as its
//! SHA-256; keys are listed and revoked by their short id.

use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::{Code, Timestamp};
use bellwether_store::{KeyScope, LiveStore};
use std::process::ExitCode;

/// What to do with keys.
#[derive(clap::Subcommand)]
pub enum KeysAction {
    /// Create a key and print it (once).
    Create {
        /// What the key may do: ingest (send data only), read (read only) or admin (both).
        #[arg(long, value_name = "SCOPE")]
        scope: String,
        /// A label, such as the source that will use it.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List keys (ids, scopes, labels; never the keys).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id; requests with it are refused from then on.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: String,
    },
}

/// Runs a `keys` action.
pub async fn run(settings: &Settings, action: KeysAction) -> Result<ExitCode, CliError> {
    let store = super::open_store(settings).await?;
    match action {
        KeysAction::Create { scope, name } => {
            let scope = KeyScope::parse(&scope).ok_or_else(|| {
                CliError::new(
                    Code::InvalidArgument,
                    format!("scope '{scope}' is not one of ingest, read, admin"),
                )
            })?;
            let (key, record) = bellwether_server::auth::new_key(scope, &name)
                .map_err(|e| CliError::new(Code::Internal, e))?;
            store.create_key(&record).await?;
            eprintln!(
                "created key {} with scope {}; it is shown only now, store it safely:",
                record.id,
                scope.name()
            );
            println!("{key}");
        }
        KeysAction::List { json } => {
            let keys = store.keys().await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&keys).unwrap_or_default()
                );
            } else if keys.is_empty() {
                println!("no keys; create one with `bellwether keys create --scope ingest`");
            } else {
                println!(
                    "{:<14} {:<7} {:<24} {:<20} status",
                    "id", "scope", "name", "created"
                );
                for k in keys {
                    let status = match k.revoked_at {
                        Some(t) => format!("revoked {t}"),
                        None => "active".into(),
                    };
                    println!(
                        "{:<14} {:<7} {:<24} {:<20} {status}",
                        k.id,
                        k.scope.name(),
                        k.name,
                        k.created_at.to_string()
                    );
                }
            }
        }
        KeysAction::Revoke { id } => {
            if !store.revoke_key(&id, Timestamp::now()).await? {
                return Err(CliError::new(
                    Code::InvalidArgument,
                    format!("no key has id '{id}'; `bellwether keys list` shows them"),
                ));
            }
            println!("revoked key {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
