//! Regular expressions for `matches`, built so that their memory is bounded
//! and can be estimated.
//!
//! Matching is that of the `regex` crate (Rust syntax, unanchored, Unicode),
//! whose engine is used directly for its memory figures. Besides the compiled
//! automata, a regex keeps search state that grows as it matches: up to two
//! lazy DFA caches and the NFA simulation's state. Both are bounded here and
//! counted in [`Regex::approx_bytes`].

use std::sync::Arc;

use regex_automata::meta::{self, BuildError};
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind};

use crate::error::PolicyError;

/// Limit of each of a regex's NFAs (it has a forward and a reverse one), as
/// the `regex` crate's `size_limit`. A search that the lazy DFA gives up on
/// costs the value's length times the NFA's size, and cannot be interrupted.
/// Measured on a 16 KiB value: `[a-y]{14560}z`, just under the earlier 1 MiB,
/// took 0.9 s (5.8 s on 64 KiB) and is refused at 256 KiB; the slowest found
/// under 256 KiB, `[\w\W]{200}x`, takes about 50 ms.
const NFA_LIMIT: usize = 256 << 10;

/// Capacity of each lazy DFA cache, as the `regex` crate's `dfa_size_limit`
/// (default 2 MiB). Large enough for the lazy DFA of patterns using Unicode
/// classes such as `\w+@\w+\.com`; bigger ones fall back to the slower NFA
/// simulation, with the same results.
const LAZY_DFA_CACHE: usize = 96 * 1024;

/// A regex's heap beyond its automata: its metadata, cache pool and the fixed
/// part of its search state (about 6 KiB, measured).
const FIXED_BYTES: usize = 8 * 1024;

const SIZE_HINT: &str = "simplify it, e.g. use smaller repetition counts";

/// The engine, shared, and the pattern as written for explanations.
/// Cloned for every use of a repeated pattern: the engine is in an `Arc`
/// because cloning a `meta::Regex` gives the clone a pool of search caches
/// of its own, which would grow a set of caches per use while
/// [`Regex::approx_bytes`] is counted once per pattern; the pattern is an
/// `Arc` of a `String`, a thin pointer, so that an operator stays small.
#[derive(Debug, Clone)]
pub(crate) struct Regex(Arc<meta::Regex>, Arc<String>);

impl Regex {
    pub(crate) fn new(pattern: &str) -> Result<Self, PolicyError> {
        let config = meta::Config::new()
            .match_kind(MatchKind::LeftmostFirst)
            .utf8_empty(true)
            // Only whether there is a match is asked, never what groups matched:
            // treating groups as non-capturing makes the automata and search
            // state smaller.
            .which_captures(WhichCaptures::Implicit)
            .nfa_size_limit(Some(NFA_LIMIT))
            .hybrid_cache_capacity(LAZY_DFA_CACHE)
            // The bounded backtracker keeps a visited set of up to 256 KiB per
            // regex, with no setting to shrink it; the NFA simulation does its
            // work with state proportional to the NFA.
            .backtrack(false);
        meta::Builder::new()
            .configure(config)
            .syntax(syntax::Config::new().utf8(true))
            .build(pattern)
            .map(|engine| Regex(Arc::new(engine), Arc::new(pattern.to_owned())))
            .map_err(|error| build_error(&error))
    }

    /// Whether the regex matches anywhere in `text`, searched as the `regex`
    /// crate's `is_match` does.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let input = Input::new(text).earliest(true);
        self.0.search_half(&input).is_some()
    }

    /// The most heap this regex can hold: its automata, then, once it has been
    /// searched, the NFA simulation's state (taken to be as large as the
    /// automata) and two full lazy DFA caches.
    pub(crate) fn approx_bytes(&self) -> usize {
        2 * self.0.memory_usage() + 2 * LAZY_DFA_CACHE + FIXED_BYTES + self.1.len()
    }

    pub(crate) fn pattern(&self) -> &str {
        &self.1
    }
}

fn build_error(error: &BuildError) -> PolicyError {
    if let Some(limit) = error.size_limit() {
        return PolicyError::invalid(format!(
            "the regular expression is too large once compiled (limit {limit} bytes)"
        ))
        .with_hint(SIZE_HINT);
    }
    let detail = match error.syntax_error() {
        Some(syntax) => syntax.to_string(),
        None => error.to_string(),
    };
    let problem = detail
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or("syntax error")
        .to_owned();
    PolicyError::invalid(format!("invalid regular expression: {problem}")).with_hint(detail)
}
