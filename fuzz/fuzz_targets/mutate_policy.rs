//! Structure-aware mutations of valid policies: a seed policy (the fixtures
//! and the language reference's examples) changed by the operations the
//! input chooses, compiled and decided as in compile_bytes.
#![no_main]

use std::sync::OnceLock;

use authensor_fuzz::bytes::Bytes;
use authensor_fuzz::tree::{self, Node};
use authensor_fuzz::{checks, harness, seeds};
use libfuzzer_sys::fuzz_target;

fn trees() -> &'static [Node] {
    static TREES: OnceLock<Vec<Node>> = OnceLock::new();
    TREES.get_or_init(|| {
        seeds::policies()
            .iter()
            .filter_map(|source| serde_yaml::from_str::<serde_yaml::Value>(source).ok())
            .map(|value| Node::from_yaml(&value))
            .collect()
    })
}

/// Each seed tree unchanged, under either limits.
fn seed_inputs() -> Vec<Vec<u8>> {
    (0..trees().len() as u8)
        .flat_map(|n| [vec![0, n], vec![1, n]])
        .collect()
}

fuzz_target!(init: harness::init("mutate_policy", seed_inputs, checks::warm_up), |data: &[u8]| {
    harness::run("mutate_policy", data, |data| {
        let mut bytes = Bytes::new(data);
        let limits = checks::limits(bytes.byte());
        let tree = tree::mutate(bytes.pick(trees()), &mut bytes);
        checks::compile_and_decide(&tree.emit(), &limits);
    });
});
