//! Field paths such as `args.to` or `context.user.roles.0`, parsed once and
//! resolved against a request.

use crate::dotted;
use crate::error::PolicyError;
use crate::heap::HeapSize;
use crate::number::Number;
use crate::request::Request;
use crate::value::{Object, Value};

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
    /// A path into the context, never `context` alone.
    Context,
    /// `context` alone: the context with its `tenantId` set to
    /// [`Request::tenant_id`], built when a condition reads it.
    WholeContext,
    /// `context.tenantId`, which is bound to [`Request::tenant_id`] so that a caller
    /// cannot claim another tenant's identity through `context`.
    TenantId,
    /// The key of a `rate` condition, which reads no field of the request.
    Rate,
}

/// The value found at a path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'r> {
    Json(&'r Value),
    /// The tool name or the tenant id.
    Text(&'r str),
    /// `context` alone: the context object (`None` when the context is not
    /// an object) as if its `tenantId` were the tenant given here. Not built:
    /// the context may nest deeper than a copy could safely recurse.
    Context(Option<&'r Object>, &'r str),
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
        } else if root == Root::Context && keys.is_empty() {
            root = Root::WholeContext;
        }
        Ok(FieldPath {
            root,
            keys: keys.into(),
        })
    }

    /// The key `rate`, under which a condition map holds a rate limit.
    pub(crate) fn rate() -> Self {
        FieldPath {
            root: Root::Rate,
            keys: Box::default(),
        }
    }

    /// Whether the path names something under `context` (including `context.tenantId`).
    pub(crate) fn is_within_context(&self) -> bool {
        match self.root {
            Root::TenantId | Root::Context => true,
            Root::Tool | Root::Args | Root::WholeContext | Root::Rate => false,
        }
    }

    /// The value at this path, or `None` when the path is missing.
    pub(crate) fn resolve<'r>(&self, request: &Request<'r>) -> Option<Field<'r>> {
        let start = match self.root {
            Root::Tool => return Some(Field::Text(request.tool)),
            Root::TenantId if self.keys.is_empty() => {
                return Some(Field::Text(request.tenant_id));
            }
            Root::TenantId | Root::Rate => return None,
            Root::WholeContext => {
                return Some(Field::Context(
                    request.context.as_object(),
                    request.tenant_id,
                ));
            }
            Root::Args => request.args,
            Root::Context => request.context,
        };
        dotted::segments(&self.keys)
            .try_fold(start, |value, key| match value {
                Value::Object(object) => object.get(key),
                Value::Array(items) => items.get(array_index(key)?),
                _ => None,
            })
            .map(Field::Json)
    }
}

/// The position a segment names in an array: `0` or digits without a leading
/// zero; `01`, `+1`, `-1` and `1.0` name none.
fn array_index(segment: &str) -> Option<usize> {
    match segment.as_bytes() {
        [b'0'] => Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => segment.parse().ok(),
        _ => None,
    }
}

/// The path as written, `context.tenantId` included.
impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let root = match self.root {
            Root::Tool => "tool",
            Root::Args => "args",
            Root::Context | Root::WholeContext => "context",
            Root::TenantId => "context.tenantId",
            Root::Rate => "rate",
        };
        f.write_str(root)?;
        if !self.keys.is_empty() {
            write!(f, ".{}", self.keys)?;
        }
        Ok(())
    }
}

impl HeapSize for FieldPath {
    fn heap_bytes(&self) -> usize {
        self.keys.heap_bytes()
    }
}

impl<'r> Field<'r> {
    /// Whether the value is a string, a number or a boolean, which is what a
    /// `${context...}` placeholder needs to stand for it.
    pub(crate) fn is_scalar(self) -> bool {
        match self {
            Field::Text(_) => true,
            Field::Json(value) => {
                matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
            }
            Field::Context(..) => false,
        }
    }

