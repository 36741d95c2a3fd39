//! An insertion-ordered map of group keys, as a Python dict keyed by tuples behaves: a new key
//! goes to the end, setting an existing key keeps its place, the oldest is at the front. Keys
//! are looked up with borrowed text (no copy per event); a `tag` (a rule number, or 0) is part
//! of the key.

use crate::value::{base_hash, key_eq, tagged, Key, KV};
use hashbrown::HashTable;

const NIL: u32 = u32::MAX;

/// A key to look up: its values and their hash (`value::base_hash`).
pub trait Probe {
    type S: AsRef<str>;
    fn kvs(&self) -> &[KV<Self::S>];
    fn base(&self) -> u64;
}

impl<S: AsRef<str>> Probe for [KV<S>] {
    type S = S;
    fn kvs(&self) -> &[KV<S>] {
        self
    }
    fn base(&self) -> u64 {
        base_hash(self)
    }
}

/// The owned form of a key.
pub fn owned<P: Probe + ?Sized>(key: &P) -> Key {
    key.kvs().iter().map(KV::to_owned_kv).collect()
}

#[derive(Debug)]
struct Slot<V> {
    tag: u32,
    key: Key,
    hash: u64,
    value: Option<V>,
    prev: u32,
    next: u32,
}

#[derive(Debug)]
pub struct LinkedMap<V> {
    table: HashTable<u32>,
    slots: Vec<Slot<V>>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    len: usize,
}

