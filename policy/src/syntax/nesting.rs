//! A guard against deeply nested YAML.
//!
//! The YAML scanner spends time proportional to the current nesting depth on
//! every token, so a document of a few hundred kilobytes of `[[[[...` takes
//! minutes to load. serde_yaml loads a whole document before any visitor runs,
//! so the nesting is checked first by streaming the parser's events and giving
//! up as soon as they nest too deeply.

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::error::PolicyError;
use crate::interrupt;

/// serde_yaml refuses to read deeper than this anyway.
const MAX_NESTING: usize = 128;

/// How often, in events, the scan calls the interrupt hook.
const EVENTS_PER_INTERRUPT_CHECK: usize = 1024;

/// Rejects documents nesting collections more than [`MAX_NESTING`] levels deep.
/// Malformed YAML passes, for serde_yaml to report.
pub(super) fn check(source: &str) -> Result<(), PolicyError> {
    // Nesting needs indentation or `[`/`{`; a document with few of the latter
    // cannot nest deeply enough to be slow.
    let openers = source.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    if openers <= MAX_NESTING {
        return Ok(());
    }
    let Some(events) = EventStream::new(source) else {
        return Ok(());
    };
    let mut depth = 0usize;
    for (count, event) in events.enumerate() {
        if count % EVENTS_PER_INTERRUPT_CHECK == 0 {
            interrupt::check();
        }
        match event.kind {
            unsafe_libyaml::YAML_SEQUENCE_START_EVENT
            | unsafe_libyaml::YAML_MAPPING_START_EVENT => depth += 1,
            unsafe_libyaml::YAML_SEQUENCE_END_EVENT | unsafe_libyaml::YAML_MAPPING_END_EVENT => {
                depth = depth.saturating_sub(1);
            }
            unsafe_libyaml::YAML_STREAM_END_EVENT => break,
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(PolicyError {
                line: Some(event.line),
                column: Some(event.column),
                ..PolicyError::too_large(format!(
                    "the YAML nests more than {MAX_NESTING} levels deep"
                ))
            });
        }
    }
    Ok(())
}

struct Event {
    kind: unsafe_libyaml::yaml_event_type_t,
    /// 1-based position of the event's start.
    line: usize,
    column: usize,
}

/// A libyaml parser over a borrowed string, yielding events until the end of
/// the stream or the first error.
struct EventStream<'s> {
    /// Boxed because libyaml keeps a pointer to the parser inside it.
    parser: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    failed: bool,
    input: PhantomData<&'s str>,
}

impl<'s> EventStream<'s> {
    fn new(source: &'s str) -> Option<Self> {
        let mut parser = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
        // SAFETY: `yaml_parser_initialize` fully initializes the parser when it
        // succeeds. The input outlives the parser (`'s`), and the parser never
        // moves because it lives behind the box.
        unsafe {
            if unsafe_libyaml::yaml_parser_initialize(parser.as_mut_ptr()).fail {
                return None;
            }
            unsafe_libyaml::yaml_parser_set_input_string(
                parser.as_mut_ptr(),
                source.as_ptr(),
                source.len() as u64,
            );
        }
        Some(EventStream {
            parser,
            failed: false,
            input: PhantomData,
        })
    }
}

impl Iterator for EventStream<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.failed {
            return None;
        }
        let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
        // SAFETY: the parser is initialized (see `new`) and has not failed; a
        // successful `yaml_parser_parse` initializes the event, which is read
        // and then released exactly once.
        unsafe {
            if unsafe_libyaml::yaml_parser_parse(self.parser.as_mut_ptr(), event.as_mut_ptr()).fail
            {
                self.failed = true;
                return None;
            }
            let event = event.as_mut_ptr();
            let start = (*event).start_mark;
            let kind = (*event).type_;
            unsafe_libyaml::yaml_event_delete(event);
            Some(Event {
                kind,
                line: usize::try_from(start.line).map_or(usize::MAX, |line| line.saturating_add(1)),
                column: usize::try_from(start.column).map_or(usize::MAX, |c| c.saturating_add(1)),
            })
        }
    }
}

impl Drop for EventStream<'_> {
    fn drop(&mut self) {
        // SAFETY: the parser was initialized in `new` and is released once.
        unsafe { unsafe_libyaml::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_documents_pass() {
        assert!(check("a: [[[1]]]").is_ok());
        let wide = format!("a: [{}]", vec!["[1]"; 1000].join(", "));
        assert!(check(&wide).is_ok());
    }

    #[test]
    fn deep_documents_fail_with_a_position() {
        let deep = format!("when: {}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let error = check(&deep).unwrap_err();
        assert_eq!(error.kind, crate::ErrorKind::TooLarge);
        assert_eq!(error.line, Some(1));
        assert!(error.column.is_some_and(|column| column > 128));
    }

    #[test]
    fn unclosed_and_malformed_documents_are_left_to_the_parser() {
        assert!(check(&format!("a: {}", "[".repeat(200))).is_err());
        assert!(check(&format!("a: {}: b: c", "[1, ".repeat(50))).is_ok());
    }
}
