//! String operands with `${context.<path>}` placeholders, split once at compile
//! time and filled in per request.

use std::borrow::Cow;

use crate::error::PolicyError;
use crate::heap::HeapSize;
use crate::interrupt;
use crate::path::{Field, FieldPath};
use crate::request::Request;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pieces: Box<[Piece]>,
}

/// A template's text, or word that it is longer than the caller can use.
#[derive(Debug)]
pub(crate) enum Rendered<'a> {
    Text(Cow<'a, str>),
    /// Longer than the bound given to [`Template::render`], and not built.
    TooLong,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(Box<str>),
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
        Ok(Template {
            pieces: pieces.into_boxed_slice(),
        })
    }

    /// The placeholder, when the template is one placeholder and nothing else.
    pub(crate) fn lone_placeholder(&self) -> Option<&FieldPath> {
        match &*self.pieces {
            [Piece::Variable(path)] => Some(path),
            _ => None,
        }
    }

    pub(crate) fn placeholder_count(&self) -> usize {
        self.pieces
            .iter()
            .filter(|piece| matches!(piece, Piece::Variable(_)))
            .count()
    }

    /// The text with its placeholders filled from `request`, or `None` when a
    /// placeholder names a missing field or one that is null, an array or an
    /// object (see [`field_text`]). Text longer than `max_len` bytes is not
    /// built, so that many placeholders of a long context value cannot take
    /// much memory: the caller, comparing it with a shorter text, needs only
    /// to know that it is longer. Allocates only when the template has
    /// placeholders and other pieces, or a placeholder stands for a number.
    pub(crate) fn render<'a>(
        &'a self,
        request: &Request<'a>,
        max_len: usize,
    ) -> Option<Rendered<'a>> {
        match &*self.pieces {
            [] => Some(fit(Cow::Borrowed(""), max_len)),
            [Piece::Text(text)] => Some(fit(Cow::Borrowed(&**text), max_len)),
            [Piece::Variable(path)] => field_text(path.resolve(request)?, max_len),
            pieces => render_pieces(pieces, request, max_len),
        }
    }
}

fn fit(text: Cow<'_, str>, max_len: usize) -> Rendered<'_> {
    if text.len() > max_len {
        Rendered::TooLong
    } else {
        Rendered::Text(text)
    }
}

/// The text a placeholder puts in place of a value: a string as it is, a
/// number in plain decimal ([`Number::to_text`](crate::Number::to_text)), a
/// boolean as `true` or `false`; `None` for null, arrays and objects. A number
/// longer than `max_len` is not written out.
pub(crate) fn field_text(field: Field<'_>, max_len: usize) -> Option<Rendered<'_>> {
    let text = match field {
        Field::Text(text) => Cow::Borrowed(text),
        Field::Json(Value::String(text)) => Cow::Borrowed(text.as_str()),
        Field::Json(Value::Bool(flag)) => Cow::Borrowed(if *flag { "true" } else { "false" }),
        Field::Json(Value::Number(number)) if number.text_len() > max_len => {
            return Some(Rendered::TooLong);
        }
        Field::Json(Value::Number(number)) => Cow::Owned(number.to_text()),
        Field::Json(Value::Null | Value::Array(_) | Value::Object(_)) | Field::Context(..) => {
            return None;
        }
    };
    Some(fit(text, max_len))
}

fn render_pieces<'a>(
    pieces: &'a [Piece],
    request: &Request<'a>,
    max_len: usize,
) -> Option<Rendered<'a>> {
    let mut rendered = String::new();
    let mut too_long = false;
    for piece in pieces {
        interrupt::check();
        // Once too long, only whether every placeholder resolves still matters.
        let room = if too_long {
            0
        } else {
            max_len - rendered.len()
        };
        let text = match piece {
            Piece::Text(text) => fit(Cow::Borrowed(&**text), room),
            Piece::Variable(path) => field_text(path.resolve(request)?, room)?,
        };
        match text {
            Rendered::Text(text) if !too_long => rendered.push_str(&text),
            Rendered::Text(_) => {}
            Rendered::TooLong => too_long = true,
        }
    }
    Some(if too_long {
        Rendered::TooLong
    } else {
        Rendered::Text(Cow::Owned(rendered))
    })
}

/// The template as written: `@${context.tenantId}.com`.
impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => f.write_str(text)?,
                Piece::Variable(path) => write!(f, "${{{path}}}")?,
            }
        }
        Ok(())
    }
}

impl HeapSize for Template {
    fn heap_bytes(&self) -> usize {
        self.pieces.heap_bytes()
    }
}

impl HeapSize for Piece {
    fn heap_bytes(&self) -> usize {
        match self {
            Piece::Text(text) => text.heap_bytes(),
            Piece::Variable(path) => path.heap_bytes(),
        }
    }
}

fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    if !text.is_empty() {
        pieces.push(Piece::Text(text.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        Value::from_json(text).unwrap()
    }

    fn render_within(template: &str, context: &Value, max_len: usize) -> Option<String> {
        let request = Request {
            tool: "t",
            args: &Value::Null,
            context,
            tenant_id: "tenant-a",
        };
        Template::parse(template)
            .unwrap()
            .render(&request, max_len)
            .map(|rendered| match rendered {
                Rendered::Text(text) => text.into_owned(),
                Rendered::TooLong => "<too long>".to_owned(),
            })
    }

    fn render(template: &str, context: &Value) -> Option<String> {
        render_within(template, context, usize::MAX)
    }

    #[test]
    fn fills_placeholders() {
        let context = json(
            r#"{"user": {"id": "u1", "level": 3, "admin": true, "ratio": 1.50, "big": 1e30}}"#,
        );
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
            render("${context.user.ratio}/${context.user.big}", &context).as_deref(),
            Some("1.5/1000000000000000000000000000000")
        );
        assert_eq!(
            render("$ and } and {}", &context).as_deref(),
            Some("$ and } and {}")
        );
    }

    #[test]
    fn tenant_id_placeholder_ignores_a_forged_context_value() {
        let forged = json(r#"{"tenantId": "tenant-b"}"#);
        assert_eq!(
            render("tenant_id = '${context.tenantId}'", &forged).as_deref(),
            Some("tenant_id = 'tenant-a'")
        );
    }

    #[test]
    fn unresolvable_placeholders_render_to_none() {
        let context = json(r#"{"null": null, "list": [1], "map": {}}"#);
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
    fn text_longer_than_the_bound_is_not_built() {
        let context = json(r#"{"a": "12345", "n": 42, "huge": 1e400}"#);
        let within = |template, max_len| render_within(template, &context, max_len);
        assert_eq!(within("${context.a}", 5).as_deref(), Some("12345"));
        assert_eq!(within("${context.a}", 4).as_deref(), Some("<too long>"));
        assert_eq!(within("x${context.n}y", 4).as_deref(), Some("x42y"));
        assert_eq!(within("x${context.n}y", 3).as_deref(), Some("<too long>"));
        assert_eq!(within("literal", 6).as_deref(), Some("<too long>"));
        assert_eq!(within("", 0).as_deref(), Some(""));
        assert_eq!(
            within("${context.huge}", 400).as_deref(),
            Some("<too long>")
        );
        assert_eq!(within("${context.huge}", 401).map(|t| t.len()), Some(401));
        // An unresolvable placeholder after the bound still makes it unresolvable.
        assert_eq!(
            within("${context.a}${context.a}${context.missing}", 6),
            None
        );
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
