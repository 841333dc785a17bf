//! The boolean tree shared by condition maps and operator maps: leaves combined
//! with `all`, `any` and `not`.

use crate::heap::HeapSize;

/// Leaves combined with `all`, `any` and `not`. Condition maps have field tests
/// as leaves and operator maps have operators; this type holds what they share.
#[derive(Debug, Clone)]
pub(crate) enum BoolTree<L> {
    All(Box<[BoolTree<L>]>),
    Any(Box<[BoolTree<L>]>),
    Not(Box<BoolTree<L>>),
    Leaf(L),
}

impl<L> BoolTree<L> {
    /// All of `parts`, without the wrapper when there is only one. No parts at
    /// all always hold.
    pub(crate) fn all(mut parts: Vec<BoolTree<L>>) -> BoolTree<L> {
        match parts.pop() {
            Some(only) if parts.is_empty() => only,
            Some(last) => {
                parts.push(last);
                BoolTree::All(parts.into_boxed_slice())
            }
            None => BoolTree::All(Box::default()),
        }
    }

    /// Whether the tree holds when each leaf holds as `leaf` says; `all` and
    /// `any` stop at the first part that settles them. `leaf` is copied into
    /// each call rather than passed by reference: the closures given here hold
    /// only references, and one indirection less keeps evaluation as fast as
    /// a hand-written recursion.
    #[inline]
    pub(crate) fn holds_if<F: Fn(&L) -> bool + Copy>(&self, leaf: F) -> bool {
        match self {
            BoolTree::All(parts) => parts.iter().all(|part| part.holds_if(leaf)),
            BoolTree::Any(parts) => parts.iter().any(|part| part.holds_if(leaf)),
            BoolTree::Not(inner) => !inner.holds_if(leaf),
            BoolTree::Leaf(value) => leaf(value),
        }
    }
}

impl<L> BoolTree<L> {
    /// Calls `visit` on each leaf, in order.
    pub(crate) fn for_each_leaf_mut(&mut self, visit: &mut impl FnMut(&mut L)) {
        match self {
            BoolTree::All(parts) | BoolTree::Any(parts) => parts
                .iter_mut()
                .for_each(|part| part.for_each_leaf_mut(visit)),
            BoolTree::Not(inner) => inner.for_each_leaf_mut(visit),
            BoolTree::Leaf(value) => visit(value),
        }
    }

    /// Whether `test` is true of some leaf, whatever `all`, `any` and `not`
    /// make of it.
    pub(crate) fn any_leaf(&self, test: &impl Fn(&L) -> bool) -> bool {
        match self {
            BoolTree::All(parts) | BoolTree::Any(parts) => {
                parts.iter().any(|part| part.any_leaf(test))
            }
            BoolTree::Not(inner) => inner.any_leaf(test),
            BoolTree::Leaf(value) => test(value),
        }
    }
}

impl<L: HeapSize> HeapSize for BoolTree<L> {
    fn heap_bytes(&self) -> usize {
        match self {
            BoolTree::All(parts) | BoolTree::Any(parts) => parts.heap_bytes(),
            BoolTree::Not(inner) => inner.heap_bytes(),
            BoolTree::Leaf(value) => value.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Tree = BoolTree<bool>;

    fn leaf(value: bool) -> Tree {
        BoolTree::Leaf(value)
    }

    fn holds(tree: &Tree) -> bool {
        tree.holds_if(|value: &bool| *value)
    }

    impl HeapSize for bool {
        fn heap_bytes(&self) -> usize {
            0
        }
    }

    #[test]
    fn all_unwraps_a_single_part() {
        assert!(matches!(
            Tree::all(vec![leaf(false)]),
            BoolTree::Leaf(false)
        ));
        assert!(matches!(Tree::all(vec![]), BoolTree::All(parts) if parts.is_empty()));
        let both = Tree::all(vec![leaf(true), leaf(false)]);
        assert!(matches!(&both, BoolTree::All(parts) if parts.len() == 2));
    }

    #[test]
    fn combinators_follow_boolean_logic() {
        assert!(holds(&Tree::all(vec![])));
        assert!(!holds(&BoolTree::Any(Box::default())));
        assert!(!holds(&Tree::all(vec![leaf(true), leaf(false)])));
        assert!(holds(&BoolTree::Any(vec![leaf(false), leaf(true)].into())));
        assert!(holds(&BoolTree::Not(Box::new(leaf(false)))));
        assert!(!holds(&BoolTree::Not(Box::new(BoolTree::Not(Box::new(
            leaf(false)
        ))))));
    }

    #[test]
    fn evaluation_stops_once_settled() {
        let visited = std::cell::Cell::new(0);
        let count = |value: &bool| {
            visited.set(visited.get() + 1);
            *value
        };
        let tree = BoolTree::Any(vec![leaf(false), leaf(true), leaf(false)].into());
        assert!(tree.holds_if(count));
        assert_eq!(visited.get(), 2);
        visited.set(0);
        let tree = Tree::all(vec![leaf(false), leaf(true)]);
        assert!(!tree.holds_if(count));
        assert_eq!(visited.get(), 1);
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn heap_counts_each_box() {
        // A slice of two 24-byte nodes, and a box of one, each with malloc's 16.
        assert_eq!(size_of::<Tree>(), 24);
        let tree = Tree::all(vec![BoolTree::Not(Box::new(leaf(true))), leaf(false)]);
        assert_eq!(tree.heap_bytes(), (48 + 16) + (24 + 16));
    }
}
