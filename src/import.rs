//! import_policy(): a policy of another format as a policy document, shown
//! with its validation and never published.

use crate::authoring::{layer_argument, validation_report};
use crate::errors::{raise, raise_policy_error_as, required};
use crate::pg::jsonb::JsonbArg;
use authensor_policy::{IMPORT_FORMATS, import_authensor};
use pgrx::JsonB;
use pgrx::prelude::*;

/// `{"yaml", "notes", "valid", "errors", "warnings"}`: the policy document
/// `source` translates to, what the translation carried into context
/// conditions or left without effect, and what validate_policy() says of
/// the document. Nothing is written; the caller reads the YAML and
/// publishes it. What the language cannot express raises an ERROR naming
/// the field.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn import_policy(
    source: Option<JsonbArg>,
    format: default!(Option<&str>, "'authensor'"),
    layer: default!(Option<&str>, "'tenant'"),
) -> JsonB {
    let source = required(source, "import_policy", "source");
    let format = required(format, "import_policy", "format");
    let layer = layer_argument("import_policy", layer);
    if !IMPORT_FORMATS.contains(&format) {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("authensor.import_policy(): unknown format {format:?}"),
            Some("The formats are: authensor."),
        )
    }
    let imported = import_authensor(&source.to_text())
        .unwrap_or_else(|error| raise_policy_error_as("cannot import the policy", &error));
    let mut report = validation_report(&imported.yaml, layer);
    report["yaml"] = imported.yaml.into();
    report["notes"] = imported.notes.into();
    JsonB(report)
}
