//! evaluate(), check() and guard(): one decision, three shapes.

use crate::approvals;
use crate::cache::{self, ActivePolicy, Layers};
use crate::errors::{raise, required};
use crate::gucs::MAX_ARGS_BYTES;
use crate::pg::jsonb::JsonbArg;
use crate::pg::result_row::{RowError, result_row};
use crate::pg::{FunctionCallInfo, backend};
use crate::rate_limits;
use crate::receipts::{self, NewReceipt};
use crate::shadow;
use crate::tenant::{require_admin, require_tenant};
use authensor_policy::{
    Action, Decision, MAX_TOOL_BYTES, Policy, Request, Value, with_rate_counter,
};
use pgrx::JsonB;
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;

type DecisionRow = PgHeapTuple<'static, AllocatedByRust>;

/// Decides whether the current tenant's agent may call `tool` with `args`, and
/// writes a receipt in the caller's transaction.
///
/// The three decision functions are SECURITY DEFINER without a `SET
/// search_path` (which would cost more than a cached decision): on a cache hit
/// they run no SQL (receipts.rs appends the receipt directly), and every
/// statement they run otherwise runs with search_path pinned (see plans.rs).
#[pg_extern(volatile, security_definer)]
fn evaluate(
    tool: Option<&str>,
    args: default!(Option<JsonbArg>, "'{}'"),
    context: default!(Option<JsonbArg>, "'{}'"),
    fcinfo: FunctionCallInfo,
) -> pgrx::composite_type!('static, "decision") {
    decide_and_record("evaluate", tool, args, context, Receipt::Write).into_row(fcinfo)
}

/// The same decision as evaluate(), without a receipt: for dry runs.
#[pg_extern(volatile, security_definer)]
fn check(
    tool: Option<&str>,
    args: default!(Option<JsonbArg>, "'{}'"),
    context: default!(Option<JsonbArg>, "'{}'"),
    fcinfo: FunctionCallInfo,
) -> pgrx::composite_type!('static, "decision") {
    decide_and_record("check", tool, args, context, Receipt::Skip).into_row(fcinfo)
}

/// evaluate() in the shape of the Authensor SDK's guard():
/// `{"action", "reason", "layer", "rule", "receipt": {"id", "tenantId", "tool", "createdAt"}, …}`.
#[pg_extern(volatile, security_definer)]
fn guard(
    tool: Option<&str>,
    args: default!(Option<JsonbArg>, "'{}'"),
    context: default!(Option<JsonbArg>, "'{}'"),
) -> JsonB {
    JsonB(decide_and_record("guard", tool, args, context, Receipt::Write).into_json())
}

#[derive(PartialEq)]
pub(crate) enum Receipt {
    Write,
    Skip,
}

pub(crate) struct Outcome {
    pub tenant_id: String,
    tool: String,
    pub decision: Decision,
    platform_version: Option<i32>,
    tenant_version: Option<i32>,
    pub receipt_id: Option<Uuid>,
    pub approval_id: Option<Uuid>,
    decided_at: TimestampWithTimeZone,
}

/// Decides a tool call for the current tenant and, unless `receipt` says to
/// skip it, writes its receipt (and the approval an escalation opens).
fn decide_and_record(
    function: &str,
    tool: Option<&str>,
    args_arg: Option<JsonbArg>,
    context_arg: Option<JsonbArg>,
    receipt: Receipt,
) -> Outcome {
    let read = read_call(function, tool, args_arg, context_arg, &receipt);
    if receipt == Receipt::Write {
        receipts::refuse_if_read_only(function);
    }
    // The receipt stores the caller's jsonb as it came, not a re-encoding.
    let call = args_arg
        .zip(context_arg)
        .filter(|_| receipt == Receipt::Write);
    let Call {
        tenant_id,
        tool,
        args,
        context,
    } = read;
    decide_for(
        tenant_id,
        tool,
        &args,
        &context,
        call,
        Caller::Function(function),
    )
}

