//! The one table of error codes for the whole product.
//!
//! Every error a user can see maps to a [`Code`]: a stable snake_case name (never renamed once published), a
//! type, an HTTP status for the API and a link to its documentation in `docs/errors.md`. The CLI prints the
//! code beside the message; the HTTP API returns `{message, code, type, link}`.

use serde::Serialize;

/// The broad class of an error, as in the API's `type` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// The request or input was wrong; the user can fix it.
    InvalidRequest,
    /// Missing or wrong credentials.
    Auth,
    /// A fault inside Bellwether.
    Internal,
    /// The machine or a service it needs (disk, database) failed.
    System,
}

macro_rules! codes {
    ($($variant:ident => $name:literal, $ty:ident, $status:literal, $what:literal;)*) => {
        /// A stable error code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Code { $(#[doc = $what] $variant,)* }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
            /// The stable name.
            pub fn name(self) -> &'static str { match self { $(Code::$variant => $name,)* } }
            /// The error's type.
            pub fn error_type(self) -> ErrorType { match self { $(Code::$variant => ErrorType::$ty,)* } }
            /// The HTTP status the API answers with.
            pub fn http_status(self) -> u16 { match self { $(Code::$variant => $status,)* } }
            /// One line on what the code means.
            pub fn description(self) -> &'static str { match self { $(Code::$variant => $what,)* } }
        }
    };
}

codes! {
    InvalidConfig => "invalid_config", InvalidRequest, 400, "The configuration file or a BELLWETHER_* variable could not be read.";
    InvalidArgument => "invalid_argument", InvalidRequest, 400, "An argument is not acceptable as given, for this store's state.";
    FileNotFound => "file_not_found", InvalidRequest, 404, "A file or folder named on the command line does not exist or cannot be read.";
    UnknownImportKind => "unknown_import_kind", InvalidRequest, 400, "The kind of an import file could not be recognised from its name or header.";
    MissingColumn => "missing_column", InvalidRequest, 400, "An import file lacks a column its kind requires.";
    InvalidRecord => "invalid_record", InvalidRequest, 400, "A line or record of an import could not be read as a record of its kind.";
    InvalidField => "invalid_field", InvalidRequest, 400, "A field of a record holds a value of the wrong form.";
    EventTimeOutOfRange => "event_time_out_of_range", InvalidRequest, 400, "An event's time lies before the earliest date accepted or too far after its receipt; the record was not stored.";
    MixedCurrencies => "mixed_currencies", InvalidRequest, 409, "The book holds ARR in several currencies and `[money]` gives no reporting currency or rate to sum and rank them in.";
    AccountNotFound => "account_not_found", InvalidRequest, 404, "No account has the id that was asked for.";
    SignalNotFound => "signal_not_found", InvalidRequest, 404, "No signal has the id that was asked for.";
    NoData => "no_data", InvalidRequest, 409, "The data directory holds no data yet for what was asked.";
    NotEnoughHistory => "not_enough_history", InvalidRequest, 409, "The book has too little history or too few outcomes to train a model.";
    NoModel => "no_model", InvalidRequest, 404, "No trained model (or no model of the version asked for) is in the registry.";
    ModelIncompatible => "model_incompatible", InvalidRequest, 409, "A stored model needs input columns this version of Bellwether does not compute.";
    StoreUnavailable => "store_unavailable", System, 503, "The data store could not be opened or written.";
    StoreConflict => "store_conflict", System, 409, "Another writer changed the store at the same time; retrying is safe.";
    DataDirInUse => "data_dir_in_use", InvalidRequest, 409, "Another `bellwether serve` already runs on this data directory.";
    IoError => "io_error", System, 500, "Reading or writing a file failed.";
    Internal => "internal", Internal, 500, "An unexpected fault inside Bellwether; please report it.";
    Unauthorized => "unauthorized", Auth, 401, "The request carries no API key, or one that is unknown or revoked.";
    Forbidden => "forbidden", Auth, 403, "The API key's scope does not allow this endpoint.";
    InvalidSignature => "invalid_signature", Auth, 401, "A webhook's signature is missing, wrong or too old.";
    InvalidJson => "invalid_json", InvalidRequest, 400, "The request body is not the JSON this endpoint takes.";
    UnsupportedMediaType => "unsupported_media_type", InvalidRequest, 415, "The request's content type or content encoding is not one this endpoint takes.";
    PayloadTooLarge => "payload_too_large", InvalidRequest, 413, "The request body is larger than this endpoint takes.";
    RequestTimeout => "request_timeout", InvalidRequest, 408, "The request's body stopped arriving before it was complete.";
    MessageTooLarge => "message_too_large", InvalidRequest, 400, "One message of a batch is larger than 32 KB; the others were stored.";
    InvalidMessage => "invalid_message", InvalidRequest, 400, "One message of a batch could not be read; the others were stored.";
    RouteNotFound => "route_not_found", InvalidRequest, 404, "No endpoint has this path and method.";
    MethodNotAllowed => "method_not_allowed", InvalidRequest, 405, "The endpoint exists but does not take this HTTP method.";
    ServiceUnavailable => "service_unavailable", System, 503, "The server is starting, stopping or could not store the request; retrying is safe.";
    IngestBacklog => "ingest_backlog", System, 503, "More acknowledged messages wait to be applied than the server's limit; nothing was stored; retry after the Retry-After seconds.";
}

impl Code {
    /// The documentation link for this code.
    pub fn link(self) -> String {
        format!("docs/errors.md#{}", self.name())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_documented() {
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len());
        let doc = include_str!("../../../docs/errors.md");
        for c in Code::ALL {
            assert!(
                doc.contains(&format!("`{}`", c.name())),
                "docs/errors.md lacks {}",
                c.name()
            );
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
    }
}
