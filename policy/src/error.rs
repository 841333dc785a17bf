//! Errors raised while compiling a policy, with the location of the offending node.

use std::fmt;

use serde::de;

/// The class of a [`PolicyError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The source is not well-formed YAML.
    Syntax,
    /// Well-formed YAML that is not a valid policy.
    Invalid,
    /// A [`Limits`](crate::Limits) bound was exceeded.
    TooLarge,
}

impl ErrorKind {
    /// The SQLSTATE the database raises for it: `42601` syntax_error,
    /// `22023` invalid_parameter_value, `54000` program_limit_exceeded.
    pub fn sqlstate(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "42601",
            ErrorKind::Invalid => "22023",
            ErrorKind::TooLarge => "54000",
        }
    }
}

/// Why a policy could not be compiled, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub kind: ErrorKind,
    pub message: String,
    /// Path of the offending node, such as `rules[0].when.args.to`.
    pub path: Option<String>,
    /// 1-based line of the offending node.
    pub line: Option<usize>,
    /// 1-based column of the offending node.
    pub column: Option<usize>,
    /// How to fix it, such as the list of valid keys or operators.
    pub hint: Option<String>,
}

impl PolicyError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PolicyError {
            kind,
            message: message.into(),
            path: None,
            line: None,
            column: None,
            hint: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, message)
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Converts an error raised inside a `Deserialize` impl into the reader's
    /// error, which will then be stamped with the node's path and position.
    pub(crate) fn into_yaml<E: de::Error>(self) -> E {
        E::custom(Framed(&self))
    }

    /// Reports a YAML scanner or parser error, its position taken out of the
    /// text (serde_yaml writes it as " at line L column C").
    pub(crate) fn from_syntax(error: &serde_yaml::Error) -> Self {
        let rendered = error.to_string();
        let location = error.location();
        let text = match &location {
            Some(location) => rendered.replacen(
                &format!(" at line {} column {}", location.line(), location.column()),
                "",
                1,
            ),
            None => rendered,
        };
        PolicyError {
            line: location.as_ref().map(serde_yaml::Location::line),
            column: location.as_ref().map(serde_yaml::Location::column),
            ..Self::new(ErrorKind::Syntax, text)
        }
    }

    /// Recovers an error written by [`PolicyError::into_yaml`]; any other
    /// text becomes an invalid-policy error of that text.
    pub(crate) fn from_framed(text: &str) -> Self {
        Framed::decode(text).unwrap_or_else(|| PolicyError::invalid(text))
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(path) = &self.path {
            write!(f, " at {path}")?;
        }
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, " (line {line}, column {column})")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// serde carries errors raised during deserialization as plain text. A
/// [`PolicyError`] is written into that text between control characters so
/// that its kind and hint survive the trip.
struct Framed<'e>(&'e PolicyError);

impl Framed<'_> {
    const FRAME: char = '\u{1e}';
    const FIELD: char = '\u{1f}';

    fn kind_tag(kind: ErrorKind) -> char {
        match kind {
            ErrorKind::Syntax => 'S',
            ErrorKind::Invalid => 'I',
            ErrorKind::TooLarge => 'T',
        }
    }

    /// Parses `<path>: FRAME kind FIELD message FIELD hint FRAME`, reading from the
    /// end because the path is made of arbitrary mapping keys.
    fn decode(text: &str) -> Option<PolicyError> {
        let body = text.strip_suffix(Self::FRAME)?;
        let (body, hint) = body.rsplit_once(Self::FIELD)?;
        let (body, message) = body.rsplit_once(Self::FIELD)?;
        let (prefix, tag) = body.rsplit_once(Self::FRAME)?;
        let kind = [ErrorKind::Syntax, ErrorKind::Invalid, ErrorKind::TooLarge]
            .into_iter()
            .find(|kind| tag.chars().eq([Self::kind_tag(*kind)]))?;
        let path = prefix.strip_suffix(": ").filter(|path| !path.is_empty());
        Some(PolicyError {
            path: path.map(str::to_owned),
            hint: (!hint.is_empty()).then(|| hint.to_owned()),
            ..PolicyError::new(kind, message)
        })
    }
}

impl fmt::Display for Framed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clean = |text: &str| text.replace([Self::FRAME, Self::FIELD], "\u{fffd}");
        let error = self.0;
        write!(
            f,
            "{frame}{tag}{field}{message}{field}{hint}{frame}",
            frame = Self::FRAME,
            field = Self::FIELD,
            tag = Self::kind_tag(error.kind),
            message = clean(&error.message),
            hint = clean(error.hint.as_deref().unwrap_or_default()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_errors_round_trip_behind_a_path() {
        let error = PolicyError::invalid("bad \u{1f}thing").with_hint("try this");
        let text = format!("rules[0].when: {}", Framed(&error));
        let decoded = Framed::decode(&text).expect("decodes");
        assert_eq!(decoded.kind, ErrorKind::Invalid);
        assert_eq!(decoded.message, "bad \u{fffd}thing");
        assert_eq!(decoded.hint.as_deref(), Some("try this"));
        assert_eq!(decoded.path.as_deref(), Some("rules[0].when"));
    }

    #[test]
    fn framed_errors_at_the_root_have_no_path() {
        let error = PolicyError::too_large("big");
        let decoded = Framed::decode(&Framed(&error).to_string()).expect("decodes");
        assert_eq!(decoded.kind, ErrorKind::TooLarge);
        assert_eq!(decoded.path, None);
        assert_eq!(decoded.hint, None);
    }

    #[test]
    fn plain_text_is_not_mistaken_for_a_framed_error() {
        assert_eq!(Framed::decode("invalid type: map, expected a string"), None);
    }

    #[test]
    fn display_is_one_line_with_path_and_position() {
        let error = PolicyError {
            path: Some("rules[2].tool".into()),
            line: Some(4),
            column: Some(11),
            ..PolicyError::invalid("empty tool pattern")
        };
        assert_eq!(
            error.to_string(),
            "empty tool pattern at rules[2].tool (line 4, column 11)"
        );
        assert_eq!(PolicyError::invalid("x").to_string(), "x");
    }
}
