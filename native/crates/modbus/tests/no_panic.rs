//! Hostile input never panics: thousands of pseudo-random byte strings, ADUs with random
//! function codes and bodies, truncated, corrupted and re-chunked, through `parser().feed`,
//! `gap`, `start_midstream`, `probe` and the framing methods (deterministic seed).

use icssa_core::{Errors, Protocol};
use icssa_modbus::{parser, probe, Modbus};

/// xorshift64*: a small deterministic generator (no extra crate).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const FCS: &[u8] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43,
];

/// An ADU with a consistent MBAP header and a random (often plausible) body.
fn random_adu(r: &mut Rng) -> Vec<u8> {
    let fc = match r.below(10) {
        0 => r.next() as u8,
        1 => FCS[r.below(FCS.len())] | 0x80,
        _ => FCS[r.below(FCS.len())],
    };
    let len = match r.below(4) {
        0 => r.below(8),
        1 => r.below(253),
        _ => r.below(24),
    };
    let mut pdu = r.bytes(len);
    if let Some(first) = pdu.first_mut() {
        // byte counts / MEI types that match the body half of the time
        if r.below(2) == 0 {
            *first = if fc & 0x7F == 43 { 14 } else { (len - 1) as u8 };
        }
    }
    let mut v = vec![r.next() as u8 & 3, r.next() as u8 & 3, 0, 0];
    v.extend_from_slice(&(2 + len as u16).to_be_bytes());
    v.push(r.next() as u8 & 1);
    v.push(fc);
    v.extend_from_slice(&pdu);
    v
}

fn corrupt(r: &mut Rng, data: &mut Vec<u8>) {
    match r.below(6) {
        0 if !data.is_empty() => {
            let at = r.below(data.len());
            data.truncate(at);
        }
        1 if !data.is_empty() => {
            let at = r.below(data.len());
            data[at] = r.next() as u8;
        }
        2 => {
            let n = r.below(16);
            let garbage = r.bytes(n);
            let at = r.below(data.len() + 1);
            data.splice(at..at, garbage);
        }
        _ => {}
    }
}

#[test]
fn random_streams_never_panic() {
    let mut r = Rng(0x5EED_1CA5_5A00_0001);
    let mut messages = 0usize;
    for round in 0..4000 {
        let mut p = parser();
        if round % 7 == 0 {
            p.start_midstream();
        }
        let mut out = Vec::new();
        for _ in 0..r.below(24) + 1 {
            let mut data = if r.below(5) == 0 {
                let n = r.below(600);
                r.bytes(n)
            } else {
                (0..r.below(3) + 1)
                    .flat_map(|_| random_adu(&mut r))
                    .collect()
            };
            corrupt(&mut r, &mut data);
            let to_server = r.below(2) == 0;
            let _ = probe(&data, to_server);
            let mut rest = &data[..];
            while !rest.is_empty() {
                let cut = 1 + r.below(rest.len());
                p.feed(&rest[..cut], to_server, &mut out);
                rest = &rest[cut..];
            }
            if r.below(10) == 0 {
                p.gap(r.below(2) == 0);
            }
            assert!(p.errors().0.len() <= 1000);
        }
        assert!(out
            .iter()
            .all(|m| m.dataset == "modbus" && !m.action.is_empty()));
        messages += out.len();
    }
    assert!(
        messages > 10_000,
        "the generator should mostly produce decodable ADUs: {messages}"
    );
}

#[test]
fn every_truncation_of_every_function_decodes_or_waits() {
    let mut r = Rng(42);
    for _ in 0..300 {
        let adu = random_adu(&mut r);
        for cut in 0..=adu.len() {
            let mut p = parser();
            let mut out = Vec::new();
            p.feed(&adu[..cut], true, &mut out);
            p.feed(&adu[..cut], false, &mut out);
            assert!(out.len() <= 2);
            let _ = probe(&adu[..cut], false);
        }
    }
}

#[test]
fn framing_methods_take_any_offsets() {
    let mut r = Rng(7);
    let mut m = Modbus::new();
    let mut errors = Errors::default();
    let mut out = Vec::new();
    for _ in 0..3000 {
        let n = r.below(300);
        let buf = r.bytes(n);
        let pos = r.below(n + 2);
        let end = r.below(n + 2).min(n);
        let _ = m.frame(&buf, pos, end);
        let _ = m.plausible(&buf, pos, end, r.below(300));
        let _ = m.decode(&buf, pos, end, r.below(2) == 0, &mut out, &mut errors);
    }
    assert!(errors.0.is_empty()); // decode reports problems as flags, never as errors
}
