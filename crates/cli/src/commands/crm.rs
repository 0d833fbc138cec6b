//! `bellwether import-crm`: a Salesforce or HubSpot export (or Zendesk's ticket export) through a mapping file
//! (`mappings/*.toml`); contacts that turn inactive or vanish between exports become stakeholder-turnover facts.

use crate::config::Settings;
use crate::error::CliError;
use bellwether_core::Code;
use bellwether_ingest::crm::{import_crm, Mapping};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `import-crm`.
#[derive(clap::Args)]
pub struct CrmArgs {
    /// The mapping file (`mappings/salesforce.toml`, `mappings/hubspot.toml`, `mappings/zendesk.toml`, or your
    /// own).
    #[arg(long, value_name = "FILE")]
    mapping: PathBuf,
    /// What the export holds: accounts, contacts, opportunities, tickets or users (the CRM's record owners;
    /// import them before the accounts, whose owner column they resolve to emails).
    what: String,
    /// The CSV export.
    file: PathBuf,
    /// How to read slash dates such as 03/05/2024: mdy (March 5) or dmy (3 May); overrides
    /// `[import] day_order` in the settings.
    #[arg(long, value_name = "ORDER", value_parser = bellwether_core::time::DayOrder::parse)]
    day_order: Option<bellwether_core::time::DayOrder>,
}

/// Runs the import and re-assesses the accounts it touched.
pub async fn run(settings: &Settings, a: CrmArgs) -> Result<ExitCode, CliError> {
    let text = std::fs::read_to_string(&a.mapping).map_err(|e| {
        CliError::new(
            Code::FileNotFound,
            format!("cannot read the mapping {}: {e}", a.mapping.display()),
        )
    })?;
    let mapping: Mapping = toml::from_str(&text)
        .map_err(|e| CliError::new(Code::InvalidConfig, format!("{}: {e}", a.mapping.display())))?;
    if !a.file.is_file() {
        return Err(CliError::new(
            Code::FileNotFound,
            format!("{} does not exist", a.file.display()),
        ));
    }
    let store = super::open_store(settings).await?;
    let reading = settings.time_reading_with(a.day_order);
    let report = import_crm(
        &store,
        &mapping,
        &a.what,
        &a.file,
        &settings.event_times,
        &reading,
    )
    .await
    .map_err(|e| CliError::new(Code::InvalidArgument, e))?;
    for n in &report.notices {
        eprintln!("note: {n}");
    }
    for r in report.rejected.iter().take(20) {
        eprintln!(
            "{}:{}: {}{} [{}]",
            a.file.display(),
            r.line,
            r.field
                .map(|f| format!("field '{f}': "))
                .unwrap_or_default(),
            r.message,
            r.code
        );
    }
    if report.rejected.len() > 20 {
        eprintln!("… and {} more rejected rows", report.rejected.len() - 20);
    }
    println!(
        "{} {}: {} rows, {} stored, {} skipped, {} rejected, {} contacts left",
        mapping.source,
        a.what,
        report.rows,
        report.stored,
        report.skipped,
        report.rejected.len(),
        report.left
    );
    if !report.touched.is_empty() {
        super::import::reassess_touched(&store, settings, &report.touched, true).await?;
    }
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
