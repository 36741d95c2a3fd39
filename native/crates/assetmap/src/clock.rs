//! Event time text -> seconds since the epoch, for read intervals (a port of
//! `assetmap/reader.py`'s `EventClock`): the sensor's `YYYY-MM-DDTHH:MM:SS.ffffffZ` read as
//! `datetime.fromisoformat(ts).timestamp()` reads it (microseconds / 10**6, correctly
//! rounded); a bad stamp keeps the previous time.
//!
//! Native events always carry the sensor's form (years 1-9999); any other text is taken as a
//! bad stamp, where Python would still try `datetime.fromisoformat` on it.

#[derive(Debug)]
pub struct EventClock {
    text: String,
    value: f64,
    /// `YYYY-MM-DDTHH:MM:SS.` of the last whole second read, and that second in microseconds
    prefix: String,
    base_us: i64,
}

impl Default for EventClock {
    fn default() -> Self {
        EventClock {
            text: String::new(),
            value: 0.0,
            prefix: "1970-01-01T00:00:00.".into(),
            base_us: 0,
        }
    }
}

/// `n / 10**6` as Python's true division of ints gives it (correctly rounded).
fn micros_to_seconds(n: i64) -> f64 {
    if n.unsigned_abs() <= 1 << 53 {
        return n as f64 / 1e6;
    }
    let sign = if n < 0 { "-" } else { "" };
    let a = n.unsigned_abs();
    format!("{sign}{}.{:06}", a / 1_000_000, a % 1_000_000)
        .parse()
        .unwrap_or(0.0)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` in UTC, or None when it is no time.
fn whole_second(t: &[u8]) -> Option<i64> {
    if t.len() != 19
        || t[4] != b'-'
        || t[7] != b'-'
        || t[10] != b'T'
        || t[13] != b':'
        || t[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(&t[0..4])?, digits(&t[5..7])?, digits(&t[8..10])?);
    let (h, mi, s) = (
        digits(&t[11..13])?,
        digits(&t[14..16])?,
        digits(&t[17..19])?,
    );
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if y < 1
        || !(1..=12).contains(&mo)
        || d < 1
        || d > month_days[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || s > 59
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

impl EventClock {
    pub fn seconds(&mut self, ts: &str) -> f64 {
        if ts == self.text {
            return self.value;
        }
        self.text.clear();
        self.text.push_str(ts);
        let b = ts.as_bytes();
        if b.len() != 27 || b[26] != b'Z' || b[19] != b'.' {
            return self.value; // not the sensor's form: a bad stamp
        }
        let Some(frac) = digits(&b[20..26]) else {
            return self.value;
        };
        if !ts.starts_with(&self.prefix) {
            let Some(base) = whole_second(&b[..19]) else {
                return self.value;
            };
            self.prefix.clear();
            self.prefix.push_str(&ts[..20]);
            self.base_us = base * 1_000_000;
        }
        self.value = micros_to_seconds(self.base_us + frac);
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_python() {
        // expected: assetmap.reader.EventClock().seconds on the same texts, in order
        let mut c = EventClock::default();
        assert_eq!(c.seconds("2026-11-26T01:56:16.693894Z"), 1795658176.693894);
        assert_eq!(c.seconds("9999-12-31T23:59:59.999999Z"), 253402300800.0);
        assert_eq!(c.seconds("0001-01-01T00:00:00.000001Z"), -62135596800.0);
        assert_eq!(c.seconds("2026-11-26T01:56:16.69389xZ"), -62135596800.0);
        assert_eq!(c.seconds("2024-02-30T00:00:00.000000Z"), -62135596800.0);
        assert_eq!(c.seconds("1970-01-01T00:00:01.500000Z"), 1.5);
        assert_eq!(c.seconds("1970-01-01T00:00:01.250000Z"), 1.25);
    }
}
