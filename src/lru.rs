//! Maps that forget what was least recently used. `Lru`, for capacities in
//! the hundreds, scans for the oldest entry to evict instead of maintaining
//! a linked list; lookups, the hot path, stay a single hash probe. `Recent`,
//! for maps that take an entry per statement, forgets a whole generation of
//! entries at once, at a constant cost per operation.

use std::collections::HashMap;
use std::hash::Hash;

pub struct Lru<K, V> {
    /// Each entry with when it was last used and its weight (bytes).
    entries: HashMap<K, (V, u64, usize)>,
    clock: u64,
    weight: usize,
}

/// How much an [`Lru`] may hold: entries, and their total weight.
#[derive(Clone, Copy)]
pub struct Bounds {
    pub entries: usize,
    pub weight: usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new() -> Self {
        Self {
            entries: HashMap::new(),
            clock: 0,
            weight: 0,
        }
    }

    pub fn get(&mut self, key: &K) -> Option<&V> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(value, used, _)| {
            *used = clock;
            &*value
        })
    }

    /// Inserts `value` weighing `weight` and evicts least-recently-used
    /// entries until the rest fit in `bounds`; the entry just inserted is
    /// kept even when it alone is heavier. Returns how many were evicted.
    pub fn insert(&mut self, key: K, value: V, weight: usize, bounds: Bounds) -> usize {
        self.clock += 1;
        if let Some((_, _, replaced)) = self.entries.insert(key, (value, self.clock, weight)) {
            self.weight -= replaced;
        }
        self.weight += weight;
        self.shrink_to(bounds)
    }

    pub fn shrink_to(&mut self, bounds: Bounds) -> usize {
        let mut evicted = 0;
        while self.entries.len() > bounds.entries.max(1)
            || (self.weight > bounds.weight && self.entries.len() > 1)
        {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used, _))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((_, _, weight)) = self.entries.remove(&oldest) {
                self.weight -= weight;
            }
            evicted += 1;
        }
        evicted
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The total weight of the entries held.
    pub fn weight(&self) -> usize {
        self.weight
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.weight = 0;
    }
}

/// Keeps at least the `capacity` most recently used entries, and at most
/// twice as many: entries live in two generations, and when the newer one is
/// full the older one is dropped whole and the newer one takes its place. An
/// entry found in the older generation moves to the newer.
pub struct Recent<K, V> {
    newer: HashMap<K, V>,
    older: HashMap<K, V>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Recent<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            newer: HashMap::new(),
            older: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The entry of `key`, which becomes one of the most recently used. A
    /// lookup forgets nothing: the older generation is dropped only by an
    /// insert of a new key.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        if !self.newer.contains_key(key) {
            let value = self.older.remove(key)?;
            self.newer.insert(key.clone(), value);
        }
        self.newer.get(key)
    }

    /// Inserts `value`; true when that dropped the older generation.
    pub fn insert(&mut self, key: K, value: V) -> bool {
        self.older.remove(&key);
        let rotate = self.newer.len() >= self.capacity && !self.newer.contains_key(&key);
        if rotate {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(key, value);
        rotate
    }

    pub fn clear(&mut self) {
        self.newer.clear();
        self.older.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{Bounds, Lru, Recent};

    #[test]
    fn recent_keeps_the_last_capacity_entries_used() {
        let mut recent = Recent::new(2);
        assert!(!recent.insert(1, "one"));
        assert!(!recent.insert(2, "two"));
        assert!(recent.insert(3, "three")); // 1 and 2 become the older generation
        assert_eq!(recent.get(&1), Some(&"one")); // moves 1 to the newer: 3, 1
        assert!(recent.insert(4, "four")); // 3 and 1 become the older; 2 is forgotten
        assert_eq!(recent.get(&2), None);
        assert_eq!(recent.get(&1), Some(&"one"));
        assert_eq!(recent.get(&4), Some(&"four"));
        assert!(!recent.insert(4, "FOUR")); // replacing keeps one entry
        assert_eq!(recent.get(&4), Some(&"FOUR"));
        recent.clear();
        assert_eq!(recent.get(&1), None);
    }

    fn entries(n: usize) -> Bounds {
        Bounds {
            entries: n,
            weight: usize::MAX,
        }
    }

    #[test]
    fn evicts_the_least_recently_used_entry() {
        let mut lru = Lru::new();
        lru.insert("a", 1, 0, entries(2));
        lru.insert("b", 2, 0, entries(2));
        assert_eq!(lru.get(&"a"), Some(&1)); // "b" is now the oldest
        assert_eq!(lru.insert("c", 3, 0, entries(2)), 1);
        assert_eq!(lru.get(&"b"), None);
        assert_eq!(lru.get(&"a"), Some(&1));
        assert_eq!(lru.get(&"c"), Some(&3));
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn shrinking_reports_each_eviction() {
        let mut lru = Lru::new();
        for i in 0..5 {
            lru.insert(i, i, 0, entries(10));
        }
        assert_eq!(lru.shrink_to(entries(2)), 3);
        assert_eq!(lru.get(&4), Some(&4));
        assert_eq!(lru.get(&0), None);
    }

    #[test]
    fn evicts_by_weight_but_keeps_the_newest() {
        let mut lru = Lru::new();
        let bounds = Bounds {
            entries: 10,
            weight: 100,
        };
        lru.insert("a", 1, 40, bounds);
        lru.insert("b", 2, 40, bounds);
        assert_eq!(lru.weight(), 80);
        assert_eq!(lru.insert("c", 3, 40, bounds), 1, "a is evicted");
        assert_eq!(lru.get(&"a"), None);
        assert_eq!(lru.weight(), 80);
        assert_eq!(lru.insert("huge", 4, 500, bounds), 2);
        assert_eq!((lru.len(), lru.weight()), (1, 500));
        assert_eq!(lru.insert("huge", 5, 10, bounds), 0, "replacing reweighs");
        assert_eq!(lru.weight(), 10);
    }
}
