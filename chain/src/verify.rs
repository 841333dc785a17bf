//! Walks one tenant's chain, link by link, and reports what is wrong.
//!
//! The walk is fed the chain's entries in sequence order, each with the
//! receipt found under its id (or none), and keeps one entry of look-ahead so
//! that two neighbouring receipts that traded places read as out of order,
//! not as two modifications.

use crate::receipt::{Hash, Receipt, link};
use std::fmt;

/// One link of the chain as stored, with the receipt it names.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: i64,
    pub receipt_id: [u8; 16],
    /// The receipt stored under `receipt_id`, if there is one.
    pub receipt: Option<Receipt>,
    /// The receipt's leaf when it was sealed.
    pub leaf: Hash,
    /// The link as stored.
    pub link: Hash,
}

/// What is wrong at a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The receipt differs from what was sealed.
    Modified,
    /// The receipt, or whole links, are gone.
    Missing,
    /// A receipt or a link that the chain never held.
    Inserted,
    /// The receipt is one its neighbour sealed: the two traded places.
    OutOfOrder,
    /// The stored link does not follow from the one before: the chain itself
    /// was rewritten, or differs from a head kept outside.
    Rewritten,
    /// The chain ends before a head kept outside.
    Truncated,
    /// A head kept outside lies before where the chain now starts: pruned
    /// history, which can no longer be checked against it.
    Pruned,
}

impl Problem {
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Modified => "modified",
            Problem::Missing => "missing",
            Problem::Inserted => "inserted",
            Problem::OutOfOrder => "out of order",
            Problem::Rewritten => "rewritten",
            Problem::Truncated => "truncated",
            Problem::Pruned => "pruned",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub seq: i64,
    pub receipt_id: Option<[u8; 16]>,
    pub problem: Problem,
}

/// The outcome of a walk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Links walked.
    pub checked: u64,
    /// How many links had something wrong.
    pub problems: u64,
    /// The first of them.
    pub first: Option<Finding>,
    /// The last link walked: (seq, link).
    pub head: Option<(i64, Hash)>,
}

/// A walk in progress.
pub struct Walk {
    start: (i64, Hash),
    previous_link: Hash,
    previous_leaf: Option<Hash>,
    next_seq: i64,
    held: Option<Entry>,
    witness: Option<(i64, Hash)>,
    last_problem_seq: Option<i64>,
    report: Report,
}

impl Walk {
    /// A walk that starts after link `seq` (0 before the first) whose hash
    /// is `link` (GENESIS before the first).
    pub fn after(seq: i64, link: Hash) -> Walk {
        Walk {
            start: (seq, link),
            previous_link: link,
            previous_leaf: None,
            next_seq: seq + 1,
            held: None,
            witness: None,
            last_problem_seq: None,
            report: Report {
                head: (seq > 0).then_some((seq, link)),
                ..Report::default()
            },
        }
    }

    /// Also checks the chain against a head kept outside the database: the
    /// chain must reach link `seq` and hold `link` there.
    /// A head at or before where the walk starts is checked against the
    /// start: one before it was pruned, and cannot be checked.
    pub fn against(mut self, witness: Option<(i64, Hash)>) -> Walk {
        self.witness = witness;
        if let Some((seq, hash)) = witness {
            let (start, link) = self.start;
            if seq < start {
                self.found(seq, None, Problem::Pruned);
            } else if seq == start && hash != link {
                self.found(seq, None, Problem::Rewritten);
            }
        }
        self
    }

    /// The next entry, in sequence order.
    pub fn push(&mut self, entry: Entry) {
        if let Some(held) = self.held.take() {
            self.walk(held, Some(&entry.leaf));
        }
        self.held = Some(entry);
    }

    /// Ends the walk.
    pub fn finish(mut self) -> Report {
        if let Some(held) = self.held.take() {
            self.walk(held, None);
        }
        if let Some((seq, _)) = self.witness {
            let reached = self.report.head.map_or(0, |(head, _)| head);
            if reached < seq {
                self.found(seq, None, Problem::Truncated);
            }
        }
        self.report
    }

    fn walk(&mut self, entry: Entry, next_leaf: Option<&Hash>) {
        self.report.checked += 1;
        let id = Some(entry.receipt_id);
        if entry.seq < self.next_seq {
            self.found(entry.seq, id, Problem::Inserted);
        } else if entry.seq > self.next_seq {
            self.found(self.next_seq, None, Problem::Missing);
        }
        match &entry.receipt {
            None => self.found(entry.seq, id, Problem::Missing),
            Some(receipt) => {
                let leaf = receipt.leaf();
                if leaf != entry.leaf {
                    let moved = Some(&leaf) == next_leaf || Some(leaf) == self.previous_leaf;
                    let problem = if moved {
                        Problem::OutOfOrder
                    } else {
                        Problem::Modified
                    };
                    self.found(entry.seq, id, problem);
                }
            }
        }
        if link(&self.previous_link, entry.seq, &entry.leaf) != entry.link {
            self.found(entry.seq, id, Problem::Rewritten);
        }
        if let Some((seq, hash)) = self.witness
            && seq == entry.seq
            && hash != entry.link
        {
            self.found(entry.seq, id, Problem::Rewritten);
        }
        self.previous_link = entry.link;
        self.previous_leaf = Some(entry.leaf);
        self.next_seq = self.next_seq.max(entry.seq + 1);
        self.report.head = Some((entry.seq, entry.link));
    }

