//! An index from tool names to the rules that may apply to them, so that a
//! policy of many rules about distinct tools is as fast as a small one.

use std::collections::HashMap;

use crate::glob::IndexKey;
use crate::heap::{self, HeapSize};
use crate::rule::Rule;

/// Rule positions (ascending) filed by what their tool globs can match.
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolIndex {
    by_name: HashMap<String, Vec<usize>>,
    by_first_segment: HashMap<String, Vec<usize>>,
    /// Rules without a tool, or with a glob whose first segment is a wildcard.
    unindexed: Vec<usize>,
}

impl ToolIndex {
    pub(crate) fn build(rules: &[Rule]) -> Self {
        let mut index = ToolIndex::default();
        for (position, rule) in rules.iter().enumerate() {
            let Some(globs) = &rule.tools else {
                index.unindexed.push(position);
                continue;
            };
            for glob in globs {
                let list = match glob.index_key() {
                    IndexKey::Exact(name) => index.by_name.entry(name.to_owned()).or_default(),
                    IndexKey::FirstSegment(first) => {
                        index.by_first_segment.entry(first.to_owned()).or_default()
                    }
                    IndexKey::Unindexed => &mut index.unindexed,
                };
                if list.last() != Some(&position) {
                    list.push(position);
                }
            }
        }
        index
    }

    /// The heap the index uses, approximately.
    pub(crate) fn approx_bytes(&self) -> usize {
        let positions = |list: &Vec<usize>| heap::allocation(list.capacity() * size_of::<usize>());
        let map_bytes = |map: &HashMap<String, Vec<usize>>| {
            // A hash table keeps one control byte per bucket besides the entry.
            heap::allocation(map.capacity() * (size_of::<(String, Vec<usize>)>() + 1))
                + map
                    .iter()
                    .map(|(name, list)| name.heap_bytes() + positions(list))
                    .sum::<usize>()
        };
        map_bytes(&self.by_name) + map_bytes(&self.by_first_segment) + positions(&self.unindexed)
    }

    /// Positions of the rules that may apply to `tool`, ascending and without
    /// repeats, so that the first one that matches is the earliest in the policy.
    pub(crate) fn candidates(&self, tool: &str) -> Candidates<'_> {
        let first_segment = tool.split_once('.').map_or(tool, |(first, _)| first);
        Candidates {
            lists: [
                positions(&self.by_name, tool),
                positions(&self.by_first_segment, first_segment),
                &self.unindexed,
            ],
        }
    }
}

fn positions<'i>(map: &'i HashMap<String, Vec<usize>>, key: &str) -> &'i [usize] {
    map.get(key).map_or(&[], Vec::as_slice)
}

/// A merge of sorted position lists.
pub(crate) struct Candidates<'i> {
    lists: [&'i [usize]; 3],
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
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::glob::Glob;

    fn rule(tools: Option<&[&str]>) -> Rule {
        Rule {
            id: String::new(),
            tools: tools.map(|globs| globs.iter().map(|g| Glob::parse(g).unwrap()).collect()),
            action: Action::Allow,
            reason: String::new(),
            when: None,
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
