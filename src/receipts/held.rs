//! Decisions whose transaction rolls back still leave a receipt.
//!
//! A receipt is written in the caller's transaction, so that a committed
//! decision and the caller's work commit together. Each backend also keeps a
//! copy of the receipts its open transaction wrote. When the transaction or
//! the savepoint that made them rolls back, the copies wait in the backend and
//! are written again, marked `committed = false`:
//!
//! - by the next transaction this backend commits, just before it commits, in
//!   a subtransaction of their own, so that a receipt that cannot be written
//!   never fails that transaction;
//! - or, if none comes, when the backend exits (the client disconnects, or
//!   the session ends with FATAL), in a transaction of their own.
//!
//! A rolled-back decision is also logged at LOG level when it rolls back, with
//! its id, tenant, tool, action and rule but neither its args nor the
//! statement. What a `kill -9` of the backend or an immediate shutdown loses
//! is the decisions of transactions still open, and of rolled-back ones not
//! yet written again; the log line of the latter was written.

use super::NewReceipt;
use crate::pg::SubTransactionId;
use crate::pg::jsonb::JsonbCopy;
use crate::pg::xact::{self, TransactionEvent};
use crate::pg::{backend, guc};
use crate::rate_ledger::{self, RolledBackAllow};
use crate::rate_limits;
use crate::shadow::ShadowOutcome;
use authensor_policy::ApprovalTerms;
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};

/// Copies a backend keeps at most, held by its open transaction and waiting
/// to be written, in number and in bytes: a decision beyond that is refused
/// (54000) until a commit writes the waiting ones, so that nothing is
/// dropped and the backend cannot grow without bound.
const MAX_COPIES: usize = 10_000;
const MAX_COPY_BYTES: usize = 64 << 20;

/// Failed attempts to write a rolled-back receipt before it is logged in full
/// and dropped.
const MAX_ATTEMPTS: u8 = 3;

/// A receipt's contents, held by Rust, outside any transaction's memory.
#[derive(Clone)]
struct Copy {
    id: Uuid,
    tenant_id: String,
    created_at: TimestampWithTimeZone,
    tool: String,
    args: JsonbCopy,
    context: JsonbCopy,
    action: String,
    reason: String,
    layer: String,
    rule_id: Option<String>,
    tenant_rule_id: Option<String>,
    platform_version: Option<i32>,
    tenant_version: Option<i32>,
    approval_on_rollback: bool,
    approval_terms: Option<ApprovalTerms>,
    consumes: Option<Uuid>,
    shadow: Option<ShadowOutcome>,
    attempts: u8,
    /// Listed in shared memory (rate_ledger.rs) until written again: for
    /// other sessions' rate limits, and as the spent run of an approval.
    listed_counted: bool,
    listed_spent: bool,
}

thread_local! {
    /// Receipts written by the open transaction, with the subtransaction
    /// that wrote each.
    static HELD: RefCell<Vec<(SubTransactionId, Copy)>> = const { RefCell::new(Vec::new()) };
    /// Bytes of HELD's copies.
    static HELD_BYTES: Cell<usize> = const { Cell::new(0) };
    /// Approvals whose rolled-back run could not be written again: still
    /// spent for this backend (and listed for others until it exits).
    static LOST_RUNS: RefCell<Vec<Uuid>> = const { RefCell::new(Vec::new()) };
    /// Receipts of rolled-back decisions, waiting to be written again.
    static WAITING: RefCell<Vec<Copy>> = const { RefCell::new(Vec::new()) };
    /// Waiting receipts written by the committing transaction: forgotten when
    /// it commits, waiting again if it fails after all.
    static WRITTEN: RefCell<Vec<Copy>> = const { RefCell::new(Vec::new()) };
}

/// Registers the callbacks that follow the transaction's outcome. Called once
/// from `_PG_init`: per backend, or once in the postmaster when the library
/// is preloaded, whose forked backends keep these callbacks.
pub fn register() {
    xact::on_transaction_event(on_transaction_event);
    xact::on_subtransaction_abort(on_subtransaction_abort);
}

