//! `datetime.fromisoformat(ts).timestamp()` as CPython 3.11 computes it: a port of
//! `datetime_fromisoformat` (`Modules/_datetimemodule.c`, which reads the UTF-8 bytes as C
//! strings: a byte past the end reads as NUL; its integer arithmetic truncates), naive times
//! taken as UTC, and the microseconds divided as Python divides ints (correctly rounded).

/// `datetime.fromisoformat(ts).timestamp()` with naive times taken as UTC; None where Python
/// raises ValueError.
pub fn parse_iso(ts: &str) -> Option<f64> {
    if ts.chars().count() < 7 {
        return None;
    }
    let b = ts.as_bytes();
    let at = |i: usize| -> u8 { b.get(i).copied().unwrap_or(0) };
    let len = b.len();
    let sep = separator(b, len)?;
    let (mut year, mut month, mut day) = (0i32, 0i32, 0i32);
    let mut rv = parse_date(&|i| at(i), sep, &mut year, &mut month, &mut day);
    let mut time = Time::default();
    if rv == 0 && len > sep {
        let lead = at(sep);
        let skip = if lead & 0x80 == 0 {
            1
        } else {
            match lead & 0xf0 {
                0xe0 => 3,
                0xf0 => 4,
                _ => 2,
            }
        };
        let start = sep + skip;
        rv = match len.checked_sub(start) {
            Some(tlen) => parse_time(&|i| at(start + i), tlen, &mut time),
            // the separator's character runs past the end (C reads beyond the string)
            None => -1,
        };
    }
    if rv < 0 {
        return None;
    }
    let offset_us: i64 = if rv == 1 {
        if time.tz_offset == 0 {
            0
        } else {
            let us = i64::from(time.tz_offset) * 1_000_000 + i64::from(time.tz_us);
            if us.abs() >= 86_400_000_000 {
                return None;
            }
            us
        }
    } else {
        0
    };
    if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if !(0..=23).contains(&time.hour) || !(0..=59).contains(&time.minute) {
        return None;
    }
    if !(0..=59).contains(&time.second) || !(0..=999_999).contains(&time.us) {
        return None;
    }
    let days = i64::from(ymd_to_ord(year, month, day)) - 719_163; // 1970-01-01
    let secs = days * 86_400 + i64::from(time.hour * 3600 + time.minute * 60 + time.second);
    Some(div_1e6(secs * 1_000_000 + i64::from(time.us) - offset_us))
}

/// `_find_isoformat_datetime_separator` (None for its -1).
fn separator(b: &[u8], len: usize) -> Option<usize> {
    let at = |i: usize| -> u8 { b.get(i).copied().unwrap_or(0) };
    if len == 7 {
        return Some(7);
    }
    if at(4) == b'-' {
        if at(5) == b'W' {
            if len < 8 {
                return None;
            }
            if len > 8 && at(8) == b'-' {
                if len == 9 {
                    return None;
                }
                if len > 10 && at(10).is_ascii_digit() {
                    return Some(8);
                }
                return Some(10);
            }
            return Some(8);
        }
        return Some(10);
    }
    if at(4) == b'W' {
        let mut idx = 7;
        while idx < len && at(idx).is_ascii_digit() {
            idx += 1;
        }
        if idx < 9 {
            return Some(idx);
        }
        return Some(if idx % 2 == 0 { 7 } else { 8 });
    }
    Some(8)
}

/// `parse_digits`: the position after `n` digits, None at a non-digit.
fn digits(at: &dyn Fn(usize) -> u8, pos: usize, var: &mut i32, n: usize) -> Option<usize> {
    for i in 0..n {
        let c = at(pos + i);
        if !c.is_ascii_digit() {
            return None;
        }
        *var = var.wrapping_mul(10).wrapping_add(i32::from(c - b'0'));
    }
    Some(pos + n)
}