    /// Whether the field equals `value`, numbers by value and objects
    /// whatever the order of their keys.
    pub(crate) fn equals(self, value: &Value) -> bool {
        match self {
            Field::Json(field) => field == value,
            Field::Text(text) => value.as_str() == Some(text),
            Field::Context(context, tenant_id) => {
                let Some(value) = value.as_object() else {
                    return false;
                };
                let keys = context.map_or(0, Object::len)
                    + usize::from(context.and_then(|c| c.get("tenantId")).is_none());
                keys == value.len()
                    && value.iter().all(|(key, value)| match key {
                        "tenantId" => value.as_str() == Some(tenant_id),
                        _ => context.and_then(|context| context.get(key)) == Some(value),
                    })
            }
        }
    }

    pub(crate) fn as_str(self) -> Option<&'r str> {
        match self {
            Field::Json(value) => value.as_str(),
            Field::Text(text) => Some(text),
            Field::Context(..) => None,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        Value::from_json(text).unwrap()
    }

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
                Field::Json(value) => format!("{value:?}"),
                Field::Text(text) => format!("text:{text}"),
                Field::Context(context, tenant_id) => format!("context:{context:?}+{tenant_id}"),
            })
    }

    #[test]
    fn resolves_roots_nested_keys_and_array_indexes() {
        let args = json(r#"{"to": "a@b.c", "items": [{"id": 7}, 8], "10": "ten", "01": "key"}"#);
        let context = json(r#"{"user": {"roles": ["admin"]}}"#);
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
        assert_eq!(
            resolve("args.01", &args, &context).as_deref(),
            Some("\"key\"")
        );
        assert_eq!(
            resolve("args.items.1", &args, &context).as_deref(),
            Some("8")
        );
        assert!(resolve("args", &args, &context).unwrap().contains("items"));
        assert_eq!(
            resolve("context", &args, &context).as_deref(),
            Some("context:Some({\"user\": {\"roles\": [\"admin\"]}})+tenant-a")
        );
    }

    #[test]
    fn only_plain_decimal_segments_index_arrays() {
        let args = json(r#"{"items": [10, 11, 12]}"#);
        for (segment, found) in [
            ("0", Some("10")),
            ("2", Some("12")),
            ("01", None),
            ("+1", None),
            ("-1", None),
            ("1.0", None),
            ("3", None),
            ("99999999999999999999999", None),
        ] {
            let path = format!("args.items.{segment}");
            assert_eq!(
                resolve(&path, &args, &Value::Null).as_deref(),
                found,
                "{path}"
            );
        }
    }

    #[test]
    fn missing_paths_resolve_to_none() {
        let args = json(r#"{"items": [1], "to": "x"}"#);
        for path in [
            "args.nope",
            "args.items.1",
            "args.items.x",
            "args.to.deeper",
            "context.a",
        ] {
            assert_eq!(resolve(path, &args, &json("{}")), None, "{path}");
        }
    }

    #[test]
    fn tenant_id_comes_from_the_request_not_the_context() {
        let forged = json(r#"{"tenantId": "tenant-b"}"#);
        assert_eq!(
            resolve("context.tenantId", &json("{}"), &forged).as_deref(),
            Some("text:tenant-a")
        );
        assert_eq!(resolve("context.tenantId.x", &json("{}"), &forged), None);
        let whole = FieldPath::parse("context").unwrap();
        let seen = |context: &Value, expected: &str| {
            let request = Request {
                tool: "t",
                args: &Value::Null,
                context,
                tenant_id: "tenant-a",
            };
            whole.resolve(&request).unwrap().equals(&json(expected))
        };
        assert!(seen(&forged, r#"{"tenantId": "tenant-a"}"#));
        assert!(!seen(&forged, r#"{"tenantId": "tenant-b"}"#));
        assert!(seen(&Value::Null, r#"{"tenantId": "tenant-a"}"#));
        assert!(seen(
            &json(r#"{"a": [1]}"#),
            r#"{"a": [1.0], "tenantId": "tenant-a"}"#
        ));
        assert!(!seen(&json(r#"{"a": [1]}"#), r#"{"a": [1]}"#));
        assert!(!seen(
            &json(r#"{"a": [1]}"#),
            r#"{"a": [1], "tenantId": "tenant-a", "b": 2}"#
        ));
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
