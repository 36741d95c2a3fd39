//! No input makes the parser or the probe panic: thousands of pseudo-random, mutated and
//! truncated inputs (deterministic seed), fed whole, split at random points, with gaps and
//! mid-stream starts.

mod common;

use common::*;
use icssa_core::Message;

/// xorshift64*: a fixed sequence, no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Valid messages of every type to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let open = cat(&[
        &type_id(446),
        &request_header(1),
        &u32le(0),
        &u32le(0),
        &u32le(3),
        &NULL,
        &u32le(1),
    ]);
    let read = cat(&[
        &type_id(631),
        &request_header(2),
        &f64le(0.0),
        &u32le(0),
        &u32le(1),
        &[0x03, 0x01, 0x00],
        &string("a.b"),
        &u32le(13),
        &NULL,
        &[0, 0],
        &NULL,
    ]);
    let publish = cat(&[
        &type_id(829),
        &response_header(7, 0),
        &u32le(1),
        &u32le(1),
        &u32le(9),
        &[0x01],
        &u32le(3),
        &[1; 8],
        &u32le(2),
        &type_id(811),
        &[0x01],
        &bytestring(&cat(&[
            &u32le(1),
            &u32le(5),
            &[0x01, 0x8b],
            &u32le(1),
            &f64le(2.0),
            &NULL,
        ])),
        &type_id(820),
        &[0x01],
        &bytestring(&u32le(0x8000_0000)),
        &NULL,
        &u32le(1),
        &[0x7f; 40],
    ]);
    let endpoints = cat(&[
        &type_id(431),
        &response_header(1, 0),
        &u32le(1),
        &string("opc.tcp://x"),
        &string("urn:a"),
        &NULL,
        &[0x03],
        &string("en"),
        &string("A"),
        &u32le(0),
        &NULL,
        &NULL,
        &u32le(1),
        &string("opc.tcp://y"),
        &NULL,
        &u32le(3),
        &string(POLICY_B256),
        &u32le(1),
        &string("p"),
        &u32le(1),
        &NULL,
        &NULL,
        &NULL,
        &string("t"),
        &[0x02],
    ]);
    let activate = cat(&[
        &type_id(467),
        &request_header(3),
        &NULL,
        &NULL,
        &NULL,
        &NULL,
        &type_id(324),
        &[0x01],
        &bytestring(&cat(&[
            &string("u"),
            &string("op"),
            &string("pw"),
            &string("rsa"),
        ])),
        &NULL,
        &NULL,
    ]);
    vec![
        cat(&[b"HELF", &u32le(40), &[0; 20], &string("opc.tcp:")]),
        cat(&[
            b"ACKF",
            &u32le(28),
            &u32le(0),
            &u32le(100),
            &u32le(100),
            &u32le(50),
            &u32le(2),
        ]),
        message(b"ERRF", &cat(&[&u32le(0x8001_0000), &string("x")])),
        message(b"RHEF", &cat(&[&string("urn:s"), &NULL])),
        asymmetric(b"OPNF", 0, POLICY_NONE, b"", b"", &open),
        asymmetric(b"OPNF", 5, POLICY_B256, b"DER", &[1; 20], &[0xee; 48]),
        symmetric(b"MSGF", 5, 1, 2, 2, &read),
        symmetric(b"MSGC", 5, 1, 3, 3, &read[..20]),
        symmetric(
            b"MSGA",
            5,
            1,
            4,
            3,
            &cat(&[&u32le(0x8000_0000), &string("r")]),
        ),
        symmetric(b"MSGF", 5, 1, 5, 4, &publish),
        symmetric(b"MSGF", 5, 1, 6, 5, &endpoints),
        symmetric(b"MSGF", 5, 1, 7, 6, &activate),
        symmetric(
            b"CLOF",
            5,
            1,
            8,
            7,
            &cat(&[&type_id(452), &request_header(8)]),
        ),
    ]
}

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    match rng.below(5) {
        0 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(out.len());
                if let Some(b) = out.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
        }
        1 => out.truncate(rng.below(out.len() + 1)),
        2 => {
            let at = rng.below(out.len() + 1);
            let n = 1 + rng.below(16);
            let junk = rng.bytes(n);
            out.splice(at..at, junk);
        }
        3 => {
            // a length or count field set to an extreme
            let at = rng.below(out.len().saturating_sub(4) + 1);
            let v: [u8; 4] = match rng.below(4) {
                0 => [0xff, 0xff, 0xff, 0x7f],
                1 => [0xfe, 0xff, 0xff, 0xff],
                2 => [0x00, 0x00, 0x00, 0x80],
                _ => (rng.next() as u32).to_le_bytes(),
            };
            for (k, b) in v.iter().enumerate() {
                if let Some(x) = out.get_mut(at + k) {
                    *x = *b;
                }
            }
        }
        _ => {
            // random bytes behind a valid header
            let kinds: [&[u8; 4]; 8] = [
                b"HELF", b"ACKF", b"ERRF", b"RHEF", b"OPNF", b"MSGF", b"MSGC", b"CLOA",
            ];
            let n = rng.below(120);
            let body = rng.bytes(n);
            out = message(kinds[rng.below(kinds.len())], &body);
        }
    }
    out
}

/// Feeds `stream` in random pieces, with gaps now and then.
fn feed_all(rng: &mut Rng, stream: &[u8], to_server: bool, parser: &mut dyn icssa_core::Parser) {
    let mut out: Vec<Message> = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        let n = 1 + rng.below(stream.len() - pos);
        parser.feed(&stream[pos..pos + n], to_server, &mut out);
        pos += n;
        if rng.below(20) == 0 {
            parser.gap(to_server);
        }
    }
    assert!(out
        .iter()
        .all(|m| m.dataset == "opcua" && m.to_server == to_server));
    assert!(parser.errors().0.len() <= 1000);
}

#[test]
fn random_mutated_and_truncated_inputs() {
    let mut rng = Rng(0x1c55a_0bc0a);
    let seeds = seeds();
    for round in 0..3000 {
        let mut parser = icssa_opcua::parser();
        if round % 7 == 0 {
            parser.start_midstream();
        }
        for _ in 0..1 + rng.below(12) {
            let input = match rng.below(4) {
                0 => {
                    let n = rng.below(200);
                    rng.bytes(n)
                }
                _ => {
                    let i = rng.below(seeds.len());
                    mutate(&mut rng, &seeds[i])
                }
            };
            let to_server = rng.below(2) == 0;
            icssa_opcua::probe(&input, to_server);
            feed_all(&mut rng, &input, to_server, parser.as_mut());
        }
    }
}

#[test]
fn every_truncation_of_every_seed() {
    for seed in seeds() {
        for cut in 0..=seed.len() {
            let mut data = seed[..cut].to_vec();
            icssa_opcua::probe(&data, true);
            let mut out = Vec::new();
            icssa_opcua::parser().feed(&data, true, &mut out);
            // the size field still claims the whole message: say it is exactly this long
            if cut >= 8 {
                data[4..8].copy_from_slice(&(cut as u32).to_le_bytes());
                icssa_opcua::probe(&data, false);
                icssa_opcua::parser().feed(&data, false, &mut out);
            }
        }
    }
}
