//! Every warning that a rule never decides is right: for random policies,
//! no call over a small universe of tool names is decided by a rule lint
//! says never decides.

use authensor_policy::{Request, Value, WarningCode, compile, decide, lint};

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

const PATTERN_SEGMENTS: [&str; 8] = ["a", "b", "*", "**", "a*", "*b", "x", "a*b"];
const NAME_SEGMENTS: [&str; 6] = ["a", "b", "ab", "ba", "x", "aab"];
const ACTIONS: [&str; 3] = ["allow", "escalate", "block"];

fn random_policy(random: &mut Lcg, prefix: &str) -> String {
    let mut source = String::from("rules:\n");
    for index in 0..1 + random.next(5) {
        let patterns: Vec<String> = (0..1 + random.next(2))
            .map(|_| {
                let segments: Vec<&str> = (0..1 + random.next(3))
                    .map(|_| PATTERN_SEGMENTS[random.next(PATTERN_SEGMENTS.len())])
                    .collect();
                format!("\"{}\"", segments.join("."))
            })
            .collect();
        let tool = match random.next(5) {
            0 => String::new(),
            _ => format!(", tool: [{}]", patterns.join(", ")),
        };
        let when = match random.next(3) {
            0 => ", when: {args.k: {exists: true}}",
            _ => "",
        };
        let action = ACTIONS[random.next(3)];
        source.push_str(&format!(
            "  - {{id: {prefix}{index}, action: {action}{tool}{when}}}\n"
        ));
    }
    if random.next(3) == 0 {
        source.push_str(&format!("default: {}\n", ACTIONS[random.next(3)]));
    }
    source
}

fn names() -> Vec<String> {
    let mut names: Vec<String> = NAME_SEGMENTS.iter().map(|s| s.to_string()).collect();
    for depth in 0..2 {
        let previous: Vec<String> = names.clone();
        for name in previous.iter().filter(|n| n.matches('.').count() == depth) {
            for segment in NAME_SEGMENTS {
                names.push(format!("{name}.{segment}"));
            }
        }
    }
    names
}

#[test]
fn a_rule_lint_says_never_decides_never_decides() {
    let mut random = Lcg(7);
    let names = names();
    let calls = [
        Value::from_json("{}").unwrap(),
        Value::from_json(r#"{"k": 1}"#).unwrap(),
    ];
    let context = Value::empty_object();
    let mut checked = 0;
    for _ in 0..500 {
        let platform_source = random_policy(&mut random, "p");
        let tenant_source = random_policy(&mut random, "t");
        let platform = compile(&platform_source).unwrap();
        let tenant = compile(&tenant_source).unwrap();
        for warning in lint(&tenant, Some(&platform)) {
            if !matches!(
                warning.code,
                WarningCode::ShadowedRule | WarningCode::OverriddenByPlatform
            ) {
                continue;
            }
            checked += 1;
            for name in &names {
                for args in &calls {
                    let request = Request {
                        tool: name,
                        args,
                        context: &context,
                        tenant_id: "t",
                    };
                    let decision = decide(Some(&platform), Some(&tenant), &request);
                    assert_ne!(
                        decision.rule_id.as_deref(),
                        Some(warning.rule.as_str()),
                        "{warning:?} but it decides {name} {args:?}\nplatform:\n{platform_source}\ntenant:\n{tenant_source}"
                    );
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}
