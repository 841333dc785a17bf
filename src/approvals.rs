//! Escalations become approvals bound to the exact action.
//!
//! evaluate() opens a pending approval for every escalate decision, keyed by
//! its receipt, with the terms of the rule that escalated: how many distinct
//! approvers it needs and when it expires. Trusted members of the tenant (or
//! admin keys) approve, each login role counting once, or reject; the agent
//! then consumes it once, presenting the same tool and args, before the
//! approval expires.

use crate::errors::{raise, raise_spi, required};
use crate::evaluate::{self, Outcome};
use crate::gucs::APPROVAL_TTL;
use crate::pg::jsonb::{JsonbArg, JsonbCopy};
use crate::plans;
use crate::receipts;
use crate::tenant::{approver_name, caller_name, require_admin, require_tenant};
use authensor_policy::{Action, ApprovalTerms};
use pgrx::datum::DatumWithOid;
use pgrx::datum::Uuid;
use pgrx::prelude::*;

/// Opens the approval for an escalated receipt and announces it on the
/// tenant's channel, with ids only. Returns the approval id. `terms` are the
/// escalating rule's (`None`: one approver, `authensor.approval_ttl`).
pub fn open(
    receipt_id: Uuid,
    tenant_id: &str,
    tool: &str,
    args: JsonbArg,
    terms: Option<ApprovalTerms>,
) -> Uuid {
    let terms = terms.unwrap_or_default();
    let ttl = APPROVAL_TTL.get().max(1);
    let ttl_seconds = match terms.expires_seconds {
        None => ttl,
        Some(seconds) if terms.capped_by_ttl => ttl.min(seconds.get() as i32),
        Some(seconds) => seconds.get() as i32,
    };
    // Runs inside evaluate(), which has no fixed search_path.
    let id = plans::pinned(|| Spi::get_one_with_args::<Uuid>(
        "WITH opened AS (
             INSERT INTO authensor.approval_requests
                    (receipt_id, tenant_id, tool, request_hash, requested_at, expires_at,
                     required, requested_by)
             SELECT $1, $2, $3, authensor.request_hash($2, $3, $4), at, at + make_interval(secs => $5),
                    $6, $7
               FROM (SELECT clock_timestamp() AS at) AS clock
             RETURNING id)
         SELECT id FROM opened
          WHERE authensor.announce(authensor.tenant_channel($2),
                          json_build_object('kind', 'approval', 'approvalId', id, 'receiptId', $1)::text) IS NOT NULL",
        &[
            receipt_id.into(),
            tenant_id.into(),
            tool.into(),
            args.into(),
            (ttl_seconds as f64).into(),
            i32::from(terms.required.get()).into(),
            approver_name().into(),
        ],
    ))
    .unwrap_or_else(|e| raise_spi("open the approval", e));
    id.unwrap_or_else(|| raise_spi("open the approval", pgrx::spi::SpiError::NoTupleTable))
}

/// Runs an approved, unexpired approval of an escalated statement with this
/// tool and args (the statement's text among them), the oldest first: the
/// statement is decided again with its escalation granted, and the approval
/// is consumed unless that decision blocks. `None` if there was none to run.
/// Runs as the extension.
pub fn run_for_statement(tenant_id: &str, tool: &str, args: JsonbArg) -> Option<Outcome> {
    const FIND: &str = "
        SELECT a.id, r.context, a.required
          FROM authensor.approval_requests a
          JOIN authensor.receipts r ON r.id = a.receipt_id AND r.tenant_id = a.tenant_id
         WHERE a.tenant_id = $1 AND a.tool = $2 AND a.status = 'approved'
           AND a.request_hash = authensor.request_hash($1, $2, $3)
           AND a.expires_at > clock_timestamp()
         ORDER BY a.requested_at LIMIT 1
           FOR UPDATE OF a SKIP LOCKED";
    run_approved(
        "statement",
        FIND,
        &[tenant_id.into(), tool.into(), args.into()],
        tenant_id,
        tool,
        args,
    )
}

