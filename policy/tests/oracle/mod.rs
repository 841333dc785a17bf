//! The differential oracle: generated policy pairs and requests, decided by
//! the engine and by a reference evaluator written from docs/language.md.
//! Used by tests/differential_oracle.rs and by examples/oracle_export.rs (the cases the
//! database leg, tests/oracle/run.sh, replays through check()).
#![allow(dead_code)]

pub mod decimal;
pub mod generate;
pub mod model;
pub mod reference;

use authensor_policy::{Policy, Request, Value, compile};

use model::{Act, Case, PolicyAst};
use reference::{Call, Decision};

fn engine_policy(policy: &Option<PolicyAst>) -> Result<Option<Policy>, String> {
    policy
        .as_ref()
        .map(|ast| {
            let source = ast.to_source();
            compile(&source)
                .map_err(|error| format!("the engine refused a valid policy: {error}\n{source}"))
        })
        .transpose()
}

fn act(action: authensor_policy::Action) -> Act {
    match action.as_str() {
        "allow" => Act::Allow,
        "escalate" => Act::Escalate,
        _ => Act::Block,
    }
}

/// The engine's decisions on the case's requests, in the reference's shape.
pub fn engine_decisions(case: &Case) -> Result<Vec<Decision>, String> {
    let platform = engine_policy(&case.platform)?;
    let tenant = engine_policy(&case.tenant)?;
    case.requests
        .iter()
        .map(|request| {
            let args = Value::from_json(&request.args_text()).map_err(|e| e.to_string())?;
            let context =
                Value::from_json(&request.context.to_text()).map_err(|e| e.to_string())?;
            let request = Request {
                tool: &request.tool,
                args: &args,
                context: &context,
                tenant_id: &case.tenant_id,
            };
            let decision = authensor_policy::decide(platform.as_ref(), tenant.as_ref(), &request);
            Ok(Decision {
                action: act(decision.action),
                layer: decision.layer.as_str(),
                rule_id: decision.rule_id,
                reason: decision.reason,
            })
        })
        .collect()
}

pub fn reference_decisions(case: &Case) -> Vec<Decision> {
    case.requests
        .iter()
        .map(|request| {
            let call = Call::new(request, &case.tenant_id);
            reference::decide(case.platform.as_ref(), case.tenant.as_ref(), &call)
        })
        .collect()
}

/// The case as a reader wants it when the two disagree.
pub fn describe(case: &Case, index: usize, engine: &Decision, expected: &Decision) -> String {
    let source = |policy: &Option<PolicyAst>| {
        policy
            .as_ref()
            .map_or("(none)".to_string(), PolicyAst::to_source)
    };
    let request = &case.requests[index];
    format!(
        "platform: {}\ntenant: {}\ntenant_id: {:?}\ntool: {:?}\nargs: {}\ncontext: {}\nengine:    {engine:?}\nreference: {expected:?}",
        source(&case.platform),
        source(&case.tenant),
        case.tenant_id,
        request.tool,
        request.args_text(),
        request.context.to_text(),
    )
}

/// Decides the case both ways; the reference's decisions when all agree.
pub fn check(case: &Case) -> Result<Vec<Decision>, String> {
    let engine = engine_decisions(case)?;
    let expected = reference_decisions(case);
    for (index, (got, want)) in engine.iter().zip(&expected).enumerate() {
        if got != want {
            return Err(describe(case, index, got, want));
        }
    }
    Ok(expected)
}

/// How decisions came about, to show that rules decide often: the final
/// decider, and each layer's own verdict.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub cases: u64,
    pub decisions: u64,
    /// platform rule, platform default, tenant rule, tenant default, fail-closed
    pub decided_by: [u64; 5],
    /// per layer: a rule, the default, no opinion, no policy
    pub platform_verdicts: [u64; 4],
    pub tenant_verdicts: [u64; 4],
}

pub const DECIDERS: [&str; 5] = [
    "platform rule",
    "platform default",
    "tenant rule",
    "tenant default",
    "fail-closed",
];
pub const VERDICTS: [&str; 4] = ["rule", "default", "no opinion", "no policy"];

impl Tally {
    pub fn add(&mut self, case: &Case, decisions: &[Decision]) {
        self.cases += 1;
        for (request, decision) in case.requests.iter().zip(decisions) {
            self.decisions += 1;
            let slot = match (decision.layer, decision.rule_id.is_some()) {
                ("platform", true) => 0,
                ("platform", false) => 1,
                ("tenant", true) => 2,
                ("tenant", false) => 3,
                _ => 4,
            };
            self.decided_by[slot] += 1;
            let call = Call::new(request, &case.tenant_id);
            let kind = |policy: &Option<PolicyAst>| match policy {
                None => 3,
                Some(policy) => match reference::verdict(policy, &call) {
                    Some(verdict) if verdict.rule_id.is_some() => 0,
                    Some(_) => 1,
                    None => 2,
                },
            };
            self.platform_verdicts[kind(&case.platform)] += 1;
            self.tenant_verdicts[kind(&case.tenant)] += 1;
        }
    }

    /// The share of decisions a rule made.
    pub fn rule_share(&self) -> f64 {
        (self.decided_by[0] + self.decided_by[2]) as f64 / self.decisions.max(1) as f64
    }

    pub fn to_json(&self) -> serde_json::Value {
        let named = |names: &[&str], counts: &[u64]| {
            serde_json::Value::Object(
                names
                    .iter()
                    .zip(counts)
                    .map(|(name, count)| (name.to_string(), (*count).into()))
                    .collect(),
            )
        };
        serde_json::json!({
            "cases": self.cases,
            "decisions": self.decisions,
            "decided_by": named(&DECIDERS, &self.decided_by),
            "platform_verdicts": named(&VERDICTS, &self.platform_verdicts),
            "tenant_verdicts": named(&VERDICTS, &self.tenant_verdicts),
            "rule_share": self.rule_share(),
        })
    }
}