/// Who asks for a decision.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Caller<'a> {
    /// evaluate(), check() or guard(), by name.
    Function(&'a str),
    /// An agent's statement, which an escalation refuses: its approval is
    /// opened when the refused statement's receipt is written again.
    Statement,
    /// A call about to run on an approval (consume_approval(), or an
    /// approved statement), named as above, and the approval: decided again
    /// with its escalation granted, so that rate limits count it as it runs.
    Approved(&'a str, Uuid),
}

/// Decides `tool` with `args` and `context` for `tenant_id`, the session's
/// tenant, and, given the call's jsonb, writes its receipt (and the approval
/// an escalation opens). The one decision behind evaluate(), check(),
/// guard() and an agent's statements (statements.rs). What it runs is
/// authensor's own work, never decided as an agent's statement.
pub(crate) fn decide_for(
    tenant_id: String,
    tool: &str,
    args: &Value,
    context: &Value,
    call: Option<(JsonbArg, JsonbArg)>,
    caller: Caller,
) -> Outcome {
    crate::statements::own_work(|| {
        let decide = |platform: Option<&Policy>, tenant: Option<&Policy>, request: &Request| {
            // A decision whose receipt a `rate` condition counts waits for
            // the tenant's previous one (rate_limits.rs). A policy change
            // that committed meanwhile is decided with instead.
            if call.is_some() {
                let before = cache::generation();
                if rate_limits::hold_if_limited(caller, platform, tenant, request.tenant_id)
                    && cache::generation() != before
                {
                    return None;
                }
            }
            Some(match caller {
                Caller::Approved(..) => {
                    authensor_policy::decide_approved(platform, tenant, request)
                }
                _ => authensor_policy::decide(platform, tenant, request),
            })
        };
        let (decision, layers) = loop {
            match under_active_layers(&tenant_id, tool, args, context, decide) {
                (Some(decision), layers) => break (decision, layers),
                // Decided again with the layers in force now; the lock is
                // held, so no policy change waits behind it any more.
                (None, _) => continue,
            }
        };
        let consumes = match caller {
            Caller::Approved(_, approval) if decision.action != Action::Block => Some(approval),
            _ => None,
        };
        let decision = match consumes {
            Some(approval) => Decision {
                reason: format!("approved ({approval}): {}", decision.reason),
                ..decision
            },
            None => decision,
        };
        // A decision that leaves a receipt is also decided by the shadow
        // versions, if any, which the receipt records; not an approved
        // call's, whose escalation was.
        let shadow_decides = !matches!(caller, Caller::Approved(..));
        let shadow = call.filter(|_| shadow_decides).and_then(|_| {
            let request = Request {
                tool,
                args,
                context,
                tenant_id: &tenant_id,
            };
            shadow::decide_shadow(&layers, &request, &decision)
        });
        let platform_version = layers.platform.as_ref().map(version_of);
        let tenant_version = layers.tenant.as_ref().map(version_of);
        let decided_at = now();
        let escalated = decision.action == Action::Escalate;
        let receipt_id = call.map(|(args, context)| {
            receipts::append(&NewReceipt {
                id: None,
                committed: true,
                tenant_id: &tenant_id,
                created_at: decided_at,
                tool,
                args,
                context,
                action: decision.action.as_str(),
                reason: &decision.reason,
                layer: decision.layer.as_str(),
                rule_id: decision.rule_id.as_deref(),
                tenant_rule_id: decision.tenant_rule_id.as_deref(),
                platform_version,
                tenant_version,
                consumes,
                approval_on_rollback: escalated && caller == Caller::Statement,
                approval_terms: decision.approval,
                shadow: shadow.as_ref(),
            })
        });
        // An escalation written to a receipt becomes a pending approval.
        let approval_id = receipt_id
            .zip(call)
            .filter(|_| escalated && matches!(caller, Caller::Function(_)))
            .map(|(receipt_id, (args, _))| {
                approvals::open(receipt_id, &tenant_id, tool, args, decision.approval)
            });
        Outcome {
            tenant_id,
            tool: tool.to_owned(),
            decision,
            platform_version,
            tenant_version,
            receipt_id,
            approval_id,
            decided_at,
        }
    })
}

/// Decides a call about to run on an approval, with `args` as stored in the
/// escalated receipt and that receipt's `context`, and writes its receipt:
/// `allow` (the reason saying it was approved), or `block` when a layer
/// blocks it now (a rate limit reached meanwhile, a policy changed).
pub(crate) fn decide_approved_call(
    what: &str,
    approval: Uuid,
    tenant_id: &str,
    tool: &str,
    args: JsonbArg,
    context: JsonbArg,
) -> Outcome {
    let caller = Caller::Approved(what, approval);
    decide_stored_call(caller, tenant_id, tool, args, context, true)
}

/// The decision on a stored call as it stands, without a receipt or a lock:
/// what check() answers.
pub(crate) fn decide_plainly(
    what: &str,
    tenant_id: &str,
    tool: &str,
    args: JsonbArg,
    context: JsonbArg,
) -> Decision {
    let caller = Caller::Function(what);
    decide_stored_call(caller, tenant_id, tool, args, context, false).decision
}

/// decide_for() on args and context as a receipt stored them.
fn decide_stored_call(
    caller: Caller,
    tenant_id: &str,
    tool: &str,
    args: JsonbArg,
    context: JsonbArg,
    write_receipt: bool,
) -> Outcome {
    let what = match caller {
        Caller::Function(what) | Caller::Approved(what, _) => what,
        Caller::Statement => "statement",
    };
    let args_value = json_object(what, "args", Some(args));
    let context_value = json_object(what, "context", Some(context));
    let call = write_receipt.then_some((args, context));
    decide_for(
        tenant_id.to_owned(),
        tool,
        &args_value,
        &context_value,
        call,
        caller,
    )
}

/// Takes the tenant's rate lock, as a decision under its layers would:
/// before anything else a call on an approval locks.
pub(crate) fn hold_rate_lock(what: &str, tenant_id: &str) {
    let layers = cache::active_layers(tenant_id);
    rate_limits::hold_if_limited(
        Caller::Function(what),
        layers.platform.as_ref().map(|active| &*active.policy),
        layers.tenant.as_ref().map(|active| &*active.policy),
        tenant_id,
    );
}

/// A call, checked and read, and the tenant it is decided for.
pub(crate) struct Call<'a> {
    pub(crate) tenant_id: String,
    pub(crate) tool: &'a str,
    pub(crate) args: Value,
    pub(crate) context: Value,
}