/// True exactly once: when the approval of `receipt_id` is approved, not
/// expired, and `tool` and `args` are those of the escalated receipt (args
/// compared as jsonb, as stored: `10.50` equals `10.5`, key order and
/// spacing do not matter, and no number is rounded), and the call, decided
/// again now, is neither blocked (a rate limit reached meanwhile, a policy
/// changed) nor escalated with more approvers than the approval had. The
/// run's decision writes a receipt; the approval is consumed in the same
/// transaction when the answer is true, and stays spent if that transaction
/// rolls back. False in every other case.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn consume_approval(receipt_id: Option<Uuid>, tool: Option<&str>, args: Option<JsonbArg>) -> bool {
    let receipt_id = required(receipt_id, "consume_approval", "receipt_id");
    let tool = required(tool, "consume_approval", "tool");
    // An approved statement runs when the agent sends it again.
    evaluate::refuse_statement_tool("consume_approval", tool);
    let args = required(args, "consume_approval", "args");
    let tenant_id = require_tenant("consume_approval");
    // The row lock makes a concurrent second consumer wait and then find the
    // approval no longer 'approved'.
    const FIND: &str = "
        SELECT a.id, r.context, a.required
          FROM authensor.approval_requests a
          JOIN authensor.receipts r ON r.id = a.receipt_id AND r.tenant_id = a.tenant_id
         WHERE a.receipt_id = $1 AND a.tenant_id = $2 AND a.status = 'approved'
           AND a.expires_at > clock_timestamp()
           AND r.tool = $3 AND a.tool = $3 AND r.args = $4
           FOR UPDATE OF a";
    run_approved(
        "consume_approval",
        FIND,
        &[
            receipt_id.into(),
            tenant_id.as_str().into(),
            tool.into(),
            args.into(),
        ],
        &tenant_id,
        tool,
        args,
    )
    .is_some_and(|outcome| outcome.decision.action != Action::Block)
}

/// An approval found and locked.
struct Found {
    id: Uuid,
    /// The escalated receipt's context, as stored.
    context: JsonbCopy,
    /// Approvers it had to have.
    required: i32,
}

impl Found {
    /// Whether this approval stands for `now`, the call's decision as it is
    /// now: no escalation, or one needing no more approvers than this
    /// approval had (whichever rule asks: the approval is of the action).
    fn covers(&self, now: &authensor_policy::Decision) -> bool {
        now.action != Action::Escalate
            || now
                .approval
                .map_or(1, |terms| i32::from(terms.required.get()))
                <= self.required
    }
}

/// The approval `find` selects and locks.
fn find_approval(find: &'static str, args: &[DatumWithOid]) -> Option<Found> {
    plans::pinned(|| {
        plans::read(find, args, |rows| {
            if rows.is_empty() {
                return Ok(None);
            }
            let row = rows.first();
            let (Some(id), Some(context), Some(required)) = (
                row.get::<Uuid>(1)?,
                row.get::<JsonbArg>(2)?.map(JsonbArg::copy),
                row.get::<i32>(3)?,
            ) else {
                return Ok(None);
            };
            Ok(Some(Found {
                id,
                context,
                required,
            }))
        })
    })
    .unwrap_or_else(|e| raise_spi("read the approval", e))
}

/// Runs the call of the approval `find` selects and locks: decides it again
/// with its escalation granted, writing that decision's receipt, and
/// consumes the approval unless it blocks. `None` when there is none to run:
/// no such approval, one this backend already ran in a transaction that
/// rolled back (spent once that run's receipt is written again), or one the
/// call's decision now asks more approvers for.
fn run_approved(
    what: &str,
    find: &'static str,
    find_args: &[DatumWithOid],
    tenant_id: &str,
    tool: &str,
    args: JsonbArg,
) -> Option<Outcome> {
    receipts::refuse_if_read_only(what);
    // The tenant's rate lock first, as the run's decision takes it: the
    // approval is then never locked while its holder waits for the rate lock
    // (two such would deadlock), and its expiry is read after that wait.
    evaluate::hold_rate_lock(what, tenant_id);
    let found = find_approval(find, find_args)?;
    if receipts::holds_rolled_back_run_of(found.id)
        || crate::rate_ledger::spent_elsewhere(*found.id.as_bytes(), tenant_id)
    {
        return None;
    }
    let now = evaluate::decide_plainly(what, tenant_id, tool, args, found.context.to_arg());
    if !found.covers(&now) {
        return None;
    }
    let outcome = evaluate::decide_approved_call(
        what,
        found.id,
        tenant_id,
        tool,
        args,
        found.context.to_arg(),
    );
    if outcome.decision.action != Action::Block {
        spend(found.id);
    }
    Some(outcome)
}

/// Marks an approval consumed, if it is still approved: by its run, or by
/// the receipt of a run that rolled back, written again.
pub fn spend(approval: Uuid) {
    plans::pinned(|| {
        Spi::run_with_args(
            "UPDATE authensor.approval_requests
                SET status = 'consumed', consumed_at = clock_timestamp()
              WHERE id = $1 AND status = 'approved'",
            &[approval.into()],
        )
    })
    .unwrap_or_else(|e| raise_spi("consume the approval", e));
}

