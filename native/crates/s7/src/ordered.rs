//! A small insertion-ordered map with Python dict semantics for the per-flow tables (pending
//! requests, recent userdata requests, userdata fragments): assigning an existing key keeps its
//! place, a removed key that comes back goes to the end, and the oldest entry is the first.
//!
//! Keys are packed `u32`s; the tables are bounded (500 entries at most), so lookups scan the
//! key column, which is cheaper than hashing for the one or two entries a flow usually holds.

/// Marks a removed slot; real keys never reach it (they use at most 25 bits).
const DEAD: u32 = u32::MAX;

#[derive(Debug)]
pub struct OrderedMap<V> {
    keys: Vec<u32>,
    vals: Vec<Option<V>>,
    live: usize,
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap {
            keys: Vec::new(),
            vals: Vec::new(),
            live: 0,
        }
    }
}

impl<V> OrderedMap<V> {
    pub fn len(&self) -> usize {
        self.live
    }

    fn find(&self, key: u32) -> Option<usize> {
        self.keys.iter().position(|&k| k == key)
    }

    pub fn get(&self, key: u32) -> Option<&V> {
        self.find(key).and_then(|i| self.vals[i].as_ref())
    }

    pub fn get_mut(&mut self, key: u32) -> Option<&mut V> {
        self.find(key).and_then(|i| self.vals[i].as_mut())
    }

    /// `d[key] = value`.
    pub fn insert(&mut self, key: u32, value: V) {
        debug_assert_ne!(key, DEAD);
        match self.find(key) {
            Some(i) => self.vals[i] = Some(value),
            None => {
                self.keys.push(key);
                self.vals.push(Some(value));
                self.live += 1;
            }
        }
    }

    /// `d.pop(key, None)`.
    pub fn remove(&mut self, key: u32) -> Option<V> {
        let i = self.find(key)?;
        self.take(i)
    }

    /// `d.pop(next(iter(d)))`.
    pub fn pop_first(&mut self) -> Option<V> {
        let i = self.keys.iter().position(|&k| k != DEAD)?;
        self.take(i)
    }

    /// Drops the entries whose key fails `keep`.
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        for i in 0..self.keys.len() {
            if self.keys[i] != DEAD && !keep(self.keys[i]) {
                self.kill(i);
            }
        }
        self.tidy();
    }

    fn kill(&mut self, i: usize) -> Option<V> {
        self.keys[i] = DEAD;
        self.live -= 1;
        self.vals[i].take()
    }

    fn take(&mut self, i: usize) -> Option<V> {
        let v = self.kill(i);
        if self.live == 0 || self.keys.len() > 2 * self.live + 32 {
            self.tidy();
        }
        v
    }

    /// Drops the removed slots, keeping the order of the others.
    fn tidy(&mut self) {
        if self.live == 0 {
            self.keys.clear();
            self.vals.clear();
            return;
        }
        let mut j = 0;
        for i in 0..self.keys.len() {
            if self.keys[i] != DEAD {
                self.keys.swap(i, j);
                self.vals.swap(i, j);
                j += 1;
            }
        }
        self.keys.truncate(j);
        self.vals.truncate(j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_python_dict() {
        let mut d = OrderedMap::default();
        d.insert(1, "a");
        d.insert(2, "b");
        d.insert(1, "c"); // keeps its place
        assert_eq!(d.pop_first(), Some("c"));
        d.insert(1, "d"); // back at the end
        assert_eq!(d.remove(2), Some("b"));
        assert_eq!(d.remove(2), None);
        assert_eq!((d.len(), d.get(1)), (1, Some(&"d")));
        for k in 10..200 {
            d.insert(k, "x");
            d.remove(k);
        }
        assert!(
            d.keys.len() <= 2 * d.len() + 33,
            "removed slots are dropped"
        );
        d.insert(7, "e");
        d.retain(|k| k != 1);
        assert_eq!(
            (d.len(), d.pop_first(), d.pop_first()),
            (1, Some("e"), None)
        );
    }
}