impl Caller<'_> {
    /// The caller as an error message names it.
    pub(crate) fn describe(self) -> String {
        match self {
            Caller::Function(function) => format!("authensor.{function}()"),
            Caller::Statement => "an agent's statement".to_owned(),
            Caller::Approved(what, _) => format!("an approved call ({what})"),
        }
    }
}

impl Call<'_> {
    /// `decide` (the policy core's decide() or explain()) on this call, with
    /// the layers in force for its tenant, which it also returns.
    #[inline]
    pub(crate) fn under_active_layers<R>(
        &self,
        decide: impl FnOnce(Option<&Policy>, Option<&Policy>, &Request) -> R,
    ) -> (R, Layers) {
        under_active_layers(
            &self.tenant_id,
            self.tool,
            &self.args,
            &self.context,
            decide,
        )
    }
}

/// `decide` on a call for `tenant_id`, with the layers in force for it,
/// which it also returns. The session's tenant is the only tenant: the policy
/// core reads context.tenantId (and the tenantId of context alone) from the
/// request's tenant, never from a caller-supplied tenantId.
#[inline]
fn under_active_layers<R>(
    tenant_id: &str,
    tool: &str,
    args: &Value,
    context: &Value,
    decide: impl FnOnce(Option<&Policy>, Option<&Policy>, &Request) -> R,
) -> (R, Layers) {
    let layers = cache::active_layers(tenant_id);
    let request = Request {
        tool,
        args,
        context,
        tenant_id,
    };
    // `rate` conditions count the tenant's receipts (rate_limits.rs).
    let result = with_rate_counter(rate_limits::count, || {
        decide(
            layers.platform.as_ref().map(|active| &*active.policy),
            layers.tenant.as_ref().map(|active| &*active.policy),
            &request,
        )
    });
    (result, layers)
}

/// Checks and reads the arguments of a decision function, and who may call
/// it: with a receipt, any role with a tenant; without one (check() and
/// explain()), those who author policy, never an agent.
pub(crate) fn read_call<'a>(
    function: &str,
    tool: Option<&'a str>,
    args_arg: Option<JsonbArg>,
    context_arg: Option<JsonbArg>,
    receipt: &Receipt,
) -> Call<'a> {
    let tool = required(tool, function, "tool");
    if tool.len() > MAX_TOOL_BYTES {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("authensor.{function}(): tool name is longer than {MAX_TOOL_BYTES} bytes"),
            None,
        )
    }
    if *receipt == Receipt::Write {
        refuse_statement_tool(function, tool);
    }
    check_size(function, args_arg, context_arg);
    let args = json_object(function, "args", args_arg);
    let context = json_object(function, "context", context_arg);
    // A decision without a receipt lets its caller probe the policy unseen:
    // it is for those who author policy, never for an agent.
    let tenant_id = match receipt {
        Receipt::Write => require_tenant(function),
        Receipt::Skip => require_admin(function),
    };
    Call {
        tenant_id,
        tool,
        args,
        context,
    }
}

