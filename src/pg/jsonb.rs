//! jsonb arguments taken as they come, and read straight into serde_json
//! without printing them as text and parsing the text again. A decision needs
//! args and context as values, and its receipt stores them unchanged.
//!
//! Follows how jsonb's own functions walk a value (JsonbIteratorInit() and
//! JsonbIteratorNext() of utils/adt/jsonb_util.c, JsonbExtractScalar() of
//! jsonb.c, numeric_normalize() of numeric.c), and calls jsonb_concat()
//! (jsonfuncs.c) and toast_raw_datum_size() (access/common/detoast.c);
//! checked against PostgreSQL 15, 16 and 18.

use crate::errors::raise;
use pgrx::JsonB;
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{Map, Number, Value};
use std::ffi::CStr;

/// A non-NULL jsonb argument, not yet converted.
#[derive(Clone, Copy)]
pub struct JsonbArg(pg_sys::Datum);

impl FromDatum for JsonbArg {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        (!is_null).then_some(JsonbArg(datum))
    }
}

// SAFETY: a JsonbArg is built only from the datum of an argument declared
// jsonb (impl_sql_translatable below), as pgrx's own jsonb type is, or from
// what jsonb_concat returns (concat below).
unsafe impl<'fcx> ArgAbi<'fcx> for JsonbArg {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the argument is a jsonb datum (see the impl's SAFETY).
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        // SAFETY: as above.
        unsafe { arg.unbox_arg_using_from_datum().into() }
    }
}

pgrx::impl_sql_translatable!(JsonbArg, arg_only = "jsonb");

/// Passed on as it came, to SPI or into a row.
impl IntoDatum for JsonbArg {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

/// The bytes of a detoasted jsonb, copied out of PostgreSQL's memory by
/// JsonbArg::copy (and only by it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonbCopy(Vec<u8>);

impl JsonbCopy {
    /// A jsonb datum of the copy, allocated in the current memory context.
    pub fn to_arg(&self) -> JsonbArg {
        // SAFETY: the bytes are those of a detoasted jsonb varlena (see
        // JsonbArg::copy); copied whole into a palloc'd block they are a
        // valid jsonb datum again.
        unsafe {
            let copy = pg_sys::palloc(self.0.len()) as *mut u8;
            std::ptr::copy_nonoverlapping(self.0.as_ptr(), copy, self.0.len());
            JsonbArg(pg_sys::Datum::from(copy))
        }
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.0.len()
    }
}

impl JsonbArg {
    /// A jsonb datum of `value`, as a caller would pass it (for tests).
    #[cfg(any(test, feature = "pg_test"))]
    pub fn from_value(value: JsonB) -> JsonbArg {
        JsonbArg(value.into_datum().expect("a jsonb value is never NULL"))
    }

    /// The object this argument holds, or `None` when it holds anything else.
    pub fn object(self) -> Option<Map<String, Value>> {
        // SAFETY: a JsonbArg only ever holds a non-NULL jsonb datum.
        unsafe {
            let jsonb = pg_sys::pg_detoast_datum(self.0.cast_mut_ptr()) as *mut pg_sys::Jsonb;
            if (*jsonb).root.header & pg_sys::JB_FOBJECT == 0 {
                return None;
            }
            match convert(&mut (*jsonb).root) {
                Value::Object(map) => Some(map),
                _ => None,
            }
        }
    }

    /// A copy of the jsonb held by Rust, which outlives the transaction.
    pub fn copy(self) -> JsonbCopy {
        // SAFETY: a JsonbArg holds a non-NULL varlena datum; detoasted, it is
        // one allocation of VARSIZE bytes (fmgr.h PG_DETOAST_DATUM, varatt.h
        // VARSIZE).
        unsafe {
            let value = pg_sys::pg_detoast_datum(self.0.cast_mut_ptr());
            let size = pgrx::varsize(value as *const pg_sys::varlena);
            JsonbCopy(std::slice::from_raw_parts(value as *const u8, size).to_vec())
        }
    }

    /// The jsonb as text (jsonb_out).
    pub fn to_text(self) -> String {
        // SAFETY: jsonb_out takes a non-NULL jsonb datum and returns a
        // palloc'd C string.
        unsafe {
            let text = pgrx::direct_function_call::<&CStr>(pg_sys::jsonb_out, &[Some(self.0)]);
            text.map(|text| text.to_string_lossy().into_owned())
                .unwrap_or_default()
        }
    }

    /// The size of the jsonb, uncompressed.
    pub fn raw_size(self) -> usize {
        // SAFETY: a JsonbArg holds a non-NULL varlena datum.
        unsafe { pg_sys::toast_raw_datum_size(self.0) }
    }