/// `parse_isoformat_date` (0 on success, negative on failure).
fn parse_date(at: &dyn Fn(usize) -> u8, len: usize, y: &mut i32, m: &mut i32, d: &mut i32) -> i32 {
    let Some(mut p) = digits(at, 0, y, 4) else {
        return -1;
    };
    let uses_sep = at(p) == b'-';
    if uses_sep {
        p += 1;
    }
    if at(p) == b'W' {
        p += 1;
        let (mut week, mut wday) = (0, 0);
        let Some(q) = digits(at, p, &mut week, 2) else {
            return -3;
        };
        p = q;
        if p < len {
            if uses_sep {
                let c = at(p);
                p += 1;
                if c != b'-' {
                    return -2;
                }
            }
            let Some(_) = digits(at, p, &mut wday, 1) else {
                return -4;
            };
        } else {
            wday = 1;
        }
        let year = *y;
        return match iso_to_ymd(year, week, wday, y, m, d) {
            0 => 0,
            rv => -3 + rv,
        };
    }
    let Some(q) = digits(at, p, m, 2) else {
        return -1;
    };
    p = q;
    if uses_sep {
        let c = at(p);
        p += 1;
        if c != b'-' {
            return -2;
        }
    }
    if digits(at, p, d, 2).is_none() {
        return -1;
    }
    0
}

#[derive(Debug, Default)]
struct Time {
    hour: i32,
    minute: i32,
    second: i32,
    us: i32,
    tz_offset: i32,
    tz_us: i32,
}

