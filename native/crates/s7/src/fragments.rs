//! Userdata answers split over several PDUs (data unit reference, "last data unit" flag),
//! joined before their payload is decoded (the reassembly of `parsers/s7comm.py`); bounded in
//! answers at once and in bytes.

use crate::ordered::OrderedMap;
use crate::py::Flags;
use crate::userdata::UdHead;
use icssa_core::Map;

/// Bytes of one COTP TSDU or one userdata answer kept while its fragments arrive.
pub const MAX_REASSEMBLY: usize = 256 * 1024;
/// Userdata answers being reassembled at once per flow.
pub const MAX_UD_FRAGMENTS: usize = 16;

/// Fragments of one userdata answer.
struct UdFragments {
    data: Vec<u8>,
    parts: usize,
}

/// What `reassemble` gives.
pub enum Payload {
    /// Decode the fragment as it is.
    Direct,
    /// Fragments are outstanding: nothing to decode yet.
    Pending,
    /// The reassembled payload.
    Whole(Vec<u8>),
}

/// (direction, group, subfunction, data unit ref) -> payload parts, oldest first.
#[derive(Default)]
pub struct UdReassembly {
    answers: OrderedMap<UdFragments>,
}

impl UdReassembly {
    /// Adds a fragmented answer's payload `data`: the complete payload, or `Pending` while
    /// fragments are outstanding.
    pub fn reassemble(
        &mut self,
        head: &UdHead,
        to_server: bool,
        data: &[u8],
        f: &mut Map,
        flags: &mut Flags,
    ) -> Payload {
        let key = (u32::from(to_server) << 24)
            | (u32::from(head.group) << 16)
            | (u32::from(head.subfunction) << 8)
            | u32::from(head.data_unit_ref);
        let answers = &mut self.answers;
        if head.last_data_unit != 0 {
            // more data units follow
            f.push("fragment", true);
            if answers.get(key).is_none() {
                if answers.len() >= MAX_UD_FRAGMENTS {
                    answers.pop_first();
                    flags.push("reassembly_bound_hit");
                }
                let entry = UdFragments {
                    data: Vec::new(),
                    parts: 0,
                };
                answers.insert(key, entry);
            }
            if let Some(entry) = answers.get_mut(key) {
                entry.data.extend_from_slice(data);
                entry.parts += 1;
                if entry.data.len() > MAX_REASSEMBLY {
                    answers.remove(key);
                    flags.push("reassembly_bound_hit");
                }
            }
            return Payload::Pending;
        }
        let Some(mut entry) = answers.remove(key) else {
            return Payload::Direct;
        };
        entry.data.extend_from_slice(data);
        f.push("reassembled", true);
        f.push("fragments", entry.parts + 1);
        Payload::Whole(entry.data)
    }

    /// Bytes are missing in this direction: its answers can no longer be completed.
    pub fn gap(&mut self, to_server: bool) {
        self.answers.retain(|k| (k >> 24 != 0) != to_server);
    }
}