/// Counts the caller's approval of a pending approval; once as many distinct
/// login roles as its rule requires have approved, it is approved. Returns
/// the approval's status after the vote: `pending` or `approved`. Only admin
/// keys and members of authensor_trusted acting for the approval's tenant
/// may approve.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn approve(receipt_id: Option<Uuid>, note: default!(Option<&str>, "NULL")) -> String {
    let receipt_id = required(receipt_id, "approve", "receipt_id");
    let tenant_id = require_admin("approve");
    let approver = approver_name();
    // Writing the row serialises approvers: a second one waits, then counts
    // the first one's vote, or finds the approval no longer pending. A row
    // lock alone would not do under REPEATABLE READ, whose snapshot hides the
    // first one's committed vote from the count: there, the write makes the
    // second approver fail with a serialization error, to retry, instead of
    // leaving a quorum that was reached pending.
    let pending = Spi::get_three_with_args::<Uuid, i32, String>(
        "UPDATE authensor.approval_requests SET required = required
          WHERE receipt_id = $1 AND tenant_id = $2 AND status = 'pending'
            AND expires_at > clock_timestamp()
         RETURNING id, required, requested_by",
        &[receipt_id.into(), tenant_id.as_str().into()],
    );
    let (id, needed, requested_by) = match pending {
        Ok((Some(id), Some(needed), requested_by)) => (id, needed, requested_by),
        Ok(_) | Err(pgrx::spi::SpiError::InvalidPosition) => {
            explain_refusal("approve", receipt_id, &tenant_id)
        }
        Err(e) => raise_spi("read the approval", e),
    };
    if needed > 1 && requested_by.as_deref() == Some(approver.as_str()) {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "role \"{approver}\" requested this action, so it cannot count as one of its approvers"
            ),
            Some(
                "An approval that needs several approvers is approved by login roles other than the one whose call escalated.",
            ),
        )
    }
    let voted = Spi::get_one_with_args::<bool>(
        "WITH vote AS (
             INSERT INTO authensor.approval_votes (approval_id, tenant_id, approver, note)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (approval_id, approver) DO NOTHING
             RETURNING 1)
         SELECT EXISTS (SELECT FROM vote)",
        &[
            id.into(),
            tenant_id.as_str().into(),
            approver.as_str().into(),
            note.into(),
        ],
    )
    .unwrap_or_else(|e| raise_spi("record the approval", e))
    .unwrap_or(false);
    if !voted {
        raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("role \"{approver}\" has already approved this approval"),
            Some(&format!(
                "It needs {needed} distinct approvers; each login role counts once, whatever role it sets or key it uses."
            )),
        )
    }
    let approved = Spi::get_one_with_args::<bool>(
        "WITH decided AS (
             UPDATE authensor.approval_requests
                SET status = 'approved', decided_at = clock_timestamp(), decided_by = $2, note = $3
              WHERE id = $1
                AND (SELECT count(*) FROM authensor.approval_votes v WHERE v.approval_id = $1) >= required
             RETURNING 1)
         SELECT EXISTS (SELECT FROM decided)",
        &[id.into(), approver.as_str().into(), note.into()],
    )
    .unwrap_or_else(|e| raise_spi("record the approval", e))
    .unwrap_or(false);
    if approved { "approved" } else { "pending" }.to_owned()
}

/// Rejects an approval that is pending or approved but not yet used. A
/// rejection is final.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn reject(receipt_id: Option<Uuid>, note: default!(Option<&str>, "NULL")) -> String {
    settle(
        "reject",
        receipt_id,
        note,
        "rejected",
        &["pending", "approved"],
    )
}

/// Moves an approval from one of the `from` states to `to`, for reject().
fn settle(
    function: &str,
    receipt_id: Option<Uuid>,
    note: Option<&str>,
    to: &str,
    from: &[&str],
) -> String {
    let receipt_id = required(receipt_id, function, "receipt_id");
    let tenant_id = require_admin(function);
    let from: Vec<String> = from.iter().map(|s| (*s).to_owned()).collect();
    let changed = Spi::get_one_with_args::<bool>(
        "WITH decided AS (
             UPDATE authensor.approval_requests
                SET status = $3, decided_at = clock_timestamp(), decided_by = $4, note = $5
              WHERE receipt_id = $1 AND tenant_id = $2 AND status = ANY ($6)
                AND expires_at > clock_timestamp()
             RETURNING 1)
         SELECT EXISTS (SELECT FROM decided)",
        &[
            receipt_id.into(),
            tenant_id.as_str().into(),
            to.into(),
            caller_name().into(),
            note.into(),
            from.into(),
        ],
    )
    .unwrap_or_else(|e| raise_spi("record the decision", e))
    .unwrap_or(false);
    if !changed {
        explain_refusal(function, receipt_id, &tenant_id)
    }
    to.to_owned()
}

/// Raises the reason an approval could not be decided.
fn explain_refusal(function: &str, receipt_id: Uuid, tenant_id: &str) -> ! {
    let status = Spi::get_one_with_args::<String>(
        "SELECT (SELECT status FROM authensor.approvals WHERE receipt_id = $1 AND tenant_id = $2)",
        &[receipt_id.into(), tenant_id.into()],
    )
    .unwrap_or_else(|e| raise_spi("read the approval", e));
    match status {
        None => raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("tenant \"{tenant_id}\" has no approval for this receipt"),
            Some(
                "Approvals are opened by authensor.evaluate() for escalate decisions; authensor.approvals lists them.",
            ),
        ),
        Some(status) => raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("cannot {function} this approval: it is {status}"),
            None,
        ),
    }
}
