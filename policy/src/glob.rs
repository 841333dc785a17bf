//! Tool-name patterns over dot-separated segments.
//!
//! `*` as a whole segment matches exactly one segment, `**` matches one or more,
//! and `*` inside a segment (`send_*`) matches any run of characters within that
//! segment. Everything else is literal.

use crate::dotted;
use crate::error::PolicyError;
use crate::heap::HeapSize;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Glob {
    source: Box<str>,
    /// Empty for a pattern without `*`, which matches only its source.
    segments: Box<[Segment]>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(Box<str>),
    /// Any single segment.
    One,
    /// Literal pieces separated by in-segment `*`s (at least two pieces).
    Within(Box<[Box<str>]>),
    /// Zero or more further segments; `**` compiles to `One` followed by this.
    Rest,
}

/// How the tool index can file a glob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexKey<'g> {
    /// The glob matches exactly this tool name.
    Exact(&'g str),
    /// The glob only matches names whose first segment is this.
    FirstSegment(&'g str),
    /// The glob can match names starting with anything.
    Unindexed,
}

const GLOB_HINT: &str = "tool patterns are dot-separated segments; `*` matches one segment, `**` one or more, and `*` inside a segment any characters within it";

impl Glob {
    pub(crate) fn parse(source: &str) -> Result<Self, PolicyError> {
        if source.is_empty() {
            return Err(PolicyError::invalid("empty tool pattern").with_hint(GLOB_HINT));
        }
        let literal = !source.contains('*');
        let mut segments = Vec::new();
        for part in source.split('.') {
            match part {
                "" => {
                    return Err(PolicyError::invalid(format!(
                        "tool pattern {source:?} has an empty segment"
                    ))
                    .with_hint(GLOB_HINT));
                }
                // Matched whole, as `source`.
                _ if literal => {}
                "*" => segments.push(Segment::One),
                "**" => segments.extend([Segment::One, Segment::Rest]),
                _ if part.contains("**") => {
                    return Err(PolicyError::invalid(format!(
                        "tool pattern {source:?}: `**` must be a whole segment"
                    ))
                    .with_hint(GLOB_HINT));
                }
                _ if part.contains('*') => {
                    segments.push(Segment::Within(part.split('*').map(Box::from).collect()));
                }
                _ => segments.push(Segment::Literal(part.into())),
            }
        }
        Ok(Glob {
            source: source.into(),
            segments: segments.into_boxed_slice(),
        })
    }

    pub(crate) fn index_key(&self) -> IndexKey<'_> {
        match self.segments.first() {
            None => IndexKey::Exact(&self.source),
            Some(Segment::Literal(first)) => IndexKey::FirstSegment(first),
            _ => IndexKey::Unindexed,
        }
    }

    /// Matches without allocating: the classic wildcard walk with one backtrack
    /// point, in which `Rest` plays the part of a star over whole segments.
    pub(crate) fn matches(&self, name: &str) -> bool {
        if self.segments.is_empty() {
            return *self.source == *name;
        }
        let mut next = 0;
        let mut unmatched = Some(name);
        // Where to resume after letting the last `Rest` swallow one more segment.
        let mut backtrack: Option<(usize, Option<&str>)> = None;
        loop {
            match (self.segments.get(next), unmatched) {
                (Some(Segment::Rest), _) => {
                    next += 1;
                    backtrack = Some((next, unmatched));
                    continue;
                }
                (Some(segment), Some(text)) => {
                    let (head, tail) = dotted::split_first(text);
                    if segment.matches(head) {
                        next += 1;
                        unmatched = tail;
                        continue;
                    }
                }
                (None, None) => return true,
                (Some(_), None) | (None, Some(_)) => {}
            }
            match backtrack {
                Some((resume, Some(text))) => {
                    let tail = dotted::split_first(text).1;
                    backtrack = Some((resume, tail));
                    next = resume;
                    unmatched = tail;
                }
                _ => return false,
            }
        }
    }
}

/// What policy checks ask of patterns, comparing them segment by segment. A
/// pattern without `*` is its literal segments; `**` is `One` then `Rest`.
impl Glob {
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// How many segments [`Glob::symbols`] gives (`**` counts two), without
    /// building them: comparing two patterns costs the product of these.
    pub(crate) fn symbol_count(&self) -> usize {
        if self.segments.is_empty() {
            self.source.split('.').count()
        } else {
            self.segments.len()
        }
    }

    /// The segments, a pattern without `*` split into its literal ones.
    fn symbols(&self) -> Vec<Segment> {
        if self.segments.is_empty() {
            self.source
                .split('.')
                .map(|part| Segment::Literal(part.into()))
                .collect()
        } else {
            self.segments.to_vec()
        }
    }

    /// The length in bytes of the shortest tool name the pattern matches.
    pub(crate) fn shortest_match(&self) -> usize {
        let symbols = self.symbols();
        let segments = symbols
            .iter()
            .filter(|symbol| **symbol != Segment::Rest)
            .count();
        let text: usize = symbols
            .iter()
            .map(|symbol| match symbol {
                Segment::Literal(literal) => literal.len(),
                Segment::Within(pieces) => pieces.iter().map(|piece| piece.len()).sum(),
                Segment::One | Segment::Rest => 0,
            })
            .sum();
        text + segments.saturating_sub(1)
    }

