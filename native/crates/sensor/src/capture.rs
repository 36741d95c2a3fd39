//! Capture readers: pcap and pcapng files streamed in constant memory (port of
//! `sensors/capture.py`).
//!
//! `Capture::next_packet` gives `(ts_ns, linktype, frame bytes)` per packet, reading the file in
//! 1 MiB blocks so that memory does not grow with the file size.
//!
//! pcap record header (<https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/>): ts_sec (4),
//! ts_frac (4, micro- or nanoseconds by magic), caplen (4), origlen (4).
//!
//! pcapng blocks (<https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/>): type (4), total
//! length (4), body, total length (4). Handled: SHB (0x0A0D0D0A, byte order per section), IDB (1:
//! link type, snaplen, `if_tsresol` and `if_tsoffset` options), EPB (6: interface, timestamp
//! hi/lo, caplen, origlen), SPB (3: origlen, interface 0), obsolete PB (2). Other blocks are
//! skipped.
//!
//! A file cut off mid-record gives every complete packet before the cut, then the error (with
//! `truncated` set). Error messages are the Python reader's, word for word.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

pub const BLOCK: usize = 1 << 20;
/// The largest packet accepted (a hostile caplen beyond this is a corrupt file).
pub const MAX_CAPLEN: u32 = 262_144;
/// Blocks we decode are buffered whole; others longer than this are skipped unbuffered.
pub const MAX_BLOCK: u32 = MAX_CAPLEN + 4096 + 1024;
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;

/// The file is not a capture we can read (`truncated`: it ends inside a record, after every
/// packet before the cut was delivered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    pub message: String,
    pub truncated: bool,
}

impl CaptureError {
    fn corrupt(message: String) -> Self {
        CaptureError {
            message,
            truncated: false,
        }
    }

    fn cut(message: String) -> Self {
        CaptureError {
            message,
            truncated: true,
        }
    }
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CaptureError {}

/// One packet; `data` borrows the reader's buffer until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// ns since the epoch (pcapng timestamps may exceed 64 bits after scaling)
    pub ts_ns: i128,
    pub linktype: u32,
    pub data: &'a [u8],
}

/// Python's `OSError.strerror` (or the error text): Rust's OS error text less ` (os error N)`.
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => text[..i].to_owned(),
        _ => text,
    }
}

/// Reads up to `n` bytes (fewer only at the end of the file), as Python's `fh.read(n)` does.
fn read_up_to<R: Read>(r: &mut R, out: &mut Vec<u8>, n: usize) -> io::Result<usize> {
    let start = out.len();
    r.take(n as u64).read_to_end(out)?;
    Ok(out.len() - start)
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link: u16,
    mul: u128,
    div: u128,
    offset: i128,
    snaplen: u32,
}

#[derive(Debug)]
enum Format {
    Pcap {
        big: bool,
        scale: i128,
        linktype: u32,
    },
    Pcapng {
        big: bool,
        seen_shb: bool,
        interfaces: Vec<Interface>,
    },
}

/// A capture being read (pcap or pcapng).
#[derive(Debug)]
pub struct Capture<R: Read> {
    reader: R,
    name: String,
    format: Format,
    buf: Vec<u8>,
    pos: usize,
    /// file offset of `buf[0]`, for error messages
    offset: u64,
    /// bytes of the first block already read (the magic kept for pcapng)
    primed: usize,
    done: bool,
}

/// Opens `path`, detects the format from the magic number (Python: `open_capture`); `name` is
/// the path as Python prints it.
pub fn open_capture(path: &Path, name: &str) -> Result<Capture<File>, CaptureError> {
    let mut fh = File::open(path)
        .map_err(|e| CaptureError::corrupt(format!("{name}: cannot open: {}", strerror(&e))))?;
    let mut magic = Vec::with_capacity(4);
    if let Err(e) = read_up_to(&mut fh, &mut magic, 4) {
        return Err(CaptureError::corrupt(format!(
            "{name}: cannot read: {}",
            strerror(&e)
        )));
    }
    Capture::with_magic(fh, name, magic)
}

fn pcap_magic(magic: &[u8]) -> Option<(bool, i128)> {
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, 1000)),
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((true, 1000)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((false, 1)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, 1)),
        _ => None,
    }
}

