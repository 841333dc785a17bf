//! `authensor test`: each file's `tests:`, decided as publishing decides
//! them, in a table.

use authensor_policy::{TestOutcome, UnderTest, run_tests};

use crate::args::Args;
use crate::source::{compile_file, platform};
use crate::{Outcome, Trouble};

pub fn run(arguments: Vec<String>) -> Result<Outcome, Trouble> {
    let args = Args::parse(arguments, &["--platform", "--tenant"], &[])?;
    if args.positional.is_empty() {
        return Err(Trouble("test needs at least one FILE".to_owned()));
    }
    let platform = platform(args.option("--platform"))?;
    let tenant = args.tenant()?;
    let (mut passed, mut failed, mut broken) = (0, 0, 0);
    for path in &args.positional {
        let Some(document) = compile_file(path)? else {
            broken += 1;
            continue;
        };
        let under_test = UnderTest::Tenant {
            policy: &document.policy,
            platform: platform.as_ref().map(|platform| &platform.policy),
        };
        let outcomes = run_tests(&document.tests, under_test, tenant);
        print_table(path, &outcomes);
        let passing = outcomes.iter().filter(|outcome| outcome.passed()).count();
        passed += passing;
        failed += outcomes.len() - passing;
    }
    outln!("{passed} passed, {failed} failed, {broken} files with errors");
    Ok(if failed + broken > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// One row per case: the file, the case, what it expects and what it got.
fn print_table(path: &str, outcomes: &[TestOutcome]) {
    let rows: Vec<[String; 6]> = outcomes
        .iter()
        .map(|outcome| {
            let (case, decision) = (outcome.case, &outcome.decision);
            let expected = match &case.rule {
                Some(rule) => format!("{} by rule {rule:?}", case.expect),
                None => case.expect.to_string(),
            };
            let got = format!("{} by {}", decision.action, decision.decided_by());
            let result = if outcome.passed() { "ok" } else { "FAIL" };
            [
                path.to_owned(),
                format!("tests[{}]", case.index),
                case.tool.clone(),
                expected,
                got,
                result.to_owned(),
            ]
        })
        .collect();
    let header = ["file", "test", "tool", "expected", "got", "result"].map(str::to_owned);
    let mut widths = header.clone().map(|cell| cell.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        outln!("{}", cells.join("  ").trim_end());
    }
}
