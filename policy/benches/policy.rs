//! Compile and evaluation costs for generated policies of growing size.

use std::fmt::Write;
use std::hint::black_box;

use authensor_policy::bench_support::{PLATFORM_POLICY, generated_policy, tool_near_the_end};
use authensor_policy::{Action, Request, Value, compile, decide};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const SIZES: [usize; 3] = [10, 1_000, 10_000];

fn json(text: &str) -> Value {
    Value::from_json(text).expect("valid JSON")
}

fn compile_cold(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    for size in SIZES {
        let source = generated_policy(size);
        group.bench_with_input(BenchmarkId::from_parameter(size), &source, |b, source| {
            b.iter(|| compile(black_box(source)).expect("compiles"));
        });
    }
    group.finish();
}

fn evaluate_near_the_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("evaluate");
    let args = json(r#"{"amount": 1}"#);
    let context = json(r#"{"user": "u1"}"#);
    for size in SIZES {
        let policy = compile(&generated_policy(size)).expect("compiles");
        let tool = tool_near_the_end(size);
        let request = Request {
            tool: &tool,
            args: &args,
            context: &context,
            tenant_id: "tenant-a",
        };
        assert_eq!(
            policy.evaluate(&request).map(|v| v.action),
            Some(Action::Allow)
        );
        group.bench_with_input(BenchmarkId::from_parameter(size), &request, |b, request| {
            b.iter(|| {
                policy
                    .evaluate(black_box(request))
                    .map(|verdict| verdict.action)
            });
        });
    }
    group.finish();
}

/// 50 rules for any tool, each with `all`, `any` and `not` in both its
/// condition map and its operator maps, none of which matches: every rule's
/// conditions are evaluated.
fn evaluate_combinators(c: &mut Criterion) {
    let mut source = String::from("rules:\n");
    for n in 0..50 {
        let _ = writeln!(
            source,
            "  - action: block\n    when:\n      any:\n        - args.a: {{not: {{equals: v{n}}}}}\n          args.b: {{all: [{{gt: 1}}, {{lt: 5}}], any: [{{eq: 9}}, {{in: [1, 2, 3]}}]}}\n        - not: {{args.c: {{any: [{{eq: 1}}, {{eq: 2}}, {{not: {{exists: true}}}}]}}}}"
        );
    }
    let policy = compile(&source).expect("compiles");
    let args = json(r#"{"a": "v7", "b": 4, "c": 2}"#);
    let context = json("{}");
    let request = Request {
        tool: "t",
        args: &args,
        context: &context,
        tenant_id: "tenant-a",
    };
    assert_eq!(policy.evaluate(&request), None);
    c.bench_function("evaluate/combinators", |b| {
        b.iter(|| {
            policy
                .evaluate(black_box(&request))
                .map(|verdict| verdict.action)
        });
    });
}

fn decide_two_layers(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    let platform = compile(PLATFORM_POLICY).expect("compiles");
    let args = json(r#"{"amount": 1}"#);
    let context = json("{}");
    for size in SIZES {
        let tenant = compile(&generated_policy(size)).expect("compiles");
        let tool = tool_near_the_end(size);
        let request = Request {
            tool: &tool,
            args: &args,
            context: &context,
            tenant_id: "tenant-a",
        };
        group.bench_with_input(BenchmarkId::from_parameter(size), &request, |b, request| {
            b.iter(|| decide(Some(&platform), Some(&tenant), black_box(request)));
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    compile_cold,
    evaluate_near_the_end,
    evaluate_combinators,
    decide_two_layers
);
criterion_main!(benches);
