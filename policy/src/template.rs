//! String operands with `${context.<path>}` placeholders, split once at compile
//! time and filled in per request.

use std::borrow::Cow;

use crate::error::PolicyError;
use crate::path::FieldPath;
use crate::request::Request;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Variable(FieldPath),
}

const TEMPLATE_HINT: &str = "placeholders look like ${context.tenantId} or ${context.user.id}";

impl Template {
    pub(crate) fn parse(source: &str) -> Result<Self, PolicyError> {
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some((text, after_open)) = rest.split_once("${") {
            let Some((name, after_close)) = after_open.split_once('}') else {
                return Err(
                    PolicyError::invalid(format!("unclosed \"${{\" in {source:?}"))
                        .with_hint(TEMPLATE_HINT),
                );
            };
            push_text(&mut pieces, text);
            let path = FieldPath::parse(name)
                .ok()
                .filter(FieldPath::is_within_context)
                .ok_or_else(|| {
                    let placeholder = format!("${{{name}}}");
                    PolicyError::invalid(format!(
                        "cannot interpolate {placeholder:?}: only fields under context can be interpolated"
                    ))
                    .with_hint(TEMPLATE_HINT)
                })?;
            pieces.push(Piece::Variable(path));
            rest = after_close;
        }
        push_text(&mut pieces, rest);
        Ok(Template { pieces })
    }

    pub(crate) fn has_placeholders(&self) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Variable(_)))
    }

    /// The text with its placeholders filled from `request`, or `None` when a
    /// placeholder names a missing field or one that is null, an array or an object.
    /// Allocates only when the template has placeholders.
    pub(crate) fn render<'a>(&'a self, request: &Request<'a>) -> Option<Cow<'a, str>> {
        match self.pieces.as_slice() {
            [] => Some(Cow::Borrowed("")),
            [Piece::Text(text)] => Some(Cow::Borrowed(text)),
            [Piece::Variable(path)] => path.resolve(request)?.interpolation_text(),
            pieces => {
                let mut rendered = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(text) => rendered.push_str(text),
                        Piece::Variable(path) => {
                            rendered.push_str(&path.resolve(request)?.interpolation_text()?);
                        }
                    }
                }
                Some(Cow::Owned(rendered))
            }
        }
    }
}

fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn render(template: &str, context: &Value) -> Option<String> {
        let request = Request {
            tool: "t",
            args: &Value::Null,
            context,
            tenant_id: "tenant-a",
        };
        Template::parse(template)
            .unwrap()
            .render(&request)
            .map(Cow::into_owned)
    }

    #[test]
    fn fills_placeholders() {
        let context = json!({"user": {"id": "u1", "level": 3, "admin": true}});
        assert_eq!(render("plain", &context).as_deref(), Some("plain"));
        assert_eq!(render("", &context).as_deref(), Some(""));
        assert_eq!(
            render("${context.user.id}", &context).as_deref(),
            Some("u1")
        );
        assert_eq!(
            render(
                "id=${context.user.id};lvl=${context.user.level};${context.user.admin}!",
                &context
            )
            .as_deref(),
            Some("id=u1;lvl=3;true!")
        );
        assert_eq!(
            render("$ and } and {}", &context).as_deref(),
            Some("$ and } and {}")
        );
    }

    #[test]
    fn tenant_id_placeholder_ignores_a_forged_context_value() {
        let forged = json!({"tenantId": "tenant-b"});
        assert_eq!(
            render("tenant_id = '${context.tenantId}'", &forged).as_deref(),
            Some("tenant_id = 'tenant-a'")
        );
    }

    #[test]
    fn unresolvable_placeholders_render_to_none() {
        let context = json!({"null": null, "list": [1], "map": {}});
        for template in [
            "${context.missing}",
            "a ${context.null}",
            "${context.list} b",
            "${context.map}",
        ] {
            assert_eq!(render(template, &context), None, "{template}");
        }
    }

    #[test]
    fn rejects_malformed_placeholders() {
        for bad in [
            "${context.a",
            "x ${",
            "${args.to}",
            "${tool}",
            "${context}",
            "${}",
            "${context..a}",
        ] {
            let error = Template::parse(bad).unwrap_err();
            assert_eq!(error.kind, crate::ErrorKind::Invalid, "{bad}");
            assert!(error.hint.is_some());
        }
    }
}
