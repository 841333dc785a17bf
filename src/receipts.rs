//! Appends receipts.
//!
//! evaluate() writes one receipt per call, so the row is formed here and handed
//! to the executor's single-row insert, the path logical replication uses to
//! apply a row: constraints are checked, indexes filled and triggers fired as
//! for an INSERT, without parsing, planning, plan revalidation or executor
//! start-up. Columns this module does not know get their defaults, as they
//! would from an INSERT that leaves them out.

use crate::errors::raise;
use crate::plans;
use crate::store;
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::pg_sys::{self, Datum};
use pgrx::prelude::*;
use std::ffi::CStr;

mod checks;
mod ids;

/// One receipt, as written by evaluate().
pub struct NewReceipt<'a> {
    pub tenant_id: &'a str,
    pub created_at: TimestampWithTimeZone,
    pub tool: &'a str,
    /// The caller's jsonb arguments, stored as they came.
    pub args: Datum,
    /// The caller's jsonb context; the session's tenant is written into it.
    pub context: Datum,
    pub action: &'a str,
    pub reason: &'a str,
    pub layer: &'a str,
    pub rule_id: Option<&'a str>,
    pub platform_version: Option<i32>,
    pub tenant_version: Option<i32>,
}

/// Appends `receipt` to authensor.receipts in the caller's transaction and
/// returns its id.
///
/// The row is written with authensor_definer's rights (SECURITY DEFINER),
/// but whatever the insert runs of an operator's (column defaults, CHECK
/// constraints, triggers) runs as the calling role, as for that role's own
/// INSERT, inside a security-restricted operation and with search_path
/// pinned to `pg_catalog, pg_temp`. A caller who makes a name in such code
/// resolve to an object of its own (a temporary table, say) runs its object
/// with no more than its own rights.
pub fn append(receipt: &NewReceipt) -> Uuid {
    plans::pinned(|| insert(receipt))
}

/// Refuses, as an INSERT would (SQLSTATE 25006), to write a receipt where no
/// row may be written: during recovery (a hot standby) or in a read-only
/// transaction. Checked before deciding, so nothing is half done.
pub fn refuse_if_read_only(function: &str) {
    // SAFETY: reads of backend-global state.
    let (in_recovery, read_only) = unsafe { (pg_sys::RecoveryInProgress(), pg_sys::XactReadOnly) };
    if in_recovery {
        raise(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("authensor.{function}() cannot write its receipt during recovery"),
            Some("Decisions that leave receipts are made on the primary."),
        )
    }
    if read_only {
        raise(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("authensor.{function}() cannot write its receipt in a read-only transaction"),
            Some("Call it in a read-write transaction: every decision leaves a receipt."),
        )
    }
}

