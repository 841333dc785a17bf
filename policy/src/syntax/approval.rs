//! A rule's `approval:` block: `{required: 2, expires: 30m}`.

use std::num::NonZeroU32;

use serde::de::{self, MapAccess};

use super::Reader;
use super::shape::{FieldKey, Fields, Node, Shape};
use crate::approval::{self, ApprovalTerms};
use crate::error::PolicyError;
use crate::number::Number;

pub(super) struct ApprovalShape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApprovalField {
    Required,
    Expires,
}

impl Fields for ApprovalField {
    const ALL: &'static [Self] = &[Self::Required, Self::Expires];
    const OWNER: &'static str = "an approval";

    fn name(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Expires => "expires",
        }
    }
}

impl<'de> Shape<'de> for ApprovalShape {
    type Value = ApprovalTerms;

    fn expected(&self) -> &'static str {
        "an approval mapping (keys: required, expires)"
    }

    fn mapping<A: MapAccess<'de>>(
        self,
        reader: &Reader,
        mut map: A,
    ) -> Result<ApprovalTerms, A::Error> {
        let mut terms = ApprovalTerms::default();
        let mut seen = Vec::new();
        while let Some(field) = map.next_key_seed(Node::new(reader, FieldKey::new(&mut seen)))? {
            match field {
                ApprovalField::Required => {
                    terms.required = map.next_value_seed(Node::new(reader, RequiredShape))?
                }
                ApprovalField::Expires => {
                    terms.expires_seconds =
                        Some(map.next_value_seed(Node::new(reader, ExpiresShape))?)
                }
            }
        }
        Ok(terms)
    }
}

struct RequiredShape;

impl<'de> Shape<'de> for RequiredShape {
    type Value = std::num::NonZeroU8;

    fn expected(&self) -> &'static str {
        "a number of approvers"
    }

    fn number<E: de::Error>(self, _reader: &Reader, number: Number) -> Result<Self::Value, E> {
        approval::required(number.as_i64()).map_err(PolicyError::into_yaml)
    }
}

/// `expires: 30m`, or a number of seconds.
struct ExpiresShape;

impl<'de> Shape<'de> for ExpiresShape {
    type Value = NonZeroU32;

    fn expected(&self) -> &'static str {
        "a duration such as 30m"
    }

    fn string<E: de::Error>(self, _reader: &Reader, text: &str) -> Result<NonZeroU32, E> {
        approval::parse_duration(text).map_err(PolicyError::into_yaml)
    }

    fn number<E: de::Error>(self, _reader: &Reader, number: Number) -> Result<NonZeroU32, E> {
        approval::parse_duration(&number.to_text()).map_err(PolicyError::into_yaml)
    }
}
