//! Names looked up in the system catalogues, through the syscache (no query).
//!
//! Follows get_namespace_oid() (catalog/namespace.c), get_relname_relid()
//! and get_attnum() (utils/cache/lsyscache.c) and format_type_be()
//! (utils/adt/format_type.c), checked against PostgreSQL 15, 16 and 18.

use super::Oid;
use pgrx::pg_sys;
use std::ffi::CStr;

/// The oid of relation `schema.name`, or `None` if either does not exist.
pub fn relation_oid(schema: &CStr, name: &CStr) -> Option<Oid> {
    // SAFETY: name lookups with C strings.
    let oid = unsafe {
        let schema = pg_sys::get_namespace_oid(schema.as_ptr(), true);
        if schema == pg_sys::InvalidOid {
            return None;
        }
        pg_sys::get_relname_relid(name.as_ptr(), schema)
    };
    (oid != pg_sys::InvalidOid).then_some(oid)
}

/// Whether function `function` is in schema `schema`.
pub fn function_in_schema(function: Oid, schema: &CStr) -> bool {
    // SAFETY: syscache lookups by oid and C string (lsyscache.c
    // get_func_namespace, namespace.c get_namespace_oid).
    unsafe {
        let schema = pg_sys::get_namespace_oid(schema.as_ptr(), true);
        schema != pg_sys::InvalidOid && pg_sys::get_func_namespace(function) == schema
    }
}

/// Whether function `function` is VOLATILE: one that may change something
/// (pg_proc.provolatile; IMMUTABLE and STABLE functions promise not to).
pub fn function_is_volatile(function: Oid) -> bool {
    // SAFETY: a syscache lookup by oid (lsyscache.c func_volatile).
    unsafe { pg_sys::func_volatile(function) == pg_sys::PROVOLATILE_VOLATILE as std::ffi::c_char }
}

/// Whether function `function` is a procedure (CALL runs it).
pub fn function_is_procedure(function: Oid) -> bool {
    // SAFETY: a syscache lookup by oid (lsyscache.c get_func_prokind).
    unsafe { pg_sys::get_func_prokind(function) == pg_sys::PROKIND_PROCEDURE as std::ffi::c_char }
}

/// Whether relation `relation` has a column `column` (not dropped).
pub fn has_column(relation: Oid, column: &CStr) -> bool {
    // SAFETY: a syscache lookup by relation oid and C string; get_attnum
    // skips dropped columns and returns InvalidAttrNumber for none.
    unsafe { pg_sys::get_attnum(relation, column.as_ptr()) != pg_sys::InvalidAttrNumber as i16 }
}

/// The SQL name of type `oid`, as error messages write it.
pub fn type_name(oid: Oid) -> String {
    // SAFETY: format_type_be returns a palloc'd C string for any oid.
    unsafe { CStr::from_ptr(pg_sys::format_type_be(oid)) }
        .to_string_lossy()
        .into_owned()
}
