//! One row inserted through the executor's single-row path, as logical
//! replication's apply worker inserts a replicated row.
//!
//! Follows apply_handle_insert_internal() and create_edata_for_relation()
//! (replication/logical/worker.c), slot_fill_defaults() for the columns the
//! caller leaves out, and ExecSimpleRelationInsert()
//! (executor/execReplication.c) for the insert itself: constraints are
//! checked, indexes filled and triggers fired as for an INSERT, without
//! parsing, planning, plan revalidation or executor start-up. Checked
//! against PostgreSQL 15, 16 and 18.

use super::catalog::type_name;
use super::rel_check;
use super::security_context::AsCaller;
use super::tuple_routing::Routing;
use crate::errors::raise;
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::prelude::*;
use std::ffi::CStr;

/// Why a row cannot be inserted as the caller formed it.
pub enum Refusal {
    /// The relation, or the partition the row goes to, is not a table (a
    /// view, a foreign table …).
    NotAPlainTable,
    /// A column the caller fills has another type than the value written.
    WrongType {
        column: String,
        found: String,
        written: String,
    },
    /// A BEFORE ROW trigger returned NULL: nothing was inserted.
    SkippedByTrigger,
    /// The table has no column of this name, which the caller fills.
    MissingColumn(String),
}

/// The row as stored, after BEFORE ROW triggers: read in `insert`'s `read`.
pub struct StoredRow<'a> {
    slot: *mut pg_sys::TupleTableSlot,
    values: &'a [(&'a CStr, DatumWithOid<'a>)],
    /// Where each of `values` is in the table, by position in `values`.
    attnums: &'a [Option<i32>],
    before_row_triggers: bool,
}

impl StoredRow<'_> {
    /// Whether the table has BEFORE INSERT row triggers, which may have
    /// changed the row.
    pub fn had_before_row_triggers(&self) -> bool {
        self.before_row_triggers
    }

    /// The stored value of the column the caller wrote as `values[position]`,
    /// or `None` for NULL or a column the table lacks. `T` must be the type
    /// written there.
    pub fn get<T: FromDatum + IntoDatum>(&self, position: usize) -> Option<T> {
        let (column, written) = &self.values[position];
        assert!(
            written.oid() == T::type_oid(),
            "column {column:?} is read as another type than written"
        );
        let attnum = self.attnums[position]?;
        let mut is_null = true;
        // SAFETY: the slot holds the inserted row (insert() reads it before
        // the tuple table is reset), attnum is one of its columns, and that
        // column's type was checked to be `T`'s when the slot was filled.
        unsafe {
            let datum = pg_sys::slot_getattr(self.slot, attnum, &mut is_null);
            T::from_datum(datum, is_null)
        }
    }
}

