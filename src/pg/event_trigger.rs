//! The event trigger function `authensor.drop_guard()`: its C entry point,
//! and the DROP statement it is called for.
//!
//! Follows how event trigger functions are called (CALLED_AS_EVENT_TRIGGER
//! and EventTriggerData in commands/event_trigger.h) and how DROP statements
//! name their objects (DropStmt in nodes/parsenodes.h, String nodes in
//! nodes/value.h), checked against PostgreSQL 15, 16 and 18. What the guard
//! decides is in drop_guard.rs.

use crate::errors::raise;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CStr;

/// The statement an event trigger fires for, as parsed.
pub struct Statement(*mut pg_sys::Node);

impl Statement {
    /// Whether it is a DROP EXTENSION or DROP SCHEMA that names `name`.
    pub fn drops_extension_or_schema(&self, name: &CStr) -> bool {
        let statement = self.0;
        // SAFETY: the parse tree PostgreSQL passed, or NULL; a DropStmt's
        // objects are, for extensions and schemas, a List of String nodes, and
        // every tag is checked before the node is read as that type.
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
                let object = cell.ptr_value.cast::<pg_sys::Node>();
                !object.is_null()
                    && (*object).type_ == pg_sys::NodeTag::T_String
                    && CStr::from_ptr((*object.cast::<pg_sys::String>()).sval) == name
            })
        }
    }
}

/// The V1 calling convention record PostgreSQL looks up for a C function.
#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_authensor_drop_guard() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// The event trigger function (`authensor.drop_guard()` in sql/receipts.sql).
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
    crate::drop_guard::before_ddl_command(&Statement(statement));
    pg_sys::Datum::from(0)
}