impl<V> Default for LinkedMap<V> {
    fn default() -> Self {
        LinkedMap {
            table: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl<V> LinkedMap<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot holding `(tag, key)`.
    pub fn find<P: Probe + ?Sized>(&self, tag: u32, key: &P) -> Option<u32> {
        let hash = tagged(key.base(), tag);
        let (slots, kvs) = (&self.slots, key.kvs());
        self.table
            .find(hash, |&i| {
                let s = &slots[i as usize];
                s.tag == tag && key_eq(&s.key, kvs)
            })
            .copied()
    }

    pub fn get<P: Probe + ?Sized>(&self, tag: u32, key: &P) -> Option<&V> {
        self.find(tag, key)
            .and_then(|i| self.slots[i as usize].value.as_ref())
    }

    pub fn get_mut<P: Probe + ?Sized>(&mut self, tag: u32, key: &P) -> Option<&mut V> {
        let i = self.find(tag, key)?;
        self.slots[i as usize].value.as_mut()
    }

    pub fn at(&self, slot: u32) -> Option<&V> {
        self.slots.get(slot as usize).and_then(|s| s.value.as_ref())
    }

    pub fn at_mut(&mut self, slot: u32) -> Option<&mut V> {
        self.slots
            .get_mut(slot as usize)
            .and_then(|s| s.value.as_mut())
    }

    pub fn key_at(&self, slot: u32) -> Option<&Key> {
        self.slots
            .get(slot as usize)
            .filter(|s| s.value.is_some())
            .map(|s| &s.key)
    }

    /// `d[key] = value`: in place when the key is there, else at the end. Returns the slot.
    pub fn set<P: Probe + ?Sized>(&mut self, tag: u32, key: &P, value: V) -> u32 {
        if let Some(i) = self.find(tag, key) {
            self.slots[i as usize].value = Some(value);
            return i;
        }
        self.push(tag, key, value)
    }

    /// Appends a key known to be absent.
    pub fn push<P: Probe + ?Sized>(&mut self, tag: u32, key: &P, value: V) -> u32 {
        let hash = tagged(key.base(), tag);
        let key = owned(key);
        let slot = Slot {
            tag,
            key,
            hash,
            value: Some(value),
            prev: self.tail,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        if self.tail != NIL {
            self.slots[self.tail as usize].next = i;
        } else {
            self.head = i;
        }
        self.tail = i;
        let slots = &self.slots;
        self.table
            .insert_unique(hash, i, |&j| slots[j as usize].hash);
        self.len += 1;
        i
    }

    /// `d.pop(key, None)`.
    pub fn remove<P: Probe + ?Sized>(&mut self, tag: u32, key: &P) -> Option<V> {
        let i = self.find(tag, key)?;
        self.remove_at(i).map(|(_, _, v)| v)
    }

    /// Removes the entry of a slot: (tag, key, value).
    pub fn remove_at(&mut self, i: u32) -> Option<(u32, Key, V)> {
        let s = self.slots.get_mut(i as usize)?;
        let value = s.value.take()?;
        let (hash, prev, next, tag) = (s.hash, s.prev, s.next, s.tag);
        let key = std::mem::take(&mut s.key);
        if let Ok(entry) = self.table.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        self.unlink(i, prev, next);
        self.free.push(i);
        self.len -= 1;
        Some((tag, key, value))
    }

    fn unlink(&mut self, i: u32, prev: u32, next: u32) {
        if prev != NIL {
            self.slots[prev as usize].next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        } else {
            self.tail = prev;
        }
        let s = &mut self.slots[i as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    /// The oldest slot.
    pub fn front(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// `d.pop(next(iter(d)))`.
    pub fn pop_front(&mut self) -> Option<(u32, Key, V)> {
        let i = self.front()?;
        self.remove_at(i)
    }

    /// Moves a slot to the end (a Python pop and insert of the same key).
    pub fn move_to_back(&mut self, i: u32) {
        if self.tail == i || self.slots.get(i as usize).is_none_or(|s| s.value.is_none()) {
            return;
        }
        let (prev, next) = (self.slots[i as usize].prev, self.slots[i as usize].next);
        self.unlink(i, prev, next);
        self.slots[i as usize].prev = self.tail;
        self.slots[self.tail as usize].next = i;
        self.tail = i;
    }

    /// The slots in order.
    pub fn slots(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.len);
        let mut i = self.head;
        while i != NIL {
            out.push(i);
            i = self.slots[i as usize].next;
        }
        out
    }

    /// The values in order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        let mut i = self.head;
        std::iter::from_fn(move || {
            if i == NIL {
                return None;
            }
            let s = &self.slots[i as usize];
            i = s.next;
            s.value.as_ref()
        })
    }

    pub fn clear(&mut self) {
        *self = LinkedMap::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn k(s: &str) -> Vec<KV<Cow<'_, str>>> {
        vec![KV::Str(Cow::Borrowed(s))]
    }

    fn keys(m: &LinkedMap<i32>) -> Vec<String> {
        m.slots()
            .into_iter()
            .map(|i| match &m.key_at(i).unwrap()[0] {
                KV::Str(s) => s.to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn keeps_python_dict_order() {
        let mut m = LinkedMap::default();
        m.set(0, &k("a")[..], 1);
        m.set(0, &k("b")[..], 2);
        m.set(0, &k("c")[..], 3);
        m.set(0, &k("a")[..], 4); // in place
        assert_eq!(keys(&m), ["a", "b", "c"]);
        assert_eq!(m.get(0, &k("a")[..]), Some(&4));
        assert_eq!(m.get(1, &k("a")[..]), None); // another tag
        assert_eq!(m.remove(0, &k("b")[..]), Some(2));
        m.set(0, &k("b")[..], 5); // back at the end
        assert_eq!(keys(&m), ["a", "c", "b"]);
        let front = m.front().unwrap();
        m.move_to_back(front);
        assert_eq!(keys(&m), ["c", "b", "a"]);
        assert_eq!(m.pop_front().map(|(_, _, v)| v), Some(3));
        assert_eq!(keys(&m), ["b", "a"]);
        assert_eq!(m.len(), 2);
        assert_eq!(m.values().copied().collect::<Vec<_>>(), [5, 4]);
    }

    #[test]
    fn numbers_equal_in_python_are_one_key() {
        let mut m: LinkedMap<i32> = LinkedMap::default();
        fn k(v: KV<&'static str>) -> [KV<&'static str>; 1] {
            [v]
        }
        m.set(0, &k(KV::Bool(true))[..], 1);
        m.set(0, &k(KV::Int(1))[..], 2);
        m.set(0, &k(KV::Float(1.0))[..], 3);
        assert_eq!(m.len(), 1);
        assert!(matches!(
            m.key_at(m.front().unwrap()).unwrap()[0],
            KV::Bool(true)
        ));
        assert_eq!(m.get(0, &k(KV::Float(1.5))[..]), None);
    }
}
