//! Arbitrary bytes as policy source: compile (under default or tight limits,
//! by the first byte) and, when it compiles, decide a few requests.
#![no_main]

use authensor_fuzz::{checks, harness, seeds};
use libfuzzer_sys::fuzz_target;

/// Each seed policy, to compile under the default limits (an even first byte).
fn seed_inputs() -> Vec<Vec<u8>> {
    seeds::policies()
        .iter()
        .map(|source| format!("\n{source}").into_bytes())
        .collect()
}

fuzz_target!(init: harness::init("compile_bytes", seed_inputs, checks::warm_up), |data: &[u8]| {
    harness::run("compile_bytes", data, |data| {
        let Some((&choice, source)) = data.split_first() else { return };
        let source = String::from_utf8_lossy(source);
        checks::compile_and_decide(&source, &checks::limits(choice));
    });
});
