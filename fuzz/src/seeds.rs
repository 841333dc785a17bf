//! The valid (and a few refused) policies the targets start from: the
//! fixtures and every policy of the language reference's examples, read from
//! tests/fixtures at build time so that they live once.

use std::sync::OnceLock;

const FIXTURES: [&str; 3] = [
    include_str!("../../tests/fixtures/platform.yaml"),
    include_str!("../../tests/fixtures/mail-and-reads.yaml"),
    include_str!("../../tests/fixtures/no-shell.yaml"),
];
const EXAMPLES: &str = include_str!("../../tests/fixtures/language-examples.yaml");

/// Every seed policy's source.
pub fn policies() -> &'static [String] {
    static POLICIES: OnceLock<Vec<String>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let mut sources: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
        let examples: Vec<serde_yaml::Value> =
            serde_yaml::from_str(EXAMPLES).expect("the language examples are YAML");
        for example in &examples {
            for layer in ["platform", "tenant"] {
                if let Some(source) = example.get(layer).and_then(|s| s.as_str()) {
                    sources.push(source.to_string());
                }
            }
        }
        sources
    })
}

/// The calls of the language examples: tool, args and context as JSON text.
pub fn calls() -> &'static [(String, String, String)] {
    static CALLS: OnceLock<Vec<(String, String, String)>> = OnceLock::new();
    CALLS.get_or_init(|| {
        let examples: Vec<serde_yaml::Value> =
            serde_yaml::from_str(EXAMPLES).expect("the language examples are YAML");
        let text = |call: &serde_yaml::Value, key: &str| {
            call.get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("{}")
                .to_string()
        };
        examples
            .iter()
            .filter_map(|example| example.get("calls")?.as_sequence())
            .flatten()
            .map(|call| {
                (
                    text(call, "tool"),
                    text(call, "args"),
                    text(call, "context"),
                )
            })
            .collect()
    })
}
