//! The composite row a function returns, formed against the row type it is
//! declared to return.
//!
//! Follows get_call_result_type() (utils/fmgr/funcapi.c), which finds the
//! type once per call through the type cache, with no lookup by name, and
//! heap_form_tuple() (access/common/heaptuple.c); checked against
//! PostgreSQL 15, 16 and 18.

use super::FunctionCallInfo;
use pgrx::PgTupleDesc;
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// Why no row was formed.
pub enum RowError {
    /// The function is not declared to return a composite type.
    NotComposite,
    /// The values do not match the row type's columns, in number or type.
    Mismatch(String),
}

/// The row of `values`, in the order of the columns of the composite type
/// the function called with `fcinfo` returns. `fcinfo` must be the one
/// PostgreSQL passed to the `#[pg_extern]` function building its result.
pub fn result_row<const N: usize>(
    fcinfo: FunctionCallInfo,
    values: [DatumWithOid; N],
) -> Result<PgHeapTuple<'static, AllocatedByRust>, RowError> {
    let mut tupdesc: pg_sys::TupleDesc = std::ptr::null_mut();
    // SAFETY: fcinfo is this call's, as PostgreSQL passed it (see above);
    // tupdesc receives a copy or NULL.
    let kind = unsafe { pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut tupdesc) };
    if kind != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE || tupdesc.is_null() {
        return Err(RowError::NotComposite);
    }
    // SAFETY: get_call_result_type returns a copy, ours to keep.
    let tupdesc = unsafe { PgTupleDesc::from_pg_copy(tupdesc) };
    if tupdesc.len() != N {
        return Err(RowError::Mismatch(format!(
            "{} columns for {N} values",
            tupdesc.len()
        )));
    }
    for (index, value) in values.iter().enumerate() {
        let column = tupdesc.get(index);
        if column.is_none_or(|column| column.attisdropped || column.atttypid != value.oid()) {
            return Err(RowError::Mismatch(format!(
                "column {} has another type than its value",
                index + 1
            )));
        }
    }
    let datums = values.map(|value| value.datum().map(|datum| datum.sans_lifetime()));
    // SAFETY: each datum is of its column's type, checked above.
    unsafe { PgHeapTuple::from_datums(tupdesc, datums) }
        .map_err(|error| RowError::Mismatch(error.to_string()))
}
