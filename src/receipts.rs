//! Appends receipts.
//!
//! evaluate() writes one receipt per call, so the row is formed here and handed
//! to the executor's single-row insert, the path logical replication uses to
//! apply a row: constraints are checked, indexes filled and triggers fired as
//! for an INSERT, without parsing, planning, plan revalidation or executor
//! start-up. Columns this module does not know get their defaults, as they
//! would from an INSERT that leaves them out.

use crate::errors::raise;
use crate::pg::jsonb::JsonbArg;
use crate::pg::relation_insert::{self, Refusal};
use crate::pg::xact;
use crate::shadow::ShadowOutcome;
use crate::{plans, store};
use authensor_policy::ApprovalTerms;
use pgrx::datum::{DatumWithOid, TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;
use std::ffi::CStr;

mod held;
mod ids;

pub use held::register as register_transaction_callbacks;
pub(crate) use held::{count_rolled_back, holds_rolled_back_run_of};

/// One receipt, as written by evaluate().
pub struct NewReceipt<'a> {
    /// None for a new decision; the original id when a rolled-back decision
    /// is written again.
    pub id: Option<Uuid>,
    /// False when a rolled-back decision is written again.
    pub committed: bool,
    pub tenant_id: &'a str,
    pub created_at: TimestampWithTimeZone,
    pub tool: &'a str,
    /// The caller's jsonb arguments, stored as they came.
    pub args: JsonbArg,
    /// The caller's jsonb context; the session's tenant is written into it.
    pub context: JsonbArg,
    pub action: &'a str,
    pub reason: &'a str,
    pub layer: &'a str,
    pub rule_id: Option<&'a str>,
    /// The tenant policy's own deciding rule, credited or not.
    pub tenant_rule_id: Option<&'a str>,
    pub platform_version: Option<i32>,
    pub tenant_version: Option<i32>,
    /// The approval this decision ran on (consume_approval(), an approved
    /// statement): rolled back, the run still spends it, when its receipt is
    /// written again (see held.rs).
    pub consumes: Option<Uuid>,
    /// An escalation that refused an agent's statement: the approval it
    /// opens would roll back with the statement, so it is opened when the
    /// receipt is written again (see held.rs).
    pub approval_on_rollback: bool,
    /// The escalating rule's approval terms, for the approval opened then.
    pub approval_terms: Option<ApprovalTerms>,
    /// The shadow versions the decision was also evaluated under, and what
    /// they decided if that differs (shadow.rs).
    pub shadow: Option<&'a ShadowOutcome>,
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
///
/// The backend keeps a copy until the transaction ends: if it, or the
/// savepoint around this call, rolls back, the receipt is written again,
/// marked as not committed (see held.rs).
pub fn append(receipt: &NewReceipt) -> Uuid {
    held::refuse_if_full(
        receipt.tenant_id,
        receipt.args.raw_size() + receipt.context.raw_size() + receipt.reason.len(),
    );
    let id = plans::pinned(|| insert(receipt));
    held::hold(receipt, id);
    id
}

/// Writes again the receipt of a rolled-back decision.
fn append_rolled_back(receipt: &NewReceipt) {
    let id = plans::pinned(|| insert(receipt));
    if let Some(approval) = receipt.consumes {
        crate::statements::as_extension(|| crate::approvals::spend(approval));
    }
    if receipt.approval_on_rollback {
        crate::statements::as_extension(|| {
            crate::approvals::open(
                id,
                receipt.tenant_id,
                receipt.tool,
                receipt.args,
                receipt.approval_terms,
            )
        });
    }
}

/// Refuses, as an INSERT would (SQLSTATE 25006), to write a receipt where no
/// row may be written: during recovery (a hot standby) or in a read-only
/// transaction. Checked before deciding, so nothing is half done.
pub fn refuse_if_read_only(function: &str) {
    if xact::recovery_in_progress() {
        raise(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("authensor.{function}() cannot write its receipt during recovery"),
            Some("Decisions that leave receipts are made on the primary."),
        )
    }
    if xact::read_only() {
        raise(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("authensor.{function}() cannot write its receipt in a read-only transaction"),
            Some("Call it in a read-write transaction: every decision leaves a receipt."),
        )
    }
}

/// Where the columns of 0.5.0 (the shadow columns and tenant_rule_id) are in
/// the row `insert` writes: left out only before ALTER EXTENSION UPDATE to
/// 0.5.0, when the table has none.
const SHADOW_COLUMNS_START: usize = 14;
const SHADOW_COLUMNS_END: usize = 20;

fn insert(receipt: &NewReceipt) -> Uuid {
    let id = receipt
        .id
        .unwrap_or_else(|| ids::new_id(receipt.created_at));
    // recorded_at is read after the transaction has its id: the seal's
    // horizon relies on that order (see chain.rs).
    xact::assign_transaction_id();
    let recorded_at = TimestampWithTimeZone::try_from(crate::pg::backend::now_micros())
        .unwrap_or_else(|_| not_as_made("the clock is out of range"));
    let context = receipt
        .context
        .concat(pgrx::JsonB(
            serde_json::json!({ "tenantId": receipt.tenant_id }),
        ))
        .unwrap_or_else(|| not_as_made("jsonb concatenation returned NULL"));
    let shadow = receipt.shadow;
    let differs = shadow.and_then(|shadow| shadow.differs.as_ref());
    // A shadow that could not decide is recorded as 'error', with no layer.
    let shadow_action = differs.map(|differs| differs.action.map_or("error", |a| a.as_str()));
    let shadow_layer = differs.and_then(|differs| differs.layer.map(|l| l.as_str()));
    let shadow_rule_id = differs.and_then(|differs| differs.rule_id.as_deref());
    // (column, value); a None value is a NULL of the value's type.
    let row: [(&CStr, DatumWithOid); 20] = [
        (c"id", id.into()),
        (c"tenant_id", receipt.tenant_id.into()),
        (c"created_at", receipt.created_at.into()),
        (c"tool", receipt.tool.into()),
        (c"args", receipt.args.into()),
        (c"context", context.into()),
        (c"action", receipt.action.into()),
        (c"reason", receipt.reason.into()),
        (c"layer", receipt.layer.into()),
        (c"rule_id", receipt.rule_id.into()),
        (c"platform_version", receipt.platform_version.into()),
        (c"tenant_version", receipt.tenant_version.into()),
        (c"committed", receipt.committed.into()),
        (c"recorded_at", recorded_at.into()),
        // From 0.5.0 on; NULL under no shadow version, and written all the
        // same, so that no column default or trigger can claim a shadow.
        (
            c"shadow_platform_version",
            shadow.and_then(|s| s.platform_version).into(),
        ),
        (
            c"shadow_tenant_version",
            shadow.and_then(|s| s.tenant_version).into(),
        ),
        (c"shadow_action", shadow_action.into()),
        (c"shadow_layer", shadow_layer.into()),
        (c"shadow_rule_id", shadow_rule_id.into()),
        (c"tenant_rule_id", receipt.tenant_rule_id.into()),
    ];
    let table = store::table_oid(c"receipts")
        .unwrap_or_else(|| not_as_made("authensor.receipts does not exist"));
    // Before ALTER EXTENSION UPDATE to 0.3.0, the table has neither of the
    // last two columns (see store.rs).
    let new_schema = crate::store::receipts_record_rollbacks();
    let columns = match (
        shadow.is_some() || store::receipts_record_shadows(table),
        new_schema,
    ) {
        (true, _) => SHADOW_COLUMNS_END,
        (false, true) => SHADOW_COLUMNS_START,
        (false, false) => SHADOW_COLUMNS_START - 2,
    };
    let shadow_written = columns == SHADOW_COLUMNS_END;
    relation_insert::insert(table, &row[..columns], refuse, |stored| {
        // A BEFORE trigger may add to the row, never change what it records
        // (everything the chain hashes but the id, which it may set).
        if stored.had_before_row_triggers() {
            let text = |position: usize, written: Option<&str>| {
                stored.get::<String>(position).as_deref() == written
            };
            let jsonb = |position: usize, written: JsonbArg| {
                stored.get::<JsonbArg>(position).map(JsonbArg::copy) == Some(written.copy())
            };
            let unchanged = [
                ("tenant_id", text(1, Some(receipt.tenant_id))),
                (
                    "created_at",
                    stored.get::<TimestampWithTimeZone>(2) == Some(receipt.created_at),
                ),
                ("tool", text(3, Some(receipt.tool))),
                ("args", jsonb(4, receipt.args)),
                ("context", jsonb(5, context)),
                ("action", text(6, Some(receipt.action))),
                ("reason", text(7, Some(receipt.reason))),
                ("layer", text(8, Some(receipt.layer))),
                ("rule_id", text(9, receipt.rule_id)),
                (
                    "platform_version",
                    stored.get::<i32>(10) == receipt.platform_version,
                ),
                (
                    "tenant_version",
                    stored.get::<i32>(11) == receipt.tenant_version,
                ),
                // Both columns exist from 0.3.0 on (see store.rs).
                (
                    "committed",
                    !new_schema || stored.get::<bool>(12) == Some(receipt.committed),
                ),
                (
                    "recorded_at",
                    !new_schema || stored.get::<TimestampWithTimeZone>(13) == Some(recorded_at),
                ),
                (
                    "shadow_platform_version",
                    !shadow_written
                        || stored.get::<i32>(14) == shadow.and_then(|s| s.platform_version),
                ),
                (
                    "shadow_tenant_version",
                    !shadow_written
                        || stored.get::<i32>(15) == shadow.and_then(|s| s.tenant_version),
                ),
                ("shadow_action", !shadow_written || text(16, shadow_action)),
                ("shadow_layer", !shadow_written || text(17, shadow_layer)),
                (
                    "shadow_rule_id",
                    !shadow_written || text(18, shadow_rule_id),
                ),
                (
                    "tenant_rule_id",
                    !shadow_written || text(19, receipt.tenant_rule_id),
                ),
            ];
            if let Some((column, _)) = unchanged.iter().find(|(_, same)| !same) {
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
        // The id as stored: a BEFORE trigger may have changed it.
        stored
            .get::<Uuid>(0)
            .unwrap_or_else(|| not_as_made("a receipt was stored without an id"))
    })
}

/// Raises the ERROR for a receipt the table does not take as written.
fn refuse(refusal: Refusal) -> ! {
    match refusal {
        Refusal::NotAPlainTable => raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "authensor.receipts, or the partition this receipt goes to, is not a table",
            Some(
                "Receipts are written to the partitioned table authensor.receipts and to partitions that are ordinary tables (add_receipt_partitions() makes them).",
            ),
        ),
        Refusal::WrongType {
            column,
            found,
            written,
        } => raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "column authensor.receipts.{column} has type {found}, but the extension writes {written}"
            ),
            Some("Receipts are not written until the column has its original type again."),
        ),
        Refusal::MissingColumn(column) => raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("authensor.receipts has no column {column}, which every receipt records"),
            Some("Receipts are not written until the column is back with its original type."),
        ),
        // A decision without its receipt does not stand.
        Refusal::SkippedByTrigger => raise(
            PgSqlErrorCode::ERRCODE_TRIGGERED_ACTION_EXCEPTION,
            "a trigger on authensor.receipts skipped the receipt, so the decision is refused",
            Some(
                "Every evaluate() needs its receipt; a BEFORE INSERT trigger on authensor.receipts must not return NULL.",
            ),
        ),
    }
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
