//! The CLI's error: a product error code and a message that says what to do. Printed as
//! `error[code]: message` with the documentation link.

use bellwether_core::Code;

/// An error shown to the user.
#[derive(Debug)]
pub struct CliError {
    /// The code.
    pub code: Code,
    /// The message.
    pub message: String,
}

impl CliError {
    /// An error with a code.
    pub fn new(code: Code, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }
}

impl From<bellwether_store::StoreError> for CliError {
    fn from(e: bellwether_store::StoreError) -> Self {
        CliError::new(e.code(), e.to_string())
    }
}

impl From<bellwether_ingest::ImportError> for CliError {
    fn from(e: bellwether_ingest::ImportError) -> Self {
        CliError::new(e.code(), e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::new(Code::IoError, e.to_string())
    }
}
