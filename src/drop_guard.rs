//! Refuses `DROP EXTENSION authensor` (and `DROP SCHEMA authensor`) while
//! receipts exist: dropping the extension drops its tables, and with them
//! the audit trail. The operator who means it sets `authensor.allow_drop`
//! in the same transaction.
//!
//! An event trigger on ddl_command_start, so that it runs before anything is
//! dropped (a sql_drop trigger that belongs to the extension would be dropped
//! with it before it could fire). Written against the parse tree, not the
//! statement text, so that it sees exactly which objects the statement names.

use crate::errors::raise;
use crate::gucs::ALLOW_DROP;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CStr;

/// The V1 calling convention record PostgreSQL looks up for a C function.
#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_authensor_drop_guard() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// The event trigger function (`authensor.drop_guard()` in sql/finalize.sql).
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn authensor_drop_guard(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: PostgreSQL passes the event's EventTriggerData as the call
    // context (CALLED_AS_EVENT_TRIGGER in event_trigger.h); anything else is
    // refused before it is read.
    let statement = unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_EventTriggerData {
            raise(
                PgSqlErrorCode::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                "authensor.drop_guard() is an event trigger",
                None,
            )
        }
        (*context.cast::<pg_sys::EventTriggerData>()).parsetree
    };
    if drops_authensor(statement) && !ALLOW_DROP.get() && receipts_exist() {
        raise(
            PgSqlErrorCode::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            "authensor holds receipts, and dropping the extension would delete them",
            Some(
                "Keep them first (pg_dump, or COPY authensor.receipts TO ...); then, in the same transaction, SET LOCAL authensor.allow_drop = on and drop again.",
            ),
        )
    }
    pg_sys::Datum::from(0)
}

/// Whether `statement` is a DROP EXTENSION or DROP SCHEMA naming authensor.
fn drops_authensor(statement: *mut pg_sys::Node) -> bool {
    // SAFETY: a DropStmt's objects are, for extensions and schemas, a List of
    // String nodes (DropStmt in parsenodes.h); the tag is checked first.
    unsafe {
        if statement.is_null() || (*statement).type_ != pg_sys::NodeTag::T_DropStmt {
            return false;
        }
        let drop = statement.cast::<pg_sys::DropStmt>();
        if !matches!(
            (*drop).removeType,
            pg_sys::ObjectType::OBJECT_EXTENSION | pg_sys::ObjectType::OBJECT_SCHEMA
        ) {
            return false;
        }
        let names = (*drop).objects;
        if names.is_null() {
            return false;
        }
        let cells = std::slice::from_raw_parts((*names).elements, (*names).length as usize);
        cells.iter().any(|cell| {
            let name = cell.ptr_value.cast::<pg_sys::Node>();
            !name.is_null()
                && (*name).type_ == pg_sys::NodeTag::T_String
                && CStr::from_ptr((*name.cast::<pg_sys::String>()).sval) == c"authensor"
        })
    }
}

fn receipts_exist() -> bool {
    Spi::get_one::<bool>("SELECT EXISTS (SELECT FROM authensor.receipts)")
        .ok()
        .flatten()
        // The table is gone or unreadable: nothing is left to protect.
        .unwrap_or(false)
}