fn insert(receipt: &NewReceipt) -> Uuid {
    let new_id = ids::new_id(receipt.created_at);
    let context = with_tenant(receipt.context, receipt.tenant_id);
    let text = |value: &str| value.into_datum();
    // (column, type, value); a None value is NULL.
    let known: [(&CStr, pg_sys::Oid, Option<Datum>); 12] = [
        (c"id", pg_sys::UUIDOID, new_id.into_datum()),
        (c"tenant_id", pg_sys::TEXTOID, text(receipt.tenant_id)),
        (
            c"created_at",
            pg_sys::TIMESTAMPTZOID,
            receipt.created_at.into_datum(),
        ),
        (c"tool", pg_sys::TEXTOID, text(receipt.tool)),
        (c"args", pg_sys::JSONBOID, Some(receipt.args)),
        (c"context", pg_sys::JSONBOID, Some(context)),
        (c"action", pg_sys::TEXTOID, text(receipt.action)),
        (c"reason", pg_sys::TEXTOID, text(receipt.reason)),
        (c"layer", pg_sys::TEXTOID, text(receipt.layer)),
        (c"rule_id", pg_sys::TEXTOID, receipt.rule_id.and_then(text)),
        (
            c"platform_version",
            pg_sys::INT4OID,
            receipt.platform_version.into_datum(),
        ),
        (
            c"tenant_version",
            pg_sys::INT4OID,
            receipt.tenant_version.into_datum(),
        ),
    ];
    // SAFETY: the table is opened and locked for the rest of the transaction
    // before anything reads it; every datum placed in the slot is checked
    // against its column's type; on ERROR, transaction abort releases the
    // relation, the executor state's memory and the after-trigger query level.
    unsafe {
        let rel = pg_sys::table_open(
            store::table_oid(c"receipts")
                .unwrap_or_else(|| not_as_made("authensor.receipts does not exist")),
            pg_sys::RowExclusiveLock as pg_sys::LOCKMODE,
        );
        if (*(*rel).rd_rel).relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char {
            not_as_made("authensor.receipts is not a plain table")
        }
        let as_caller = AsCaller::switch();
        let estate = pg_sys::CreateExecutorState();
        let caller_context = pg_sys::MemoryContextSwitchTo((*estate).es_query_cxt);
        let result_rel = open_result_relation(rel, estate);
        let slot = pg_sys::table_slot_create(rel, &mut (*estate).es_tupleTable);
        let tupdesc = (*rel).rd_att;
        let natts = (*tupdesc).natts as usize;
        let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
        let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
        // Where each known column is, by position in `known`.
        let mut attnums = [None; 12];
        for (index, attribute) in attributes(tupdesc).iter().enumerate() {
            let value = if attribute.attisdropped {
                None
            } else {
                let name = CStr::from_ptr(attribute.attname.data.as_ptr());
                let position = known.iter().position(|(column, _, _)| *column == name);
                if let Some(position) = position {
                    attnums[position] = Some(index as i32 + 1);
                }
                match position.map(|position| known[position]) {
                    Some((_, type_oid, value)) if type_oid == attribute.atttypid => value,
                    Some((_, type_oid, _)) => wrong_type(name, attribute.atttypid, type_oid),
                    // Computed by the insert itself, from the row, as for an INSERT.
                    None if attribute.attgenerated != 0 => None,
                    None => column_default(rel, attribute, index, estate),
                }
            };
            values[index] = value.unwrap_or(Datum::null());
            nulls[index] = value.is_none();
        }
        pg_sys::ExecStoreVirtualTuple(slot);
        pg_sys::ExecOpenIndices(result_rel, false);
        let triggers = (*result_rel).ri_TrigDesc;
        let before_row_triggers = !triggers.is_null() && (*triggers).trig_insert_before_row;
        let checks = checks::check_and_lend(rel, result_rel, slot);
        pg_sys::ExecSimpleRelationInsert(result_rel, estate, slot);
        drop(checks);
        // The insert sets the slot's tid; a BEFORE trigger that returned NULL
        // leaves it unset. A decision without its receipt does not stand.
        if (*slot).tts_tid.ip_posid == pg_sys::InvalidOffsetNumber {
            raise(
                PgSqlErrorCode::ERRCODE_TRIGGERED_ACTION_EXCEPTION,
                "a trigger on authensor.receipts skipped the receipt, so the decision is refused",
                Some(
                    "Every evaluate() needs its receipt; a BEFORE INSERT trigger on authensor.receipts must not return NULL.",
                ),
            )
        }
        // A BEFORE trigger may add to the row, never change what it records.
        if before_row_triggers {
            let decision = [
                (1, "tenant_id", receipt.tenant_id),
                (3, "tool", receipt.tool),
                (6, "action", receipt.action),
                (8, "layer", receipt.layer),
            ];
            for (position, column, written) in decision {
                if stored_text(slot, attnums[position]).as_deref() != Some(written) {
                    raise(
                        PgSqlErrorCode::ERRCODE_TRIGGERED_ACTION_EXCEPTION,
                        format!(
                            "a trigger on authensor.receipts changed the receipt's {column}, so the decision is refused"
                        ),
                        Some(
                            "BEFORE INSERT triggers on authensor.receipts may fill columns of their own, never the decision's.",
                        ),
                    )
                }
            }
        }
        // The id as stored: a BEFORE trigger may have changed it.
        let id = stored_id(slot, attnums[0]);
        pg_sys::ExecCloseIndices(result_rel);
        pg_sys::AfterTriggerEndQuery(estate);
        drop(as_caller);
        pg_sys::ExecResetTupleTable((*estate).es_tupleTable, false);
        pg_sys::MemoryContextSwitchTo(caller_context);
        pg_sys::FreeExecutorState(estate);
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        id
    }
}

/// Runs what follows as the role that called the SECURITY DEFINER function,
/// in a security-restricted operation (no SET ROLE, no temporary objects
/// made, no cursors kept), until dropped. Mirrors what PostgreSQL does to run
/// index expressions as a table's owner (SetUserIdAndSecContext).
struct AsCaller {
    user: pg_sys::Oid,
    security_context: i32,
}

impl AsCaller {
    fn switch() -> AsCaller {
        let mut saved = AsCaller {
            user: pg_sys::InvalidOid,
            security_context: 0,
        };
        // SAFETY: reads and sets the backend's current user; the previous
        // values are put back on drop, and by transaction abort on error.
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut saved.user, &mut saved.security_context);
            pg_sys::SetUserIdAndSecContext(
                pg_sys::GetOuterUserId(),
                saved.security_context | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
            );
        }
        saved
    }
}

impl Drop for AsCaller {
    fn drop(&mut self) {
        // SAFETY: restores what switch() found.
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.security_context) };
    }
}

