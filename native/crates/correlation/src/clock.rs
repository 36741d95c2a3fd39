//! Event time (`correlation.fields.Clock`, `iso`): `@timestamp` to seconds since the epoch as
//! the Python engine computes them, to the last bit.
//!
//! The sensor's form `YYYY-MM-DDTHH:MM:SS.ffffffZ` is the whole second (parsed once per second)
//! plus `int(ffffff) * 1e-6`; anything else goes through `isoformat::parse_iso`.

pub use crate::isoformat::parse_iso;
use crate::value::Val;

/// Seconds of `@timestamp`, caching the whole second of the sensor's form.
#[derive(Debug, Default)]
pub struct Clock {
    prefix: String,
    base: f64,
}

impl Clock {
    /// `Clock.seconds`: None when the value is not a time.
    pub fn seconds(&mut self, ts: &Val) -> Option<f64> {
        match ts {
            Val::Str(s) => self.text(s),
            Val::Text(s) => self.text(s),
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }

    fn text(&mut self, ts: &str) -> Option<f64> {
        if ts.is_ascii() {
            if ts.len() == 27 {
                let b = ts.as_bytes();
                if b[26] == b'Z' && b[19] == b'.' {
                    let frac = ts[20..26].chars();
                    if let Some(t) = self.sensor_form(&ts[..19], frac) {
                        return Some(t);
                    }
                }
            }
        } else {
            let chars: Vec<(usize, char)> = ts.char_indices().collect();
            if chars.len() == 27 && chars[26].1 == 'Z' && chars[19].1 == '.' {
                let frac = ts[chars[20].0..chars[26].0].chars();
                if let Some(t) = self.sensor_form(&ts[..chars[19].0], frac) {
                    return Some(t);
                }
            }
        }
        parse_iso(ts)
    }

    /// The whole second `prefix` plus the microseconds of six decimal digits (None when the
    /// prefix is not a time or a digit is not decimal).
    fn sensor_form(&mut self, prefix: &str, frac: std::str::Chars) -> Option<f64> {
        let base = if prefix == self.prefix && !self.prefix.is_empty() {
            self.base
        } else {
            let t = parse_iso(&format!("{prefix}Z"))?;
            self.prefix.clear();
            self.prefix.push_str(prefix);
            self.base = t;
            t
        };
        let mut us = 0u32;
        for c in frac {
            us = us * 10 + crate::pyfmt::decimal(c)?;
        }
        Some(base + f64::from(us) * 1e-6)
    }
}

/// `ts[:19]`: the first 19 characters.
pub fn prefix19(ts: &str) -> &str {
    if ts.len() >= 19 && ts.as_bytes()[..19].is_ascii() {
        return &ts[..19];
    }
    match ts.char_indices().nth(19) {
        Some((i, _)) => &ts[..i],
        None => ts,
    }
}

/// `iso(t)`: `YYYY-MM-DDTHH:MM:SS.ffffffZ` of seconds since the epoch (the year as an integer,
/// unpadded, as glibc's `%Y` writes it).
pub fn iso(t: f64) -> String {
    let micros = (t * 1e6).round_ties_even();
    let micros = if micros.is_finite() { micros as i64 } else { 0 };
    let sec = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = sec.div_euclid(86_400);
    let rem = sec.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// (year, month, day) of days since 1970-01-01, proleptic Gregorian.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Python's `float // float` (`_float_div_mod`): the floor of the quotient, snapped.
pub fn floordiv(vx: f64, wx: f64) -> f64 {
    let m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 && (wx < 0.0) != (m < 0.0) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut fd = div.floor();
        if div - fd > 0.5 {
            fd += 1.0;
        }
        fd
    } else {
        0.0f64.copysign(vx / wx)
    }
}
