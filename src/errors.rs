//! Raising PostgreSQL errors with a SQLSTATE, detail and hint.

use crate::pg::ErrorReport;
use authensor_policy::{ErrorKind, PolicyError};
use pgrx::prelude::*;

/// Raises `ERROR` and does not return.
pub fn raise(code: PgSqlErrorCode, message: impl Into<String>, hint: Option<&str>) -> ! {
    let mut report = ErrorReport::new(code, message.into(), "authensor");
    if let Some(hint) = hint {
        report = report.set_hint(hint);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ereport(ERROR) returned")
}

/// The SQLSTATE of a policy that failed to parse or validate.
pub fn policy_error_code(error: &PolicyError) -> PgSqlErrorCode {
    match error.kind {
        ErrorKind::Syntax => PgSqlErrorCode::ERRCODE_SYNTAX_ERROR,
        ErrorKind::Invalid => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        ErrorKind::TooLarge => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
    }
}

/// The five characters of a SQLSTATE, as `MAKE_SQLSTATE` packed them six
/// bits each, first character lowest.
pub fn sqlstate_text(code: PgSqlErrorCode) -> String {
    let packed = code as isize;
    (0..5)
        .map(|position| char::from(b'0' + ((packed >> (6 * position)) & 0x3F) as u8))
        .collect()
}

/// Raises the ERROR for a policy that failed to parse or validate.
pub fn raise_policy_error(error: &PolicyError) -> ! {
    let code = policy_error_code(error);
    // Display carries the path and the line and column where YAML gives them.
    let mut report = ErrorReport::new(code, format!("invalid policy: {error}"), "authensor");
    if let Some(hint) = &error.hint {
        report = report.set_hint(hint.clone());
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ereport(ERROR) returned")
}

/// Raises the ERROR for a failed internal SPI query.
pub fn raise_spi(what: &str, error: pgrx::spi::SpiError) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("authensor could not {what}: {error}"),
        None,
    )
}

/// The value of a required argument, or the ERROR for a NULL one.
pub fn required<T>(value: Option<T>, function: &str, argument: &str) -> T {
    value.unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("authensor.{function}(): {argument} must not be NULL"),
            None,
        )
    })
}

/// Raises the ERROR for a stored row the extension could not have written (a
/// version active but not stored, a key of an unknown scope): SQLSTATE XX001
/// data_corrupted, which no input can cause.
pub fn corrupted(message: impl Into<String>) -> ! {
    raise(PgSqlErrorCode::ERRCODE_DATA_CORRUPTED, message, None)
}
