//! No input makes the parser panic: pseudo-random bytes, S7-shaped packets with random
//! contents, and valid packets cut and chunked anywhere, with gaps, in both directions.

mod common;
use common::dt;

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
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

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// An S7-looking TSDU: a known protocol id and ROSCTR / version, the rest random.
fn s7_shaped(rng: &mut Rng) -> Vec<u8> {
    let n = rng.below(80);
    let mut tsdu = rng.bytes(n + 2);
    tsdu[0] = [0x32, 0x72][rng.below(2)];
    tsdu[1] = [1, 2, 3, 7, 0xFE, 0xFF, 0x04][rng.below(7)];
    if tsdu.len() > 9 && rng.below(2) == 0 {
        // plausible lengths: small parameter and data lengths
        tsdu[6] = 0;
        tsdu[7] = rng.below(40) as u8;
        tsdu[8] = 0;
        tsdu[9] = rng.below(40) as u8;
    }
    tsdu
}

fn packet(rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => {
            let n = rng.below(64);
            rng.bytes(n)
        }
        1 => {
            // TPKT + random COTP
            let mut p = vec![3, 0, 0, 0];
            let n = 3 + rng.below(40);
            p.extend(rng.bytes(n));
            let len = p.len() as u16;
            p[2..4].copy_from_slice(&len.to_be_bytes());
            p
        }
        _ => {
            let mut p = dt(&s7_shaped(rng));
            if rng.below(4) == 0 {
                p[6] = 0; // not the last segment
            }
            p
        }
    }
}

#[test]
fn random_streams_do_not_panic() {
    let mut rng = Rng(0x5EED_0001);
    for _flow in 0..3000 {
        let mut p = icssa_s7::parser();
        if rng.below(10) == 0 {
            p.start_midstream();
        }
        let mut out = Vec::new();
        for _ in 0..rng.below(12) + 1 {
            let to_server = rng.below(2) == 0;
            let mut data = Vec::new();
            for _ in 0..rng.below(3) + 1 {
                data.extend(packet(&mut rng));
            }
            let mut pos = 0;
            while pos < data.len() {
                let n = (rng.below(data.len() - pos) + 1).min(data.len() - pos);
                p.feed(&data[pos..pos + n], to_server, &mut out);
                pos += n;
            }
            if rng.below(8) == 0 {
                p.gap(to_server);
            }
            p.errors().0.clear();
        }
    }
}

#[test]
fn valid_messages_cut_anywhere_do_not_panic() {
    // a setup job, a read response, a userdata answer and an S7comm-plus request
    #[rustfmt::skip]
    let tsdus: [&[u8]; 4] = [
        &[0x32, 0x01, 0, 0, 0, 1, 0, 8, 0, 0, 0xF0, 0, 0, 1, 0, 1, 1, 0xE0],
        &[0x32, 0x03, 0, 0, 0, 2, 0, 2, 0, 6, 0, 0, 0x04, 0x01, 0xFF, 0x04, 0, 0x10, 0x12, 0x34],
        &[0x32, 0x07, 0, 0, 0, 5, 0, 12, 0, 12, 0, 1, 0x12, 8, 0x12, 0x84, 1, 1, 0, 0, 0, 0,
          0xFF, 0x09, 0, 8, 0x04, 0x24, 0, 0, 0, 20, 0, 1],
        &[0x72, 0x03, 0, 15, 0, 0x31, 0, 0, 0x05, 0x4C, 0, 0, 0, 8, 0, 0, 0, 1, 0x36],
    ];
    let mut rng = Rng(0x5EED_0002);
    for tsdu in tsdus {
        let whole = dt(tsdu);
        for cut in 0..whole.len() {
            for patch in [false, true] {
                let mut data = whole[..cut].to_vec();
                if patch && data.len() >= 4 {
                    data[3] = cut as u8; // TPKT length of the cut packet
                }
                for byte in 0..data.len() {
                    let mut p = icssa_s7::parser();
                    let mut out = Vec::new();
                    let mut flipped = data.clone();
                    flipped[byte] ^= rng.next() as u8 | 1;
                    p.feed(&flipped, rng.below(2) == 0, &mut out);
                    p.feed(&whole, true, &mut out);
                    p.feed(&whole, false, &mut out);
                }
            }
        }
    }
}
