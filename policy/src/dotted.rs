//! Dot-separated names: tool names, tool patterns and field paths.

/// The text before the first dot, and the text after it when there is a dot.
pub(crate) fn split_first(name: &str) -> (&str, Option<&str>) {
    // A byte search: a dot is never part of a longer UTF-8 sequence, and for
    // names this short it is faster than `str::split_once`.
    match name.bytes().position(|byte| byte == b'.') {
        Some(dot) => (&name[..dot], Some(&name[dot + 1..])),
        None => (name, None),
    }
}

/// The dot-separated segments of `name`; none when it is empty.
pub(crate) fn segments(name: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(name).filter(|name| !name.is_empty());
    std::iter::from_fn(move || {
        let (segment, after) = split_first(rest?);
        rest = after;
        Some(segment)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_dots() {
        assert_eq!(split_first("a.b.c"), ("a", Some("b.c")));
        assert_eq!(split_first("a."), ("a", Some("")));
        assert_eq!(split_first("é"), ("é", None));
        let all = |name| segments(name).collect::<Vec<_>>();
        assert_eq!(all("to.0.ü"), ["to", "0", "ü"]);
        assert_eq!(all("a..b"), ["a", "", "b"]);
        assert_eq!(all(""), [] as [&str; 0]);
    }
}
