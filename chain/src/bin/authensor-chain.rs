//! Verifies an export of authensor receipts off-line:
//!
//! ```text
//! authensor-chain verify receipts.ndjson --head <hash> [--after <seq>:<hash>]
//! ```
//!
//! The file holds what `authensor.export_receipts()` returned, one object per
//! line, in chain order. Every receipt is hashed again and every link
//! recomputed. `--head` is the hash `authensor.chain_head()` returned and was
//! kept outside the database: the export must reach that link and hold
//! nothing after it. An export that does not start at the chain's first link
//! needs `--after`, an earlier head (its seq and hash) that the export must
//! continue from. Exit status: 0 when everything verifies, 1 when something
//! does not, 2 when the file or the arguments cannot be read.

use authensor_chain::export::parse_line;
use authensor_chain::{GENESIS, Hash, Walk, from_hex, to_hex};
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

const USAGE: &str =
    "usage: authensor-chain verify <receipts.ndjson | -> --head <hash> [--after <seq>:<hash>]";

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

struct Options {
    path: String,
    head: Hash,
    after: (i64, Hash),
}

fn options(args: &[String]) -> Result<Options, String> {
    let [command, path, rest @ ..] = args else {
        return Err(USAGE.to_owned());
    };
    if command != "verify" {
        return Err(USAGE.to_owned());
    }
    let (mut head, mut after) = (None, (0, GENESIS));
    let mut rest = rest.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--head" => {
                head = Some(from_hex::<32>(value).ok_or("--head is not a SHA-256 in hex")?);
            }
            "--after" => {
                let (seq, hash) = value.split_once(':').ok_or("--after is <seq>:<hash>")?;
                let seq = seq.parse::<i64>().ok().filter(|seq| *seq > 0);
                let hash = from_hex::<32>(hash);
                after = seq
                    .zip(hash)
                    .ok_or("--after is <seq>:<hash>, seq positive")?;
            }
            _ => return Err(USAGE.to_owned()),
        }
    }
    Ok(Options {
        path: path.clone(),
        head: head.ok_or("--head is needed: the hash authensor.chain_head() returned")?,
        after,
    })
}

fn run(args: &[String]) -> Result<bool, String> {
    let Options { path, head, after } = options(args)?;
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&path).map_err(|error| format!("{path}: {error}"))?;
        Box::new(BufReader::new(file))
    };
    let mut failures = Vec::new();
    let mut walk: Option<Walk> = None;
    let (mut head_seq, mut anchored, mut last) = (None, false, None);
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|error| format!("{path}: {error}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let line = parse_line(&line).map_err(|error| format!("{path}:{}: {error}", number + 1))?;
        // Anchored: the export starts right after the anchor, or holds it.
        anchored |= (walk.is_none() && line.entry.seq == after.0 + 1 && line.previous == after.1)
            || (line.entry.seq == after.0 && line.entry.link == after.1);
        if line.entry.link == head {
            head_seq = Some(line.entry.seq);
        }
        if let Some((seq, link)) = last
            && line.previous != link
        {
            failures.push(format!(
                "line of link {}: its prev is not the link of the line before (link {seq})",
                line.entry.seq
            ));
        }
        last = Some((line.entry.seq, line.entry.link));
        let (seq, previous) = (line.entry.seq, line.previous);
        walk.get_or_insert_with(|| Walk::after(seq - 1, previous))
            .push(line.entry);
    }
    if !anchored {
        failures.push(format!(
            "the export neither starts right after link {} ({}) nor holds it: pass --after <seq>:<hash> of an earlier head it continues",
            after.0,
            to_hex(&after.1)
        ));
    }
    let report = walk.ok_or("the export holds no receipts")?.finish();
    println!("checked {} receipts", report.checked);
    if let Some((seq, link)) = report.head {
        println!("last link: {seq} {}", to_hex(&link));
    }
    if let Some(first) = &report.first {
        let receipt = first
            .receipt_id
            .map(|id| format!(" (receipt {})", uuid_text(&id)))
            .unwrap_or_default();
        failures.push(format!(
            "{} links wrong; the first at {}: {}{receipt}",
            report.problems, first.seq, first.problem
        ));
    }
    match (head_seq, report.head) {
        (Some(seq), Some((last, _))) if last > seq => failures.push(format!(
            "{} links after the head (link {seq}) are not covered by it: pass the latest head",
            last - seq
        )),
        (Some(seq), _) => println!("the head is link {seq}"),
        (None, _) => failures.push(format!(
            "no link of the export is the head {}: the chain was cut short or rewritten",
            to_hex(&head)
        )),
    }
    for failure in &failures {
        println!("FAILED: {failure}");
    }
    if failures.is_empty() {
        println!("verified");
    }
    Ok(failures.is_empty())
}

/// A receipt id as PostgreSQL prints a uuid.
fn uuid_text(id: &[u8; 16]) -> String {
    let hex = to_hex(id);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