/// `parse_hh_mm_ss_ff` over `[start, end)`: (code, values); code 0 ok, 1 not at the end of
/// the string, negative on failure.
fn hh_mm_ss_ff(at: &dyn Fn(usize) -> u8, start: usize, end: usize, v: &mut [i32; 4]) -> i32 {
    *v = [0; 4];
    let mut p = start;
    let mut has_sep = true;
    let mut i = 0;
    while i < 3 {
        let Some(q) = digits(at, p, &mut v[i], 2) else {
            return -3;
        };
        p = q;
        let c = at(p);
        p += 1;
        if i == 0 {
            has_sep = c == b':';
        }
        if p >= end {
            return i32::from(c != 0);
        } else if has_sep && c == b':' {
            i += 1;
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !has_sep {
            p -= 1;
        } else {
            return -4;
        }
        i += 1;
    }
    let remains = end.saturating_sub(p);
    let to_parse = remains.min(6);
    let Some(q) = digits(at, p, &mut v[3], to_parse) else {
        return -3;
    };
    p = q;
    const CORRECTION: [i32; 5] = [100_000, 10_000, 1_000, 100, 10];
    if to_parse < 6 {
        // C reads correction[-1] for no digits: the microseconds are 0 whatever it holds
        v[3] = v[3].wrapping_mul(to_parse.checked_sub(1).map_or(0, |k| CORRECTION[k]));
    }
    while at(p).is_ascii_digit() {
        p += 1;
    }
    i32::from(at(p) != 0)
}

/// `parse_isoformat_time` (0 without offset, 1 with, negative on failure).
fn parse_time(at: &dyn Fn(usize) -> u8, len: usize, t: &mut Time) -> i32 {
    let end = len;
    let mut tz = 0usize;
    loop {
        let c = at(tz);
        if c == b'Z' || c == b'+' || c == b'-' {
            break;
        }
        tz += 1;
        if tz >= end {
            break;
        }
    }
    let mut v = [0; 4];
    let rv = hh_mm_ss_ff(at, 0, tz, &mut v);
    (t.hour, t.minute, t.second, t.us) = (v[0], v[1], v[2], v[3]);
    if rv < 0 {
        return rv;
    }
    if tz == end {
        return if rv == 1 { -5 } else { 0 };
    }
    if at(tz) == b'Z' {
        t.tz_offset = 0;
        t.tz_us = 0;
        return if at(tz + 1) != 0 { -5 } else { 1 };
    }
    let sign = if at(tz) == b'-' { -1 } else { 1 };
    let mut z = [0; 4];
    let rv = hh_mm_ss_ff(at, tz + 1, end, &mut z);
    t.tz_offset = sign * (z[0] * 3600 + z[1] * 60 + z[2]);
    t.tz_us = z[3] * sign;
    if rv != 0 {
        -5
    } else {
        1
    }
}

fn is_leap(year: i32) -> bool {
    let y = year as u32;
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

fn days_in_month(year: i32, month: i32) -> i32 {
    const DAYS: [i32; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if month == 2 && is_leap(year) {
        29
    } else {
        DAYS.get(month as usize).copied().unwrap_or(0)
    }
}

fn days_before_month(year: i32, month: i32) -> i32 {
    const BEFORE: [i32; 13] = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let days = BEFORE.get(month as usize).copied().unwrap_or(0);
    days + i32::from(month > 2 && is_leap(year))
}

fn ymd_to_ord(year: i32, month: i32, day: i32) -> i32 {
    let y = year - 1;
    y * 365 + y / 4 - y / 100 + y / 400 + days_before_month(year, month) + day
}

/// `ord_to_ymd` (C integer arithmetic: division truncates).
fn ord_to_ymd(ordinal: i32, year: &mut i32, month: &mut i32, day: &mut i32) {
    let o = ordinal - 1;
    let n400 = o / 146_097;
    let mut n = o % 146_097;
    *year = n400 * 400 + 1;
    let n100 = n / 36_524;
    n %= 36_524;
    let n4 = n / 1_461;
    n %= 1_461;
    let n1 = n / 365;
    n %= 365;
    *year += n100 * 100 + n4 * 4 + n1;
    if n1 == 4 || n100 == 4 {
        *year -= 1;
        *month = 12;
        *day = 31;
        return;
    }
    let leap = n1 == 3 && (n4 != 24 || n100 == 3);
    *month = (n + 50) >> 5;
    const BEFORE: [i32; 13] = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let mut preceding =
        BEFORE.get(*month as usize).copied().unwrap_or(0) + i32::from(*month > 2 && leap);
    if preceding > n {
        *month -= 1;
        preceding -= days_in_month(*year, *month);
    }
    n -= preceding;
    *day = n + 1;
}

/// `iso_to_ymd` (0, or -2 / -3 for a bad week / day).
fn iso_to_ymd(iso_year: i32, week: i32, wday: i32, y: &mut i32, m: &mut i32, d: &mut i32) -> i32 {
    if week <= 0 || week >= 53 {
        let first = (ymd_to_ord(iso_year, 1, 1) + 6) % 7;
        if !(week == 53 && (first == 3 || (first == 2 && is_leap(iso_year)))) {
            return -2;
        }
    }
    if wday <= 0 || wday >= 8 {
        return -3;
    }
    let first_day = ymd_to_ord(iso_year, 1, 1);
    let first_weekday = (first_day + 6) % 7;
    let mut monday = first_day - first_weekday;
    if first_weekday > 3 {
        monday += 7;
    }
    ord_to_ymd(monday + (week - 1) * 7 + wday - 1, y, m, d);
    0
}

/// `n / 10**6` correctly rounded, as Python divides an int of microseconds.
pub fn div_1e6(n: i64) -> f64 {
    let approx = n as f64 / 1e6;
    if n.unsigned_abs() < (1 << 53) || n % 1_000_000 == 0 {
        return approx; // both operands exact: IEEE division rounds correctly
    }
    // the nearest of approx and its neighbours to n / 1e6 (ties to an even mantissa): their
    // distances |c * 1e6 - n|, all scaled by 2**k so that they are integers
    let cands = [approx.next_down(), approx, approx.next_up()];
    let parts = cands.map(decompose);
    let k = parts
        .iter()
        .map(|&(_, e)| -e)
        .max()
        .unwrap_or(0)
        .clamp(0, 40);
    let mut best = (approx, u128::MAX, false);
    for (c, (m, e)) in cands.into_iter().zip(parts) {
        let up = (k + e).clamp(0, 40) as u32;
        let err = ((i128::from(m) * 1_000_000) << up) - (i128::from(n) << k as u32);
        let (err, even) = (err.unsigned_abs(), m % 2 == 0);
        if err < best.1 || (err == best.1 && even && !best.2) {
            best = (c, err, even);
        }
    }
    best.0
}

/// (signed mantissa, exponent) with `f = m * 2**e`, for normal floats.
fn decompose(f: f64) -> (i64, i32) {
    let bits = f.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let mant = (bits & ((1 << 52) - 1)) | (1 << 52);
    let m = if f < 0.0 { -(mant as i64) } else { mant as i64 };
    (m, exp - 1075)
}
