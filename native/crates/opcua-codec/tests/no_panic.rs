//! No input makes the codec panic: thousands of pseudo-random and mutated byte strings (fixed
//! seed), at random positions, ends and depths, through every `Reader` method and `nodes` body.

use icssa_core::Decoded;
use icssa_opcua_codec::{nodes, Reader};

/// xorshift64*: a fixed sequence, no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Bytes that hit the interesting branches: encoding masks, -1/0/small lengths, big counts.
fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    const SPECIAL: [u8; 14] = [
        0, 1, 2, 3, 4, 5, 6, 0x3F, 0x40, 0x80, 0x86, 0xC6, 0xFF, 0x7F,
    ];
    let n = rng.below(120);
    (0..n)
        .map(|_| match rng.below(4) {
            0 => (rng.next() >> 8) as u8,
            _ => SPECIAL[rng.below(SPECIAL.len())],
        })
        .collect()
}

fn run_all(r: &Reader) -> usize {
    type Call = fn(&mut Reader) -> Decoded<()>;
    let calls: &[Call] = &[
        |r| r.u8().map(drop),
        |r| r.boolean().map(drop),
        |r| r.u16().map(drop),
        |r| r.u32().map(drop),
        |r| r.i32().map(drop),
        |r| r.f64().map(drop),
        |r| r.unpack::<20>().map(drop),
        |r| r.take(7).map(drop),
        |r| r.date_time().map(drop),
        |r| r.guid().map(drop),
        |r| r.length().map(drop),
        |r| r.array_length(4).map(drop),
        |r| r.array_length_with(1, false).map(drop),
        |r| r.string().map(drop),
        |r| r.bytestring_length().map(drop),
        |r| r.bytestring_hex().map(drop),
        |r| r.string_array().map(drop),
        |r| r.u32_array().map(drop),
        |r| r.node_id().map(drop),
        |r| r.node_id_raw(None).map(drop),
        |r| r.numeric_node_id().map(drop),
        |r| r.expanded_node_id().map(drop),
        |r| r.skip_node_id(),
        |r| r.qualified_name().map(drop),
        |r| r.localized_text().map(drop),
        |r| {
            let (_, _, start, end) = r.extension_object()?;
            let mut sub = r.sub(start, end)?;
            sub.variant().map(drop)
        },
        |r| r.variant().map(drop),
        |r| r.data_value().map(drop),
        |r| r.value_and_status().map(drop),
        |r| r.diagnostic_info().map(drop),
        |r| r.diagnostic_infos().map(drop),
        |r| nodes::read_value_id(r).map(drop),
        |r| nodes::read_request(r).map(drop),
        |r| nodes::read_response(r).map(drop),
        |r| nodes::write_request(r).map(drop),
        |r| nodes::write_response(r).map(drop),
        |r| nodes::browse_request(r).map(drop),
        |r| nodes::browse_response(r).map(drop),
        |r| nodes::browse_next_request(r).map(drop),
        |r| nodes::call_request(r).map(drop),
        |r| nodes::call_response(r).map(drop),
    ];
    let mut ok = 0;
    for call in calls {
        let mut reader = r.clone();
        if call(&mut reader).is_ok() {
            ok += 1;
            assert!(
                reader.pos <= reader.end.max(r.pos),
                "pos {} past end {}",
                reader.pos,
                reader.end
            );
        }
    }
    ok
}

#[test]
fn random_inputs_do_not_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ok = 0;
    for _ in 0..5000 {
        let data = random_bytes(&mut rng);
        let len = data.len();
        let pos = if rng.below(4) == 0 {
            rng.below(len + 4)
        } else {
            0
        };
        let end = if rng.below(4) == 0 {
            rng.below(len + 4)
        } else {
            len
        };
        let depth = [0, 0, 0, 1, 15, 16, 17][rng.below(7)];
        ok += run_all(&Reader::with_depth(&data, pos, end, depth));
        for cut in [len / 2, len.saturating_sub(1)] {
            ok += run_all(&Reader::new(&data, 0, cut));
        }
    }
    // the inputs reach past the first checks: some calls succeed
    assert!(ok > 10_000, "{ok} calls succeeded");
}
