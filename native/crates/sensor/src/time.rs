//! Packet time (ns since the epoch) -> ISO 8601 with microseconds, as `icssa.events.Timestamps`
//! writes it: UTC, proleptic Gregorian calendar, clamped to the years 1..9999 that ISO 8601 can
//! write with four digits (a hostile capture's timestamps beyond them are clamped).

use std::fmt::Write;
use std::sync::Arc;

pub const FIRST_NS: i128 = -62_135_596_800 * 1_000_000_000;
pub const LAST_NS: i128 = 253_402_300_800 * 1_000_000_000 - 1;

/// `(year, month, day)` of a day number (days since 1970-01-01), after Howard Hinnant's
/// `civil_from_days` (<http://howardhinnant.github.io/date_algorithms.html>).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats timestamps, caching the formatted second and the last string made.
#[derive(Debug)]
pub struct Timestamps {
    /// [start, end) in ns: the cached second (none yet)
    start: i128,
    end: i128,
    /// `<date>T<time>.` of that second
    prefix: String,
    last: Option<(i128, Arc<str>)>,
}

impl Default for Timestamps {
    fn default() -> Self {
        Timestamps {
            start: 1,
            end: 0,
            prefix: String::new(),
            last: None,
        }
    }
}

impl Timestamps {
    pub fn new() -> Self {
        Self::default()
    }

    /// `ts_ns` clamped to what ISO 8601 can write.
    pub fn clamp(ts_ns: i128) -> i128 {
        ts_ns.clamp(FIRST_NS, LAST_NS)
    }

    /// The ISO 8601 text of `ts_ns` (shared while the same time repeats).
    pub fn iso(&mut self, ts_ns: i128) -> Arc<str> {
        if let Some((t, text)) = &self.last {
            if *t == ts_ns {
                return text.clone();
            }
        }
        let ts = Self::clamp(ts_ns);
        if !(self.start <= ts && ts < self.end) {
            self.second(ts);
        }
        let micros = ((ts - self.start) / 1000) as u32;
        let mut s = String::with_capacity(self.prefix.len() + 7);
        s.push_str(&self.prefix);
        let _ = write!(s, "{micros:06}Z");
        let text: Arc<str> = s.into();
        self.last = Some((ts_ns, text.clone()));
        text
    }

    fn second(&mut self, ts: i128) {
        let sec = ts.div_euclid(1_000_000_000);
        self.start = sec * 1_000_000_000;
        self.end = self.start + 1_000_000_000;
        // clamped: |sec| < 2^38, so it fits an i64
        let sec = sec as i64;
        let (y, m, d) = civil_from_days(sec.div_euclid(86_400));
        let tod = sec.rem_euclid(86_400);
        self.prefix.clear();
        let _ = write!(
            self.prefix,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.",
            tod / 3600,
            tod / 60 % 60,
            tod % 60
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_texts() {
        // expected strings: Python `icssa.events.iso_from_ns` of the same numbers
        let mut t = Timestamps::new();
        assert_eq!(&*t.iso(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            &*t.iso(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(&*t.iso(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            &*t.iso(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(&*t.iso(i128::MIN), "0001-01-01T00:00:00.000000Z");
        assert_eq!(&*t.iso(i128::MAX), "9999-12-31T23:59:59.999999Z");
        assert_eq!(
            &*t.iso(-5_000_000_000_000_000_000),
            "1811-07-23T15:06:40.000000Z"
        );
        assert_eq!(
            &*t.iso(4_102_444_800_123_456_789),
            "2100-01-01T00:00:00.123456Z"
        );
    }
}
