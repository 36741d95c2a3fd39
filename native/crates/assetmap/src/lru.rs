//! The least recently touched of many objects, without reordering anything on a touch (a port of
//! `assetmap/lru.py`).
//!
//! Objects carry a `seq` stamp that only grows. `Lru::oldest` finds the object with the smallest
//! stamp through a heap of (stamp when pushed, object) entries: an entry whose object has been
//! touched since is pushed again with the new stamp, and the first entry that is still current
//! is the exact least recently touched object. The heap is built on the first question; entries
//! of objects that left otherwise (their slot's generation changed) are dropped when met, and
//! the heap is rebuilt when it holds more than twice the objects.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A slot and its generation: the object's identity.
pub type Handle = (u32, u32);

#[derive(Debug, Default)]
pub struct Lru {
    heap: Option<BinaryHeap<Reverse<(u64, u64, Handle)>>>,
    tie: u64,
}

impl Lru {
    /// `item` (with stamp `seq`) joined the `size` objects that `live()` lists.
    pub fn added(
        &mut self,
        item: Handle,
        seq: u64,
        live: impl FnOnce() -> Vec<(u64, Handle)>,
        size: usize,
    ) {
        let Some(heap) = &self.heap else { return };
        if heap.len() > 2 * size + 64 {
            self.build(live());
        } else {
            self.tie += 1;
            let tie = self.tie;
            if let Some(heap) = &mut self.heap {
                heap.push(Reverse((seq, tie, item)));
            }
        }
    }

    /// The object with the smallest stamp among those `live()` lists (not empty); `current`
    /// gives an object's stamp now, or None when it left. The caller removes it.
    pub fn oldest(
        &mut self,
        live: impl FnOnce() -> Vec<(u64, Handle)>,
        current: impl Fn(Handle) -> Option<u64>,
    ) -> Option<Handle> {
        if self.heap.is_none() {
            self.build(live());
        }
        let heap = self.heap.as_mut()?;
        loop {
            let Reverse((seq, _, item)) = *heap.peek()?;
            match current(item) {
                None => {
                    heap.pop();
                }
                Some(now) if now != seq => {
                    heap.pop();
                    self.tie += 1;
                    heap.push(Reverse((now, self.tie, item)));
                }
                Some(_) => {
                    heap.pop();
                    return Some(item);
                }
            }
        }
    }

    fn build(&mut self, items: Vec<(u64, Handle)>) {
        let mut entries = Vec::with_capacity(items.len());
        for (seq, item) in items {
            self.tie += 1;
            entries.push(Reverse((seq, self.tie, item)));
        }
        self.heap = Some(BinaryHeap::from(entries));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_follows_touches_and_removals() {
        let mut seqs = [5u64, 3, 9, 1];
        let mut alive = [true; 4];
        let mut lru = Lru::default();
        let live = |s: &[u64; 4], a: &[bool; 4]| -> Vec<(u64, Handle)> {
            (0..4)
                .filter(|&i| a[i])
                .map(|i| (s[i], (i as u32, 0)))
                .collect()
        };
        let got = lru.oldest(
            || live(&seqs, &alive),
            |(i, _)| alive[i as usize].then(|| seqs[i as usize]),
        );
        assert_eq!(got, Some((3, 0)));
        alive[3] = false;
        seqs[1] = 10; // touched since the heap was built
        let got = lru.oldest(
            || live(&seqs, &alive),
            |(i, _)| alive[i as usize].then(|| seqs[i as usize]),
        );
        assert_eq!(got, Some((0, 0)));
        alive[0] = false;
        alive[2] = false;
        let got = lru.oldest(
            || live(&seqs, &alive),
            |(i, _)| alive[i as usize].then(|| seqs[i as usize]),
        );
        assert_eq!(got, Some((1, 0)));
    }
}