/// The columns of `tupdesc`, dropped ones included, in order: what
/// TupleDescAttr() (access/tupdesc.h) returns for 0..natts, checked against
/// PostgreSQL 15, 16 and 18.
///
/// 15 and 16: the array that ends the descriptor.
#[cfg(any(feature = "pg15", feature = "pg16"))]
unsafe fn attributes<'a>(tupdesc: pg_sys::TupleDesc) -> &'a [pg_sys::FormData_pg_attribute] {
    // SAFETY: a valid descriptor holds natts attributes.
    unsafe { (*tupdesc).attrs.as_slice((*tupdesc).natts as usize) }
}

/// 18: the full attributes follow the natts compact ones (TupleDescAttr() of
/// PostgreSQL 18).
#[cfg(feature = "pg18")]
unsafe fn attributes<'a>(tupdesc: pg_sys::TupleDesc) -> &'a [pg_sys::FormData_pg_attribute] {
    // SAFETY: a valid descriptor holds natts compact attributes, then natts
    // full ones.
    unsafe {
        let natts = (*tupdesc).natts as usize;
        let full = (*tupdesc)
            .compact_attrs
            .as_ptr()
            .add(natts)
            .cast::<pg_sys::FormData_pg_attribute>();
        std::slice::from_raw_parts(full, natts)
    }
}

/// A text column of the row in `slot`, the column at `attnum`.
unsafe fn stored_text(slot: *mut pg_sys::TupleTableSlot, attnum: Option<i32>) -> Option<String> {
    let attnum = attnum?;
    let mut is_null = true;
    // SAFETY: attnum is a text column of the slot's descriptor (checked when
    // the slot was filled).
    unsafe {
        let datum = pg_sys::slot_getattr(slot, attnum, &mut is_null);
        String::from_datum(datum, is_null)
    }
}

/// The `id` of the row in `slot`, the column at `attnum`.
unsafe fn stored_id(slot: *mut pg_sys::TupleTableSlot, attnum: Option<i32>) -> Uuid {
    let mut is_null = true;
    let datum = match attnum {
        // SAFETY: attnum is a column of the slot's descriptor.
        Some(attnum) => unsafe { pg_sys::slot_getattr(slot, attnum, &mut is_null) },
        None => Datum::null(),
    };
    // SAFETY: the id column is a uuid (checked when the slot was filled).
    unsafe { Uuid::from_datum(datum, is_null) }
        .unwrap_or_else(|| not_as_made("a receipt was stored without an id"))
}

/// Sets up `estate` to insert into `rel` as its only result relation, as the
/// executor does for `INSERT INTO rel`, and opens the after-trigger query
/// level that AfterTriggerEndQuery() closes.
unsafe fn open_result_relation(
    rel: pg_sys::Relation,
    estate: *mut pg_sys::EState,
) -> *mut pg_sys::ResultRelInfo {
    // SAFETY: builds, in the executor state's memory, the range table and
    // result relation that ExecInitModifyTable would, as logical
    // replication's apply worker does (worker.c create_edata_for_relation).
    unsafe {
        let mut rte = PgBox::<pg_sys::RangeTblEntry>::alloc_node(pg_sys::NodeTag::T_RangeTblEntry);
        rte.rtekind = pg_sys::RTEKind::RTE_RELATION;
        rte.relid = (*rel).rd_id;
        rte.relkind = (*(*rel).rd_rel).relkind;
        rte.rellockmode = pg_sys::RowExclusiveLock as i32;
        let rte = rte.into_pg();
        let range_table = pg_sys::lappend(std::ptr::null_mut(), rte.cast());
        init_range_table(estate, range_table, rte);
        let result_rel =
            PgBox::<pg_sys::ResultRelInfo>::alloc_node(pg_sys::NodeTag::T_ResultRelInfo).into_pg();
        pg_sys::InitResultRelInfo(result_rel, rel, 1, std::ptr::null_mut(), 0);
        // Where ExecGetTriggerResultRel() finds it when after triggers fire.
        (*estate).es_opened_result_relations =
            pg_sys::lappend((*estate).es_opened_result_relations, result_rel.cast());
        (*estate).es_output_cid = pg_sys::GetCurrentCommandId(true);
        pg_sys::AfterTriggerBeginQuery();
        result_rel
    }
}

/// ExecInitRangeTable() for a range table of the one relation `rte`, as the
/// logical replication apply worker sets it up to apply a row
/// (create_edata_for_relation() in replication/logical/worker.c, checked
/// against PostgreSQL 15, 16 and 18).
///
/// 15: the range table alone; permissions live in the RangeTblEntry.
#[cfg(feature = "pg15")]
unsafe fn init_range_table(
    estate: *mut pg_sys::EState,
    range_table: *mut pg_sys::List,
    _rte: *mut pg_sys::RangeTblEntry,
) {
    // SAFETY: a fresh executor state and a range table of one relation entry,
    // as worker.c passes them.
    unsafe { pg_sys::ExecInitRangeTable(estate, range_table) }
}