    /// Whether every name `other` matches, this pattern matches too. May
    /// answer no for a pattern that does cover (`a*` and `ab*`), never yes for
    /// one that does not.
    pub(crate) fn covers(&self, other: &Glob) -> bool {
        walk_pairs(
            &self.symbols(),
            &other.symbols(),
            |wide, narrow| match (wide, narrow) {
                (Segment::One, _) => true,
                (Segment::Literal(wide), Segment::Literal(narrow)) => wide == narrow,
                (Segment::Within(pieces), Segment::Literal(narrow)) => {
                    matches_within(pieces, narrow)
                }
                (Segment::Within(wide), Segment::Within(narrow)) => wide == narrow,
                _ => false,
            },
            false,
        )
    }

    /// Whether the pattern matches every tool name, as `**` does (a name has
    /// at least one segment, perhaps empty).
    pub(crate) fn matches_every_name(&self) -> bool {
        self.covers(&Glob {
            source: "**".into(),
            segments: Box::new([Segment::One, Segment::Rest]),
        })
    }

    /// Whether some name may match both patterns. May answer yes for two that
    /// share none (`a*b` and `c*d`), never no for two that share one.
    pub(crate) fn may_overlap(&self, other: &Glob) -> bool {
        walk_pairs(
            &self.symbols(),
            &other.symbols(),
            |left, right| match (left, right) {
                (Segment::Literal(left), Segment::Literal(right)) => left == right,
                (Segment::Within(pieces), Segment::Literal(name))
                | (Segment::Literal(name), Segment::Within(pieces)) => matches_within(pieces, name),
                _ => true,
            },
            true,
        )
    }
}

/// Aligns two segment lists. `fits` says whether a segment of `left` accepts
/// one of `right`. A `Rest` of `left` takes any number of `right`'s segments;
/// a `Rest` of `right` is taken only by one of `left`, unless `symmetric`,
/// when it too takes any number of `left`'s (for overlap rather than cover).
fn walk_pairs(
    left: &[Segment],
    right: &[Segment],
    fits: impl Fn(&Segment, &Segment) -> bool,
    symmetric: bool,
) -> bool {
    // done[i][j]: whether left[i..] and right[j..] align; filled from the ends.
    let width = right.len() + 1;
    let mut done = vec![false; (left.len() + 1) * width];
    for i in (0..=left.len()).rev() {
        for j in (0..=right.len()).rev() {
            let at = |i: usize, j: usize| done[i * width + j];
            let (l, r) = (left.get(i), right.get(j));
            let value = match (l, r) {
                (None, None) => true,
                (Some(Segment::Rest), _) => at(i + 1, j) || (r.is_some() && at(i, j + 1)),
                (_, Some(Segment::Rest)) if symmetric => {
                    at(i, j + 1) || (l.is_some() && at(i + 1, j))
                }
                (Some(l), Some(r)) if *r != Segment::Rest => fits(l, r) && at(i + 1, j + 1),
                _ => false,
            };
            done[i * width + j] = value;
        }
    }
    done[0]
}

impl HeapSize for Glob {
    fn heap_bytes(&self) -> usize {
        self.source.heap_bytes() + self.segments.heap_bytes()
    }
}

impl HeapSize for Segment {
    fn heap_bytes(&self) -> usize {
        match self {
            Segment::Literal(literal) => literal.heap_bytes(),
            Segment::Within(pieces) => pieces.heap_bytes(),
            Segment::One | Segment::Rest => 0,
        }
    }
}

impl Segment {
    fn matches(&self, segment: &str) -> bool {
        match self {
            Segment::Literal(literal) => **literal == *segment,
            Segment::One | Segment::Rest => true,
            Segment::Within(pieces) => matches_within(pieces, segment),
        }
    }
}

