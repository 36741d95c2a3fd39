//! The capture readers on hand-built files. Expected packets and error texts: what
//! `sensors.capture.read_pcap` / `read_pcapng` give for the same bytes (named "cap").

use icssa_sensor::capture::{Capture, CaptureError};
use std::io::Cursor;

type Got = Vec<(i128, u32, Vec<u8>)>;

fn read(data: &[u8]) -> (Got, Option<CaptureError>) {
    let mut cap = match Capture::new(Cursor::new(data.to_vec()), "cap") {
        Ok(c) => c,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut got = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(Some(p)) => got.push((p.ts_ns, p.linktype, p.data.to_vec())),
            Ok(None) => return (got, None),
            Err(e) => {
                assert_eq!(cap.next_packet(), Ok(None), "nothing after an error");
                return (got, Some(e));
            }
        }
    }
}

fn err(data: &[u8]) -> (usize, String, bool) {
    let (got, e) = read(data);
    let e = e.expect("an error");
    (got.len(), e.message, e.truncated)
}

/// pcap file header: magic, version 2.4, thiszone, sigfigs, snaplen, linktype
fn pcap_header(big: bool, magic: u32, linktype: u32) -> Vec<u8> {
    let mut h = Vec::new();
    let w32 = |h: &mut Vec<u8>, x: u32| {
        h.extend(if big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    w32(&mut h, magic);
    h.extend(if big { [0, 2, 0, 4] } else { [2, 0, 4, 0] }); // version major, minor
    w32(&mut h, 0); // thiszone
    w32(&mut h, 0); // sigfigs
    w32(&mut h, 65535); // snaplen
    w32(&mut h, linktype);
    h
}

/// pcap record: ts_sec, ts_frac, caplen, origlen, then the bytes
fn record(big: bool, sec: u32, frac: u32, caplen: u32, data: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    for x in [sec, frac, caplen, data.len() as u32] {
        r.extend(if big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        });
    }
    r.extend_from_slice(data);
    r
}

#[test]
fn pcap_little_endian_micro_with_fcs_bits() {
    let mut f = pcap_header(false, 0xa1b2_c3d4, 0x0fff_0001); // upper bits: FCS length, masked
    f.extend(record(false, 1, 2, 2, b"ab"));
    f.extend(record(false, 3, 4, 0, b""));
    let (got, e) = read(&f);
    assert_eq!(
        got,
        vec![
            (1_000_002_000, 1, b"ab".to_vec()),
            (3_000_004_000, 1, vec![])
        ]
    );
    assert!(e.is_none());
}

#[test]
fn pcap_big_endian_nano() {
    let mut f = pcap_header(true, 0xa1b2_3c4d, 113);
    f.extend(record(true, 5, 6, 3, b"xyz"));
    assert_eq!(read(&f).0, vec![(5_000_000_006, 113, b"xyz".to_vec())]);
}

#[test]
fn pcap_errors_after_the_packets_before_them() {
    let mut base = pcap_header(false, 0xa1b2_c3d4, 1);
    base.extend(record(false, 1, 2, 2, b"ab")); // 42 bytes so far
    let cut_body = [base.clone(), record(false, 1, 1, 10, b"abcd")].concat();
    assert_eq!(
        err(&cut_body),
        (
            1,
            "cap: capture cut off at byte 62 inside the record at byte 42".into(),
            true
        )
    );
    let absurd = [base.clone(), record(false, 1, 1, 262_145, b"abcd")].concat();
    assert_eq!(
        err(&absurd),
        (
            1,
            "cap: corrupt record at byte 42: caplen 262145".into(),
            false
        )
    );
    let cut_header = [base.clone(), vec![1, 2, 3]].concat();
    assert_eq!(
        err(&cut_header),
        (
            1,
            "cap: capture cut off at byte 45 inside the record at byte 42".into(),
            true
        )
    );
    assert_eq!(
        err(&base[..10]),
        (
            0,
            "cap: capture cut off at byte 10 inside the file header".into(),
            true
        )
    );
    assert_eq!(
        err(&[0, 1, 2, 3, 4]),
        (
            0,
            "cap: not a pcap or pcapng capture (magic 00010203)".into(),
            false
        )
    );
    assert_eq!(
        err(&[]),
        (
            0,
            "cap: not a pcap or pcapng capture (magic empty)".into(),
            false
        )
    );
    assert_eq!(
        err(&[0xd4, 0xc3]),
        (
            0,
            "cap: not a pcap or pcapng capture (magic d4c3)".into(),
            false
        )
    );
}

/// pcapng block: type, total length, body padded to 4, total length
fn block(big: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    body.resize(body.len().div_ceil(4) * 4, 0);
    let n = (12 + body.len()) as u32;
    let w = |x: u32| {
        if big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    };
    [w(btype).to_vec(), w(n).to_vec(), body, w(n).to_vec()].concat()
}

fn u16s(big: bool, xs: &[u16]) -> Vec<u8> {
    xs.iter()
        .flat_map(|x| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        })
        .collect()
}