thread_local! {
    /// The process that registered on_exit: a backend forked by the
    /// postmaster starts without the postmaster's exit callbacks
    /// (InitPostmasterChild resets them), so each backend registers its own,
    /// with the first receipt it holds.
    static EXIT_CALLBACK_OF: Cell<i32> = const { Cell::new(0) };
}

/// Refuses a decision whose receipt would take the backend's copies past
/// their limit. Called before the receipt is written.
///
/// Rolled-back decisions waiting to be written count against their own
/// tenant only: behind a pooler, the next transaction on the connection may
/// be another tenant's, which must not be refused for what the one before
/// left waiting; its commit writes them. All of them together are held to
/// four times the limit.
pub(super) fn refuse_if_full(tenant_id: &str, receipt_bytes: usize) {
    let ((own_count, own_bytes), (all_count, all_bytes)) = WAITING.with(|waiting| {
        let waiting = waiting.borrow();
        let totals = |copies: &mut dyn Iterator<Item = &Copy>| {
            copies.fold((0, 0), |(count, bytes), copy| {
                (count + 1, bytes + copy.bytes())
            })
        };
        (
            totals(&mut waiting.iter().filter(|copy| copy.tenant_id == tenant_id)),
            totals(&mut waiting.iter()),
        )
    });
    let held = HELD.with(|held| held.borrow().len()) + 1;
    let held_bytes = HELD_BYTES.get() + receipt_bytes;
    if held + own_count > MAX_COPIES
        || held_bytes + own_bytes > MAX_COPY_BYTES
        || held + all_count > 4 * MAX_COPIES
        || held_bytes + all_bytes > 4 * MAX_COPY_BYTES
    {
        crate::errors::raise(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            "this session holds too many receipts not yet committed",
            Some(
                "A session keeps at most 10,000 receipts or 64 MB of them until they commit, or, for rolled-back decisions, until its next commit writes them; commit (any transaction) to go on.",
            ),
        )
    }
}

/// Keeps a copy of `receipt`, just written with `id`, until its transaction
/// ends.
pub(super) fn hold(receipt: &NewReceipt, id: Uuid) {
    let process = backend::process_id();
    if EXIT_CALLBACK_OF.replace(process) != process {
        backend::at_exit(on_exit);
    }
    let copy = Copy {
        id,
        tenant_id: receipt.tenant_id.to_owned(),
        created_at: receipt.created_at,
        tool: receipt.tool.to_owned(),
        args: receipt.args.copy(),
        context: receipt.context.copy(),
        action: receipt.action.to_owned(),
        reason: receipt.reason.to_owned(),
        layer: receipt.layer.to_owned(),
        rule_id: receipt.rule_id.map(str::to_owned),
        tenant_rule_id: receipt.tenant_rule_id.map(str::to_owned),
        platform_version: receipt.platform_version,
        tenant_version: receipt.tenant_version,
        approval_on_rollback: receipt.approval_on_rollback,
        approval_terms: receipt.approval_terms,
        consumes: receipt.consumes,
        shadow: receipt.shadow.cloned(),
        attempts: 0,
        listed_counted: false,
        listed_spent: false,
    };
    HELD_BYTES.set(HELD_BYTES.get() + copy.bytes());
    HELD.with(|held| {
        held.borrow_mut()
            .push((xact::current_subtransaction(), copy))
    });
}

/// What a rate limit reads of a rolled-back receipt waiting to be written.
pub(crate) struct RolledBack<'a> {
    pub tenant_id: &'a str,
    /// The decision's time, in PostgreSQL's microseconds.
    pub created_at: i64,
    pub tool: &'a str,
    pub action: &'a str,
    pub layer: &'a str,
    pub rule_id: Option<&'a str>,
    pub tenant_rule_id: Option<&'a str>,
}

