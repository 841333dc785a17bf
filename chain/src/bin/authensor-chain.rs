//! Verifies an export of authensor receipts off-line:
//!
//! ```text
//! authensor-chain verify receipts.ndjson [--head <hash>]
//! ```
//!
//! The file holds what `authensor.export_receipts()` returned, one object per
//! line, in chain order. Every receipt is hashed again and every link
//! recomputed. With `--head` (the hash `authensor.chain_head()` returned and
//! was kept outside the database), the export must also contain that link.
//! Exit status: 0 when everything verifies, 1 when something does not, 2
//! when the file cannot be read.

use authensor_chain::export::parse_line;
use authensor_chain::{Walk, from_hex, to_hex};
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

const USAGE: &str = "usage: authensor-chain verify <receipts.ndjson | -> [--head <hash>]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("authensor-chain: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<bool, String> {
    let (path, head) = match args {
        [command, path] if command == "verify" => (path, None),
        [command, path, flag, head] if command == "verify" && flag == "--head" => {
            let head = from_hex::<32>(head).ok_or("--head is not a SHA-256 in hex")?;
            (path, Some(head))
        }
        _ => return Err(USAGE.to_owned()),
    };
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path).map_err(|error| format!("{path}: {error}"))?;
        Box::new(BufReader::new(file))
    };
    let mut walk: Option<Walk> = None;
    let mut head_seq = None;
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|error| format!("{path}: {error}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let line = parse_line(&line).map_err(|error| format!("{path}:{}: {error}", number + 1))?;
        if Some(line.entry.link) == head {
            head_seq = Some(line.entry.seq);
        }
        walk.get_or_insert_with(|| Walk::after(line.entry.seq - 1, line.previous))
            .push(line.entry);
    }
    let report = walk.ok_or("the export holds no receipts")?.finish();
    println!("checked {} receipts", report.checked);
    if let Some((seq, link)) = report.head {
        println!("last link: {seq} {}", to_hex(&link));
    }
    let mut verified = report.first.is_none();
    if let Some(first) = &report.first {
        let receipt = first
            .receipt_id
            .map(|id| format!(" (receipt {})", to_hex(&id)))
            .unwrap_or_default();
        println!(
            "FAILED: {} links wrong; the first at {}: {}{receipt}",
            report.problems, first.seq, first.problem
        );
    }
    match (head, head_seq) {
        (Some(_), Some(seq)) => println!("the head is link {seq}"),
        (Some(head), None) => {
            verified = false;
            println!(
                "FAILED: no link of the export is the head {}: the chain was cut short or rewritten",
                to_hex(&head)
            );
        }
        (None, _) => {}
    }
    if verified {
        println!("verified");
    }
    Ok(verified)
}
