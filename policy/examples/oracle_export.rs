//! Writes cases of the differential oracle (tests/oracle) as JSON lines for
//! the database leg, tests/oracle/run.sh, which replays them through
//! `authensor.check()` and the PL/pgSQL baseline. Each case is checked here
//! first: the engine must agree with the reference evaluator.
//!
//! Usage: oracle_export POLICY_PAIRS SEED OUT.jsonl
//! Prints the counts of tests/oracle/mod.rs's Tally as JSON.

#[path = "../tests/oracle/mod.rs"]
mod oracle;

use std::io::Write;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::json;

use oracle::model::{Case, Cond, CondEntry, Op, PolicyAst, Test, TestEntry};
use oracle::{Tally, reference};

/// Whether the PL/pgSQL baseline shares the language's semantics for the
/// case: its header lists `matches` in PostgreSQL's regex dialect, and it
/// reads paths with PostgreSQL's `#>`, for which `01` indexes an array.
fn baseline_comparable(case: &Case) -> bool {
    fn test_ok(test: &Test) -> bool {
        test.0.iter().all(|entry| match entry {
            TestEntry::Op(Op::Matches(_)) => false,
            TestEntry::Op(_) => true,
            TestEntry::All(items) | TestEntry::Any(items) => items.iter().all(test_ok),
            TestEntry::Not(inner) => test_ok(inner),
        })
    }
    fn cond_ok(cond: &Cond) -> bool {
        cond.0.iter().all(|entry| match entry {
            CondEntry::Path(path, test) => {
                path.split('.')
                    .all(|key| !key.starts_with('0') || key == "0")
                    && test_ok(test)
            }
            CondEntry::All(items) | CondEntry::Any(items) => items.iter().all(cond_ok),
            CondEntry::Not(inner) => cond_ok(inner),
        })
    }
    let policy_ok = |policy: &Option<PolicyAst>| {
        policy.as_ref().is_none_or(|policy| {
            policy
                .rules
                .iter()
                .all(|rule| rule.when.as_ref().is_none_or(cond_ok))
        })
    };
    policy_ok(&case.platform) && policy_ok(&case.tenant)
}

fn decision_json(decision: &reference::Decision) -> serde_json::Value {
    json!({
        "action": decision.action.name(),
        "layer": decision.layer,
        "rule_id": decision.rule_id,
        "reason": decision.reason,
    })
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [pairs, seed, out] = arguments.as_slice() else {
        eprintln!("usage: oracle_export POLICY_PAIRS SEED OUT.jsonl");
        std::process::exit(2);
    };
    let pairs: u64 = pairs.parse().expect("POLICY_PAIRS is a number");
    let seed: u64 = seed.parse().expect("SEED is a number");
    let mut runner = TestRunner::new(Config {
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    });
    let strategy = oracle::generate::case();
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).expect("OUT can be written"));
    let mut tally = Tally::default();
    for _ in 0..pairs {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        let decisions = oracle::check(&case).unwrap_or_else(|disagreement| {
            eprintln!("the engine and the reference disagree:\n{disagreement}");
            std::process::exit(1);
        });
        tally.add(&case, &decisions);
        let requests: Vec<_> = case
            .requests
            .iter()
            .zip(&decisions)
            .map(|(request, decision)| {
                json!({
                    "tool": request.tool,
                    "args": request.args_text(),
                    "context": request.context.to_text(),
                    "expected": decision_json(decision),
                })
            })
            .collect();
        let line = json!({
            "platform": case.platform.as_ref().map(PolicyAst::to_source),
            "tenant": case.tenant.as_ref().map(PolicyAst::to_source),
            "tenant_id": case.tenant_id,
            "baseline": baseline_comparable(&case),
            "requests": requests,
        });
        writeln!(file, "{line}").expect("OUT can be written");
    }
    file.flush().expect("OUT can be written");
    println!("{}", tally.to_json());
}
