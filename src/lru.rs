//! A small least-recently-used map. Capacities are in the hundreds, so
//! eviction scans for the oldest entry instead of maintaining a linked list;
//! lookups, the hot path, stay a single hash probe.

use std::collections::HashMap;
use std::hash::Hash;

pub struct Lru<K, V> {
    entries: HashMap<K, (V, u64)>,
    clock: u64,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new() -> Self {
        Self {
            entries: HashMap::new(),
            clock: 0,
        }
    }

    pub fn get(&mut self, key: &K) -> Option<&V> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(value, used)| {
            *used = clock;
            &*value
        })
    }

    /// Inserts `value` and evicts least-recently-used entries until at most
    /// `capacity` remain. Returns how many were evicted.
    pub fn insert(&mut self, key: K, value: V, capacity: usize) -> usize {
        self.clock += 1;
        self.entries.insert(key.clone(), (value, self.clock));
        self.shrink_to(capacity.max(1))
    }

    pub fn shrink_to(&mut self, capacity: usize) -> usize {
        let mut evicted = 0;
        while self.entries.len() > capacity {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.entries.remove(&oldest);
            evicted += 1;
        }
        evicted
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn evicts_the_least_recently_used_entry() {
        let mut lru = Lru::new();
        lru.insert("a", 1, 2);
        lru.insert("b", 2, 2);
        assert_eq!(lru.get(&"a"), Some(&1)); // "b" is now the oldest
        assert_eq!(lru.insert("c", 3, 2), 1);
        assert_eq!(lru.get(&"b"), None);
        assert_eq!(lru.get(&"a"), Some(&1));
        assert_eq!(lru.get(&"c"), Some(&3));
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn shrinking_reports_each_eviction() {
        let mut lru = Lru::new();
        for i in 0..5 {
            lru.insert(i, i, 10);
        }
        assert_eq!(lru.shrink_to(2), 3);
        assert_eq!(lru.get(&4), Some(&4));
        assert_eq!(lru.get(&0), None);
    }
}
