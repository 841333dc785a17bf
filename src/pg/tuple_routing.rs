//! The partition a row of a partitioned table goes to, and the row in that
//! partition's layout, as logical replication's apply worker routes a row
//! (apply_handle_tuple_routing() of replication/logical/worker.c) and the
//! executor routes an INSERT (ExecPrepareTupleRouting() of
//! executor/nodeModifyTable.c). Checked against PostgreSQL 15, 16 and 18.

use pgrx::pg_sys;
use pgrx::prelude::*;

// execPartition.h, which pgrx's bindings leave out; the same declarations on
// 15, 16 and 18. Each call goes through pg_guard_ffi_boundary(), as pgrx's
// own bindings do, so that an ERROR they raise unwinds as a Rust panic.
unsafe extern "C-unwind" {
    fn ExecSetupPartitionTupleRouting(
        estate: *mut pg_sys::EState,
        rel: pg_sys::Relation,
    ) -> *mut pg_sys::PartitionTupleRouting;
    fn ExecFindPartition(
        mtstate: *mut pg_sys::ModifyTableState,
        root: *mut pg_sys::ResultRelInfo,
        proute: *mut pg_sys::PartitionTupleRouting,
        slot: *mut pg_sys::TupleTableSlot,
        estate: *mut pg_sys::EState,
    ) -> *mut pg_sys::ResultRelInfo;
    fn ExecCleanupTupleRouting(
        mtstate: *mut pg_sys::ModifyTableState,
        proute: *mut pg_sys::PartitionTupleRouting,
    );
}

/// Routing state for rows inserted into one partitioned table; `close`
/// releases the partitions it opened.
pub struct Routing {
    mtstate: *mut pg_sys::ModifyTableState,
    proute: *mut pg_sys::PartitionTupleRouting,
}

/// A row's partition and the row in its layout.
pub struct Routed {
    pub result_rel: *mut pg_sys::ResultRelInfo,
    pub slot: *mut pg_sys::TupleTableSlot,
}

impl Routing {
    /// Routing into the partitioned table of `root`, whose executor state is
    /// `estate`.
    ///
    /// # Safety
    /// `root` is the partitioned table's result relation in `estate`, set up
    /// as for an INSERT; the current memory context is `estate`'s.
    pub unsafe fn open(root: *mut pg_sys::ResultRelInfo, estate: *mut pg_sys::EState) -> Routing {
        // SAFETY: as the apply worker sets it up: a ModifyTableState without
        // a plan (no RETURNING, no ON CONFLICT, no WITH CHECK OPTIONs), made
        // in the executor state's memory.
        unsafe {
            let mut mtstate =
                PgBox::<pg_sys::ModifyTableState>::alloc_node(pg_sys::NodeTag::T_ModifyTableState);
            mtstate.ps.plan = std::ptr::null_mut();
            mtstate.ps.state = estate;
            mtstate.operation = pg_sys::CmdType::CMD_INSERT;
            mtstate.resultRelInfo = root;
            let mtstate = mtstate.into_pg();
            let rel = (*root).ri_RelationDesc;
            let proute = guarded(|| ExecSetupPartitionTupleRouting(estate, rel));
            Routing { mtstate, proute }
        }
    }