impl<R: Read> Capture<R> {
    /// Reads a capture from any reader, detecting the format as `open_capture` does.
    pub fn new(mut reader: R, name: &str) -> Result<Self, CaptureError> {
        let mut magic = Vec::with_capacity(4);
        if let Err(e) = read_up_to(&mut reader, &mut magic, 4) {
            return Err(CaptureError::corrupt(format!(
                "{name}: cannot read: {}",
                strerror(&e)
            )));
        }
        Self::with_magic(reader, name, magic)
    }

    /// `magic`: the first (up to) four bytes, already read from `reader`.
    fn with_magic(mut reader: R, name: &str, magic: Vec<u8>) -> Result<Self, CaptureError> {
        let io_err =
            |e: io::Error| CaptureError::corrupt(format!("{name}: cannot read: {}", strerror(&e)));
        let format = if let Some((big, scale)) = pcap_magic(&magic) {
            let mut header = magic.clone();
            read_up_to(&mut reader, &mut header, 20).map_err(io_err)?;
            if header.len() < 24 {
                return Err(CaptureError::cut(format!(
                    "{name}: capture cut off at byte {} inside the file header",
                    header.len()
                )));
            }
            let linktype = u32_at(&header, 20, big) & 0xFFFF;
            Format::Pcap {
                big,
                scale,
                linktype,
            }
        } else if magic == PCAPNG_MAGIC {
            Format::Pcapng {
                big: false,
                seen_shb: false,
                interfaces: Vec::new(),
            }
        } else {
            let shown = if magic.is_empty() {
                "empty".to_owned()
            } else {
                icssa_core::text::hex(&magic)
            };
            return Err(CaptureError::corrupt(format!(
                "{name}: not a pcap or pcapng capture (magic {shown})"
            )));
        };
        let (buf, offset) = match format {
            Format::Pcap { .. } => (Vec::new(), 24),
            // the magic is the first block's type: keep it in the buffer
            Format::Pcapng { .. } => (magic, 0),
        };
        let primed = buf.len();
        Ok(Capture {
            reader,
            name: name.to_owned(),
            format,
            buf,
            pos: 0,
            offset,
            primed,
            done: false,
        })
    }

    /// Reads the next block of the file behind what is left of the buffer; false at the end.
    fn refill(&mut self) -> Result<bool, CaptureError> {
        if self.pos < self.buf.len() {
            self.buf.drain(..self.pos);
        } else {
            self.buf.clear();
        }
        self.offset += self.pos as u64;
        self.pos = 0;
        // the magic already buffered by `with_magic` counts as part of the first block
        let want = BLOCK - std::mem::take(&mut self.primed);
        match read_up_to(&mut self.reader, &mut self.buf, want) {
            Ok(n) => Ok(n > 0),
            Err(e) => Err(CaptureError::corrupt(format!(
                "{}: cannot read: {}",
                self.name,
                strerror(&e)
            ))),
        }
    }