/// 16 and later: the entry gets an (empty) RTEPermissionInfo, as
/// addRTEPermissionInfo() makes it. The executor reads it back on the insert
/// path, for the inserted columns and the role to check them as, when a
/// constraint violation describes the failing row (ExecGetInsertedCols(),
/// ExecGetResultRelCheckAsUser()); with none, that error would become
/// "invalid perminfoindex 0". Nothing is checked against it here: as on 15,
/// the executor's permission checks (ExecCheckPermissions) are not run.
/// 18 also takes the range table entries the executor may open
/// (es_unpruned_relids: ExecGetRangeTableRelation() refuses any other that is
/// not a result relation): the one entry, as the apply worker passes it.
#[cfg(any(feature = "pg16", feature = "pg18"))]
unsafe fn init_range_table(
    estate: *mut pg_sys::EState,
    range_table: *mut pg_sys::List,
    rte: *mut pg_sys::RangeTblEntry,
) {
    // SAFETY: `rte` is the range table's one relation entry, without
    // permission info yet (addRTEPermissionInfo asserts as much); the list and
    // the bitmapset are made in the executor state's memory, the current
    // context, and live as long as it.
    unsafe {
        let mut perm_infos: *mut pg_sys::List = std::ptr::null_mut();
        pg_sys::addRTEPermissionInfo(&mut perm_infos, rte);
        #[cfg(feature = "pg16")]
        pg_sys::ExecInitRangeTable(estate, range_table, perm_infos);
        #[cfg(feature = "pg18")]
        pg_sys::ExecInitRangeTable(
            estate,
            range_table,
            perm_infos,
            pg_sys::bms_make_singleton(1),
        );
    }
}

/// The default of a column the extension does not fill (NULL if it has
/// none). A NULL of a domain type is checked against the domain, as the
/// planner does for an INSERT that leaves the column out.
unsafe fn column_default(
    rel: pg_sys::Relation,
    attribute: &pg_sys::FormData_pg_attribute,
    index: usize,
    estate: *mut pg_sys::EState,
) -> Option<Datum> {
    // SAFETY: the default is planned and evaluated in the executor state's
    // memory, as the apply worker fills missing columns (worker.c
    // slot_fill_defaults).
    unsafe {
        let expression = pg_sys::build_column_default(rel, index as i32 + 1);
        if expression.is_null() {
            if pg_sys::get_typtype(attribute.atttypid) == pg_sys::TYPTYPE_DOMAIN as std::ffi::c_char
            {
                pg_sys::domain_check(
                    Datum::null(),
                    true,
                    attribute.atttypid,
                    std::ptr::null_mut(),
                    pg_sys::CurrentMemoryContext,
                );
            }
            return None;
        }
        let state = pg_sys::ExecPrepareExpr(expression.cast(), estate);
        let econtext = pg_sys::CreateExprContext(estate);
        let evaluate = (*state)
            .evalfunc
            .unwrap_or_else(|| not_as_made("a column default has no evaluator"));
        let mut is_null = false;
        let value = evaluate(state, econtext, &mut is_null);
        (!is_null).then_some(value)
    }
}

/// `context || {"tenantId": tenant_id}`.
fn with_tenant(context: Datum, tenant_id: &str) -> Datum {
    let tenant = pgrx::JsonB(serde_json::json!({ "tenantId": tenant_id }));
    // SAFETY: both arguments are non-NULL jsonb datums.
    unsafe {
        pgrx::direct_function_call::<Datum>(
            pg_sys::jsonb_concat,
            &[Some(context), tenant.into_datum()],
        )
    }
    .unwrap_or_else(|| not_as_made("jsonb concatenation returned NULL"))
}

fn wrong_type(column: &CStr, found: pg_sys::Oid, written: pg_sys::Oid) -> ! {
    // SAFETY: format_type_be returns a palloc'd C string for any oid.
    let type_name = |oid| unsafe { CStr::from_ptr(pg_sys::format_type_be(oid)) }.to_string_lossy();
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!(
            "column authensor.receipts.{} has type {}, but the extension writes {}",
            column.to_string_lossy(),
            type_name(found),
            type_name(written)
        ),
        Some("Receipts are not written until the column has its original type again."),
    )
}

/// Raises the ERROR for a receipts table an operator changed so that a
/// receipt cannot be written (55000: the object is not in the state needed).
fn not_as_made(message: impl Into<String>) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        message,
        None,
    )
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;
