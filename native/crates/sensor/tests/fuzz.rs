//! No panic on hostile input: pseudo-random and mutated capture files through the readers and
//! the sensor, and pseudo-random frames (bare, or behind valid headers to the ICS ports) on
//! every link type. Deterministic seeds; debug builds also check integer overflow.

use icssa_sensor::capture::Capture;
use icssa_sensor::Sensor;
use std::io::Cursor;
use std::path::PathBuf;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
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

    /// Up to `max - 1` random bytes.
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }
}

/// Reads every packet of `data` into a fresh sensor; returns the packets read.
fn replay(data: Vec<u8>) -> usize {
    let mut sensor = Sensor::new("fuzz", "default", "cid", 64);
    let Ok(mut cap) = Capture::new(Cursor::new(data), "fuzz") else {
        return 0;
    };
    let mut n = 0;
    while let Ok(Some(p)) = cap.next_packet() {
        sensor.packet(p.ts_ns, p.linktype, p.data);
        sensor.take_events();
        n += 1;
    }
    sensor.finish();
    n
}

const MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

#[test]
fn random_capture_files() {
    let mut rng = Rng(0x5eed_0001);
    for i in 0..3000 {
        let mut data = rng.some_bytes(2048);
        if i % 4 != 0 && data.len() >= 4 {
            data[..4].copy_from_slice(&MAGICS[rng.below(MAGICS.len())]);
            if data[0] == 0x0a && data.len() >= 12 {
                // a plausible section header: length 28, little- or big-endian byte-order magic
                data[4..8].copy_from_slice(&28u32.to_le_bytes());
                data[8..12].copy_from_slice(if i % 2 == 0 {
                    &[0x4d, 0x3c, 0x2b, 0x1a]
                } else {
                    &[0x1a, 0x2b, 0x3c, 0x4d]
                });
            }
        }
        replay(data);
    }
}

fn reference_captures() -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../pcaps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "pcap"));
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

#[test]
fn mutated_reference_captures() {
    let captures = reference_captures();
    assert!(!captures.is_empty(), "pcaps/ holds the reference captures");
    let mut rng = Rng(0x5eed_0002);
    let mut packets = 0;
    for round in 0..6 {
        for original in &captures {
            let mut data = original.clone();
            for _ in 0..1 + rng.below(8 << round) {
                let at = 24 + rng.below(data.len().saturating_sub(24));
                if at < data.len() {
                    data[at] = rng.next() as u8;
                }
            }
            if round % 2 == 1 {
                data.truncate(rng.below(data.len() + 1));
            }
            packets += replay(data);
        }
    }
    assert!(packets > 1000);
}

/// Ethernet, IPv4 (sometimes with fragment bits, options or IPv6), TCP or UDP to an ICS port,
/// then random bytes.
fn framed(rng: &mut Rng) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    let v6 = rng.below(4) == 0;
    f.extend(if v6 { [0x86, 0xdd] } else { [0x08, 0x00] });
    let proto = if rng.below(3) == 0 { 17 } else { 6 };
    let port: u16 = [502, 102, 4840, 20000][rng.below(4)];
    let mut l4 = vec![0x9c, 0x40];
    l4.extend(port.to_be_bytes());
    l4.extend(rng.bytes(8)); // seq, ack
    l4.extend([
        0x50,
        [0x02, 0x12, 0x18, 0x10, 0x11, 0x04][rng.below(6)],
        0x20,
        0,
        0,
        0,
        0,
        0,
    ]);
    if proto == 17 {
        l4.truncate(8);
    }
    l4.extend(rng.some_bytes(300));
    if v6 {
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend(((l4.len() + rng.below(3)) as u16).to_be_bytes());
        ip.extend([[proto, 44, 0, 51][rng.below(4)], 64]);
        ip.extend(rng.bytes(32));
        f.extend(ip);
    } else {
        let mut ip = vec![0x45, 0];
        ip.extend(((20 + l4.len() + rng.below(3)) as u16).to_be_bytes());
        ip.extend(rng.bytes(2));
        ip.extend(if rng.below(4) == 0 {
            rng.bytes(2)
        } else {
            vec![0x40, 0]
        });
        ip.extend([
            64,
            proto,
            0,
            0,
            10,
            0,
            0,
            rng.below(4) as u8,
            10,
            0,
            0,
            rng.below(4) as u8,
        ]);
        f.extend(ip);
    }
    f.extend(l4);
    f
}

#[test]
fn random_packets_on_every_link_type() {
    let mut rng = Rng(0x5eed_0003);
    let links = [0u32, 1, 12, 14, 101, 108, 113, 276, 147];
    let mut sensor = Sensor::new("fuzz", "default", "cid", 256);
    let mut ts: i128 = 0;
    for i in 0..40_000 {
        let link = links[rng.below(links.len())];
        let data = if link == 1 && i % 2 == 0 {
            framed(&mut rng)
        } else {
            rng.some_bytes(200)
        };
        // mostly forward in time, sometimes far back or far ahead
        ts += match rng.below(100) {
            0 => -(rng.below(1 << 40) as i128),
            1 => 700_000_000_000,
            _ => rng.below(1_000_000) as i128,
        };
        sensor.packet(ts, link, &data);
        if i % 1000 == 0 {
            sensor.take_events();
        }
    }
    sensor.finish();
    assert!(sensor
        .stats()
        .iter()
        .any(|(k, v)| *k == "flows" && *v > 100));
    // extreme times: the sweep and the ISO clamp take them
    for ts in [i128::MIN, i128::MAX, -1, 0] {
        sensor.packet(ts, 1, &framed(&mut rng));
    }
}
