//! The pcapng side of the capture reader: blocks walked in the buffer, interfaces per section
//! with their link type, snap length and timestamp scale
//! (<https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/>).

use super::{
    strerror, u16_at, u32_at, Capture, CaptureError, Format, BLOCK, MAX_BLOCK, MAX_CAPLEN,
    PCAPNG_MAGIC,
};
use std::io::{self, Read};

const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;

/// An interface of the current section (IDB): link type, snap length and timestamp scale, with
/// ns = ticks * mul / div + offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interface {
    pub(crate) link: u16,
    pub(crate) mul: u128,
    pub(crate) div: u128,
    pub(crate) offset: i128,
    pub(crate) snaplen: u32,
}

impl<R: Read> Capture<R> {
    pub(super) fn next_pcapng(
        &mut self,
    ) -> Result<Option<(i128, u32, usize, usize)>, CaptureError> {
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
