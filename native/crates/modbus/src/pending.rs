//! The requests of one flow waiting for their responses, keyed by (transaction id, unit id) and
//! kept in insertion order, as the Python parser's `dict` keeps them: a repeated key replaces
//! the request in place, and the bound evicts the oldest key first.

use crate::pdu::Request;
use std::collections::VecDeque;

/// Requests waiting for a response per flow (Suricata uses the same bound).
pub const MAX_PENDING: usize = 500;

/// An insertion-ordered table of at most `MAX_PENDING` requests (the caller enforces the bound).
#[derive(Debug, Default)]
pub struct Pending {
    // (transaction id << 8 | unit id), oldest first; `requests` is kept parallel to it
    keys: VecDeque<u32>,
    requests: VecDeque<Request>,
}

fn key(tid: u16, unit: u8) -> u32 {
    (u32::from(tid) << 8) | u32::from(unit)
}

impl Pending {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn find(&self, k: u32) -> Option<usize> {
        let (a, b) = self.keys.as_slices();
        a.iter()
            .position(|&x| x == k)
            .or_else(|| b.iter().position(|&x| x == k).map(|i| i + a.len()))
    }

    /// `pending.pop(next(iter(pending)))`: drops the oldest request.
    pub fn pop_oldest(&mut self) {
        self.keys.pop_front();
        self.requests.pop_front();
    }

    /// `pending[(tid, unit)] = req`: a known key keeps its place.
    pub fn insert(&mut self, tid: u16, unit: u8, req: Request) {
        let k = key(tid, unit);
        match self.find(k).and_then(|i| self.requests.get_mut(i)) {
            Some(slot) => *slot = req,
            None => {
                self.keys.push_back(k);
                self.requests.push_back(req);
            }
        }
    }

    /// `pending.pop((tid, unit), None)`.
    pub fn take(&mut self, tid: u16, unit: u8) -> Option<Request> {
        let i = self.find(key(tid, unit))?;
        self.keys.remove(i);
        self.requests.remove(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(fc: u8) -> Request {
        Request {
            function_code: fc,
            ..Request::default()
        }
    }

    #[test]
    fn keeps_insertion_order_and_replaces_in_place() {
        let mut p = Pending::default();
        p.insert(1, 1, req(3));
        p.insert(2, 1, req(4));
        p.insert(1, 1, req(6)); // same key: replaced, stays oldest
        assert_eq!(p.len(), 2);
        p.pop_oldest();
        assert_eq!(p.take(1, 1), None);
        assert_eq!(p.take(2, 1), Some(req(4)));
        assert!(p.is_empty());
    }

    #[test]
    fn unit_id_is_part_of_the_key() {
        let mut p = Pending::default();
        p.insert(7, 1, req(3));
        assert_eq!(p.take(7, 2), None);
        assert_eq!(p.take(7, 1), Some(req(3)));
        assert_eq!(p.take(7, 1), None);
    }
}