    /// The leaf partition of the row in `slot` (in the root's layout), with
    /// the row converted to that partition's layout when it differs (columns
    /// dropped before the partition was made). Raises 23514 when no
    /// partition takes the row, as an INSERT does. The partition is opened
    /// with its indexes and triggers, and locked until the end of the
    /// transaction.
    ///
    /// # Safety
    /// `slot` holds a virtual row of the root's descriptor; `estate` is the
    /// one `open` was given.
    pub unsafe fn route(
        &self,
        slot: *mut pg_sys::TupleTableSlot,
        estate: *mut pg_sys::EState,
    ) -> Routed {
        // SAFETY: ExecFindPartition() opens (or reuses) the partition's
        // result relation, its indexes and its conversion map in the
        // executor state; the conversion fills a slot of the partition's
        // descriptor that lives in the state's tuple table.
        unsafe {
            let (mtstate, proute) = (self.mtstate, self.proute);
            let result_rel = guarded(|| {
                ExecFindPartition(mtstate, (*mtstate).resultRelInfo, proute, slot, estate)
            });
            let map = root_to_child_map(result_rel, estate);
            if map.is_null() {
                // The same layout: the executor inserts the row as it is.
                return Routed { result_rel, slot };
            }
            let mut partition_slot = (*result_rel).ri_PartitionTupleSlot;
            if partition_slot.is_null() {
                partition_slot = pg_sys::table_slot_create(
                    (*result_rel).ri_RelationDesc,
                    &mut (*estate).es_tupleTable,
                );
            }
            let slot = pg_sys::execute_attr_map_slot((*map).attrMap, slot, partition_slot);
            Routed { result_rel, slot }
        }
    }

    /// Closes the partitions' indexes and the partitions, as the executor
    /// does when the statement ends.
    ///
    /// # Safety
    /// Called once, before the executor state is freed.
    pub unsafe fn close(self) {
        // SAFETY: the routing state was made by open() for this executor
        // state, which is still alive.
        unsafe {
            let estate = (*self.mtstate).ps.state;
            guarded(|| ExecCleanupTupleRouting(self.mtstate, self.proute));
            close_trigger_target_relations(estate);
        }
    }
}

/// Closes the relations that after triggers on a partition opened again
/// (ExecGetTriggerResultRel()), as the executor does when a statement ends
/// (the last loop of ExecCloseResultRelations() in executor/execMain.c).
///
/// # Safety
/// `estate` is alive; its after triggers have fired.
unsafe fn close_trigger_target_relations(estate: *mut pg_sys::EState) {
    // SAFETY: every entry of the list is a ResultRelInfo whose relation
    // ExecGetTriggerResultRel() opened, without indexes; the list is emptied
    // so that nothing closes them twice.
    unsafe {
        let opened = (*estate).es_trig_target_relations;
        if opened.is_null() {
            return;
        }
        for index in 0..(*opened).length {
            let result_rel = pg_sys::list_nth(opened, index).cast::<pg_sys::ResultRelInfo>();
            pg_sys::table_close(
                (*result_rel).ri_RelationDesc,
                pg_sys::NoLock as pg_sys::LOCKMODE,
            );
        }
        (*estate).es_trig_target_relations = std::ptr::null_mut();
    }
}

/// Runs `call` into PostgreSQL so that an ERROR it raises becomes a panic
/// that pgrx turns back into that ERROR.
///
/// # Safety
/// As the call itself; on the backend's main thread.
unsafe fn guarded<T>(call: impl FnOnce() -> T) -> T {
    // SAFETY: the caller's; pgrx's bindings wrap each call the same way.
    unsafe { pg_sys::ffi::pg_guard_ffi_boundary(call) }
}

/// The conversion from the root's layout to the partition's, or null when
/// they are the same.
///
/// 15: set up by ExecFindPartition() in the result relation.
#[cfg(feature = "pg15")]
unsafe fn root_to_child_map(
    result_rel: *mut pg_sys::ResultRelInfo,
    _estate: *mut pg_sys::EState,
) -> *mut pg_sys::TupleConversionMap {
    // SAFETY: a partition's result relation made by ExecFindPartition().
    unsafe { (*result_rel).ri_RootToPartitionMap }
}

/// 16 and later: made on first use by ExecGetRootToChildMap().
#[cfg(any(feature = "pg16", feature = "pg18"))]
unsafe fn root_to_child_map(
    result_rel: *mut pg_sys::ResultRelInfo,
    estate: *mut pg_sys::EState,
) -> *mut pg_sys::TupleConversionMap {
    // SAFETY: a partition's result relation in `estate`.
    unsafe { pg_sys::ExecGetRootToChildMap(result_rel, estate) }
}
