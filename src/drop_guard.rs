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
use crate::pg::event_trigger::Statement;
use pgrx::prelude::*;

/// What the event trigger (pg/event_trigger.rs) runs before each DDL command.
pub fn before_ddl_command(statement: &Statement) {
    if statement.drops_extension_or_schema(c"authensor") && !ALLOW_DROP.get() && receipts_exist() {
        raise(
            PgSqlErrorCode::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            "authensor holds receipts, and dropping the extension would delete them",
            Some(
                "Keep them first (pg_dump, or COPY (SELECT * FROM authensor.receipts) TO ...); then, in the same transaction, SET LOCAL authensor.allow_drop = on and drop again.",
            ),
        )
    }
}

fn receipts_exist() -> bool {
    Spi::get_one::<bool>("SELECT EXISTS (SELECT FROM authensor.receipts)")
        .ok()
        .flatten()
        // The table is gone or unreadable: nothing is left to protect.
        .unwrap_or(false)
}
