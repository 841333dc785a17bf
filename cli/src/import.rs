//! `authensor import`: an Authensor JSON policy, as a policy document on
//! standard output, with notes on standard error; nothing is written.

use authensor_policy::{IMPORT_FORMATS, import_authensor};

use crate::args::Args;
use crate::source::{print_error, read};
use crate::{Outcome, Trouble};

pub fn run(arguments: Vec<String>) -> Result<Outcome, Trouble> {
    let args = Args::parse(arguments, &["--format"], &[])?;
    let format = args.option("--format").unwrap_or("authensor");
    if !IMPORT_FORMATS.contains(&format) {
        return Err(Trouble(format!(
            "unknown import format {format:?} (known: {})",
            IMPORT_FORMATS.join(", ")
        )));
    }
    let [path] = args.positional.as_slice() else {
        return Err(Trouble("import takes one FILE".to_owned()));
    };
    let source = read(path)?;
    Ok(match import_authensor(&source) {
        Ok(imported) => {
            for note in &imported.notes {
                eprintln!("{path}: note: {note}");
            }
            print!("{}", imported.yaml);
            Outcome::Clean
        }
        Err(error) => {
            print_error(path, &error);
            Outcome::Findings
        }
    })
}