fn u32s(big: bool, xs: &[u32]) -> Vec<u8> {
    xs.iter()
        .flat_map(|x| {
            if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        })
        .collect()
}

/// SHB: byte-order magic, version 1.0, section length -1
fn shb(big: bool) -> Vec<u8> {
    let body = [u32s(big, &[0x1a2b_3c4d]), u16s(big, &[1, 0]), vec![0xff; 8]].concat();
    block(big, 0x0a0d_0d0a, &body)
}

/// IDB: link type, reserved, snap length, options
fn idb(big: bool, link: u16, snap: u32, opts: &[u8]) -> Vec<u8> {
    block(
        big,
        1,
        &[u16s(big, &[link, 0]), u32s(big, &[snap]), opts.to_vec()].concat(),
    )
}

/// EPB: interface, timestamp high, low, caplen, origlen, data
fn epb(big: bool, iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let head = u32s(
        big,
        &[
            iface,
            (ticks >> 32) as u32,
            ticks as u32,
            data.len() as u32,
            data.len() as u32,
        ],
    );
    block(big, 6, &[head, data.to_vec()].concat())
}

#[test]
fn pcapng_sections_interfaces_resolutions() {
    // if_tsresol (9) = 3: milliseconds; if_tsoffset (14) = -1 s; end of options
    let opts = [
        u16s(false, &[9, 1]),
        vec![3, 0, 0, 0],
        u16s(false, &[14, 8]),
        (-1i64).to_le_bytes().to_vec(),
        vec![0; 4],
    ]
    .concat();
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &opts));
    f.extend(epb(false, 0, 1500, b"hello")); // 1500 ms - 1 s
    f.extend(block(
        false,
        3,
        &[u32s(false, &[9]), b"abcdefghi".to_vec()].concat(),
    )); // SPB, time 0
    f.extend(epb(false, 1, 5, b"skip")); // no interface 1: skipped
    f.extend(shb(true)); // a big-endian section: interfaces start again
    f.extend(idb(true, 113, 4, &[])); // snap length 4, microseconds
    f.extend(epb(true, 0, 7, b"xy"));
    f.extend(block(
        true,
        3,
        &[u32s(true, &[9]), b"abcdefghi".to_vec()].concat(),
    )); // cut to the snap length
        // obsolete PB: interface, drops, timestamp high, low, caplen, origlen
    let pb = [
        u16s(true, &[0, 0]),
        u32s(true, &[0, 9, 1, 1]),
        b"q".to_vec(),
    ]
    .concat();
    f.extend(block(true, 2, &pb));
    assert_eq!(f.len(), 324);
    let (got, e) = read(&f);
    assert!(e.is_none());
    assert_eq!(
        got,
        vec![
            (500_000_000, 1, b"hello".to_vec()),
            (0, 1, b"abcdefghi".to_vec()),
            (7000, 113, b"xy".to_vec()),
            (0, 113, b"abcd".to_vec()),
            (9000, 113, b"q".to_vec()),
        ]
    );
}

#[test]
fn pcapng_errors() {
    let mut bad_bom = shb(false);
    bad_bom.extend(idb(false, 1, 0, &[]));
    let mut second = shb(false);
    second[8..12].copy_from_slice(&[1, 2, 3, 4]);
    bad_bom.extend(second);
    assert_eq!(
        err(&bad_bom),
        (0, "cap: bad byte-order magic at byte 48".into(), false)
    );
    let odd = [shb(false), u32s(false, &[6, 13]), vec![0; 5]].concat();
    assert_eq!(
        err(&odd),
        (0, "cap: corrupt block at byte 28: length 13".into(), false)
    );
    let cut = [shb(false), idb(false, 1, 0, &[]), epb(false, 0, 1, b"abc")].concat();
    assert_eq!(
        err(&cut[..cut.len() - 3]),
        (
            0,
            "cap: capture cut off at byte 81 inside the block at byte 48".into(),
            true
        )
    );
    // an unknown block larger than the reader buffers, cut off: skipped unread until the end
    let big = [shb(false), u32s(false, &[0x0bad, 400_000]), vec![0; 100]].concat();
    assert_eq!(
        err(&big),
        (
            0,
            "cap: capture cut off inside the block at byte 28".into(),
            true
        )
    );
    // fewer than 12 bytes of it: cut off as any block
    assert_eq!(
        err(&big[..36]),
        (
            0,
            "cap: capture cut off at byte 36 inside the block at byte 28".into(),
            true
        )
    );
}

#[test]
fn pcapng_huge_timestamps_stay_exact() {
    // 2^-10 s ticks (0x8a), the largest tick count: exact in 128 bits
    let opts = [u16s(false, &[9, 1]), vec![0x8a, 0, 0, 0], vec![0; 4]].concat();
    let f = [
        shb(false),
        idb(false, 1, 0, &opts),
        epb(false, 0, u64::MAX, b"z"),
    ]
    .concat();
    let want = i128::from(u64::MAX) * 1_000_000_000 / 1024;
    assert_eq!(read(&f).0, vec![(want, 1, b"z".to_vec())]);
}