/// `pieces` are the literal parts around `*`s: the first must be a prefix, the
/// last a suffix, and the middle ones must occur in order between them.
fn matches_within(pieces: &[Box<str>], segment: &str) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return true;
    };
    let Some(mut remaining) = segment.strip_prefix(&**first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for piece in middle {
        match remaining.split_once(&**piece) {
            Some((_, after)) => remaining = after,
            None => return false,
        }
    }
    remaining.ends_with(&**last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, name: &str) -> bool {
        Glob::parse(pattern).unwrap().matches(name)
    }

    #[test]
    fn literal_patterns_match_only_themselves() {
        assert!(matches("email.send", "email.send"));
        assert!(!matches("email.send", "email.sends"));
        assert!(!matches("email.send", "email.send.now"));
        assert!(!matches("email.send", "email"));
        assert!(matches("shell", "shell"));
    }

    #[test]
    fn single_star_matches_exactly_one_segment() {
        assert!(matches("system.*", "system.exec"));
        assert!(!matches("system.*", "system.a.b"));
        assert!(!matches("system.*", "system"));
        assert!(matches("*.send", "email.send"));
        assert!(!matches("*.send", "a.b.send"));
        assert!(matches("a.*.c", "a.b.c"));
    }

    #[test]
    fn double_star_matches_one_or_more_segments() {
        assert!(matches("system.**", "system.exec"));
        assert!(matches("system.**", "system.a.b"));
        assert!(!matches("system.**", "system"));
        assert!(matches("**", "anything"));
        assert!(matches("**", "a.b.c.d"));
        assert!(matches("**.delete", "files.delete"));
        assert!(matches("**.delete", "a.b.delete"));
        assert!(!matches("**.delete", "delete"));
        assert!(matches("a.**.z", "a.b.c.z"));
        assert!(!matches("a.**.z", "a.z"));
        assert!(matches("a.**.b.**.c", "a.x.b.y.b.z.c"));
        assert!(!matches("a.**.b.**.c", "a.x.b.c"));
    }

    #[test]
    fn star_inside_a_segment_stays_within_it() {
        assert!(matches("email.send_*", "email.send_bulk"));
        assert!(matches("email.send_*", "email.send_"));
        assert!(!matches("email.send_*", "email.send"));
        assert!(!matches("email.send_*", "email.send_bulk.now"));
        assert!(matches("*_admin.run", "db_admin.run"));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(!matches("ab*ba", "aba"));
    }

    #[test]
    fn rejects_malformed_patterns() {
        for bad in ["", ".", "a.", ".a", "a..b", "a**b", "**x", "a.b**"] {
            let error = Glob::parse(bad).unwrap_err();
            assert_eq!(error.kind, crate::ErrorKind::Invalid, "{bad:?}");
            assert!(error.hint.is_some());
        }
    }

    #[test]
    fn index_keys() {
        let key = |p: &str| Glob::parse(p).unwrap().index_key().to_owned_key();
        assert_eq!(key("email.send"), "exact:email.send");
        assert_eq!(key("email.*"), "first:email");
        assert_eq!(key("email.send_*"), "first:email");
        assert_eq!(key("*.send"), "none");
        assert_eq!(key("**"), "none");
        assert_eq!(key("send_*"), "none");
    }

    #[test]
    fn covering_patterns() {
        let covers = |wide: &str, narrow: &str| {
            Glob::parse(wide)
                .unwrap()
                .covers(&Glob::parse(narrow).unwrap())
        };
        for (wide, narrow) in [
            ("email.send", "email.send"),
            ("email.*", "email.send"),
            ("email.*", "email.send_*"),
            ("email.**", "email.a.b"),
            ("email.**", "email.*.**"),
            ("**", "a"),
            ("**", "**"),
            ("*.send", "email.send"),
            ("email.send_*", "email.send_bulk"),
            ("a.**.z", "a.b.c.z"),
        ] {
            assert!(covers(wide, narrow), "{wide} covers {narrow}");
        }
        for (wide, narrow) in [
            ("email.send", "email.*"),
            ("email.*", "email.**"),
            ("email.*", "email.a.b"),
            ("*", "a.b"),
            ("email.send_*", "email.*"),
            ("a.**.z", "a.z"),
            ("*.**", "*"),
        ] {
            assert!(!covers(wide, narrow), "{wide} does not cover {narrow}");
        }
    }

    #[test]
    fn overlapping_patterns() {
        let overlap = |left: &str, right: &str| {
            let (left, right) = (Glob::parse(left).unwrap(), Glob::parse(right).unwrap());
            assert_eq!(left.may_overlap(&right), right.may_overlap(&left));
            left.may_overlap(&right)
        };
        assert!(overlap("email.*", "*.send"));
        assert!(overlap("a.**", "**.z"));
        assert!(overlap("send_*", "*_bulk"));
        assert!(overlap("a.**.z", "a.b.**"));
        assert!(!overlap("email.*", "system.*"));
        assert!(!overlap("email.send", "email.read"));
        assert!(!overlap("a.*", "a.b.c"));
        assert!(!overlap("x_*", "y"));
    }

    #[test]
    fn shortest_matches() {
        let shortest = |pattern: &str| Glob::parse(pattern).unwrap().shortest_match();
        assert_eq!(shortest("email.send"), 10);
        assert_eq!(shortest("*"), 0);
        assert_eq!(shortest("**"), 0);
        assert_eq!(shortest("a.**"), 2);
        assert_eq!(shortest("a.*.b"), 4);
        assert_eq!(shortest("send_*_now"), 9);
    }

    #[test]
    fn patterns_that_match_every_name() {
        let every = |pattern: &str| Glob::parse(pattern).unwrap().matches_every_name();
        assert!(every("**"));
        assert!(!every("*"));
        assert!(!every("*.**"));
        assert!(!every("a.**"));
    }

    impl IndexKey<'_> {
        fn to_owned_key(self) -> String {
            match self {
                IndexKey::Exact(name) => format!("exact:{name}"),
                IndexKey::FirstSegment(first) => format!("first:{first}"),
                IndexKey::Unindexed => "none".into(),
            }
        }
    }
}
