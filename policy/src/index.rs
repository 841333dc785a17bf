//! An index from tool names to the rules that may apply to them, so that a
//! policy of many rules about distinct tools is as fast as a small one.

use std::collections::HashMap;
use std::ops::Range;

use crate::dotted;
use crate::glob::IndexKey;
use crate::heap::{self, HeapSize};
use crate::rule::Rule;

/// Rule positions (ascending) filed by what their tool globs can match. The
/// lists lie end to end in one array, most of them one position long; a `u32`
/// is plenty, as 2^32 rules or globs would take gigabytes of source.
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolIndex {
    by_name: HashMap<Box<str>, Range<u32>>,
    by_first_segment: HashMap<Box<str>, Range<u32>>,
    /// Rules without a tool, or with a glob whose first segment is a wildcard.
    unindexed: Range<u32>,
    positions: Box<[u32]>,
}

impl ToolIndex {
    pub(crate) fn build(rules: &[Rule]) -> Self {
        let mut by_name = HashMap::<&str, Vec<u32>>::new();
        let mut by_first_segment = HashMap::<&str, Vec<u32>>::new();
        let mut unindexed = Vec::new();
        for (position, rule) in rules.iter().enumerate() {
            let position = position as u32;
            let Some(globs) = &rule.tools else {
                unindexed.push(position);
                continue;
            };
            for glob in globs {
                let list = match glob.index_key() {
                    IndexKey::Exact(name) => by_name.entry(name).or_default(),
                    IndexKey::FirstSegment(first) => by_first_segment.entry(first).or_default(),
                    IndexKey::Unindexed => &mut unindexed,
                };
                if list.last() != Some(&position) {
                    list.push(position);
                }
            }
        }
        let mut positions = Vec::new();
        let mut file = |list: &[u32]| {
            let start = positions.len() as u32;
            positions.extend_from_slice(list);
            start..positions.len() as u32
        };
        ToolIndex {
            by_name: by_name
                .into_iter()
                .map(|(name, list)| (name.into(), file(&list)))
                .collect(),
            by_first_segment: by_first_segment
                .into_iter()
                .map(|(first, list)| (first.into(), file(&list)))
                .collect(),
            unindexed: file(&unindexed),
            positions: positions.into_boxed_slice(),
        }
    }

    /// The heap the index uses, approximately.
    pub(crate) fn approx_bytes(&self) -> usize {
        let map_bytes = |map: &HashMap<Box<str>, Range<u32>>| {
            hash_table_bytes(map.capacity(), size_of::<(Box<str>, Range<u32>)>())
                + map.keys().map(HeapSize::heap_bytes).sum::<usize>()
        };
        map_bytes(&self.by_name)
            + map_bytes(&self.by_first_segment)
            + heap::allocation(size_of_val(&*self.positions))
    }

    /// Positions of the rules that may apply to `tool`, ascending and without
    /// repeats, so that the first one that matches is the earliest in the policy.
    pub(crate) fn candidates(&self, tool: &str) -> Candidates<'_> {
        let first_segment = dotted::split_first(tool).0;
        let list = |range: Option<&Range<u32>>| {
            range.map_or(&[][..], |range| {
                &self.positions[range.start as usize..range.end as usize]
            })
        };
        Candidates {
            lists: [
                list(self.by_name.get(tool)),
                list(self.by_first_segment.get(first_segment)),
                list(Some(&self.unindexed)),
            ],
        }
    }
}

/// The allocation of a hash table of `capacity` entries of `entry_size`
/// bytes: a power of two of buckets, at most 7/8 full, with a control byte each.
fn hash_table_bytes(capacity: usize, entry_size: usize) -> usize {
    let buckets = match capacity {
        0 => 0,
        _ if capacity < 8 => capacity + 1,
        _ => (capacity * 8 / 7).next_power_of_two(),
    };
    heap::allocation(buckets * (entry_size + 1))
}

/// A merge of sorted position lists.
pub(crate) struct Candidates<'i> {
    lists: [&'i [u32]; 3],
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let next = self
            .lists
            .iter()
            .filter_map(|list| list.first())
            .min()
            .copied()?;
        for list in &mut self.lists {
            if let Some((&head, rest)) = list.split_first()
                && head == next
            {
                *list = rest;
            }
        }
        Some(next as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::glob::Glob;
    use crate::rule::Label;

    fn rule(tools: Option<&[&str]>) -> Rule {
        Rule {
            label: Label::new("", None),
            tools: tools.map(|globs| globs.iter().map(|g| Glob::parse(g).unwrap()).collect()),
            action: Action::Allow,
            when: None,
            approvers: None,
            approval_expires: None,
        }
    }

    #[test]
    fn merges_candidate_lists_in_rule_order_without_repeats() {
        let rules = [
            rule(Some(&["email.*"])),                  // 0: first segment
            rule(Some(&["db.query"])),                 // 1: other tool
            rule(Some(&["email.send"])),               // 2: exact
            rule(None),                                // 3: unindexed
            rule(Some(&["*.send", "email.send"])),     // 4: unindexed and exact
            rule(Some(&["email.send", "email.*"])),    // 5: exact and first segment
            rule(Some(&["email.send", "email.send"])), // 6: exact twice
        ];
        let index = ToolIndex::build(&rules);
        let got: Vec<usize> = index.candidates("email.send").collect();
        assert_eq!(got, [0, 2, 3, 4, 5, 6]);
        let got: Vec<usize> = index.candidates("db.query").collect();
        assert_eq!(got, [1, 3, 4]);
        let got: Vec<usize> = index.candidates("other").collect();
        assert_eq!(got, [3, 4]);
    }
}