/// The tools of agents' statements (statements.rs): `sql.select`, `sql.ddl`, …
const STATEMENT_TOOL_PREFIX: &str = "sql.";

/// Refuses a receipt for a `sql.` tool from a function that names its tool:
/// such a receipt would be indistinguishable from a statement's, and record
/// a statement that never ran. A dry run (check(), explain()) may decide one.
pub(crate) fn refuse_statement_tool(function: &str, tool: &str) {
    if tool.starts_with(STATEMENT_TOOL_PREFIX) {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "authensor.{function}(): tool {tool:?} is reserved: the {STATEMENT_TOOL_PREFIX}* tools are the decisions on agents' statements, and only those statements write their receipts"
            ),
            Some(
                "Name the tool otherwise (for example \"db.query\"). authensor.check() and authensor.explain() decide sql.* tools without a receipt, to try a policy's rules; an approved statement runs when the agent sends it again.",
            ),
        )
    }
}

/// Refuses args and context whose jsonb is larger than the limit, before
/// anything reads them. The size is that of the stored jsonb, uncompressed.
fn check_size(function: &str, args: Option<JsonbArg>, context: Option<JsonbArg>) {
    let limit = MAX_ARGS_BYTES.get().max(1) as usize;
    let size: usize = [args, context]
        .into_iter()
        .flatten()
        .map(JsonbArg::raw_size)
        .sum();
    if size > limit {
        raise(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!(
                "authensor.{function}(): args and context exceed authensor.max_args_bytes ({limit} bytes)"
            ),
            Some(
                "Pass only what the policy needs to decide, or have the operator raise authensor.max_args_bytes.",
            ),
        )
    }
}

fn version_of(active: &ActivePolicy) -> i32 {
    active.version
}

/// The args or context object, numbers exact (see `JsonbArg::object`).
fn json_object(function: &str, name: &str, value: Option<JsonbArg>) -> Value {
    let Some(value) = value else {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("authensor.{function}(): {name} must not be NULL"),
            Some("Omit the argument or pass '{}' for none."),
        )
    };
    value.object().unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "authensor.{function}(): {name} must be a JSON object, not {}",
                value.type_name()
            ),
            Some(if name == "args" {
                "Pass the tool's arguments as an object, for example '{\"to\": \"a@example.com\"}'."
            } else {
                "Pass the context as an object, for example '{\"agent\": \"support-bot\"}'."
            }),
        )
    })
}

fn now() -> TimestampWithTimeZone {
    TimestampWithTimeZone::try_from(backend::now_micros())
        .unwrap_or_else(|_| internal_error("the clock is out of range"))
}

fn internal_error(message: impl Into<String>) -> ! {
    raise(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, message, None)
}

impl Outcome {
    /// The `authensor.decision` row, built in one step from the row type the
    /// function is declared to return (one type-cache lookup, no lookup by
    /// name, no re-forming per field). The order is the order of the type's columns in sql/bootstrap.sql.
    fn into_row(self, fcinfo: FunctionCallInfo) -> DecisionRow {
        let values = [
            self.decision.action.as_str().into(),
            self.decision.reason.into(),
            self.decision.layer.as_str().into(),
            self.decision.rule_id.into(),
            self.tenant_id.into(),
            self.platform_version.into(),
            self.tenant_version.into(),
            self.receipt_id.into(),
            self.decided_at.into(),
            self.approval_id.into(),
        ];
        result_row(fcinfo, values).unwrap_or_else(|error| match error {
            RowError::NotComposite => {
                internal_error("the function does not return authensor.decision")
            }
            RowError::Mismatch(e) => internal_error(format!("could not build the decision: {e}")),
        })
    }

    fn into_json(self) -> serde_json::Value {
        let receipt = self.receipt_id.map(|id| {
            serde_json::json!({
                "id": id.to_string(),
                "tenantId": self.tenant_id,
                "tool": self.tool,
                "createdAt": self.decided_at,
            })
        });
        let approval = self
            .approval_id
            .map(|id| serde_json::json!({ "id": id.to_string() }));
        serde_json::json!({
            "action": self.decision.action.as_str(),
            "reason": self.decision.reason,
            "layer": self.decision.layer.as_str(),
            "rule": self.decision.rule_id,
            "tenantId": self.tenant_id,
            "platformVersion": self.platform_version,
            "tenantVersion": self.tenant_version,
            "receipt": receipt,
            "approval": approval,
        })
    }
}
