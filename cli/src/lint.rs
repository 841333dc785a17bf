//! `authensor lint`: the errors publishing would raise, and the warnings
//! `authensor.validate_policy()` gives.

use authensor_policy::lint;

use crate::args::Args;
use crate::source::{compile_file, platform};
use crate::{Outcome, Trouble};

pub fn run(arguments: Vec<String>) -> Result<Outcome, Trouble> {
    let args = Args::parse(arguments, &["--platform"], &["--deny-warnings"])?;
    if args.positional.is_empty() {
        return Err(Trouble("lint needs at least one FILE".to_owned()));
    }
    let platform = platform(args.option("--platform"))?;
    let (mut errors, mut warnings) = (0, 0);
    for path in &args.positional {
        let Some(document) = compile_file(path)? else {
            errors += 1;
            continue;
        };
        let found = lint(
            &document.policy,
            platform.as_ref().map(|platform| &platform.policy),
        );
        for warning in &found {
            outln!(
                "{path}: warning {} at {}: {}",
                warning.code.as_str(),
                warning.path,
                warning.message
            );
        }
        warnings += found.len();
    }
    outln!(
        "{} files: {errors} with errors, {warnings} warnings",
        args.positional.len()
    );
    let fail = errors > 0 || (warnings > 0 && args.flag("--deny-warnings"));
    Ok(if fail {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