    /// `self || other`, or `None` if jsonb_concat returned NULL.
    pub fn concat(self, other: JsonB) -> Option<JsonbArg> {
        // SAFETY: both arguments are non-NULL jsonb datums.
        unsafe {
            pgrx::direct_function_call::<pg_sys::Datum>(
                pg_sys::jsonb_concat,
                &[Some(self.0), other.into_datum()],
            )
        }
        .map(JsonbArg)
    }

    /// What kind of JSON value the argument holds, for error messages; read
    /// from its header, so any depth and any number is fine.
    pub fn type_name(self) -> &'static str {
        use pg_sys::jbvType;
        // SAFETY: as above; JsonbExtractScalar reads a scalar container only.
        unsafe {
            let jsonb = pg_sys::pg_detoast_datum(self.0.cast_mut_ptr()) as *mut pg_sys::Jsonb;
            let header = (*jsonb).root.header;
            if header & pg_sys::JB_FOBJECT != 0 {
                return "an object";
            }
            if header & pg_sys::JB_FSCALAR == 0 {
                return "an array";
            }
            let mut scalar: pg_sys::JsonbValue = std::mem::zeroed();
            if !pg_sys::JsonbExtractScalar(&mut (*jsonb).root, &mut scalar) {
                return "a scalar";
            }
            match scalar.type_ {
                jbvType::jbvNull => "null",
                jbvType::jbvString => "a string",
                jbvType::jbvNumeric => "a number",
                jbvType::jbvBool => "a boolean",
                _ => "a scalar",
            }
        }
    }
}

enum Open {
    Object(Map<String, Value>, Option<String>),
    Array(Vec<Value>),
}

/// Walks an object or array container with PostgreSQL's own iterator, building the value
/// bottom-up on an explicit stack (no recursion, whatever the depth).
unsafe fn convert(container: *mut pg_sys::JsonbContainer) -> Value {
    use pg_sys::JsonbIteratorToken::*;
    // SAFETY: the caller passes a detoasted container; the iterator walks it
    // as jsonb's own functions do (jsonb_util.c JsonbIteratorNext).
    unsafe {
        let mut iterator = pg_sys::JsonbIteratorInit(container);
        let mut token_value: pg_sys::JsonbValue = std::mem::zeroed();
        let mut open: Vec<Open> = Vec::new();
        let mut done = Value::Null;
        loop {
            let finished = match pg_sys::JsonbIteratorNext(&mut iterator, &mut token_value, false) {
                WJB_DONE => return done,
                WJB_BEGIN_OBJECT => {
                    open.push(Open::Object(Map::new(), None));
                    None
                }
                WJB_BEGIN_ARRAY => {
                    open.push(Open::Array(Vec::new()));
                    None
                }
                WJB_KEY => {
                    if let Some(Open::Object(_, key)) = open.last_mut() {
                        *key = Some(string(&token_value));
                    }
                    None
                }
                WJB_VALUE | WJB_ELEM => Some(scalar(&token_value)),
                WJB_END_OBJECT | WJB_END_ARRAY => open.pop().map(|finished| match finished {
                    Open::Object(map, _) => Value::Object(map),
                    Open::Array(items) => Value::Array(items),
                }),
                _ => None,
            };
            if let Some(value) = finished {
                match open.last_mut() {
                    Some(Open::Object(map, key)) => {
                        map.insert(key.take().unwrap_or_default(), value);
                    }
                    Some(Open::Array(items)) => items.push(value),
                    None => done = value,
                }
            }
        }
    }
}

unsafe fn scalar(value: &pg_sys::JsonbValue) -> Value {
    use pg_sys::jbvType;
    // SAFETY: the union member read is the one the type tag names.
    unsafe {
        match value.type_ {
            jbvType::jbvString => Value::String(string(value)),
            jbvType::jbvBool => Value::Bool(value.val.boolean),
            jbvType::jbvNumeric => number(value.val.numeric),
            _ => Value::Null,
        }
    }
}

unsafe fn string(value: &pg_sys::JsonbValue) -> String {
    // SAFETY: a string JsonbValue points at `len` bytes inside its container.
    unsafe {
        let bytes = std::slice::from_raw_parts(
            value.val.string.val as *const u8,
            value.val.string.len.max(0) as usize,
        );
        String::from_utf8_lossy(bytes).into_owned()
    }
}

unsafe fn number(numeric: pg_sys::Numeric) -> Value {
    // SAFETY: numeric_normalize returns a palloc'd C string (numeric.c).
    let text = unsafe { CStr::from_ptr(pg_sys::numeric_normalize(numeric)) };
    let text = text.to_str().unwrap_or_default();
    match text.parse::<Number>() {
        Ok(number) => Value::Number(number),
        Err(_) => raise(
            PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            format!("the JSON number {text:.40} is out of range"),
            None,
        ),
    }
}
