//! `authensor`: policies off-line, for a policy repository's CI. It uses the
//! policy crate alone, so it decides exactly as the extension does.
//!
//! Exit status: 0 when all is well, 1 when a policy has errors, a test fails,
//! a file is not formatted or a decision changes, 2 for a usage or I/O error.

/// `println!`, ending the program quietly (status 2, an I/O error) when
/// standard output is closed, as by `authensor test … | head`, where
/// `println!` would panic.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!`, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

mod args;
mod diff;
mod explain;
mod fmt;
mod import;
mod lint;
mod source;
mod test;

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

const USAGE: &str = "usage:
  authensor lint [--platform FILE] [--deny-warnings] FILE...
  authensor test [--platform FILE] [--tenant ID] FILE...
  authensor fmt [--check] [FILE...]        (no FILE: stdin to stdout)
  authensor diff [--platform FILE] [--tenant ID] [--requests FILE] OLD NEW
  authensor explain FILE --tool NAME [--args JSON] [--context JSON]
                    [--tenant ID] [--platform FILE]
  authensor import [--format authensor] JSON-FILE   (the policy document to stdout)

FILE is a tenant policy; --platform names the platform policy it is decided
under. Exit status: 0 all is well; 1 errors, failed tests, unformatted files
or changed decisions; 2 a usage or I/O error.";

/// What a command found.
pub enum Outcome {
    Clean,
    Findings,
}

/// A usage or I/O error: reported, exit status 2.
pub struct Trouble(pub String);

fn main() -> ExitCode {
    let mut arguments = std::env::args().skip(1);
    let command = arguments.next();
    let rest: Vec<String> = arguments.collect();
    let result = match command.as_deref() {
        Some("lint") => lint::run(rest),
        Some("test") => test::run(rest),
        Some("fmt") => fmt::run(rest),
        Some("diff") => diff::run(rest),
        Some("explain") => explain::run(rest),
        Some("import") => import::run(rest),
        Some("-h" | "--help" | "help") => {
            outln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(Trouble(format!("unknown command {other:?}"))),
        None => Err(Trouble("no command".to_owned())),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(Trouble(message)) => {
            eprintln!("authensor: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Writes to standard output; a closed one ends the program, another write
/// error too, with a message.
pub fn write_stdout(text: std::fmt::Arguments) {
    if let Err(error) = std::io::stdout().lock().write_fmt(text) {
        if error.kind() != ErrorKind::BrokenPipe {
            eprintln!("authensor: standard output: {error}");
        }
        std::process::exit(2);
    }
}