    /// Records a problem at link `seq`; a link counts once, however many
    /// things are wrong with it.
    fn found(&mut self, seq: i64, receipt_id: Option<[u8; 16]>, problem: Problem) {
        if self.last_problem_seq != Some(seq) {
            self.report.problems += 1;
            self.last_problem_seq = Some(seq);
        }
        if self.report.first.is_none() {
            self.report.first = Some(Finding {
                seq,
                receipt_id,
                problem,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::{GENESIS, tests::sample};

    /// A sealed chain of `n` receipts.
    fn chain(n: usize) -> Vec<Entry> {
        let mut previous = GENESIS;
        (1..=n as i64)
            .map(|seq| {
                let mut receipt = sample();
                receipt.id[0] = seq as u8;
                receipt.tool = format!("tool.{seq}");
                let leaf = receipt.leaf();
                previous = link(&previous, seq, &leaf);
                Entry {
                    seq,
                    receipt_id: receipt.id,
                    receipt: Some(receipt),
                    leaf,
                    link: previous,
                }
            })
            .collect()
    }

    fn walk(entries: Vec<Entry>, witness: Option<(i64, Hash)>) -> Report {
        let mut walk = Walk::after(0, GENESIS).against(witness);
        for entry in entries {
            walk.push(entry);
        }
        walk.finish()
    }

    fn first(report: &Report) -> Option<(i64, Problem)> {
        report.first.as_ref().map(|f| (f.seq, f.problem))
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let entries = chain(5);
        let head = (5, entries[4].link);
        let report = walk(entries, Some(head));
        assert_eq!(
            (report.checked, report.problems, report.first),
            (5, 0, None)
        );
        assert_eq!(report.head, Some(head));
    }

    #[test]
    fn a_modified_receipt() {
        let mut entries = chain(5);
        entries[2].receipt.as_mut().unwrap().args = br#"{"to":"evil"}"#.to_vec();
        let report = walk(entries, None);
        assert_eq!(first(&report), Some((3, Problem::Modified)));
        assert_eq!(report.problems, 1);
    }

    #[test]
    fn a_deleted_receipt() {
        let mut entries = chain(5);
        entries[1].receipt = None;
        assert_eq!(first(&walk(entries, None)), Some((2, Problem::Missing)));
    }

    #[test]
    fn deleted_links() {
        let mut entries = chain(5);
        entries.remove(2);
        assert_eq!(first(&walk(entries, None)), Some((3, Problem::Missing)));
    }

    #[test]
    fn neighbours_that_traded_places() {
        let mut entries = chain(5);
        let (a, b) = (entries[1].receipt.take(), entries[2].receipt.take());
        entries[1].receipt = b;
        entries[2].receipt = a;
        let report = walk(entries, None);
        assert_eq!(first(&report), Some((2, Problem::OutOfOrder)));
        assert_eq!(report.problems, 2);
    }

    #[test]
    fn a_forged_link() {
        let mut entries = chain(4);
        let mut forged = entries[1].clone();
        forged.receipt.as_mut().unwrap().reason = "forged".into();
        forged.leaf = forged.receipt.as_ref().unwrap().leaf();
        entries.insert(2, forged);
        assert_eq!(first(&walk(entries, None)), Some((2, Problem::Inserted)));
    }

    #[test]
    fn a_chain_rewritten_after_an_edit() {
        // Whoever edits receipt 3 and recomputes every link after it leaves
        // a chain that verifies alone, but not against an earlier head.
        let entries = chain(5);
        let witness = (4, entries[3].link);
        let mut rewritten = entries.clone();
        rewritten[2].receipt.as_mut().unwrap().reason = "edited".into();
        let mut previous = rewritten[1].link;
        for entry in &mut rewritten[2..] {
            entry.leaf = entry.receipt.as_ref().unwrap().leaf();
            entry.link = link(&previous, entry.seq, &entry.leaf);
            previous = entry.link;
        }
        assert_eq!(walk(rewritten.clone(), None).problems, 0);
        assert_eq!(
            first(&walk(rewritten, Some(witness))),
            Some((4, Problem::Rewritten))
        );
    }

    #[test]
    fn a_chain_cut_short_of_its_head() {
        let mut entries = chain(5);
        let witness = (5, entries[4].link);
        entries.truncate(3);
        assert_eq!(
            first(&walk(entries, Some(witness))),
            Some((5, Problem::Truncated))
        );
    }

    /// The walk over what is left after links 1 to `pruned` were pruned.
    fn walk_after_pruning(
        entries: &[Entry],
        pruned: usize,
        witness: Option<(i64, Hash)>,
    ) -> Report {
        let checkpoint = &entries[pruned - 1];
        let mut walk = Walk::after(checkpoint.seq, checkpoint.link).against(witness);
        for entry in &entries[pruned..] {
            walk.push(entry.clone());
        }
        walk.finish()
    }

    #[test]
    fn a_chain_after_its_oldest_links_were_pruned() {
        let entries = chain(6);
        let report = walk_after_pruning(&entries, 3, None);
        assert_eq!((report.checked, report.problems), (3, 0));
        assert_eq!(report.head, Some((6, entries[5].link)));
        // A head kept at or after the checkpoint still verifies.
        assert_eq!(
            walk_after_pruning(&entries, 3, Some((3, entries[2].link))).problems,
            0
        );
        assert_eq!(
            walk_after_pruning(&entries, 3, Some((5, entries[4].link))).problems,
            0
        );
        // A checkpoint that does not match the head kept at its position.
        assert_eq!(
            first(&walk_after_pruning(&entries, 3, Some((3, entries[1].link)))),
            Some((3, Problem::Rewritten))
        );
        // A head from before the checkpoint can no longer be checked.
        assert_eq!(
            first(&walk_after_pruning(&entries, 3, Some((2, entries[1].link)))),
            Some((2, Problem::Pruned))
        );
        // The first link left must follow from the checkpoint.
        let mut cut = entries.clone();
        cut.remove(3);
        assert_eq!(
            first(&walk_after_pruning(&cut, 3, None)),
            Some((4, Problem::Missing))
        );
    }
}
