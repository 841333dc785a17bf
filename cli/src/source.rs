//! Reading policy files, and reporting their errors as `FILE:LINE:COLUMN`.

use authensor_policy::{CompiledDocument, PolicyError, compile_document};

use crate::Trouble;

pub fn read(path: &str) -> Result<String, Trouble> {
    std::fs::read_to_string(path).map_err(|error| Trouble(format!("{path}: {error}")))
}

/// The compiled document in `path`; its error, printed, as `Ok(None)`.
pub fn compile_file(path: &str) -> Result<Option<CompiledDocument>, Trouble> {
    match compile_document(&read(path)?) {
        Ok(document) => Ok(Some(document)),
        Err(error) => {
            print_error(path, &error);
            Ok(None)
        }
    }
}

/// The platform policy of `--platform`; an error in it is trouble, since
/// nothing can be decided under it.
pub fn platform(path: Option<&str>) -> Result<Option<CompiledDocument>, Trouble> {
    let Some(path) = path else {
        return Ok(None);
    };
    match compile_document(&read(path)?) {
        Ok(document) => Ok(Some(document)),
        Err(error) => Err(Trouble(format!(
            "the platform policy {}: {}",
            location(path, &error),
            error.message
        ))),
    }
}

/// `FILE:LINE:COLUMN` of an error, as far as it is known.
fn location(path: &str, error: &PolicyError) -> String {
    match (error.line, error.column) {
        (Some(line), Some(column)) => format!("{path}:{line}:{column}"),
        (Some(line), None) => format!("{path}:{line}"),
        _ => path.to_owned(),
    }
}

/// `FILE:LINE:COLUMN: error SQLSTATE: message at path`, then the hint.
pub fn print_error(path: &str, error: &PolicyError) {
    let at = error
        .path
        .as_ref()
        .map(|node| format!(" at {node}"))
        .unwrap_or_default();
    outln!(
        "{}: error {}: {}{at}",
        location(path, error),
        error.kind.sqlstate(),
        error.message
    );
    if let Some(hint) = &error.hint {
        outln!("  hint: {hint}");
    }
}
