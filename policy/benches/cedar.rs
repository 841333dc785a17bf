//! The policy core against Cedar (`cedar-policy`) on equivalent policy sets of
//! 10, 100, 1,000 and 10,000 rules, deciding the same requests.
//!
//! Equivalence, rule by rule (authensor → Cedar):
//!
//! - platform `system.*` → block: `forbid` when `context.tool like "system.*"`
//!   and not `like "system.*.*"` (exactly one more segment, as the glob means);
//! - platform `shell.execute` → block: `forbid` on `Action::"shell.execute"`;
//! - tenant `admin.*` → block: `forbid`, as for `system.*`;
//! - tenant `tool.N.run` → allow when `args.amount < 1000`: `permit` on
//!   `Action::"tool.N.run"` when `context.args.amount < 1000`;
//! - the tenant's `default: block` and the final platform block: Cedar's
//!   default deny, and `forbid` overriding `permit`.
//!
//! Every rule names a different tool, so authensor's first match and Cedar's
//! "some permit and no forbid" agree on every request; before timing a
//! request, the benchmark asserts that both engines decide it the same way.
//! Cedar has no `escalate`, so the policies use allow and block only.
//!
//! Both sides get a request built ahead of time (authensor: parsed JSON args
//! and context; Cedar: a `Request` with its `Context`), so only the decision is
//! timed. Published anchor: Cedar reports 4–11 µs median per authorization
//! (Cutler et al., OOPSLA 2024).

use std::hint::black_box;

use authensor_policy::Value;
use authensor_policy::{Action, Policy, compile, decide};
use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::json;

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// Rules in the tenant policy besides the per-tool permits.
const FIXED_TENANT_RULES: usize = 1;

const PLATFORM_YAML: &str = r#"rules:
  - tool: "system.*"
    action: block
  - tool: shell.execute
    action: block
"#;

const PLATFORM_CEDAR: &str = r#"
forbid (principal, action, resource)
  when { context.tool like "system.*" && !(context.tool like "system.*.*") };
forbid (principal, action == Action::"shell.execute", resource);
"#;

/// The tenant policy of `rules` rules, as authensor YAML and as Cedar.
fn tenant_policies(rules: usize) -> (String, String) {
    let mut yaml =
        String::from("default: block\nrules:\n  - tool: \"admin.*\"\n    action: block\n");
    let mut cedar = String::from(
        "forbid (principal, action, resource)\n  when { context.tool like \"admin.*\" && !(context.tool like \"admin.*.*\") };\n",
    );
    for n in 0..rules - FIXED_TENANT_RULES {
        yaml.push_str(&format!(
            "  - tool: tool.{n}.run\n    action: allow\n    when:\n      args.amount:\n        lt: 1000\n"
        ));
        cedar.push_str(&format!(
            "permit (principal, action == Action::\"tool.{n}.run\", resource)\n  when {{ context.args.amount < 1000 }};\n"
        ));
    }
    (yaml, cedar)
}

/// One request in both engines' terms.
struct Case {
    name: &'static str,
    tool: String,
    args: Value,
    context: Value,
    cedar: Request,
    allowed: bool,
}

fn case(name: &'static str, tool: String, amount: i64, allowed: bool) -> Case {
    let args = json!({ "amount": amount });
    let context = json!({ "tenantId": "tenant-a" });
    let cedar_context =
        Context::from_json_value(json!({ "tool": tool, "args": args.clone() }), None)
            .expect("valid Cedar context");
    let uid = |text: String| text.parse::<EntityUid>().expect("valid entity uid");
    let cedar = Request::new(
        uid(r#"Agent::"agent-1""#.to_owned()),
        uid(format!("Action::{tool:?}")),
        uid(r#"Tenant::"tenant-a""#.to_owned()),
        cedar_context,
        None,
    )
    .expect("valid Cedar request");
    Case {
        name,
        tool,
        args: Value::from(args),
        context: Value::from(context),
        cedar,
        allowed,
    }
}

/// Allowed by a permit near the end, denied by its condition, blocked by the platform.
fn cases(rules: usize) -> Vec<Case> {
    let near_the_end = format!("tool.{}.run", rules - FIXED_TENANT_RULES - 2);
    vec![
        case("allow", near_the_end.clone(), 10, true),
        case("condition_false", near_the_end, 5000, false),
        case("platform_block", "system.exec".to_owned(), 10, false),
    ]
}

struct Engines {
    platform: Policy,
    tenant: Policy,
    cedar: PolicySet,
    authorizer: Authorizer,
    entities: Entities,
}

impl Engines {
    fn new(rules: usize) -> Self {
        let (yaml, cedar) = tenant_policies(rules);
        let tenant = compile(&yaml).expect("tenant policy compiles");
        assert_eq!(tenant.rule_count(), rules);
        let cedar: PolicySet = format!("{PLATFORM_CEDAR}{cedar}")
            .parse()
            .expect("Cedar policies parse");
        assert_eq!(cedar.policies().count(), rules + 2);
        Engines {
            platform: compile(PLATFORM_YAML).expect("platform policy compiles"),
            tenant,
            cedar,
            authorizer: Authorizer::new(),
            entities: Entities::empty(),
        }
    }

    fn authensor_allows(&self, case: &Case) -> bool {
        let request = authensor_policy::Request {
            tool: &case.tool,
            args: &case.args,
            context: &case.context,
            tenant_id: "tenant-a",
        };
        decide(
            Some(&self.platform),
            Some(&self.tenant),
            black_box(&request),
        )
        .action
            == Action::Allow
    }

    fn cedar_allows(&self, case: &Case) -> bool {
        let response =
            self.authorizer
                .is_authorized(black_box(&case.cedar), &self.cedar, &self.entities);
        response.decision() == Decision::Allow
    }
}

fn authensor_vs_cedar(c: &mut Criterion) {
    for rules in SIZES {
        let engines = Engines::new(rules);
        for case in cases(rules) {
            assert_eq!(
                engines.authensor_allows(&case),
                case.allowed,
                "authensor, {}",
                case.name
            );
            assert_eq!(
                engines.cedar_allows(&case),
                case.allowed,
                "Cedar, {}",
                case.name
            );
            let mut group = c.benchmark_group(format!("vs_cedar_{}", case.name));
            // Cedar checks every policy on every request: at 10,000 rules one
            // call takes milliseconds, so fewer samples keep the run short.
            group.sample_size(match rules {
                10_000 => 10,
                1_000 => 20,
                _ => 50,
            });
            group.bench_function(BenchmarkId::new("authensor", rules), |b| {
                b.iter(|| engines.authensor_allows(&case))
            });
            group.bench_function(BenchmarkId::new("cedar", rules), |b| {
                b.iter(|| engines.cedar_allows(&case))
            });
            group.finish();
        }
    }
}

criterion_group!(benches, authensor_vs_cedar);
criterion_main!(benches);
