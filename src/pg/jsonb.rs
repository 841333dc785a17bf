//! jsonb arguments taken as they come, and read straight into serde_json
//! without printing them as text and parsing the text again. A decision needs
//! args and context as values, and its receipt stores them unchanged.
//!
//! Follows how jsonb's own functions walk a value (JsonbIteratorInit() and
//! JsonbIteratorNext() of utils/adt/jsonb_util.c, JsonbExtractScalar() of
//! jsonb.c), reads numbers as numeric.c stores them (the NumericData layout
//! and its NUMERIC_* macros: the on-disk format, the same in every release
//! since 9.1 but for the NaN and infinity flags of 14), and calls
//! jsonb_concat() (jsonfuncs.c) and toast_raw_datum_size()
//! (access/common/detoast.c); checked against PostgreSQL 15, 16 and 18.

use authensor_policy::{Number, Object, Value};
use pgrx::JsonB;
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::prelude::*;
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
    /// A jsonb datum of `value`, as a caller would pass it, in the current
    /// memory context.
    pub fn from_value(value: JsonB) -> JsonbArg {
        JsonbArg(value.into_datum().expect("a jsonb value is never NULL"))
    }

    /// A jsonb datum of JSON text, read by jsonb_in as a caller's literal is
    /// (for tests).
    #[cfg(any(test, feature = "pg_test"))]
    pub fn from_text(text: &str) -> JsonbArg {
        let text = std::ffi::CString::new(text).expect("no NUL in the test's JSON");
        // SAFETY: jsonb_in takes a NUL-terminated C string and returns a
        // jsonb datum allocated in the current memory context, or raises.
        let datum = unsafe {
            pgrx::direct_function_call::<pg_sys::Datum>(
                pg_sys::jsonb_in,
                &[Some(pg_sys::Datum::from(text.as_ptr()))],
            )
        };
        JsonbArg(datum.expect("jsonb_in never returns NULL"))
    }

    /// The object this argument holds, or `None` when it holds anything else.
    /// Every number is read exactly, whatever its size or precision.
    pub fn object(self) -> Option<Value> {
        // SAFETY: a JsonbArg only ever holds a non-NULL jsonb datum.
        unsafe {
            let jsonb = pg_sys::pg_detoast_datum(self.0.cast_mut_ptr()) as *mut pg_sys::Jsonb;
            if (*jsonb).root.header & pg_sys::JB_FOBJECT == 0 {
                return None;
            }
            let value = convert(&mut (*jsonb).root);
            value.as_object().is_some().then_some(value)
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
    /// The entries so far, in jsonb's order of keys, and the key read last.
    Object(Vec<(String, Value)>, Option<String>),
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
                    open.push(Open::Object(Vec::new(), None));
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
                    Open::Object(entries, _) => Value::Object(Object::from_entries(entries)),
                    Open::Array(items) => Value::Array(items),
                }),
                _ => None,
            };
            if let Some(value) = finished {
                match open.last_mut() {
                    Some(Open::Object(entries, key)) => {
                        entries.push((key.take().unwrap_or_default(), value));
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

// NumericData's header word (numeric.c).
const NUMERIC_SIGN_MASK: u16 = 0xC000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_SHORT: u16 = 0x8000;
const NUMERIC_SPECIAL: u16 = 0xC000;
const NUMERIC_EXT_SIGN_MASK: u16 = 0xF000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
const NUMERIC_SHORT_SIGN_MASK: u16 = 0x2000;
const NUMERIC_SHORT_WEIGHT_SIGN_MASK: u16 = 0x0040;
const NUMERIC_SHORT_WEIGHT_MASK: u16 = 0x003F;

/// The exact value of a numeric: `Σ digit[i] × 10000^(weight − i)`, read from
/// its digits as numeric.c lays them out, without printing it (printing
/// `1e131071` would write 131,072 characters). NaN and the infinities, which
/// jsonb never holds as numbers (to_jsonb() makes them strings), read as the
/// strings it would make.
unsafe fn number(numeric: pg_sys::Numeric) -> Value {
    // SAFETY: a numeric JsonbValue points at a numeric varlena inside its
    // container (jsonb_util.c fillJsonbValue), whose data is a uint16 header,
    // an int16 weight unless the header is short, then int16 digits to the
    // end (numeric.c struct NumericShort, NumericLong); the reads are
    // unaligned-safe and stay within the varlena's size.
    unsafe {
        let varlena = numeric as *const pg_sys::varlena;
        let data = pgrx::vardata_any(varlena) as *const u8;
        let len = pgrx::varsize_any_exhdr(varlena);
        let word = |at: usize| {
            (at + 2 <= len).then(|| std::ptr::read_unaligned(data.add(at) as *const u16))
        };
        let Some(header) = word(0) else {
            return Value::Number(Number::from(0i64));
        };
        let (negative, weight, digits_at) = match header & NUMERIC_SIGN_MASK {
            NUMERIC_SPECIAL => {
                return Value::String(
                    match header & NUMERIC_EXT_SIGN_MASK {
                        NUMERIC_PINF => "Infinity",
                        NUMERIC_NINF => "-Infinity",
                        _ => "NaN",
                    }
                    .to_owned(),
                );
            }
            NUMERIC_SHORT => {
                let magnitude = i64::from(header & NUMERIC_SHORT_WEIGHT_MASK);
                let weight = if header & NUMERIC_SHORT_WEIGHT_SIGN_MASK != 0 {
                    magnitude - 64
                } else {
                    magnitude
                };
                (header & NUMERIC_SHORT_SIGN_MASK != 0, weight, 2)
            }
            sign => (
                sign == NUMERIC_NEG,
                i64::from(word(2).unwrap_or(0) as i16),
                4,
            ),
        };
        let digits: Vec<u16> = (digits_at..len.saturating_sub(1))
            .step_by(2)
            .filter_map(word)
            .map(|digit| digit.min(9999))
            .collect();
        Value::Number(Number::from_base_10000(negative, weight, &digits))
    }
}
