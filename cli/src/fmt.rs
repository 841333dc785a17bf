//! `authensor fmt`: rewrites files in the canonical layout, or with
//! `--check` only says which are not in it.

use std::io::Read;

use authensor_policy::format;

use crate::args::Args;
use crate::source::{print_error, read};
use crate::{Outcome, Trouble};

pub fn run(arguments: Vec<String>) -> Result<Outcome, Trouble> {
    let args = Args::parse(arguments, &[], &["--check"])?;
    if args.positional.is_empty() {
        let mut source = String::new();
        std::io::stdin()
            .read_to_string(&mut source)
            .map_err(|error| Trouble(format!("stdin: {error}")))?;
        return Ok(match format(&source) {
            Ok(formatted) => {
                out!("{formatted}");
                Outcome::Clean
            }
            Err(error) => {
                print_error("<stdin>", &error);
                Outcome::Findings
            }
        });
    }
    let mut findings = false;
    for path in &args.positional {
        let source = read(path)?;
        let formatted = match format(&source) {
            Ok(formatted) => formatted,
            Err(error) => {
                print_error(path, &error);
                findings = true;
                continue;
            }
        };
        if formatted == source {
            continue;
        }
        if args.flag("--check") {
            outln!("{path}: not in the canonical layout");
            findings = true;
        } else {
            replace(path, &formatted).map_err(|error| Trouble(format!("{path}: {error}")))?;
            outln!("{path}: formatted");
        }
    }
    Ok(if findings {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// Writes `text` over the file `path` names in one step: to a new file
/// beside it, with its permissions, then renamed over it. An interrupted run
/// leaves the old policy whole, never half of the new one; a symbolic link
/// stays one, to the formatted file.
fn replace(path: &str, text: &str) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path)?;
    let permissions = std::fs::metadata(&target)?.permissions();
    let mut name = target.file_name().unwrap_or_default().to_owned();
    name.push(format!(".authensor-fmt-{}", std::process::id()));
    let temporary = target.with_file_name(name);
    let written = std::fs::write(&temporary, text)
        .and_then(|()| std::fs::set_permissions(&temporary, permissions))
        .and_then(|()| std::fs::rename(&temporary, &target));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}
