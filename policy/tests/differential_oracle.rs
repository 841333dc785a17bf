//! The differential oracle: random policy pairs (platform and tenant) and
//! requests, each decided by the engine and by the reference evaluator of
//! tests/oracle/reference.rs, written from docs/language.md; every decision
//! must agree exactly: action, layer, rule_id and reason.
//!
//! `AUTHENSOR_ORACLE_CASES` sets the number of policy pairs (2,000 by
//! default, each with 1 to 8 requests), `AUTHENSOR_ORACLE_SEED` the seed (a
//! fresh one by default, printed); `AUTHENSOR_ORACLE_STATS=FILE` writes the
//! counts as JSON. proptest shrinks a disagreement to a minimal case and
//! keeps its seed in differential_oracle.regressions beside this file, to
//! try first next time; check that file in with the fix, and add the
//! minimal case as a named test.

mod oracle;

use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use proptest::test_runner::{Config, FileFailurePersistence, RngSeed, TestRunner};

use oracle::Tally;

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|text| {
        text.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

#[test]
fn engine_agrees_with_reference() {
    let cases = env_number("AUTHENSOR_ORACLE_CASES").unwrap_or(2_000);
    let seed = env_number("AUTHENSOR_ORACLE_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64
    });
    println!(
        "oracle: {cases} policy pairs, seed {seed} (AUTHENSOR_ORACLE_SEED={seed} repeats this run)"
    );
    let config = Config {
        cases: u32::try_from(cases).expect("at most 2^32 cases"),
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        source_file: Some(file!()),
        max_shrink_iters: 100_000,
        ..Config::default()
    };
    let tally = Mutex::new(Tally::default());
    let started = Instant::now();
    let result = TestRunner::new(config).run(&oracle::generate::case(), |case| {
        let decisions = oracle::check(&case).map_err(proptest::test_runner::TestCaseError::fail)?;
        tally.lock().unwrap().add(&case, &decisions);
        Ok(())
    });
    let tally = tally.into_inner().unwrap();
    let mut stats = tally.to_json();
    stats["seed"] = seed.into();
    stats["seconds"] = started.elapsed().as_secs_f64().into();
    println!("oracle: {stats}");
    if let Ok(path) = std::env::var("AUTHENSOR_ORACLE_STATS") {
        std::fs::write(&path, stats.to_string()).unwrap_or_else(|error| panic!("{path}: {error}"));
    }
    if let Err(failure) = result {
        panic!("the engine and the reference disagree (seed {seed}):\n{failure}");
    }
    assert!(
        tally.rule_share() > 0.5,
        "rules decided only {:.1}% of the decisions: the generator no longer hits the rules",
        100.0 * tally.rule_share()
    );
}