/// Whether this backend holds the rolled-back run of `approval`, not yet
/// written again (which will spend the approval).
pub(crate) fn holds_rolled_back_run_of(approval: Uuid) -> bool {
    WAITING.with(|waiting| {
        waiting
            .borrow()
            .iter()
            .any(|copy| copy.consumes == Some(approval))
    }) || LOST_RUNS.with(|lost| lost.borrow().contains(&approval))
}

/// How many of this backend's rolled-back receipts not yet written again
/// `counts` accepts. A rate limit adds them to those in the table: the agent
/// was answered, and may have acted.
pub(crate) fn count_rolled_back(counts: impl Fn(&RolledBack<'_>) -> bool) -> u64 {
    WAITING.with(|waiting| {
        waiting
            .borrow()
            .iter()
            .filter(|copy| {
                counts(&RolledBack {
                    tenant_id: &copy.tenant_id,
                    created_at: copy.created_at.into(),
                    tool: &copy.tool,
                    action: &copy.action,
                    layer: &copy.layer,
                    rule_id: copy.rule_id.as_deref(),
                    tenant_rule_id: copy.tenant_rule_id.as_deref(),
                })
            })
            .count() as u64
    })
}

fn on_transaction_event(event: TransactionEvent) {
    match event {
        TransactionEvent::PreCommit => write_waiting(),
        TransactionEvent::Commit => {
            HELD.with(|held| held.borrow_mut().clear());
            HELD_BYTES.set(0);
            let written = WRITTEN.with(|written| std::mem::take(&mut *written.borrow_mut()));
            let listed: Vec<[u8; 16]> = written
                .iter()
                .filter(|copy| copy.listed_counted || copy.listed_spent)
                .map(|copy| *copy.id.as_bytes())
                .collect();
            if !listed.is_empty() {
                rate_ledger::remove(Some(&listed));
            }
            if WAITING.with(|waiting| waiting.borrow().is_empty()) {
                rate_ledger::remove_overflow();
            }
            // Rolled-back decisions this commit could not write (a cancel
            // while writing them) are listed, before the lock is released.
            list_for_rate_limits(&rate_limits::forget_locked_tenants());
        }
        TransactionEvent::Abort => {
            let rolled_back = HELD.with(|held| std::mem::take(&mut *held.borrow_mut()));
            HELD_BYTES.set(0);
            wait(rolled_back.into_iter().map(|(_, copy)| copy));
            let unwritten = WRITTEN.with(|written| std::mem::take(&mut *written.borrow_mut()));
            WAITING.with(|waiting| waiting.borrow_mut().extend(unwritten));
            // Listed now, before the tenant's rate lock is released.
            list_for_rate_limits(&rate_limits::forget_locked_tenants());
        }
        TransactionEvent::PrePrepare => {
            // A prepared transaction would also keep the tenant's rate lock
            // (held past a rolled-back savepoint) until someone ends it.
            if HELD.with(|held| !held.borrow().is_empty()) || rate_limits::holds_a_rate_lock() {
                crate::errors::raise(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    "a transaction that made decisions cannot be prepared",
                    Some(
                        "A prepared transaction may be rolled back by another session, which would lose its receipts, and holds the tenant's rate lock until then; call evaluate() outside two-phase transactions.",
                    ),
                )
            }
        }
    }
}

/// ROLLBACK TO SAVEPOINT rolls back the receipts written since the savepoint:
/// by the aborted subtransaction or any it started (their ids are not
/// smaller).
fn on_subtransaction_abort(aborted: SubTransactionId) {
    let rolled_back = HELD.with(|held| {
        let mut held = held.borrow_mut();
        let (kept, rolled_back): (Vec<_>, Vec<_>) = std::mem::take(&mut *held)
            .into_iter()
            .partition(|(subtransaction, _)| *subtransaction < aborted);
        *held = kept;
        rolled_back
    });
    let freed: usize = rolled_back.iter().map(|(_, copy)| copy.bytes()).sum();
    HELD_BYTES.set(HELD_BYTES.get().saturating_sub(freed));
    wait(rolled_back.into_iter().map(|(_, copy)| copy));
    // A run of an approval rolled back in a savepoint is spent for other
    // sessions at once (the approval's row lock went with the savepoint).
    list_for_rate_limits(&[]);
}

/// Lists the waiting decisions not listed yet for other sessions: the
/// `allow`s of `tenants` (those whose rate lock the transaction took), for
/// their rate limits, and the runs of approvals, which are spent.
fn list_for_rate_limits(tenants: &[String]) {
    if !rate_ledger::listing() {
        return;
    }
    WAITING.with(|waiting| {
        let mut waiting = waiting.borrow_mut();
        let counted = |copy: &Copy| {
            !copy.listed_counted && copy.action == "allow" && tenants.contains(&copy.tenant_id)
        };
        let spent = |copy: &Copy| !copy.listed_spent && copy.consumes.is_some();
        let unlisted = |copy: &&mut Copy| counted(copy) || spent(copy);
        rate_ledger::add(waiting.iter_mut().filter(unlisted).map(|copy| {
            let (counted, spends) = (counted(copy), spent(copy));
            copy.listed_counted |= counted;
            copy.listed_spent |= spends;
            RolledBackAllow {
                id: *copy.id.as_bytes(),
                counted,
                spends: copy
                    .consumes
                    .filter(|_| spends)
                    .map(|approval| *approval.as_bytes()),
                tenant_id: &copy.tenant_id,
                tool: &copy.tool,
                platform_rule: copy.rule_id.as_deref().filter(|_| copy.layer == "platform"),
                tenant_rule: copy.tenant_rule_id.as_deref(),
                created_at: copy.created_at.into(),
            }
        }));
    });
}

/// Logs each rolled-back receipt and queues it to be written again.
fn wait(rolled_back: impl Iterator<Item = Copy>) {
    WAITING.with(|waiting| {
        let mut waiting = waiting.borrow_mut();
        for copy in rolled_back {
            backend::log_without_statement(&format!(
                "authensor: decision rolled back: {}",
                summary(&copy)
            ));
            waiting.push(copy);
        }
    });
}

/// Writes the waiting receipts in the committing transaction, each in a
/// subtransaction of its own. Each stays in WAITING until it is written, so
/// an ERROR that escapes (a cancel, say) leaves the rest waiting, and the
/// transaction's abort puts back those written.
fn write_waiting() {
    crate::statements::own_work(write_waiting_now);
}

fn write_waiting_now() {
    if WAITING.with(|waiting| waiting.borrow().is_empty()) {
        return;
    }
    // Not in a read-only transaction; and not into a table without the
    // `committed` column (a 0.2.0 schema whose ALTER EXTENSION UPDATE has not
    // run yet), where a rolled-back decision would read as committed.
    if xact::read_only()
        || xact::recovery_in_progress()
        || !crate::store::receipts_record_rollbacks()
    {
        return;
    }
    // Oldest first; an index moves on past a receipt that stays.
    let mut index = 0;
    while let Some(copy) = WAITING.with(|waiting| waiting.borrow().get(index).cloned()) {
        // Waiting out any lock: a caller's lock_timeout would otherwise use
        // up the attempts and drop the receipt (and an approval's spending).
        let result = xact::in_subtransaction(|| {
            guc::with_setting(c"lock_timeout", c"0", || {
                xact::with_active_snapshot(|| super::append_rolled_back(&copy.as_new()))
            })
        });
        let remove = || WAITING.with(|waiting| waiting.borrow_mut().remove(index));
        match result {
            Ok(()) => {
                let written = remove();
                WRITTEN.with(|list| list.borrow_mut().push(written));
            }
            // Written already (an earlier attempt that committed after all).
            Err(caught) if caught.code == PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION => {
                let written = remove();
                WRITTEN.with(|list| list.borrow_mut().push(written));
            }
            // A cancel or a shutdown is no fault of the receipt: it waits.
            Err(caught)
                if matches!(
                    caught.code,
                    PgSqlErrorCode::ERRCODE_QUERY_CANCELED | PgSqlErrorCode::ERRCODE_ADMIN_SHUTDOWN
                ) =>
            {
                index += 1;
            }
            Err(caught) if copy.attempts + 1 >= MAX_ATTEMPTS => {
                lost(&remove(), &caught.message);
            }
            Err(caught) => {
                WAITING.with(|waiting| waiting.borrow_mut()[index].attempts += 1);
                index += 1;
                backend::log_without_statement(&format!(
                    "authensor: a rolled-back receipt could not be written yet ({}); it is tried again at the next commit",
                    caught.message
                ));
            }
        }
    }
}

/// At exit, writes what waits (and what the open transaction wrote, which
/// rolls back now) in a transaction of its own.
fn on_exit() {
    let pending = HELD.with(|held| !held.borrow().is_empty())
        || WAITING.with(|waiting| !waiting.borrow().is_empty());
    if !pending {
        rate_ledger::remove(None);
        return;
    }
    // Rolling back the open transaction queues its receipts, and the commit
    // writes every waiting one (on_transaction_event).
    if let Err(caught) = xact::in_own_transaction(|| {}) {
        pgrx::log!(
            "authensor: rolled-back receipts could not be written at exit: {}",
            caught.message
        );
    }
    let left = WAITING.with(|waiting| std::mem::take(&mut *waiting.borrow_mut()));
    for copy in left {
        lost(&copy, "the backend exited before it could write it");
    }
    rate_ledger::remove(None);
}

/// Logs a receipt that will not be written, in full, as the last record of it.
fn lost(copy: &Copy, why: &str) {
    if let Some(approval) = copy.consumes {
        LOST_RUNS.with(|lost| lost.borrow_mut().push(approval));
    }
    backend::log_without_statement(&format!(
        "authensor: receipt of a rolled-back decision not written ({why}): {} args={} context={}",
        summary(copy),
        copy.args_text(),
        copy.context_text()
    ));
}

/// The receipt's fields as JSON, without args and context.
fn summary(copy: &Copy) -> String {
    serde_json::json!({
        "id": copy.id.to_string(),
        "tenant_id": copy.tenant_id,
        "created_at": copy.created_at.to_iso_string(),
        "tool": copy.tool,
        "action": copy.action,
        "reason": copy.reason,
        "layer": copy.layer,
        "rule_id": copy.rule_id,
        "platform_version": copy.platform_version,
        "tenant_version": copy.tenant_version,
    })
    .to_string()
}

impl Copy {
    /// Bytes the copy takes, roughly.
    fn bytes(&self) -> usize {
        std::mem::size_of::<Copy>()
            + self.tenant_id.len()
            + self.tool.len()
            + self.args.size()
            + self.context.size()
            + self.action.len()
            + self.reason.len()
            + self.layer.len()
            + self.rule_id.as_ref().map_or(0, String::len)
            + self.tenant_rule_id.as_ref().map_or(0, String::len)
    }

    fn as_new(&self) -> NewReceipt<'_> {
        NewReceipt {
            id: Some(self.id),
            committed: false,
            tenant_id: &self.tenant_id,
            created_at: self.created_at,
            tool: &self.tool,
            args: self.args.to_arg(),
            context: self.context.to_arg(),
            action: &self.action,
            reason: &self.reason,
            layer: &self.layer,
            rule_id: self.rule_id.as_deref(),
            tenant_rule_id: self.tenant_rule_id.as_deref(),
            platform_version: self.platform_version,
            tenant_version: self.tenant_version,
            approval_on_rollback: self.approval_on_rollback,
            approval_terms: self.approval_terms,
            consumes: self.consumes,
            shadow: self.shadow.as_ref(),
        }
    }

    fn args_text(&self) -> String {
        self.args.to_arg().to_text()
    }

    fn context_text(&self) -> String {
        self.context.to_arg().to_text()
    }
}
