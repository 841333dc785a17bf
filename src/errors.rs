//! Raising PostgreSQL errors with a SQLSTATE, detail and hint.

use crate::pg::ErrorReport;
use authensor_policy::PolicyError;
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

/// The SQLSTATE of a policy that failed to parse or validate, as the policy
/// crate names it ([`authensor_policy::ErrorKind::sqlstate`]), packed as
/// `MAKE_SQLSTATE` packs one: six bits a character, the first lowest.
fn policy_error_code(error: &PolicyError) -> PgSqlErrorCode {
    let packed = error
        .kind
        .sqlstate()
        .bytes()
        .enumerate()
        .map(|(position, byte)| (isize::from(byte.wrapping_sub(b'0')) & 0x3F) << (6 * position))
        .sum::<isize>();
    PgSqlErrorCode::from(packed)
}

/// Raises the ERROR for a policy that failed to parse or validate.
pub fn raise_policy_error(error: &PolicyError) -> ! {
    raise_policy_error_as("invalid policy", error)
}

/// Raises the ERROR for `error`, its message after `prefix: `.
pub fn raise_policy_error_as(prefix: &str, error: &PolicyError) -> ! {
    let code = policy_error_code(error);
    // Display carries the path and the line and column where YAML gives them.
    let mut report = ErrorReport::new(code, format!("{prefix}: {error}"), "authensor");
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