    /// The next packet, `Ok(None)` at the end, or the error that ends the capture (after it,
    /// `Ok(None)`).
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let found = match self.format {
            Format::Pcap {
                big,
                scale,
                linktype,
            } => self.next_pcap(big, scale, linktype),
            Format::Pcapng { .. } => self.next_pcapng(),
        };
        match found {
            Ok(Some((ts_ns, linktype, a, b))) => Ok(Some(Packet {
                ts_ns,
                linktype,
                data: &self.buf[a..b],
            })),
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    fn truncated_at_end(
        &self,
        what: &str,
    ) -> Result<Option<(i128, u32, usize, usize)>, CaptureError> {
        if self.pos < self.buf.len() {
            return Err(CaptureError::cut(format!(
                "{}: capture cut off at byte {} inside the {what} at byte {}",
                self.name,
                self.offset + self.buf.len() as u64,
                self.offset + self.pos as u64
            )));
        }
        Ok(None)
    }

    fn next_pcap(
        &mut self,
        big: bool,
        scale: i128,
        linktype: u32,
    ) -> Result<Option<(i128, u32, usize, usize)>, CaptureError> {
        loop {
            let pos = self.pos;
            let end = self.buf.len();
            if pos + 16 <= end {
                let sec = u32_at(&self.buf, pos, big);
                let frac = u32_at(&self.buf, pos + 4, big);
                let caplen = u32_at(&self.buf, pos + 8, big);
                if caplen > MAX_CAPLEN {
                    return Err(CaptureError::corrupt(format!(
                        "{}: corrupt record at byte {}: caplen {caplen}",
                        self.name,
                        self.offset + pos as u64
                    )));
                }
                let nxt = pos + 16 + caplen as usize;
                if nxt <= end {
                    self.pos = nxt;
                    let ts = i128::from(sec) * 1_000_000_000 + i128::from(frac) * scale;
                    return Ok(Some((ts, linktype, pos + 16, nxt)));
                }
            }
            if !self.refill()? {
                return self.truncated_at_end("record");
            }
        }
    }

    fn next_pcapng(&mut self) -> Result<Option<(i128, u32, usize, usize)>, CaptureError> {
        loop {
            if let Some(found) = self.pcapng_blocks()? {
                return Ok(Some(found));
            }
            if !self.refill()? {
                return self.truncated_at_end("block");
            }
        }
    }

    /// Walks the buffered blocks up to the next packet (`Some`), or up to where more of the
    /// file is needed (`None`).
    fn pcapng_blocks(&mut self) -> Result<Option<(i128, u32, usize, usize)>, CaptureError> {
        let Format::Pcapng {
            big,
            seen_shb,
            interfaces,
        } = &mut self.format
        else {
            return Ok(None);
        };
        let name = &self.name;
        loop {
            let pos = self.pos;
            let buf = &self.buf;
            let end = buf.len();
            if pos + 12 > end {
                return Ok(None);
            }
            if buf[pos..pos + 4] == PCAPNG_MAGIC {
                match &buf[pos + 8..pos + 12] {
                    [0x4d, 0x3c, 0x2b, 0x1a] => *big = false,
                    [0x1a, 0x2b, 0x3c, 0x4d] => *big = true,
                    _ => {
                        return Err(CaptureError::corrupt(format!(
                            "{name}: bad byte-order magic at byte {}",
                            self.offset + pos as u64
                        )))
                    }
                }
                *seen_shb = true;
                interfaces.clear();
            } else if !*seen_shb {
                return Err(CaptureError::corrupt(format!(
                    "{name}: pcapng file does not start with a section header"
                )));
            }
            let big = *big;
            let btype = u32_at(buf, pos, big);
            let blen = u32_at(buf, pos + 4, big);
            let read_block = matches!(btype, BT_SHB | BT_IDB | BT_PB | BT_SPB | BT_EPB);
            if blen < 12 || !blen.is_multiple_of(4) || (blen > MAX_BLOCK && read_block) {
                return Err(CaptureError::corrupt(format!(
                    "{name}: corrupt block at byte {}: length {blen}",
                    self.offset + pos as u64
                )));
            }
            let blen = blen as usize;
            if pos + blen > end {
                if blen <= MAX_BLOCK as usize {
                    return Ok(None);
                }
                // a large block we do not read (name resolution, decryption secrets, custom):
                // skip it without buffering it
                let at = self.offset + pos as u64;
                let mut need = (pos + blen - end) as u64;
                let mut sink = io::sink();
                while need > 0 {
                    let got = io::copy(
                        &mut (&mut self.reader).take(need.min(BLOCK as u64)),
                        &mut sink,
                    )
                    .map_err(|e| {
                        CaptureError::corrupt(format!("{name}: cannot read: {}", strerror(&e)))
                    })?;
                    if got == 0 {
                        return Err(CaptureError::cut(format!(
                            "{name}: capture cut off inside the block at byte {at}"
                        )));
                    }
                    need -= got;
                }
                self.buf.clear();
                self.pos = 0;
                self.offset = at + blen as u64;
                return Ok(None);
            }
            let body = pos + 8;
            self.pos = pos + blen;
            let u32b = |at: usize| u32_at(buf, at, big);
            let found = match btype {
                BT_EPB if blen >= 32 => {
                    let (iface, hi, lo, caplen) =
                        (u32b(body), u32b(body + 4), u32b(body + 8), u32b(body + 12));
                    match interfaces.get(iface as usize) {
                        Some(i) if caplen as usize <= blen - 32 => {
                            let start = body + 20;
                            Some((
                                i.time(hi, lo),
                                u32::from(i.link),
                                start,
                                start + caplen as usize,
                            ))
                        }
                        _ => None,
                    }
                }
                BT_SPB if blen >= 16 && !interfaces.is_empty() => {
                    let origlen = u32b(body) as usize;
                    let i = interfaces[0];
                    let snap = if i.snaplen == 0 {
                        MAX_CAPLEN
                    } else {
                        i.snaplen
                    } as usize;
                    let caplen = origlen.min(blen - 16).min(snap);
                    Some((0, u32::from(i.link), body + 4, body + 4 + caplen))
                }
                BT_PB if blen >= 32 => {
                    let iface = u16_at(buf, body, big);
                    let (hi, lo, caplen) = (u32b(body + 4), u32b(body + 8), u32b(body + 12));
                    match interfaces.get(iface as usize) {
                        Some(i) if caplen as usize <= blen - 32 => Some((
                            i.time(hi, lo),
                            u32::from(i.link),
                            body + 20,
                            body + 20 + caplen as usize,
                        )),
                        _ => None,
                    }
                }
                BT_IDB if blen >= 20 => {
                    let link = u16_at(buf, body, big);
                    let snaplen = u32b(body + 4);
                    let (mul, div, offset) = ts_options(buf, body + 8, pos + blen - 4, big);
                    interfaces.push(Interface {
                        link,
                        mul,
                        div,
                        offset,
                        snaplen,
                    });
                    None
                }
                _ => None,
            };
            if found.is_some() {
                return Ok(found);
            }
        }
    }
}

impl Interface {
    /// `ns = ticks * mul // div + offset`
    fn time(&self, hi: u32, lo: u32) -> i128 {
        let ticks = (u128::from(hi) << 32) | u128::from(lo);
        // ticks < 2^64 and mul <= 10^9: the product fits in 128 bits
        (ticks * self.mul / self.div) as i128 + self.offset
    }
}

/// `(mul, div, offset)` with ns = ticks * mul // div + offset, from the IDB options.
///
/// `if_tsresol` (9) is 10^-n s, or 2^-n s with the top bit set; the default is microseconds.
/// It is kept as an exact fraction: 2^-10 s ticks or picoseconds are not a whole number of ns.
/// `if_tsoffset` (14) is a signed number of seconds added to every timestamp.
fn ts_options(buf: &[u8], mut pos: usize, end: usize, big: bool) -> (u128, u128, i128) {
    let (mut mul, mut div, mut offset) = (1000u128, 1u128, 0i128);
    while pos + 4 <= end {
        let code = u16_at(buf, pos, big);
        let length = u16_at(buf, pos + 2, big) as usize;
        if code == 0 {
            break;
        }
        if code == 9 && length >= 1 && pos + 4 < end {
            let res = buf[pos + 4];
            if res & 0x80 != 0 {
                (mul, div) = (1_000_000_000, 1u128 << (res & 0x7F));
            } else if res <= 9 {
                (mul, div) = (10u128.pow(9 - u32::from(res)), 1);
            } else {
                // beyond 10^38 the quotient of any 64-bit tick count is 0 either way
                (mul, div) = (
                    1,
                    10u128.checked_pow(u32::from(res) - 9).unwrap_or(u128::MAX),
                );
            }
        } else if code == 14 && length >= 8 && pos + 12 <= end {
            let raw: [u8; 8] = buf[pos + 4..pos + 12].try_into().unwrap_or([0; 8]);
            let secs = if big {
                i64::from_be_bytes(raw)
            } else {
                i64::from_le_bytes(raw)
            };
            offset = i128::from(secs) * 1_000_000_000;
        }
        pos += 4 + ((length + 3) & !3);
    }
    (mul, div, offset)
}

fn u32_at(buf: &[u8], at: usize, big: bool) -> u32 {
    let raw: [u8; 4] = buf[at..at + 4].try_into().unwrap_or([0; 4]);
    if big {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    }
}

fn u16_at(buf: &[u8], at: usize, big: bool) -> u16 {
    let raw = [buf[at], buf[at + 1]];
    if big {
        u16::from_be_bytes(raw)
    } else {
        u16::from_le_bytes(raw)
    }
}
