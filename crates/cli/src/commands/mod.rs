//! One module per subcommand, plus the one place that opens the store.

pub mod assess;
pub mod crm;
pub mod demo;
pub mod evaluate;
pub mod import;
pub mod keys;
pub mod predict;
pub mod serve;
pub mod signals;
pub mod simulate;

use crate::config::Settings;
use crate::error::CliError;
use bellwether_store_sqlite::SqliteStore;
use indicatif::{ProgressBar, ProgressStyle};

/// Opens the store of the data directory. The backend is chosen here and nowhere else.
pub async fn open_store(settings: &Settings) -> Result<SqliteStore, CliError> {
    Ok(SqliteStore::open(&settings.data_dir.join("bellwether.db")).await?)
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn bar(len: u64, template: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb
}