/// Inserts into table `relation` a row of `values` (column name and value,
/// a NULL typed by its oid); columns not named get their defaults, as they
/// would from an INSERT that leaves them out, generated columns their
/// computed values. Calls `refuse` when the table does not take the row as
/// formed, and `read` on the row as stored, before anything is released;
/// returns what `read` returns.
///
/// The row is written with the rights in effect (a SECURITY DEFINER
/// function's owner), but whatever the insert runs of an operator's (column
/// defaults, CHECK constraints, triggers) runs as the calling role, in a
/// security-restricted operation (security_context.rs).
pub fn insert<R>(
    relation: Oid,
    values: &[(&CStr, DatumWithOid)],
    refuse: fn(Refusal) -> !,
    read: impl FnOnce(&StoredRow) -> R,
) -> R {
    // SAFETY: the table is opened and locked for the rest of the transaction
    // before anything reads it; every datum placed in the slot is checked
    // against its column's type; on ERROR, transaction abort releases the
    // relation, the executor state's memory and the after-trigger query level.
    unsafe {
        let rel = pg_sys::table_open(relation, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
        let partitioned = match (*(*rel).rd_rel).relkind as u8 {
            pg_sys::RELKIND_RELATION => false,
            pg_sys::RELKIND_PARTITIONED_TABLE => true,
            _ => refuse(Refusal::NotAPlainTable),
        };
        let as_caller = AsCaller::switch();
        let estate = pg_sys::CreateExecutorState();
        let caller_context = pg_sys::MemoryContextSwitchTo((*estate).es_query_cxt);
        let result_rel = open_result_relation(rel, estate);
        let slot = pg_sys::table_slot_create(rel, &mut (*estate).es_tupleTable);
        let tupdesc = (*rel).rd_att;
        let natts = (*tupdesc).natts as usize;
        let slot_values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
        let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
        let mut attnums = vec![None; values.len()];
        for (index, attribute) in attributes(tupdesc).iter().enumerate() {
            let value = if attribute.attisdropped {
                None
            } else {
                let name = CStr::from_ptr(attribute.attname.data.as_ptr());
                let position = values.iter().position(|(column, _)| *column == name);
                if let Some(position) = position {
                    attnums[position] = Some(index as i32 + 1);
                }
                match position.map(|position| &values[position].1) {
                    Some(value) if value.oid() == attribute.atttypid => {
                        value.datum().map(|datum| datum.sans_lifetime())
                    }
                    Some(value) => refuse(Refusal::WrongType {
                        column: name.to_string_lossy().into_owned(),
                        found: type_name(attribute.atttypid),
                        written: type_name(value.oid()),
                    }),
                    // Computed by the insert itself, from the row, as for an INSERT.
                    None if attribute.attgenerated != 0 => None,
                    None => column_default(rel, attribute, index, estate),
                }
            };
            slot_values[index] = value.unwrap_or(Datum::null());
            nulls[index] = value.is_none();
        }
        if let Some(missing) = attnums.iter().position(Option::is_none) {
            refuse(Refusal::MissingColumn(
                values[missing].0.to_string_lossy().into_owned(),
            ))
        }
        pg_sys::ExecStoreVirtualTuple(slot);
        // A partitioned table's row goes to its partition, in that
        // partition's layout, as for an INSERT into the partitioned table.
        let routing = partitioned.then(|| Routing::open(result_rel, estate));
        let (target, slot) = match &routing {
            Some(routing) => {
                let routed = routing.route(slot, estate);
                let partition = (*routed.result_rel).ri_RelationDesc;
                if (*(*partition).rd_rel).relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char {
                    refuse(Refusal::NotAPlainTable)
                }
                for (position, (column, _)) in values.iter().enumerate() {
                    attnums[position] =
                        attnums[position].and_then(|_| attnum((*partition).rd_att, column));
                }
                (routed.result_rel, routed.slot)
            }
            None => {
                pg_sys::ExecOpenIndices(result_rel, false);
                (result_rel, slot)
            }
        };
        let triggers = (*target).ri_TrigDesc;
        let before_row_triggers = !triggers.is_null() && (*triggers).trig_insert_before_row;
        let checks = rel_check::check_and_lend((*target).ri_RelationDesc, target, slot);
        pg_sys::ExecSimpleRelationInsert(target, estate, slot);
        drop(checks);
        // The insert sets the slot's tid; a BEFORE trigger that returned NULL
        // leaves it unset.
        if (*slot).tts_tid.ip_posid == pg_sys::InvalidOffsetNumber {
            refuse(Refusal::SkippedByTrigger)
        }
        let result = read(&StoredRow {
            slot,
            values,
            attnums: &attnums,
            before_row_triggers,
        });
        match routing {
            // After the after triggers, which find the partition open, as
            // the executor ends a statement.
            Some(routing) => {
                pg_sys::AfterTriggerEndQuery(estate);
                routing.close();
            }
            None => {
                pg_sys::ExecCloseIndices(result_rel);
                pg_sys::AfterTriggerEndQuery(estate);
            }
        }
        drop(as_caller);
        pg_sys::ExecResetTupleTable((*estate).es_tupleTable, false);
        pg_sys::MemoryContextSwitchTo(caller_context);
        pg_sys::FreeExecutorState(estate);
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        result
    }
}

/// The position (from 1) of column `name` in `tupdesc`, if it has one.
unsafe fn attnum(tupdesc: pg_sys::TupleDesc, name: &CStr) -> Option<i32> {
    // SAFETY: a valid descriptor.
    let columns = unsafe { attributes(tupdesc) };
    columns
        .iter()
        .position(|attribute| {
            // SAFETY: attname is a NUL-terminated NameData.
            !attribute.attisdropped
                && unsafe { CStr::from_ptr(attribute.attname.data.as_ptr()) } == name
        })
        .map(|index| index as i32 + 1)
}

/// The columns of `tupdesc`, dropped ones included, in order: what
/// TupleDescAttr() (access/tupdesc.h) returns for 0..natts.
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
/// apply worker sets it up to apply a row (create_edata_for_relation()).
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

/// The default of a column the caller does not fill (NULL if it has none). A
/// NULL of a domain type is checked against the domain, as the planner does
/// for an INSERT that leaves the column out.
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
        let evaluate = (*state).evalfunc.unwrap_or_else(|| {
            raise(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                "a column default has no evaluator",
                None,
            )
        });
        let mut is_null = false;
        let value = evaluate(state, econtext, &mut is_null);
        (!is_null).then_some(value)
    }
}
