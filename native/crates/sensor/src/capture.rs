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

mod pcapng;

use pcapng::Interface;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

pub const BLOCK: usize = 1 << 20;
/// The largest packet accepted (a hostile caplen beyond this is a corrupt file).
pub const MAX_CAPLEN: u32 = 262_144;
/// Blocks we decode are buffered whole; others longer than this are skipped unbuffered.
pub const MAX_BLOCK: u32 = MAX_CAPLEN + 4096 + 1024;
pub(crate) const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

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
