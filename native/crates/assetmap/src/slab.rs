//! Objects in numbered slots: the store's records and edges, named by slot and generation
//! (`lru::Handle`) where Python names them by object identity.

use crate::lru::Handle;

/// Objects in numbered slots; a slot's generation changes when its object leaves.
#[derive(Debug)]
pub struct Slab<T> {
    items: Vec<Option<T>>,
    gens: Vec<u32>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    pub fn insert(&mut self, item: T) -> u32 {
        self.len += 1;
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = Some(item);
                i
            }
            None => {
                self.items.push(Some(item));
                self.gens.push(0);
                (self.items.len() - 1) as u32
            }
        }
    }

    pub fn remove(&mut self, i: u32) -> Option<T> {
        let item = self.items.get_mut(i as usize)?.take()?;
        self.gens[i as usize] = self.gens[i as usize].wrapping_add(1);
        self.free.push(i);
        self.len -= 1;
        Some(item)
    }

    pub fn get(&self, i: u32) -> Option<&T> {
        self.items.get(i as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        self.items.get_mut(i as usize)?.as_mut()
    }

    pub fn handle(&self, i: u32) -> Handle {
        (i, self.gens.get(i as usize).copied().unwrap_or(0))
    }

    /// The object of a handle, if it is still there.
    pub fn live(&self, (i, gen): Handle) -> Option<&T> {
        if self.gens.get(i as usize) == Some(&gen) {
            self.get(i)
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((i as u32, t.as_ref()?)))
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    fn index(&self, i: u32) -> &T {
        self.get(i).expect("a live slot")
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        self.get_mut(i).expect("a live slot")
    }
}
