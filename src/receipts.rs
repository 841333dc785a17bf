//! Appends receipts.
//!
//! evaluate() writes one receipt per call, so the row is formed here and handed
//! to the executor's single-row insert, the path logical replication uses to
//! apply a row: constraints are checked, indexes filled and triggers fired as
//! for an INSERT, without parsing, planning, plan revalidation or executor
//! start-up. Columns this module does not know get their defaults, as they
//! would from an INSERT that leaves them out.

use crate::errors::raise;
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
/// returns its id. The caller runs as the extension's owner (SECURITY DEFINER).
pub fn append(receipt: &NewReceipt) -> Uuid {
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
                .unwrap_or_else(|| corrupted("authensor.receipts does not exist")),
            pg_sys::RowExclusiveLock as pg_sys::LOCKMODE,
        );
        if (*(*rel).rd_rel).relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char {
            corrupted("authensor.receipts is not a plain table")
        }
        let estate = pg_sys::CreateExecutorState();
        let caller_context = pg_sys::MemoryContextSwitchTo((*estate).es_query_cxt);
        let result_rel = open_result_relation(rel, estate);
        let slot = pg_sys::table_slot_create(rel, &mut (*estate).es_tupleTable);
        let tupdesc = (*rel).rd_att;
        let natts = (*tupdesc).natts as usize;
        let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
        let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
        let mut id_attnum = None;
        for (index, attribute) in (*tupdesc).attrs.as_slice(natts).iter().enumerate() {
            let value = if attribute.attisdropped {
                None
            } else {
                let name = CStr::from_ptr(attribute.attname.data.as_ptr());
                if name == c"id" {
                    id_attnum = Some(index as i32 + 1);
                }
                match known.iter().find(|(column, _, _)| *column == name) {
                    Some(&(_, type_oid, value)) if type_oid == attribute.atttypid => value,
                    Some(&(_, type_oid, _)) => wrong_type(name, attribute.atttypid, type_oid),
                    None => column_default(rel, index, estate),
                }
            };
            values[index] = value.unwrap_or(Datum::null());
            nulls[index] = value.is_none();
        }
        pg_sys::ExecStoreVirtualTuple(slot);
        pg_sys::ExecOpenIndices(result_rel, false);
        let checks = checks::lend(rel, result_rel);
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
        // The id as stored: a BEFORE trigger may have changed the row.
        let id = stored_id(slot, id_attnum);
        pg_sys::ExecCloseIndices(result_rel);
        pg_sys::AfterTriggerEndQuery(estate);
        pg_sys::ExecResetTupleTable((*estate).es_tupleTable, false);
        pg_sys::MemoryContextSwitchTo(caller_context);
        pg_sys::FreeExecutorState(estate);
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        id
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
        .unwrap_or_else(|| corrupted("a receipt was stored without an id"))
}

/// Sets up `estate` to insert into `rel` as its only result relation, as the
/// executor does for `INSERT INTO rel`, and opens the after-trigger query
/// level that AfterTriggerEndQuery() closes.
unsafe fn open_result_relation(
    rel: pg_sys::Relation,
    estate: *mut pg_sys::EState,
) -> *mut pg_sys::ResultRelInfo {
    unsafe {
        let mut rte = PgBox::<pg_sys::RangeTblEntry>::alloc_node(pg_sys::NodeTag::T_RangeTblEntry);
        rte.rtekind = pg_sys::RTEKind::RTE_RELATION;
        rte.relid = (*rel).rd_id;
        rte.relkind = (*(*rel).rd_rel).relkind;
        rte.rellockmode = pg_sys::RowExclusiveLock as i32;
        let range_table = pg_sys::lappend(std::ptr::null_mut(), rte.into_pg().cast());
        pg_sys::ExecInitRangeTable(estate, range_table);
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

/// The default of a column the extension does not fill (NULL if it has none).
unsafe fn column_default(
    rel: pg_sys::Relation,
    index: usize,
    estate: *mut pg_sys::EState,
) -> Option<Datum> {
    unsafe {
        let expression = pg_sys::build_column_default(rel, index as i32 + 1);
        if expression.is_null() {
            return None;
        }
        let state = pg_sys::ExecPrepareExpr(expression.cast(), estate);
        let econtext = pg_sys::CreateExprContext(estate);
        let evaluate = (*state)
            .evalfunc
            .unwrap_or_else(|| corrupted("a column default has no evaluator"));
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
    .unwrap_or_else(|| corrupted("jsonb concatenation returned NULL"))
}

fn wrong_type(column: &CStr, found: pg_sys::Oid, written: pg_sys::Oid) -> ! {
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

fn corrupted(message: impl Into<String>) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        message,
        None,
    )
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;
