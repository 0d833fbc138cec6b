//! One module per subcommand, plus the one place that opens the store.

pub mod assess;
pub mod copy;
pub mod crm;
pub mod demo;
pub mod digest;
pub mod evaluate;
pub mod import;
pub mod jobs;
pub mod keys;
pub mod outbox;
pub mod predict;
pub mod serve;
pub mod signals;
pub mod simulate;

use crate::config::Settings;
use crate::error::CliError;
use indicatif::{ProgressBar, ProgressStyle};

/// Opens the store the settings name (see [`crate::store::open`], where the backend is chosen).
pub async fn open_store(settings: &Settings) -> Result<crate::store::AnyStore, CliError> {
    crate::store::open(settings).await
}

/// The day a command works on: `as_of` when given, else the book's current day (decided by
/// [`bellwether_engine::day`]); an error saying what to import when the book holds nothing.
pub async fn book_day(
    store: &impl bellwether_store::Store,
    as_of: Option<bellwether_core::Day>,
) -> Result<bellwether_engine::BookDay, CliError> {
    bellwether_engine::book_day(store, bellwether_engine::Clock::Files, as_of)
        .await?
        .ok_or_else(|| {
            CliError::new(
                bellwether_core::Code::NoData,
                "there is nothing to assess yet; import data first (`bellwether import DIR`)",
            )
        })
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
