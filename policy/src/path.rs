//! Field paths such as `args.to` or `context.user.roles.0`, parsed once and
//! resolved against a request.

use std::borrow::Cow;

use serde_json::{Number, Value};

use crate::dotted;
use crate::error::PolicyError;
use crate::heap::HeapSize;
use crate::request::Request;

/// A parsed field path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldPath {
    root: Root,
    /// The keys after the root, dot-separated and none of them empty: one
    /// allocation however deep the path. Empty for the root itself.
    keys: Box<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Tool,
    Args,
    Context,
    /// `context.tenantId`, which is bound to [`Request::tenant_id`] so that a caller
    /// cannot claim another tenant's identity through `context`.
    TenantId,
}

/// The value found at a path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'r> {
    Json(&'r Value),
    /// The tool name or the tenant id.
    Text(&'r str),
}

const PATH_HINT: &str =
    "a path starts with tool, args or context, e.g. args.to, context.tenantId, args.items.0";

impl FieldPath {
    pub(crate) fn parse(source: &str) -> Result<Self, PolicyError> {
        let (root, keys) = dotted::split_first(source);
        let mut root = match root {
            "tool" => Root::Tool,
            "args" => Root::Args,
            "context" => Root::Context,
            other => {
                return Err(PolicyError::invalid(format!(
                    "unknown path root {other:?} in {source:?}"
                ))
                .with_hint(format!(
                    "{PATH_HINT}; a condition key may also be all, any or not"
                )));
            }
        };
        if keys.is_some_and(|keys| keys.split('.').any(str::is_empty)) {
            return Err(
                PolicyError::invalid(format!("path {source:?} has an empty segment"))
                    .with_hint(PATH_HINT),
            );
        }
        let mut keys = keys.unwrap_or_default();
        if root == Root::Tool && !keys.is_empty() {
            return Err(PolicyError::invalid(format!(
                "path {source:?} reads into the tool name, which has no fields"
            ))
            .with_hint("use `tool` alone"));
        }
        let (first, rest) = dotted::split_first(keys);
        if root == Root::Context && first == "tenantId" {
            root = Root::TenantId;
            keys = rest.unwrap_or_default();
        }
        Ok(FieldPath {
            root,
            keys: keys.into(),
        })
    }

    /// Whether the path names something under `context` (including `context.tenantId`).
    pub(crate) fn is_within_context(&self) -> bool {
        match self.root {
            Root::TenantId => true,
            Root::Context => !self.keys.is_empty(),
            Root::Tool | Root::Args => false,
        }
    }

    /// The value at this path, or `None` when the path is missing.
    pub(crate) fn resolve<'r>(&self, request: &Request<'r>) -> Option<Field<'r>> {
        let start = match self.root {
            Root::Tool => return Some(Field::Text(request.tool)),
            Root::TenantId if self.keys.is_empty() => {
                return Some(Field::Text(request.tenant_id));
            }
            Root::TenantId => return None,
            Root::Args => request.args,
            Root::Context => request.context,
        };
        dotted::segments(&self.keys)
            .try_fold(start, |value, key| match value {
                Value::Object(map) => map.get(key),
                Value::Array(items) => items.get(key.parse::<usize>().ok()?),
                _ => None,
            })
            .map(Field::Json)
    }
}

impl HeapSize for FieldPath {
    fn heap_bytes(&self) -> usize {
        self.keys.heap_bytes()
    }
}

impl<'r> Field<'r> {
    pub(crate) fn as_str(self) -> Option<&'r str> {
        match self {
            Field::Json(value) => value.as_str(),
            Field::Text(text) => Some(text),
        }
    }

    pub(crate) fn as_number(self) -> Option<&'r Number> {
        match self {
            Field::Json(Value::Number(number)) => Some(number),
            _ => None,
        }
    }

    pub(crate) fn as_array(self) -> Option<&'r [Value]> {
        match self {
            Field::Json(Value::Array(items)) => Some(items),
            _ => None,
        }
    }

    /// The text substituted for `${...}`: strings as they are, numbers and booleans
    /// as JSON; `None` for null, arrays and objects.
    pub(crate) fn interpolation_text(self) -> Option<Cow<'r, str>> {
        match self {
            Field::Text(text) => Some(Cow::Borrowed(text)),
            Field::Json(Value::String(text)) => Some(Cow::Borrowed(text)),
            Field::Json(Value::Number(number)) => Some(Cow::Owned(number.to_string())),
            Field::Json(Value::Bool(flag)) => {
                Some(Cow::Borrowed(if *flag { "true" } else { "false" }))
            }
            Field::Json(Value::Null | Value::Array(_) | Value::Object(_)) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn resolve(path: &str, args: &Value, context: &Value) -> Option<String> {
        let request = Request {
            tool: "email.send",
            args,
            context,
            tenant_id: "tenant-a",
        };
        FieldPath::parse(path)
            .unwrap()
            .resolve(&request)
            .map(|field| match field {
                Field::Json(value) => value.to_string(),
                Field::Text(text) => format!("text:{text}"),
            })
    }

    #[test]
    fn resolves_roots_nested_keys_and_array_indexes() {
        let args = json!({"to": "a@b.c", "items": [{"id": 7}], "10": "ten"});
        let context = json!({"user": {"roles": ["admin"]}});
        assert_eq!(
            resolve("tool", &args, &context).as_deref(),
            Some("text:email.send")
        );
        assert_eq!(
            resolve("args.to", &args, &context).as_deref(),
            Some("\"a@b.c\"")
        );
        assert_eq!(
            resolve("args.items.0.id", &args, &context).as_deref(),
            Some("7")
        );
        assert_eq!(
            resolve("args.10", &args, &context).as_deref(),
            Some("\"ten\"")
        );
        assert_eq!(
            resolve("context.user.roles.0", &args, &context).as_deref(),
            Some("\"admin\"")
        );
        assert!(resolve("args", &args, &context).unwrap().contains("items"));
    }

    #[test]
    fn missing_paths_resolve_to_none() {
        let args = json!({"items": [1], "to": "x"});
        for path in [
            "args.nope",
            "args.items.1",
            "args.items.x",
            "args.to.deeper",
            "context.a",
        ] {
            assert_eq!(resolve(path, &args, &json!({})), None, "{path}");
        }
    }

    #[test]
    fn tenant_id_comes_from_the_request_not_the_context() {
        let forged = json!({"tenantId": "tenant-b"});
        assert_eq!(
            resolve("context.tenantId", &json!({}), &forged).as_deref(),
            Some("text:tenant-a")
        );
        assert_eq!(resolve("context.tenantId.x", &json!({}), &forged), None);
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in ["foo", "request.tool", "args.", "args..to", "", "tool.name"] {
            let error = FieldPath::parse(bad).unwrap_err();
            assert_eq!(error.kind, crate::ErrorKind::Invalid, "{bad}");
        }
        let error = FieldPath::parse("arg.to").unwrap_err();
        assert!(error.message.contains("\"arg\""));
        assert!(error.hint.unwrap().contains("tool, args or context"));
    }
}
